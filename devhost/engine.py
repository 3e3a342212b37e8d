"""The dispatcher: runs orchestrator episodes, activities, timers and timer triggers.

This is the host side. Episodes are dispatched by threads bounded by
maxConcurrentOrchestratorFunctions and never two at once for the same instance; activities by
threads bounded by maxConcurrentActivityFunctions, as the Durable extension's work-item
dispatchers are. The app's code itself runs in the language worker (``devhost.workers``): every
sync episode, activity and timer trigger competes for the worker's one thread pool of
PYTHON_THREADPOOL_THREAD_COUNT threads, so a dispatched episode may wait there behind activities.
An activity's outcome (returned, raised, worker died, timed out after ``functionTimeout``) becomes
the history event the extension records (``devhost.activity_runner``); ``HostFaults`` can make any
of those happen to a chosen activity (``devhost.faults``). Durable timers and timer-trigger
schedules wait on the clock in one scheduler thread. With a virtual
clock the scheduler moves time itself: when nothing is runnable (no episode queued or running,
no activity or timer trigger running, no young HTTP request in flight) it sets the clock to
the earliest live durable timer and fires it.

The engine keeps no durable state of its own. On start it derives all outstanding work from
the store, so discarding an engine and starting a new one on the same store resumes every
instance; the store's generation fence rejects late writes from the discarded engine.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from azure.functions.timer import TimerRequest

from devhost.activity_runner import completion_event, decode_input
from devhost.clock import Clock, format_status_timestamp, is_settable, parse_timestamp
from devhost.config import HostConfig
from devhost.errors import InstanceNotFoundError, UnknownFunctionError
from devhost.faults import FaultKind, HostFaults, InjectedActivityError
from devhost.indexing import AppIndex, FunctionKind, IndexedFunction, missing_function_message
from devhost.invoke import Outcome, Raised, TimedOut
from devhost.protocol import EventType, make_event
from devhost.replay import internal_failure, run_episode
from devhost.store import Instance, RuntimeStatus, Store, outstanding_work
from devhost.work import ScheduledWork, WorkKind
from devhost.workers import InProcessWorker, LanguageWorkers

log = logging.getLogger(__name__)

#: Virtual-clock mode polls this often so clock moves by other components are noticed.
_VIRTUAL_POLL_SECONDS = 0.02
_WALL_POLL_SECONDS = 0.5


@dataclass(frozen=True, order=True)
class _TimerEntry:
    fire_epoch: float
    sequence: int
    instance_id: str
    execution_id: str
    task_id: int
    fire_at: str


@dataclass
class _TriggerState:
    function: IndexedFunction
    next_epoch: float
    last_epoch: float | None = None


class Engine:
    """Runs one app against one store (see module docstring)."""

    def __init__(
        self,
        *,
        index: AppIndex,
        store: Store,
        clock: Clock,
        config: HostConfig,
        client_binding: Callable[[], str],
        faults: HostFaults | None = None,
        timer_triggers: bool = True,
        advance_to_schedules: bool = False,
        http_idle_after: float = 1.0,
        workers: LanguageWorkers | None = None,
    ) -> None:
        self.index = index
        self._own_workers = workers is None
        self._workers: LanguageWorkers = workers or InProcessWorker(index)
        self.store = store
        self.clock = clock
        self.config = config
        self.faults = faults
        self._client_binding = client_binding
        self._timer_triggers = timer_triggers
        self._advance_to_schedules = advance_to_schedules
        self._http_idle_after = http_idle_after
        self._virtual = is_settable(clock)
        self._generation = 0
        self._cv = threading.Condition(threading.RLock())
        self._busy = 0
        self._http: dict[int, float] = {}
        self._http_tokens = itertools.count()
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._dispatched: set[tuple[str, str, int]] = set()
        self._timers: list[_TimerEntry] = []
        self._timer_keys: set[tuple[str, str, int]] = set()
        self._sequence = itertools.count()
        self._triggers: list[_TriggerState] = []
        self._stopped = False
        self._started = False
        self._orchestrations = ThreadPoolExecutor(
            config.max_concurrent_orchestrations, thread_name_prefix="devhost-orchestrator"
        )
        self._activities = ThreadPoolExecutor(
            config.max_concurrent_activities, thread_name_prefix="devhost-activity"
        )
        self._trigger_pool = ThreadPoolExecutor(4, thread_name_prefix="devhost-timer-trigger")
        self._scheduler = threading.Thread(
            target=self._schedule_loop, name="devhost-scheduler", daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Take ownership of the store, resume outstanding work and start the scheduler."""
        self._generation = self.store.open_generation()
        self._started = True
        now = self.clock.now()
        if self._timer_triggers:
            for function in self.index.of_kind(FunctionKind.TIMER):
                assert function.timer is not None
                state = _TriggerState(function, function.timer.schedule.next_after(now))
                self._triggers.append(state)
                if function.timer.run_on_startup:
                    self._fire_trigger(state, now, now)
        for instance_id in self.store.instance_ids():
            self._resume(instance_id)
        self._scheduler.start()

    def _resume(self, instance_id: str) -> None:
        instance = self.store.get(instance_id)
        if instance is None:
            return
        if instance.status.is_terminal:
            parent = self.store.deliver_child_result(instance_id, self._generation)
            if parent is not None:
                self._kick(parent)
            return
        self._start_work(instance, outstanding_work(instance))
        if instance.pending:
            self._kick(instance_id)

    def stop(self, abandon: bool = False) -> None:
        """Stop dispatching. ``abandon=True`` simulates a crash: running work is not awaited
        and whatever it produces later is refused by the store."""
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        if self._scheduler.is_alive():
            self._scheduler.join(timeout=5)
        for pool in (self._orchestrations, self._activities, self._trigger_pool):
            pool.shutdown(wait=not abandon, cancel_futures=True)
        if self._own_workers:
            self._workers.close()

    @property
    def stopped(self) -> bool:
        """Whether ``stop`` was called."""
        return self._stopped

    # -- client operations ----------------------------------------------------------------------
    def start_orchestration(
        self, name: str, input_text: str | None, instance_id: str | None = None
    ) -> str:
        """Create an instance of orchestrator ``name`` and schedule its first episode.

        Raises:
            UnknownFunctionError: no orchestrator has that name.
            InstanceAlreadyRunningError: ``instance_id`` is taken by an unfinished instance.
        """
        function = self.index.orchestrator(name)
        if function is None:
            raise UnknownFunctionError(
                missing_function_message(name, FunctionKind.ORCHESTRATOR, self.index)
            )
        new_id = instance_id or uuid.uuid4().hex
        with self.busy():
            self.store.create_instance(
                instance_id=new_id,
                name=function.registered_name,
                input_text=input_text,
                timestamp=self.clock.now(),
            )
            self._kick(new_id)
        return new_id

    def raise_event(self, instance_id: str, name: str, input_text: str | None) -> None:
        """Deliver an external event (see ``Store.raise_event`` for errors)."""
        with self.busy():
            self.store.raise_event(instance_id, name, input_text, self.clock.now())
            self._kick(instance_id)

    def terminate(self, instance_id: str, reason: str | None) -> None:
        """Request termination (see ``Store.request_termination`` for errors)."""
        with self.busy():
            self.store.request_termination(instance_id, reason, self.clock.now())
            self._kick(instance_id)

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark work in progress so a virtual clock is not advanced meanwhile."""
        with self._cv:
            self._busy += 1
        try:
            yield
        finally:
            with self._cv:
                self._busy -= 1
                self._cv.notify_all()

    @contextmanager
    def http_request(self) -> Iterator[None]:
        """Count an HTTP request as in-flight work for its first ``http_idle_after`` seconds."""
        token = next(self._http_tokens)
        with self._cv:
            self._http[token] = time.monotonic()
        try:
            yield
        finally:
            with self._cv:
                self._http.pop(token, None)
                self._cv.notify_all()

    # -- waiting --------------------------------------------------------------------------------
    def wait_for(self, instance_id: str, timeout: float) -> Instance:
        """Block until the instance is Completed, Failed or Terminated.

        Raises:
            InstanceNotFoundError: no such instance.
            TimeoutError: it did not finish in time.
        """
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                instance = self.store.get(instance_id, with_history=False)
                if instance is None:
                    raise InstanceNotFoundError(instance_id)
                if instance.status.is_terminal:
                    return instance
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"Instance '{instance_id}' is still {instance.status.value} after "
                        f"{timeout} s"
                    )
                self._cv.wait(min(remaining, 0.1))

    def wait_idle(self, timeout: float) -> None:
        """Block until nothing is runnable and (virtual clock) no live timer is left.

        Raises:
            TimeoutError: still busy after ``timeout`` seconds (e.g. an eternal orchestration).
        """
        deadline = time.monotonic() + timeout
        with self._cv:
            while not (
                self._idle_locked() and self._next_timer_locked(self._ready_horizon()) is None
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"devhost still busy after {timeout} s")
                self._cv.wait(min(remaining, 0.05))

    def _ready_horizon(self) -> float:
        return float("inf") if self._virtual else self.clock.now()

    def _idle_locked(self) -> bool:
        if self._busy or self._running:
            return False
        cutoff = time.monotonic() - self._http_idle_after
        return all(started < cutoff for started in self._http.values())

    # -- episodes -------------------------------------------------------------------------------
    def _kick(self, instance_id: str) -> None:
        with self._cv:
            if self._stopped:
                return
            if instance_id in self._running:
                self._again.add(instance_id)
                return
            self._running.add(instance_id)
        self._submit_episode(instance_id)

    def _submit_episode(self, instance_id: str) -> None:
        try:
            self._orchestrations.submit(self._episode_worker, instance_id)
        except RuntimeError:  # pool shut down
            with self._cv:
                self._running.discard(instance_id)
                self._cv.notify_all()

    def _episode_worker(self, instance_id: str) -> None:
        try:
            self._run_episodes(instance_id)
        except Exception:
            log.exception("episode loop for %s crashed", instance_id)
        finally:
            with self._cv:
                again = instance_id in self._again and not self._stopped
                self._again.discard(instance_id)
                if not again:
                    self._running.discard(instance_id)
                self._cv.notify_all()
            if again:
                self._submit_episode(instance_id)

    def _run_episodes(self, instance_id: str) -> None:
        while not self._stopped:
            instance = self.store.begin_episode(instance_id)
            if instance is None:
                return
            now = self.clock.now()
            try:
                result = run_episode(instance, self.index, now, self.config, self._workers)
                commit, new_work = result.commit, result.new_work
            except Exception as err:
                log.exception("devhost failed running an episode of %s", instance_id)
                commit, new_work = internal_failure(instance, err, now), ()
            if self._stopped:
                return
            outcome = self.store.commit_episode(commit, self._generation)
            if not outcome.accepted:
                return
            with self._cv:
                self._cv.notify_all()
            if commit.status is not RuntimeStatus.CONTINUED_AS_NEW:
                self._start_work(instance, new_work)
            for woken in outcome.wake:
                if woken != instance_id:
                    self._kick(woken)

    def _start_work(self, instance: Instance, work_items: Iterable[ScheduledWork]) -> None:
        for work in work_items:
            if work.kind is WorkKind.ACTIVITY:
                if self.index.activity(work.name or "") is not None:
                    self._dispatch_activity(instance.instance_id, instance.execution_id, work)
            elif work.kind is WorkKind.TIMER:
                if not work.canceled and work.fire_at is not None:
                    self._add_timer(instance.instance_id, instance.execution_id, work)
            elif work.instance_id is not None:
                self._resume_child(work.instance_id)

    def _resume_child(self, child_id: str) -> None:
        child = self.store.get(child_id, with_history=False)
        if child is None:
            return
        if child.status.is_terminal:
            parent = self.store.deliver_child_result(child_id, self._generation)
            if parent is not None:
                self._kick(parent)
        elif self.store.has_pending(child_id):
            self._kick(child_id)

    # -- activities -----------------------------------------------------------------------------
    def _dispatch_activity(self, instance_id: str, execution_id: str, work: ScheduledWork) -> None:
        key = (instance_id, execution_id, work.task_id)
        with self._cv:
            if self._stopped or key in self._dispatched:
                return
            self._dispatched.add(key)
            self._busy += 1
        try:
            self._activities.submit(self._activity_worker, instance_id, execution_id, work)
        except RuntimeError:
            with self._cv:
                self._dispatched.discard(key)
                self._busy -= 1

    def _activity_worker(self, instance_id: str, execution_id: str, work: ScheduledWork) -> None:
        key = (instance_id, execution_id, work.task_id)
        try:
            function = self.index.activity(work.name or "")
            if function is None:
                return
            while not self._stopped:
                fault = self._activity_fault(function, instance_id, work)
                outcome = self._invoke_activity(function, work, fault)
                event = completion_event(function, outcome, work.task_id, self.clock.now())
                crashed = fault is FaultKind.ABORTS or (
                    self.faults is not None and self.faults.crash_after_activity()
                )
                self.store.record_activity_run(crashed=crashed)
                if crashed:
                    log.info("fault: discarding the result of %s #%d", work.name, work.task_id)
                    continue
                if self._stopped:
                    return
                if self.store.add_event(instance_id, event, execution_id, self._generation):
                    self._kick(instance_id)
                return
        except Exception:
            log.exception("activity dispatch of %s failed", work.name)
        finally:
            with self._cv:
                self._dispatched.discard(key)
                self._busy -= 1
                self._cv.notify_all()

    def _activity_fault(
        self, function: IndexedFunction, instance_id: str, work: ScheduledWork
    ) -> FaultKind | None:
        if self.faults is None:
            return None
        return self.faults.activity_fault(
            function.registered_name, decode_input(work.input_text), instance_id, work.task_id
        )

    def _invoke_activity(
        self, function: IndexedFunction, work: ScheduledWork, fault: FaultKind | None
    ) -> Outcome:
        """Run one invocation in the language worker (``fault`` decides how it ends)."""
        if fault is FaultKind.RAISES:
            log.info("fault: %s #%d raises", work.name, work.task_id)
            return Raised.of(
                InjectedActivityError(
                    f"devhost injected a failure into activity '{function.registered_name}'"
                )
            )
        client = self._client_binding() if function.client_params else None
        outcome = self._workers.run_activity(
            function,
            work.input_text,
            client,
            timeout=self.config.function_timeout,
            fault=fault,
        )
        if isinstance(outcome, TimedOut) and fault is not FaultKind.TIMES_OUT:
            log.error(
                "Timeout value of %s s exceeded by function 'Functions.%s'",
                outcome.seconds,
                function.name,
            )
        return outcome

    # -- timers ---------------------------------------------------------------------------------
    def _add_timer(self, instance_id: str, execution_id: str, work: ScheduledWork) -> None:
        assert work.fire_at is not None
        key = (instance_id, execution_id, work.task_id)
        entry = _TimerEntry(
            parse_timestamp(work.fire_at),
            next(self._sequence),
            instance_id,
            execution_id,
            work.task_id,
            work.fire_at,
        )
        with self._cv:
            if key in self._timer_keys:
                return
            self._timer_keys.add(key)
            heapq.heappush(self._timers, entry)
            self._cv.notify_all()

    def _timer_is_live(self, entry: _TimerEntry) -> bool:
        instance = self.store.get(entry.instance_id, with_history=False)
        return (
            instance is not None
            and not instance.status.is_terminal
            and instance.execution_id == entry.execution_id
            and entry.task_id not in instance.canceled_timers
            and entry.task_id not in instance.completed_ids
        )

    def _next_timer_locked(self, horizon: float) -> _TimerEntry | None:
        """The earliest live durable timer due by ``horizon`` (dead ones are dropped). Only a
        due head is checked against the store: the scheduler wakes on every change, and a
        liveness check per wake-up would cost the app's own work a store read each time."""
        while self._timers:
            head = self._timers[0]
            if head.fire_epoch > horizon:
                return None
            if not self._timer_is_live(head):
                heapq.heappop(self._timers)
                self._timer_keys.discard((head.instance_id, head.execution_id, head.task_id))
                continue
            return head
        return None

    def _fire_timer(self, entry: _TimerEntry) -> None:
        event = make_event(
            EventType.TIMER_FIRED,
            max(entry.fire_epoch, self.clock.now()),
            TimerId=entry.task_id,
            FireAt=entry.fire_at,
        )
        if self.store.add_event(entry.instance_id, event, entry.execution_id, self._generation):
            self.store.record_timer_fired()
            self._kick(entry.instance_id)

    # -- timer triggers -------------------------------------------------------------------------
    def _fire_trigger(self, state: _TriggerState, scheduled: float, now: float) -> None:
        function = state.function
        assert function.timer is not None
        past_due = now - scheduled > 1.0
        state.last_epoch = scheduled
        state.next_epoch = function.timer.schedule.next_after(max(now, scheduled))
        request = TimerRequest(
            past_due=past_due,
            schedule_status={
                "Last": format_status_timestamp(scheduled),
                "Next": format_status_timestamp(state.next_epoch),
                "LastUpdated": format_status_timestamp(now),
            },
            schedule={"AdjustForDST": True},
        )
        arguments: dict[str, object] = {function.trigger_param: request}
        for name in function.client_params:
            arguments[name] = self._client_binding()
        for name in function.other_params:
            arguments[name] = None
        with self._cv:
            self._busy += 1
        try:
            self._trigger_pool.submit(self._trigger_worker, function, arguments)
        except RuntimeError:
            with self._cv:
                self._busy -= 1

    def _trigger_worker(self, function: IndexedFunction, arguments: dict[str, object]) -> None:
        try:
            outcome = self._workers.run_trigger(
                function, arguments, timeout=self.config.function_timeout
            )
            if isinstance(outcome, Raised):
                log.error(
                    "timer trigger %s failed: %s: %s\n%s",
                    function.name,
                    outcome.type_name,
                    outcome.message,
                    outcome.details,
                )
            elif isinstance(outcome, TimedOut):
                log.error("timer trigger %s timed out after %s s", function.name, outcome.seconds)
        except Exception:
            log.exception("timer trigger %s failed", function.name)
        finally:
            with self._cv:
                self._busy -= 1
                self._cv.notify_all()

    def _next_trigger(self, horizon: float) -> _TriggerState | None:
        due = [t for t in self._triggers if t.next_epoch <= horizon]
        return min(due, key=lambda t: t.next_epoch) if due else None

    # -- scheduler ------------------------------------------------------------------------------
    def _schedule_loop(self) -> None:
        while True:
            with self._cv:
                if self._stopped:
                    return
                now = self.clock.now()
                timer = self._next_timer_locked(now)
                trigger = None if timer else self._next_trigger(now)
                if timer is None and trigger is None and self._virtual and self._idle_locked():
                    timer, trigger = self._advance_virtual_clock_locked()
                    now = self.clock.now()
                if timer is not None:
                    heapq.heappop(self._timers)
                    self._timer_keys.discard((timer.instance_id, timer.execution_id, timer.task_id))
                elif trigger is None:
                    self._cv.wait(self._poll_interval(now))
                    continue
            if timer is not None:
                self._fire_timer(timer)
            elif trigger is not None:
                self._fire_trigger(trigger, trigger.next_epoch, now)

    def _advance_virtual_clock_locked(self) -> tuple[_TimerEntry | None, _TriggerState | None]:
        timer = self._next_timer_locked(float("inf"))
        trigger = self._next_trigger(float("inf")) if self._advance_to_schedules else None
        if trigger is not None and timer is not None and timer.fire_epoch <= trigger.next_epoch:
            trigger = None
        elif trigger is not None:
            timer = None
        target = timer.fire_epoch if timer else trigger.next_epoch if trigger else None
        if target is None:
            return None, None
        if target > self.clock.now():
            set_clock = getattr(self.clock, "set")  # noqa: B009 - SettableClock checked at init
            set_clock(target)
            log.debug("virtual clock advanced to %s", format_status_timestamp(target))
        return timer, trigger

    def _poll_interval(self, now: float) -> float:
        if self._virtual:
            return _VIRTUAL_POLL_SECONDS
        candidates = [_WALL_POLL_SECONDS]
        if self._timers:
            candidates.append(self._timers[0].fire_epoch - now)
        candidates.extend(t.next_epoch - now for t in self._triggers)
        return max(0.001, min(candidates))

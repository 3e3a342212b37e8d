"""Run the app's orchestrators through the SDK's own handling, outside any host.

``orchestrate`` hands a history to an orchestrator exactly as devhost's episode runner does
(``Orchestrator.create`` handle, the extension's JSON payload) and returns the SDK's state;
``produced`` replays that state's actions over the history with devhost's ``ActionReplayer`` (the
host's sequence ids and determinism check) and lists every action in sequence-id order, in the
shape of the history events that record them. ``ScriptedRun`` drives one orchestrator episode by
episode, answering its activities and sub-orchestrations from a script, firing its timers on a
virtual clock, raising external events when a test says, and handing over the input it continued
as new with; every history event it writes is shaped as devhost writes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions._durable_functions import df_dumps, df_loads

from devhost.clock import parse_timestamp
from devhost.indexing import AppIndex, index_app, load_app
from devhost.protocol import (
    Action,
    EventType,
    HistoryEvent,
    OrchestratorState,
    build_orchestration_payload,
    event_type,
    execution_started,
    make_event,
    parse_orchestrator_state,
    split_out_of_proc_error,
    with_played,
)
from devhost.shim import ActionReplayer, ReplayOutcome
from devhost.work import ScheduledWork, WorkKind

ROOT = Path(__file__).resolve().parents[2]
START = 1_800_000_000.0
SCHEDULED = {
    EventType.TASK_SCHEDULED: "activity",
    EventType.TIMER_CREATED: "timer",
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: "suborchestration",
}


@cache
def app_index() -> AppIndex:
    """The app, indexed as the worker indexes it (once per test session)."""
    return index_app(load_app(ROOT), ROOT, environ={"EXPORT_SCHEDULE": "0 0 3 * * *"})


def orchestrate(
    name: str,
    history: Sequence[HistoryEvent],
    *,
    instance_id: str = "replayed",
    parent_instance_id: str | None = None,
) -> OrchestratorState:
    """The state the SDK returns for ``history`` (an orchestrator failure is in ``error``)."""
    function = app_index().orchestrator(name)
    assert function is not None, f"{name} is not an indexed orchestrator"
    input_text = next(
        e.get("Input") for e in history if event_type(e) is EventType.EXECUTION_STARTED
    )
    payload = build_orchestration_payload(
        history=list(history),
        input_value=None if input_text is None else json.loads(input_text),
        instance_id=instance_id,
        is_replaying=True,
        parent_instance_id=parent_instance_id,
    )
    try:
        returned = function.user_function(func.OrchestrationContext(payload))
    except Exception as err:  # the SDK raises with the state embedded in the message
        message, state_text = split_out_of_proc_error(str(err))
        if state_text is None:
            raise
        state = parse_orchestrator_state(state_text)
        return OrchestratorState(
            is_done=state.is_done,
            actions=state.actions,
            output=state.output,
            error=state.error or message,
            custom_status=state.custom_status,
            has_custom_status=state.has_custom_status,
            schema_version=state.schema_version,
            raw=state.raw,
        )
    assert isinstance(returned, str)
    return parse_orchestrator_state(returned)


@dataclass(frozen=True)
class Produced:
    """One action as the history records it: kind, name, input, instance id, timer due time."""

    kind: str
    name: str | None = None
    input: str | None = None
    instance_id: str | None = None
    fire_at: str | None = None


class _Recording(ActionReplayer):
    """The host's replayer, noting every call and timer in the order ids are handed out."""

    def __init__(
        self, actions: Sequence[Action], execution_id: str, *, instance_ids: bool = True
    ) -> None:
        super().__init__(actions, execution_id=execution_id, max_actions=100_000)
        self.produced: list[Produced] = []
        self._instance_ids = instance_ids

    def schedule_call(self, kind: WorkKind, action: Action, parent: Any) -> Any:
        node = super().schedule_call(kind, action, parent)
        if not self._instance_ids:
            # DTFx compares a sub-orchestration's kind and name, never its instance id
            # (DurableTask.Core TaskOrchestrationContext.HandleSubOrchestrationCreatedEvent,
            # v2.17.1, the version the extension pins); devhost also compares an explicit one.
            self._explicit_instance_ids.clear()
        self.produced.append(
            Produced(
                "activity" if kind is WorkKind.ACTIVITY else "suborchestration",
                action.function_name,
                action.input_text,
                action.instance_id if kind is WorkKind.SUB_ORCHESTRATION else None,
            )
        )
        return node

    def schedule_timer(self, fire_at: str, *, canceled: bool, parent: Any) -> Any:
        node = super().schedule_timer(fire_at, canceled=canceled, parent=parent)
        self.produced.append(Produced("timer", fire_at=fire_at))
        return node


def produced(
    state: OrchestratorState,
    history: Sequence[HistoryEvent],
    execution_id: str = "replay",
    *,
    instance_ids: bool = True,
) -> tuple[list[Produced], ReplayOutcome]:
    """Every action of ``state`` in sequence-id order, and the host's replay outcome.
    ``instance_ids=False`` leaves out devhost's check of explicit sub-orchestration instance
    ids, which DTFx does not make.

    Raises:
        devhost.shim.NonDeterminismError: the host's own check failed.
    """
    replayer = _Recording(state.actions, execution_id, instance_ids=instance_ids)
    outcome = replayer.replay(history)
    return replayer.produced, outcome


def recorded(history: Sequence[HistoryEvent]) -> list[Produced]:
    """The actions ``history`` records, in sequence-id order."""
    events = sorted(
        (e for e in history if event_type(e) in SCHEDULED), key=lambda e: int(e["EventId"])
    )
    return [
        Produced(
            SCHEDULED[event_type(e)],
            e.get("Name"),
            e.get("Input"),
            e.get("InstanceId"),
            e.get("FireAt"),
        )
        for e in events
    ]


#: What a script answers for an activity: ``(name, input) -> result``, or ``Raises``, or
#: ``Later`` around either.
Answer = Callable[[str, Any], Any]
#: What a script answers for a sub-orchestration: ``(call) -> output``, or ``Fails``, or
#: ``Later`` around either (``real_children`` runs the app's own orchestrator).
ChildAnswer = Callable[["Call"], Any]


@dataclass(frozen=True)
class Raises:
    """An activity that raised instead of answering: the ``TaskFailed`` devhost records for user
    code that raised (``devhost.activity_runner.completion_event``, its ``Raised`` branch)."""

    message: str
    type_name: str = "RuntimeError"


@dataclass(frozen=True)
class Fails:
    """A sub-orchestration that failed: the ``SubOrchestrationInstanceFailed`` devhost records
    for a child whose orchestrator raised (``devhost.store.Store._notify_parent``, with the
    reason and details ``devhost.replay._Episode._result`` gives a failed instance)."""

    message: str


@dataclass(frozen=True)
class Later:
    """An answer that comes ``seconds`` of virtual time after the call was scheduled (an answer
    not wrapped comes at once)."""

    seconds: float
    answer: Any


@dataclass(frozen=True)
class External:
    """An external event raised on the instance (``devhost.store.Store.raise_event``): at the
    virtual moment ``at`` (epoch seconds), or in the episode after the first one after which
    ``when(run)`` holds. It comes in an episode of its own."""

    name: str
    value: Any = None
    when: Callable[[ScriptedRun], bool] | None = None
    at: float | None = None


@dataclass(frozen=True)
class Call:
    """An activity or sub-orchestration the orchestrator scheduled, with its decoded input."""

    kind: str  # "activity" | "suborchestration"
    name: str
    input: Any
    instance_id: str | None
    task_id: int
    #: The episode (1-based) that scheduled it, and the virtual time then.
    episode: int
    at: float
    #: The input as the action carried it (JSON text).
    input_text: str | None = None


@dataclass(frozen=True)
class Timer:
    """A durable timer the orchestrator created."""

    task_id: int
    fire_at: float
    episode: int
    at: float


@dataclass(frozen=True)
class Episode:
    """One episode: what came in, and what was left open after it."""

    number: int
    at: float
    delivered: tuple[HistoryEvent, ...]
    #: Calls scheduled and not completed once the episode had run.
    open: tuple[Call, ...]
    custom_status: Any


@dataclass
class _Open:
    """Scheduled work whose completion event is due at ``due`` (virtual time)."""

    task_id: int
    due: float
    rank: int  # at equal times: timers and events first, as they need no worker
    event: HistoryEvent
    call: Call | None = None


class ScriptedRun:
    """One execution of an orchestrator, episode by episode, outside any host.

    Activities are answered by ``answer(name, input)`` and sub-orchestrations by
    ``children(call)`` when they are scheduled (a ``Later`` answer comes
    that much later), timers fire when due, and ``events`` are raised when their moment comes.
    Every episode hands the orchestrator one event: of everything due, the earliest (a timer or
    an event before a call due at the same moment, then the lowest sequence id), moving the
    virtual clock to it. (A host may hand several events that arrived together to one episode;
    one at a time is the finest interleaving, and deterministic.) Each episode replays the whole
    history through the SDK and devhost's ``ActionReplayer``, so a non-deterministic step fails
    the test as it would fail the instance. The history events are shaped as devhost writes them, each modelled
    on devhost's own code (cited where built). When the orchestrator continues as new,
    ``continued`` holds the new input and ``next_execution()`` runs it.
    """

    def __init__(
        self,
        name: str,
        input_value: Any,
        answer: Answer,
        start: float = START,
        *,
        children: ChildAnswer | None = None,
        events: Sequence[External] = (),
        instance_id: str = "scripted",
        execution: int = 1,
        input_text: str | None = None,
        carried: Sequence[HistoryEvent] = (),
    ) -> None:
        self.name = name
        self.answer = answer
        self.children = children
        self.instance_id = instance_id
        self.execution = execution
        self.execution_id = f"scripted-{execution}" if execution > 1 else "scripted"
        self.now = start
        self.history: list[HistoryEvent] = []
        #: ``(name, input)`` of every activity, in the order scheduled.
        self.activities: list[tuple[str, Any]] = []
        self.calls: list[Call] = []
        self.timers: list[Timer] = []
        self.episodes: list[Episode] = []
        #: The input of the next execution, once this one continued as new.
        self.continued: Any = None
        self.continued_text: str | None = None
        self._carry: tuple[HistoryEvent, ...] = ()
        # ExecutionStarted.Input is the action's input JSON-encoded once more
        # (devhost.replay._child_input); the first execution's input as devhost stores it.
        self.input_text = (
            input_text if input_text is not None else json.dumps(df_dumps(input_value))
        )
        self._events = list(events)
        self._pending: list[HistoryEvent] = [
            execution_started(
                start,
                name=name,
                input_text=self.input_text,
                instance_id=instance_id,
                execution_id=self.execution_id,
            ),
            *carried,
        ]
        self._open: dict[int, _Open] = {}

    # --- what the orchestrator did --------------------------------------------------------

    def called(self, name: str | None = None, kind: str | None = None) -> list[Call]:
        """The calls scheduled so far, optionally of one name or kind, in sequence-id order."""
        return [
            c for c in self.calls if (name is None or c.name == name) and (kind in (None, c.kind))
        ]

    # --- running ----------------------------------------------------------------------------

    def run(self, max_episodes: int = 1000) -> OrchestratorState:
        """Episodes until the orchestrator completes, fails or continues as new."""
        for number in range(1, max_episodes + 1):
            delivered = tuple(self._pending)
            episode = [make_event(EventType.ORCHESTRATOR_STARTED, self.now), *delivered]
            history = [*self.history, *episode]
            state = orchestrate(self.name, history, instance_id=self.instance_id)
            _, outcome = produced(state, history, self.execution_id)
            # devhost.replay._Episode.commit: the new events played, the scheduled ones, then
            # OrchestratorCompleted
            self.history = [with_played(e, True) for e in history]
            for work in outcome.new_work:
                self.history.append(self._schedule(work, number))
            self.history.append(make_event(EventType.ORCHESTRATOR_COMPLETED, self.now))
            self.episodes.append(
                Episode(
                    number,
                    self.now,
                    delivered,
                    tuple(o.call for o in self._open.values() if o.call is not None),
                    state.custom_status,
                )
            )
            if state.error is not None or (outcome.completed and state.is_done):
                if outcome.continued_as_new and state.error is None:
                    self.continued_text = outcome.continue_as_new_input
                    self.continued = (
                        None if self.continued_text is None else df_loads(self.continued_text)
                    )
                    self._carry = outcome.unconsumed_events
                return state
            self._pending = [self._next_event()]
        raise AssertionError(f"{self.name} did not finish in {max_episodes} episodes")

    def next_execution(self) -> ScriptedRun:
        """The execution this one continued as new into, with the same script, on the same
        clock, with the events it had not consumed (``devhost.store.Store._continue_as_new``)."""
        assert self.continued_text is not None, f"{self.name} did not continue as new"
        return ScriptedRun(
            self.name,
            None,
            self.answer,
            self.now,
            children=self.children,
            events=self._events,
            instance_id=self.instance_id,
            execution=self.execution + 1,
            input_text=json.dumps(self.continued_text),
            carried=self._carry,
        )

    # --- scheduling and completing ----------------------------------------------------------

    def _schedule(self, work: ScheduledWork, episode: int) -> HistoryEvent:
        """The event recording ``work``; its answer is taken now and its completion queued."""
        if work.kind is WorkKind.TIMER:
            assert work.fire_at is not None
            fire_at = parse_timestamp(work.fire_at)
            self.timers.append(Timer(work.task_id, fire_at, episode, self.now))
            if not work.canceled:  # a canceled timer never fires (devhost.engine._start_work)
                fired = timer_fired(work, fire_at)
                self._open[work.task_id] = _Open(work.task_id, fire_at, 0, fired)
            return scheduled_event(work, self.now)
        name = work.name or ""
        value = df_loads(work.input_text) if work.input_text is not None else None
        kind = "activity" if work.kind is WorkKind.ACTIVITY else "suborchestration"
        call = Call(
            kind, name, value, work.instance_id, work.task_id, episode, self.now, work.input_text
        )
        if work.kind is WorkKind.ACTIVITY:
            self.activities.append((name, value))
            answer = self.answer(name, value)
        else:
            assert self.children is not None, f"{self.name} called {name}: no children script"
            answer = self.children(call)
        self.calls.append(call)
        delay = 0.0
        if isinstance(answer, Later):
            delay, answer = answer.seconds, answer.answer
        due = self.now + delay
        self._open[work.task_id] = _Open(
            work.task_id, due, 1, completion_event(call, answer, due), call
        )
        return scheduled_event(work, self.now)

    def _next_event(self) -> HistoryEvent:
        """The next event to hand in: a raised event whose moment came, else the earliest
        completion (moving the clock to it)."""
        for event in self._events:
            if event.when is not None and event.when(self):
                return self._raise(event)
        first = min(self._open.values(), key=lambda o: (o.due, o.rank, o.task_id), default=None)
        timed = [(e.at, e) for e in self._events if e.at is not None]
        if timed:
            at, soonest = min(timed, key=lambda pair: pair[0])
            if first is None or at <= first.due:
                self.now = max(self.now, at)
                return self._raise(soonest)
        assert first is not None, f"{self.name} waits on nothing this script can complete"
        del self._open[first.task_id]
        self.now = max(self.now, first.due)
        return first.event

    def _raise(self, event: External) -> HistoryEvent:
        self._events.remove(event)
        return event_raised(event.name, event.value, self.now)


# --- the history events, as devhost writes them -------------------------------------------


def scheduled_event(work: ScheduledWork, at: float) -> HistoryEvent:
    """TaskScheduled, TimerCreated or SubOrchestrationInstanceCreated for ``work``, as devhost
    records what an episode scheduled (``devhost.replay._scheduled_event``)."""
    if work.kind is WorkKind.ACTIVITY:
        return make_event(
            EventType.TASK_SCHEDULED,
            at,
            event_id=work.task_id,
            Name=work.name,
            Version="",
            Input=work.input_text,
        )
    if work.kind is WorkKind.TIMER:
        return make_event(EventType.TIMER_CREATED, at, event_id=work.task_id, FireAt=work.fire_at)
    return make_event(
        EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
        at,
        event_id=work.task_id,
        Name=work.name,
        Version="",
        InstanceId=work.instance_id,
        Input=work.input_text,
    )


def timer_fired(work: ScheduledWork, at: float) -> HistoryEvent:
    """TimerFired, as devhost's scheduler fires a due timer (``devhost.engine.Engine._fire_timer``:
    stamped when it fires, never before its due time)."""
    return make_event(EventType.TIMER_FIRED, at, TimerId=work.task_id, FireAt=work.fire_at)


def completion_event(call: Call, answer: Any, at: float) -> HistoryEvent:
    """The event devhost records when ``call`` ends with ``answer`` at ``at``.

    An activity: ``devhost.activity_runner.completion_event`` (TaskCompleted with the worker's
    ``df_dumps`` of the result; ``Raises``: TaskFailed worded as for user code that raised). A
    sub-orchestration: ``devhost.store.Store._notify_parent`` (SubOrchestrationInstanceCompleted
    with the child's output JSON-encoded; ``Fails``: SubOrchestrationInstanceFailed whose reason
    and details are what ``devhost.replay._Episode._result`` gives an orchestrator that raised).
    """
    task_id = call.task_id
    if call.kind == "activity":
        if isinstance(answer, Raises):
            return make_event(
                EventType.TASK_FAILED,
                at,
                TaskScheduledId=task_id,
                Reason=f"Activity function '{call.name}' failed: "
                f"{answer.type_name}: {answer.message}",
                Details=f"Traceback (most recent call last):\n{answer.type_name}: {answer.message}\n",
            )
        return make_event(
            EventType.TASK_COMPLETED, at, TaskScheduledId=task_id, Result=df_dumps(answer)
        )
    if isinstance(answer, Fails):
        return make_event(
            EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
            at,
            TaskScheduledId=task_id,
            Reason=f"Orchestrator function '{call.name}' failed: {answer.message}",
            Details=f"Message: {answer.message}",
        )
    return make_event(
        EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
        at,
        TaskScheduledId=task_id,
        Result=json.dumps(answer),
    )


def event_raised(name: str, value: Any, at: float) -> HistoryEvent:
    """EventRaised (``devhost.store.Store.raise_event``), its input the JSON of ``value`` as
    devhost's management API takes it from the request body (``devhost.management``)."""
    data = None if value is None else json.dumps(value)
    return make_event(EventType.EVENT_RAISED, at, Name=name, Input=data)


def run_executions(
    first: ScriptedRun, max_executions: int = 10, max_episodes: int = 1000
) -> tuple[OrchestratorState, list[ScriptedRun]]:
    """Run ``first`` and every execution it continues as new into; the last state, and the
    executions in order."""
    runs = [first]
    for _ in range(max_executions):
        state = runs[-1].run(max_episodes)
        if runs[-1].continued_text is None:
            return state, runs
        runs.append(runs[-1].next_execution())
    raise AssertionError(f"{first.name} did not finish in {max_executions} executions")


def real_children(answer: Answer, max_executions: int = 10) -> ChildAnswer:
    """Sub-orchestrations run for real: each is the app's own orchestrator, driven by a
    ``ScriptedRun`` of its own from the moment it was scheduled (through every execution it
    continues as new into), its activities answered by ``answer`` and its children run the same
    way; its output, or its failure, comes back when it ended on its virtual clock. Events
    raised on the parent do not reach it (``relay_cancel`` is just an activity here)."""

    def child(call: Call) -> Any:
        run = ScriptedRun(
            call.name,
            None,
            answer,
            call.at,
            children=real_children(answer, max_executions),
            instance_id=call.instance_id or call.name,
            input_text=None if call.input_text is None else json.dumps(call.input_text),
        )
        state, runs = run_executions(run, max_executions)
        value = Fails(state.error) if state.error is not None else state.output
        return Later(runs[-1].now - call.at, value)

    return child

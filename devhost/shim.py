"""The host's side of replay: sequence ids, the determinism check and new work.

The Durable extension replays the actions an out-of-process orchestrator returns inside a DTFx
orchestration (``OutOfProcOrchestrationShim``): it awaits the top-level actions one after the
other (failures are swallowed, the SDK handles them), schedules compound WhenAll/WhenAny
children together, runs ``*_with_retry`` calls through DTFx's retry interceptor (failure ->
timer -> new attempt), and hands every sequence id out in the order the code schedules. While
replaying, DTFx checks each recorded TaskScheduled/TimerCreated/SubOrchestrationInstanceCreated
event against what the code scheduled under the same id and fails the instance with
``Non-Deterministic workflow detected: ...`` on a mismatch. This module does the same, event by
event over the execution's history, and reports the work scheduled beyond the history.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from devhost.clock import format_event_timestamp, parse_timestamp
from devhost.errors import UnsupportedFeatureError
from devhost.protocol import (
    Action,
    ActionType,
    EventType,
    HistoryEvent,
    RetryPolicy,
    completion_id,
    event_type,
)
from devhost.work import ScheduledWork, WorkKind

NONDETERMINISM_PREFIX = "Non-Deterministic workflow detected: "
_CODE_CHANGED = (
    "Was a change made to the orchestrator code after this instance had already started running?"
)
_ACTION_CLASS = {
    WorkKind.ACTIVITY: "ScheduleTaskOrchestratorAction",
    WorkKind.TIMER: "CreateTimerOrchestratorAction",
    WorkKind.SUB_ORCHESTRATION: "CreateSubOrchestrationAction",
}
_RECORDED_KIND = {
    EventType.TASK_SCHEDULED: WorkKind.ACTIVITY,
    EventType.TIMER_CREATED: WorkKind.TIMER,
    EventType.SUB_ORCHESTRATION_INSTANCE_CREATED: WorkKind.SUB_ORCHESTRATION,
}


class NonDeterminismError(Exception):
    """The replayed code scheduled something other than the history records."""


class ActionLimitError(Exception):
    """The orchestration exceeded maxOrchestrationActions."""


@dataclass(frozen=True)
class ReplayOutcome:
    """What replaying the actions against the history found.

    ``completed``: every top-level action was awaited to completion, so the host may act on the
    SDK's ``isDone``/``error``. ``new_work``: work scheduled beyond the history, in id order.
    ``unconsumed_events``: raised events nobody waited for (carried over by continue-as-new).
    """

    new_work: tuple[ScheduledWork, ...]
    completed: bool
    canceled_timer_ids: frozenset[int]
    unconsumed_events: tuple[HistoryEvent, ...]
    continue_as_new_input: str | None
    continued_as_new: bool
    action_count: int


class _Node:
    def __init__(self, parent: _Node | None) -> None:
        self.parent = parent
        self.done = False
        self.failed = False

    def finish(self, replayer: ActionReplayer, failed: bool) -> None:
        if self.done:
            return
        self.done = True
        self.failed = failed
        if self.parent is not None:
            self.parent.child_done(replayer, self)

    def child_done(self, replayer: ActionReplayer, child: _Node) -> None:
        raise NotImplementedError


class _Leaf(_Node):
    def child_done(self, replayer: ActionReplayer, child: _Node) -> None:
        raise AssertionError("leaf nodes have no children")


class _WhenAll(_Node):
    """Task.WhenAll: done when every child is done (a failure does not cut it short)."""

    def __init__(self, parent: _Node | None) -> None:
        super().__init__(parent)
        self.children: list[_Node] = []
        self.building = True

    def settle(self, replayer: ActionReplayer) -> None:
        self.building = False
        if all(child.done for child in self.children):
            self.finish(replayer, any(child.failed for child in self.children))

    def child_done(self, replayer: ActionReplayer, child: _Node) -> None:
        if not self.building:
            self.settle(replayer)


class _WhenAny(_WhenAll):
    """Task.WhenAny: done when the first child is done."""

    def settle(self, replayer: ActionReplayer) -> None:
        self.building = False
        if not self.children or any(child.done for child in self.children):
            self.finish(replayer, False)


class _Retry(_Node):
    """DTFx's RetryInterceptor: attempt, on failure wait a timer, attempt again."""

    def __init__(
        self,
        parent: _Node | None,
        kind: WorkKind,
        action: Action,
        policy: RetryPolicy,
        replayer: ActionReplayer,
    ) -> None:
        super().__init__(parent)
        self.kind = kind
        self.action = action
        self.policy = policy
        self.attempts = 0
        self.waiting_on_timer = False
        self.first_attempt = replayer.now
        self._attempt(replayer)

    def _attempt(self, replayer: ActionReplayer) -> None:
        self.attempts += 1
        replayer.schedule_call(self.kind, self.action, self)

    def child_done(self, replayer: ActionReplayer, child: _Node) -> None:
        if self.waiting_on_timer:
            self.waiting_on_timer = False
            if self.attempts >= max(1, self.policy.max_attempts):
                self.finish(replayer, True)
            else:
                self._attempt(replayer)
            return
        if not child.failed:
            self.finish(replayer, False)
            return
        delay_ms = self.policy.delay_ms(self.attempts - 1)
        timeout = self.policy.retry_timeout_ms
        expired = timeout is not None and replayer.now >= self.first_attempt + timeout / 1000
        if delay_ms <= 0 or expired:
            self.finish(replayer, True)
            return
        self.waiting_on_timer = True
        fire_at = format_event_timestamp(replayer.now + delay_ms / 1000)
        replayer.schedule_timer(fire_at, canceled=False, parent=self)


class ActionReplayer:
    """Replays one execution's actions against its history (see module docstring)."""

    def __init__(self, actions: Sequence[Action], *, execution_id: str, max_actions: int) -> None:
        self._actions = list(actions)
        self._execution_id = execution_id
        self._max_actions = max_actions
        self._cursor = 0
        self._current: _Node | None = None
        self._next_id = 0
        self._open: dict[int, _Node] = {}
        self._scheduled: dict[int, ScheduledWork] = {}
        self._explicit_instance_ids: set[int] = set()
        self._recorded: set[int] = set()
        self._waiters: dict[str, deque[_Node]] = {}
        self._buffered: dict[str, deque[HistoryEvent]] = {}
        self._canceled: set[int] = set()
        self._continue_input: str | None = None
        self._continued = False
        self._action_count = 0
        self.now = 0.0

    # -- scheduling -----------------------------------------------------------------------------
    def _count(self) -> None:
        if self._action_count >= self._max_actions:
            raise ActionLimitError(
                f"Maximum amount of orchestration actions ({self._max_actions}) has been "
                "reached. This value can be configured in host.json file as "
                "MaxOrchestrationActions."
            )
        self._action_count += 1

    def _allocate(self, work: ScheduledWork, node: _Node) -> None:
        self._scheduled[work.task_id] = work
        self._open[work.task_id] = node

    def schedule_call(self, kind: WorkKind, action: Action, parent: _Node | None) -> _Node:
        """Schedule an activity or sub-orchestration call under the next sequence id."""
        task_id = self._next_id
        self._next_id += 1
        node = _Leaf(parent)
        instance_id = None
        if kind is WorkKind.SUB_ORCHESTRATION:
            instance_id = action.instance_id or f"{self._execution_id}:{task_id}"
            if action.instance_id:
                self._explicit_instance_ids.add(task_id)
        work = ScheduledWork(
            task_id, kind, action.function_name, action.input_text, instance_id=instance_id
        )
        self._allocate(work, node)
        return node

    def schedule_timer(self, fire_at: str, *, canceled: bool, parent: _Node | None) -> _Node:
        """Schedule a timer under the next sequence id."""
        task_id = self._next_id
        self._next_id += 1
        node = _Leaf(parent)
        if canceled:
            self._canceled.add(task_id)
        self._allocate(
            ScheduledWork(task_id, WorkKind.TIMER, fire_at=fire_at, canceled=canceled), node
        )
        return node

    def _invoke(self, action: Action, parent: _Node | None) -> _Node:
        kind = action.kind
        if kind in (ActionType.CALL_ACTIVITY, ActionType.CALL_SUB_ORCHESTRATOR):
            self._count()
            work_kind = (
                WorkKind.ACTIVITY
                if kind is ActionType.CALL_ACTIVITY
                else WorkKind.SUB_ORCHESTRATION
            )
            return self.schedule_call(work_kind, action, parent)
        if kind in (
            ActionType.CALL_ACTIVITY_WITH_RETRY,
            ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY,
        ):
            self._count()
            work_kind = (
                WorkKind.ACTIVITY
                if kind is ActionType.CALL_ACTIVITY_WITH_RETRY
                else WorkKind.SUB_ORCHESTRATION
            )
            policy = action.retry or RetryPolicy(first_retry_interval_ms=1, max_attempts=1)
            return _Retry(parent, work_kind, action, policy, self)
        if kind is ActionType.CREATE_TIMER:
            self._count()
            if action.fire_at is None:
                raise UnsupportedFeatureError("CreateTimer action without fireAt")
            return self.schedule_timer(action.fire_at, canceled=action.is_canceled, parent=parent)
        if kind is ActionType.WAIT_FOR_EXTERNAL_EVENT:
            self._count()
            return self._wait_for_event(action.event_name or "", parent)
        if kind is ActionType.CONTINUE_AS_NEW:
            self._continue_input = action.input_text
            self._continued = True
            node: _Node = _Leaf(parent)
            node.finish(self, False)
            return node
        if kind in (ActionType.WHEN_ALL, ActionType.WHEN_ANY):
            compound = _WhenAll(parent) if kind is ActionType.WHEN_ALL else _WhenAny(parent)
            for child in action.children:
                compound.children.append(self._invoke(child, compound))
            compound.settle(self)
            return compound
        feature = {
            ActionType.CALL_ENTITY: "durable entities (call_entity)",
            ActionType.SIGNAL_ENTITY: "durable entities (signal_entity)",
            ActionType.SCHEDULED_SIGNAL_ENTITY: "durable entities (signal_entity)",
            ActionType.CALL_HTTP: "durable HTTP (call_http)",
        }.get(kind, kind.name)
        raise UnsupportedFeatureError(f"{feature} is not supported by devhost")

    def _wait_for_event(self, name: str, parent: _Node | None) -> _Node:
        node = _Leaf(parent)
        buffered = self._buffered.get(name)
        if buffered:
            buffered.popleft()
            node.finish(self, False)
        else:
            self._waiters.setdefault(name, deque()).append(node)
        return node

    def _advance(self) -> None:
        while self._current is None or self._current.done:
            if self._cursor >= len(self._actions):
                return
            action = self._actions[self._cursor]
            self._cursor += 1
            self._current = self._invoke(action, None)

    # -- history --------------------------------------------------------------------------------
    def _check_recorded(self, event: HistoryEvent, kind: EventType) -> None:
        task_id = int(event["EventId"])
        recorded_kind = _RECORDED_KIND[kind]
        name = event.get("Name")
        work = self._scheduled.get(task_id)
        if work is None:
            raise NonDeterminismError(NONDETERMINISM_PREFIX + _missing(recorded_kind, event))
        if work.kind is not recorded_kind:
            raise NonDeterminismError(
                NONDETERMINISM_PREFIX + _kind_mismatch(recorded_kind, event, work)
            )
        if (
            recorded_kind is not WorkKind.TIMER
            and (work.name or "").casefold() != (str(name or "")).casefold()
        ):
            raise NonDeterminismError(
                NONDETERMINISM_PREFIX + _name_mismatch(recorded_kind, event, work)
            )
        # Kind and name are what DTFx checks (DurableTask.Core 2.17.1, the extension's pin,
        # TaskOrchestrationContext.cs HandleTaskScheduledEvent / HandleTimerCreatedEvent /
        # HandleSubOrchestrationCreatedEvent). The instance id below is devhost's own, stricter
        # check (DTFx names it only in its message): a changed explicit child id would address
        # another instance. tests/reliability/test_release_compatibility.py turns it off to
        # judge a release as the host does.
        if (
            recorded_kind is WorkKind.SUB_ORCHESTRATION
            and task_id in self._explicit_instance_ids
            and work.instance_id != event.get("InstanceId")
        ):
            raise NonDeterminismError(
                NONDETERMINISM_PREFIX
                + f"A previous execution of this orchestration scheduled a sub-orchestration "
                f"task with sequence ID {task_id} and name '{name}' (version '', instance ID "
                f"'{event.get('InstanceId')}'), but the current orchestration replay instead "
                f"scheduled it with instance ID '{work.instance_id}' at this sequence number. "
                + _CODE_CHANGED
            )
        self._recorded.add(task_id)

    def _complete(self, task_id: int, failed: bool) -> None:
        node = self._open.pop(task_id, None)
        if node is not None:
            node.finish(self, failed)

    def _raise(self, event: HistoryEvent) -> None:
        name = str(event.get("Name") or "")
        waiters = self._waiters.get(name)
        if waiters:
            waiters.popleft().finish(self, False)
        else:
            self._buffered.setdefault(name, deque()).append(event)

    def replay(self, history: Sequence[HistoryEvent]) -> ReplayOutcome:
        """Walk ``history`` (the whole current execution, new events included).

        Raises:
            NonDeterminismError: a recorded scheduling event does not match the code.
            ActionLimitError: the code scheduled more than ``max_actions`` actions.
            UnsupportedFeatureError: the code used entities or durable HTTP.
        """
        for event in history:
            kind = event_type(event)
            if kind is EventType.ORCHESTRATOR_STARTED:
                self.now = max(self.now, parse_timestamp(str(event["Timestamp"])))
            elif kind is EventType.EXECUTION_STARTED:
                self._advance()
            elif kind in _RECORDED_KIND:
                self._check_recorded(event, kind)
            elif kind is EventType.EVENT_RAISED:
                self._raise(event)
                self._advance()
            else:
                task_id = completion_id(event)
                if task_id is not None:
                    failed = kind in (
                        EventType.TASK_FAILED,
                        EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                    )
                    self._complete(task_id, failed)
                    self._advance()
        completed = self._cursor >= len(self._actions) and (
            self._current is None or self._current.done
        )
        new_work = tuple(
            work
            for task_id, work in sorted(self._scheduled.items())
            if task_id not in self._recorded
        )
        unconsumed = tuple(event for queue in self._buffered.values() for event in queue)
        return ReplayOutcome(
            new_work=new_work,
            completed=completed,
            canceled_timer_ids=frozenset(self._canceled),
            unconsumed_events=unconsumed,
            continue_as_new_input=self._continue_input,
            continued_as_new=self._continued,
            action_count=self._action_count,
        )


def _missing(kind: WorkKind, event: HistoryEvent) -> str:
    task_id = event["EventId"]
    name = event.get("Name")
    if kind is WorkKind.ACTIVITY:
        return (
            f"A previous execution of this orchestration scheduled an activity task with sequence "
            f"ID {task_id} and name '{name}' (version '{event.get('Version') or ''}'), but the "
            f"current replay execution hasn't (yet?) scheduled this task. {_CODE_CHANGED}"
        )
    if kind is WorkKind.TIMER:
        return (
            f"A previous execution of this orchestration scheduled a timer task with sequence "
            f"number {task_id} but the current replay execution hasn't (yet?) scheduled this "
            f"task. {_CODE_CHANGED}"
        )
    return (
        f"A previous execution of this orchestration scheduled a sub-orchestration task with "
        f"sequence ID {task_id} and name '{name}' (version '', instance ID "
        f"'{event.get('InstanceId')}'), but the current replay execution hasn't (yet?) "
        f"scheduled this task. {_CODE_CHANGED}"
    )


def _kind_mismatch(kind: WorkKind, event: HistoryEvent, work: ScheduledWork) -> str:
    task_id = event["EventId"]
    produced = _ACTION_CLASS[work.kind]
    if kind is WorkKind.ACTIVITY:
        return (
            f"A previous execution of this orchestration scheduled an activity task with sequence "
            f"number {task_id} named '{event.get('Name')}', but the current orchestration replay "
            f"instead produced a {produced} action with this sequence number. {_CODE_CHANGED}"
        )
    if kind is WorkKind.TIMER:
        return (
            f"A previous execution of this orchestration scheduled a timer task with sequence "
            f"number {task_id} named but the current orchestration replay instead produced a "
            f"{produced} action with this sequence number. {_CODE_CHANGED}"
        )
    return (
        f"A previous execution of this orchestration scheduled a sub-orchestration task with "
        f"sequence ID {task_id} and name '{event.get('Name')}' (version '', instance ID "
        f"'{event.get('InstanceId')}'), but the current orchestration replay instead produced a "
        f"{produced} action at this sequence number. {_CODE_CHANGED}"
    )


def _name_mismatch(kind: WorkKind, event: HistoryEvent, work: ScheduledWork) -> str:
    task_id = event["EventId"]
    if kind is WorkKind.ACTIVITY:
        return (
            f"A previous execution of this orchestration scheduled an activity task with sequence "
            f"number {task_id} named '{event.get('Name')}', but the current orchestration replay "
            f"instead scheduled an activity task named '{work.name}' with this sequence number.  "
            + _CODE_CHANGED
        )
    return (
        f"A previous execution of this orchestration scheduled a sub-orchestration task with "
        f"sequence ID {task_id} and name '{event.get('Name')}' (version '', instance ID "
        f"'{event.get('InstanceId')}'), but the current orchestration replay instead scheduled a "
        f"sub-orchestration task with name {work.name} at this sequence number. " + _CODE_CHANGED
    )

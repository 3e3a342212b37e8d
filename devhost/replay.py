"""One orchestrator episode: call the SDK with the full history, check and commit the result.

An episode takes every pending event of an instance, brackets them with OrchestratorStarted
(timestamped from the host clock) and OrchestratorCompleted, and invokes the orchestrator's
``Orchestrator.create`` handle with the same JSON payload the Durable extension sends. The
returned state is then replayed host-side (``devhost.shim``) for sequence ids and determinism,
and turned into one atomic ``EpisodeCommit``: new history, new work, status, output.

Failures are worded as the host words them: ``Orchestrator function 'x' failed: <error>`` for
anything raised by or about the orchestrator, ``Non-Deterministic workflow detected: ...`` for
a determinism violation.
"""

from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost.clock import parse_timestamp
from devhost.config import HostConfig
from devhost.errors import UnsupportedFeatureError
from devhost.indexing import AppIndex, FunctionKind, IndexedFunction, missing_function_message
from devhost.protocol import (
    EventType,
    HistoryEvent,
    OrchestratorState,
    build_orchestration_payload,
    event_type,
    make_event,
    parse_orchestrator_state,
    split_out_of_proc_error,
    with_played,
)
from devhost.shim import ActionLimitError, ActionReplayer, NonDeterminismError, ReplayOutcome
from devhost.store import ChildStart, EpisodeCommit, Instance, RuntimeStatus
from devhost.work import ScheduledWork, WorkKind
from devhost.workers import OrchestratorWorkers, WorkerRaised

log = logging.getLogger(__name__)

MAX_CUSTOM_STATUS_KB = 16


@dataclass(frozen=True)
class EpisodeResult:
    """The commit to apply and the work the engine must start once it is applied."""

    commit: EpisodeCommit
    new_work: tuple[ScheduledWork, ...] = ()
    canceled_timer_ids: frozenset[int] = field(default_factory=frozenset)


class _EpisodeFailure(Exception):
    """The instance fails with ``reason`` (already in the host's wording)."""

    def __init__(self, reason: str, details: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


def custom_status_error(custom_status: Any) -> str | None:
    """Return the host's error if ``custom_status`` exceeds 16 KB of UTF-16 JSON, else None."""
    text = json.dumps(custom_status, ensure_ascii=False, separators=(",", ":"))
    size_kb = int(len(text.encode("utf-16-le")) / 1024.0)
    if size_kb > MAX_CUSTOM_STATUS_KB:
        return (
            f"The UTF-16 size of the JSON-serialized payload must not exceed "
            f"{MAX_CUSTOM_STATUS_KB} KB. The current payload size is {size_kb:,} KB."
        )
    return None


def _last_started(history: list[HistoryEvent]) -> float:
    for event in reversed(history):
        if event_type(event) is EventType.ORCHESTRATOR_STARTED:
            return parse_timestamp(str(event["Timestamp"]))
    return 0.0


def _input_value(history: list[HistoryEvent]) -> Any:
    for event in history:
        if event_type(event) is EventType.EXECUTION_STARTED:
            text = event.get("Input")
            return None if text is None else json.loads(text)
    return None


def _details(err: BaseException) -> str:
    return "".join(traceback.format_exception(err))


def _child_input(input_text: str | None) -> str | None:
    """ExecutionStarted.Input for a value the SDK serialized into an action's ``input``.

    The SDK puts ``df_dumps(value)`` (a JSON string) in the action; the host stores that string
    as the new execution's input, i.e. JSON-encodes it once more.
    """
    return None if input_text is None else json.dumps(input_text)


def _scheduled_event(work: ScheduledWork, timestamp: float) -> HistoryEvent:
    if work.kind is WorkKind.ACTIVITY:
        return make_event(
            EventType.TASK_SCHEDULED,
            timestamp,
            event_id=work.task_id,
            Name=work.name,
            Version="",
            Input=work.input_text,
        )
    if work.kind is WorkKind.TIMER:
        return make_event(
            EventType.TIMER_CREATED, timestamp, event_id=work.task_id, FireAt=work.fire_at
        )
    return make_event(
        EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
        timestamp,
        event_id=work.task_id,
        Name=work.name,
        Version="",
        InstanceId=work.instance_id,
        Input=work.input_text,
    )


class _Episode:
    def __init__(
        self,
        instance: Instance,
        index: AppIndex,
        now: float,
        config: HostConfig,
        workers: OrchestratorWorkers | None = None,
    ) -> None:
        self.instance = instance
        self.index = index
        self.config = config
        self.workers = workers
        self.batch = [pending.event for pending in instance.pending]
        self.timestamp = max(now, _last_started(instance.history))
        self.new_events = [make_event(EventType.ORCHESTRATOR_STARTED, self.timestamp), *self.batch]

    def commit(self, status: RuntimeStatus, output: Any = None, **extra: Any) -> EpisodeCommit:
        scheduled: list[HistoryEvent] = extra.pop("scheduled", [])
        events = [with_played(e, True) for e in self.new_events]
        events.extend(scheduled)
        events.append(make_event(EventType.ORCHESTRATOR_COMPLETED, self.timestamp))
        if status.is_terminal:
            events.append(
                make_event(
                    EventType.EXECUTION_COMPLETED,
                    self.timestamp,
                    OrchestrationStatus=status.value,
                    Result=json.dumps(output),
                )
            )
        return EpisodeCommit(
            instance_id=self.instance.instance_id,
            execution_id=self.instance.execution_id,
            timestamp=self.timestamp,
            consumed=len(self.batch),
            appended=events,
            status=status,
            output=output,
            **extra,
        )

    def run(self) -> EpisodeResult:
        terminate = next(
            (e for e in self.batch if event_type(e) is EventType.EXECUTION_TERMINATED), None
        )
        if terminate is not None:
            reason = json.loads(terminate.get("Input") or "null")
            return EpisodeResult(self.commit(RuntimeStatus.TERMINATED, reason))
        function = self.index.orchestrator(self.instance.name)
        try:
            if function is None:
                raise _EpisodeFailure(
                    missing_function_message(
                        self.instance.name, FunctionKind.ORCHESTRATOR, self.index
                    )
                )
            return self._run_sdk(function)
        except _EpisodeFailure as failure:
            return EpisodeResult(
                self.commit(RuntimeStatus.FAILED, failure.reason, failure_details=failure.details)
            )

    def _invoke(self, function: IndexedFunction, history: list[HistoryEvent]) -> OrchestratorState:
        instance = self.instance
        payload = build_orchestration_payload(
            history=history,
            input_value=_input_value(history),
            instance_id=instance.instance_id,
            is_replaying=bool(instance.history),
            parent_instance_id=None if instance.parent is None else instance.parent.instance_id,
        )
        prefix = f"Orchestrator function '{function.name}' failed: "
        try:
            if self.workers is None:
                returned = function.user_function(func.OrchestrationContext(payload))
            else:
                returned = self.workers.invoke(function.name, payload)
        except Exception as err:
            message, state_text = split_out_of_proc_error(str(err))
            if state_text is None:
                details = err.details if isinstance(err, WorkerRaised) else _details(err)
                raise _EpisodeFailure(prefix + message, details) from err
            state = parse_orchestrator_state(state_text)
            if state.error is None:
                state = OrchestratorState(
                    is_done=state.is_done,
                    actions=state.actions,
                    output=state.output,
                    error=message,
                    custom_status=state.custom_status,
                    has_custom_status=state.has_custom_status,
                    schema_version=state.schema_version,
                    raw=state.raw,
                )
            return state
        if not isinstance(returned, str):
            raise _EpisodeFailure(prefix + "Out of proc orchestrators must return a valid JSON")
        return parse_orchestrator_state(returned)

    def _run_sdk(self, function: IndexedFunction) -> EpisodeResult:
        prefix = f"Orchestrator function '{function.name}' failed: "
        history = [*self.instance.history, *self.new_events]
        try:
            state = self._invoke(function, history)
        except (ValueError, UnsupportedFeatureError) as err:
            raise _EpisodeFailure(prefix + str(err)) from err
        if state.has_custom_status:
            too_big = custom_status_error(state.custom_status)
            if too_big is not None:
                raise _EpisodeFailure(prefix + too_big)
        replayer = ActionReplayer(
            state.actions,
            execution_id=self.instance.execution_id,
            max_actions=self.config.max_orchestration_actions,
        )
        try:
            outcome = replayer.replay(history)
        except NonDeterminismError as err:
            raise _EpisodeFailure(str(err)) from err
        except (ActionLimitError, UnsupportedFeatureError) as err:
            raise _EpisodeFailure(prefix + str(err)) from err
        return self._result(function, state, outcome)

    def _missing(self, work: ScheduledWork, kind: FunctionKind) -> HistoryEvent:
        event_kind = (
            EventType.TASK_FAILED
            if kind is FunctionKind.ACTIVITY
            else EventType.SUB_ORCHESTRATION_INSTANCE_FAILED
        )
        return make_event(
            event_kind,
            self.timestamp,
            TaskScheduledId=work.task_id,
            Reason=missing_function_message(work.name or "", kind, self.index),
            Details="",
        )

    def _result(
        self, function: IndexedFunction, state: OrchestratorState, outcome: ReplayOutcome
    ) -> EpisodeResult:
        scheduled: list[HistoryEvent] = []
        children: list[ChildStart] = []
        post: list[HistoryEvent] = []
        for work in outcome.new_work:
            scheduled.append(_scheduled_event(work, self.timestamp))
            if work.kind is WorkKind.ACTIVITY and self.index.activity(work.name or "") is None:
                post.append(self._missing(work, FunctionKind.ACTIVITY))
            elif work.kind is WorkKind.SUB_ORCHESTRATION:
                child = self.index.orchestrator(work.name or "")
                if child is None:
                    post.append(self._missing(work, FunctionKind.ORCHESTRATOR))
                else:
                    children.append(
                        ChildStart(
                            instance_id=work.instance_id or "",
                            name=child.registered_name,
                            input_text=_child_input(work.input_text),
                            task_id=work.task_id,
                        )
                    )
        status = RuntimeStatus.RUNNING
        output: Any = None
        details = None
        if outcome.completed and state.error is not None:
            status = RuntimeStatus.FAILED
            output = f"Orchestrator function '{function.name}' failed: {state.error}"
            details = f"Message: {state.error}"
        elif outcome.completed and state.is_done:
            if outcome.continued_as_new:
                status = RuntimeStatus.CONTINUED_AS_NEW
            else:
                status = RuntimeStatus.COMPLETED
                output = state.output
        live = not status.is_terminal
        commit = self.commit(
            status,
            output,
            scheduled=scheduled,
            failure_details=details,
            custom_status=state.custom_status,
            set_custom_status=state.has_custom_status,
            canceled_timers=outcome.canceled_timer_ids,
            children=tuple(children) if live else (),
            post_events=tuple(post) if live else (),
            continue_as_new_input=_child_input(outcome.continue_as_new_input),
            carry_over=outcome.unconsumed_events,
        )
        return EpisodeResult(commit, outcome.new_work if live else (), outcome.canceled_timer_ids)


def run_episode(
    instance: Instance,
    index: AppIndex,
    now: float,
    config: HostConfig,
    workers: OrchestratorWorkers | None = None,
) -> EpisodeResult:
    """Run one episode of ``instance`` over all its pending events (see module docstring); the
    orchestrator code runs in ``workers`` when given, else in this process."""
    return _Episode(instance, index, now, config, workers).run()


def internal_failure(instance: Instance, error: BaseException, now: float) -> EpisodeCommit:
    """A commit failing ``instance`` because devhost itself broke (a bug worth reporting)."""
    reason = f"devhost internal error while running an episode: {type(error).__name__}: {error}"
    episode = _Episode(instance, AppIndex(Path(), ()), now, HostConfig())
    return episode.commit(RuntimeStatus.FAILED, reason, failure_details=_details(error))

"""Run the app's orchestrators through the SDK's own handling, outside any host.

``orchestrate`` hands a history to an orchestrator exactly as devhost's episode runner does
(``Orchestrator.create`` handle, the extension's JSON payload) and returns the SDK's state;
``produced`` replays that state's actions over the history with devhost's ``ActionReplayer`` (the
host's sequence ids and determinism check) and lists every action in sequence-id order, in the
shape of the history events that record them. ``ScriptedRun`` drives one orchestrator episode by
episode, answering its activities from a script and firing its timers on a virtual clock.
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
from devhost.work import WorkKind

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

    def __init__(self, actions: Sequence[Action], execution_id: str) -> None:
        super().__init__(actions, execution_id=execution_id, max_actions=100_000)
        self.produced: list[Produced] = []

    def schedule_call(self, kind: WorkKind, action: Action, parent: Any) -> Any:
        node = super().schedule_call(kind, action, parent)
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
    state: OrchestratorState, history: Sequence[HistoryEvent], execution_id: str = "replay"
) -> tuple[list[Produced], ReplayOutcome]:
    """Every action of ``state`` in sequence-id order, and the host's replay outcome.

    Raises:
        devhost.shim.NonDeterminismError: the host's own check failed.
    """
    replayer = _Recording(state.actions, execution_id)
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


Answer = Callable[[str, Any], Any]


class ScriptedRun:
    """One orchestrator, episode by episode, with activities answered by ``answer(name, input)``
    and timers fired when due; sub-orchestrations are not supported."""

    def __init__(self, name: str, input_value: Any, answer: Answer, start: float = START) -> None:
        self.name = name
        self.answer = answer
        self.now = start
        self.history: list[HistoryEvent] = []
        self.activities: list[tuple[str, Any]] = []
        self.input_text = json.dumps(df_dumps(input_value))
        self._pending: list[HistoryEvent] = [
            execution_started(
                start,
                name=name,
                input_text=self.input_text,
                instance_id="scripted",
                execution_id="scripted",
            )
        ]
        self._open: dict[int, Any] = {}

    def run(self, max_episodes: int = 1000) -> OrchestratorState:
        """Episodes until the orchestrator completes, fails or continues as new."""
        for _ in range(max_episodes):
            episode = [make_event(EventType.ORCHESTRATOR_STARTED, self.now), *self._pending]
            history = [*self.history, *episode]
            state = orchestrate(self.name, history, instance_id="scripted")
            _, outcome = produced(state, history, "scripted")
            self.history = [with_played(e, True) for e in history]
            for work in outcome.new_work:
                self._open[work.task_id] = work
                if work.kind is WorkKind.ACTIVITY:
                    scheduled = make_event(
                        EventType.TASK_SCHEDULED,
                        self.now,
                        event_id=work.task_id,
                        Name=work.name,
                        Version="",
                        Input=work.input_text,
                    )
                elif work.kind is WorkKind.TIMER:
                    scheduled = make_event(
                        EventType.TIMER_CREATED,
                        self.now,
                        event_id=work.task_id,
                        FireAt=work.fire_at,
                    )
                else:
                    raise AssertionError("ScriptedRun does not run sub-orchestrations")
                self.history.append(scheduled)
            self.history.append(make_event(EventType.ORCHESTRATOR_COMPLETED, self.now))
            if state.error is not None or (outcome.completed and state.is_done):
                return state
            self._pending = [self._complete_next()]
        raise AssertionError(f"{self.name} did not finish in {max_episodes} episodes")

    def _complete_next(self) -> HistoryEvent:
        activities = [w for w in self._open.values() if w.kind is WorkKind.ACTIVITY]
        if activities:
            work = min(activities, key=lambda w: w.task_id)
            del self._open[work.task_id]
            value = df_loads(work.input_text) if work.input_text is not None else None
            self.activities.append((work.name, value))
            result = self.answer(work.name, value)
            return make_event(
                EventType.TASK_COMPLETED,
                self.now,
                TaskScheduledId=work.task_id,
                Result=df_dumps(result),
            )
        timers = [w for w in self._open.values() if w.kind is WorkKind.TIMER]
        assert timers, "the orchestrator waits on nothing this script can complete"
        work = min(timers, key=lambda w: (parse_timestamp(w.fire_at), w.task_id))
        del self._open[work.task_id]
        self.now = max(self.now, parse_timestamp(work.fire_at))
        return make_event(
            EventType.TIMER_FIRED,
            self.now,
            TimerId=work.task_id,
            FireAt=work.fire_at,
        )

"""Pure logic of devhost: schedules, routes, settings, protocol parsing and host-side replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devhost.clock import format_event_timestamp, parse_timestamp
from devhost.config import HostConfig, load_local_settings, resolve_setting
from devhost.cron import CronSchedule, IntervalSchedule, parse_schedule
from devhost.errors import IndexingError
from devhost.protocol import Action, ActionType, EventType, RetryPolicy, make_event
from devhost.replay import custom_status_error
from devhost.routes import RouteTemplate
from devhost.shim import ActionReplayer, NonDeterminismError
from devhost.work import WorkKind

from .conftest import START


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# -- NCRONTAB -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 */5 * * * *", "2025-01-01T00:00:00", "2025-01-01T00:05:00"),
        ("30 0 9 * * Mon-Fri", "2025-01-03T10:00:00", "2025-01-06T09:00:30"),
        ("0 0 0 1 Jan,Jul *", "2025-02-01T00:00:00", "2025-07-01T00:00:00"),
        ("0 15,45 8-10/2 * * *", "2025-01-01T08:20:00", "2025-01-01T08:45:00"),
        ("*/20 * * * * *", "2025-01-01T00:00:40", "2025-01-01T00:01:00"),
        ("0 0 12 * * 0", "2025-01-01T00:00:00", "2025-01-05T12:00:00"),
    ],
)
def test_ncrontab_next_occurrence(expression: str, after: str, expected: str) -> None:
    schedule = CronSchedule.parse(expression)
    assert schedule.next_after(_epoch(after)) == _epoch(expected)


def test_timespan_schedule_is_an_interval() -> None:
    schedule = parse_schedule("01:30:00")
    assert isinstance(schedule, IntervalSchedule)
    assert schedule.next_after(100.0) == 100.0 + 5400


@pytest.mark.parametrize("expression", ["* * * * *", "61 * * * * *", "0 0 0 * * Funday", "x"])
def test_invalid_schedules_are_rejected(expression: str) -> None:
    with pytest.raises(IndexingError):
        parse_schedule(expression)


# -- routes ---------------------------------------------------------------------------------------
def test_route_templates_capture_parameters() -> None:
    assert RouteTemplate.parse("exports/{id}").match("Exports/abc") == {"id": "abc"}
    assert RouteTemplate.parse("exports/{id}/cancel").match("exports/abc/cancel") == {"id": "abc"}
    assert RouteTemplate.parse("exports/{id}").match("exports/abc/cancel") is None
    assert RouteTemplate.parse("hello/{name?}").match("hello") == {}
    assert RouteTemplate.parse("items/{n:int}").match("items/x") is None
    assert RouteTemplate.parse("files/{*path}").match("files/a/b.txt") == {"path": "a/b.txt"}


def test_literal_routes_take_precedence() -> None:
    literal = RouteTemplate.parse("exports/status")
    parameter = RouteTemplate.parse("exports/{id}")
    ordered = sorted([parameter, literal], key=lambda t: t.precedence)
    assert ordered[0] is literal


# -- settings -------------------------------------------------------------------------------------
def test_host_json_and_local_settings(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(
        json.dumps(
            {
                "extensions": {
                    "durableTask": {
                        "hubName": "%HUB%",
                        "maxConcurrentActivityFunctions": 3,
                        "maxOrchestrationActions": 50,
                    },
                    "http": {"routePrefix": ""},
                }
            }
        )
    )
    (tmp_path / "local.settings.json").write_text(
        json.dumps({"Values": {"HUB": "FromFile", "KEEP": "file"}})
    )
    environ = {"KEEP": "env"}
    applied = load_local_settings(tmp_path, environ)
    assert applied == {"HUB": "FromFile"}
    assert environ["KEEP"] == "env"
    config = HostConfig.from_app_dir(tmp_path, environ)
    assert config.hub_name == "FromFile"
    assert config.max_concurrent_activities == 3
    assert config.max_orchestration_actions == 50
    assert config.route_prefix == ""


def test_unresolved_setting_is_an_indexing_error() -> None:
    with pytest.raises(IndexingError, match="%MISSING%"):
        resolve_setting("%MISSING%", {})


# -- protocol -------------------------------------------------------------------------------------
def test_timestamps_round_trip_with_microseconds() -> None:
    text = format_event_timestamp(START + 0.123456)
    assert text == "2025-01-01T00:00:00.123456Z"
    assert parse_timestamp(text) == pytest.approx(START + 0.123456)
    assert parse_timestamp("2025-01-01T00:00:00.1234567Z") == pytest.approx(START + 0.123456)


def test_custom_status_limit_is_16_kb_of_utf16() -> None:
    assert custom_status_error({"blob": "x" * 8000}) is None
    error = custom_status_error({"blob": "x" * 9000})
    assert error == (
        "The UTF-16 size of the JSON-serialized payload must not exceed 16 KB. "
        "The current payload size is 17 KB."
    )


# -- host-side replay -----------------------------------------------------------------------------
def _activity(name: str) -> Action:
    return Action(ActionType.CALL_ACTIVITY, function_name=name, input_text="null")


def _history(*events: dict[str, object]) -> list[dict[str, object]]:
    return [
        make_event(EventType.ORCHESTRATOR_STARTED, START),
        make_event(EventType.EXECUTION_STARTED, START, Name="o", Version="", Input=None),
        *events,
    ]


def test_sequence_ids_follow_first_use_and_events_take_none() -> None:
    actions = [
        Action(ActionType.WAIT_FOR_EXTERNAL_EVENT, event_name="go"),
        Action(ActionType.WHEN_ALL, children=(_activity("a"), _activity("b"))),
    ]
    history = _history(make_event(EventType.EVENT_RAISED, START, Name="go", Input="1"))
    outcome = ActionReplayer(actions, execution_id="e", max_actions=10).replay(history)
    assert [(w.task_id, w.name) for w in outcome.new_work] == [(0, "a"), (1, "b")]
    assert not outcome.completed


def test_timers_take_ids_and_cancelled_ones_are_reported() -> None:
    timer = Action(ActionType.CREATE_TIMER, fire_at="2025-01-01T01:00:00.000000Z", is_canceled=True)
    actions = [
        Action(
            ActionType.WHEN_ANY,
            children=(Action(ActionType.WAIT_FOR_EXTERNAL_EVENT, event_name="go"), timer),
        ),
        _activity("after"),
    ]
    history = _history(
        make_event(EventType.TIMER_CREATED, START, event_id=0, FireAt=timer.fire_at),
        make_event(EventType.ORCHESTRATOR_COMPLETED, START),
        make_event(EventType.ORCHESTRATOR_STARTED, START + 5),
        make_event(EventType.EVENT_RAISED, START + 5, Name="go", Input="1"),
    )
    outcome = ActionReplayer(actions, execution_id="e", max_actions=10).replay(history)
    assert outcome.canceled_timer_ids == frozenset({0})
    assert [(w.task_id, w.kind) for w in outcome.new_work] == [(1, WorkKind.ACTIVITY)]


def test_retry_schedules_timer_then_new_attempt_like_dtfx() -> None:
    action = Action(
        ActionType.CALL_ACTIVITY_WITH_RETRY,
        function_name="flaky",
        input_text='"k"',
        retry=RetryPolicy(first_retry_interval_ms=30_000, max_attempts=2),
    )
    failed = _history(
        make_event(EventType.TASK_SCHEDULED, START, event_id=0, Name="flaky"),
        make_event(EventType.ORCHESTRATOR_COMPLETED, START),
        make_event(EventType.ORCHESTRATOR_STARTED, START + 10),
        make_event(EventType.TASK_FAILED, START + 10, TaskScheduledId=0, Reason="r"),
    )
    outcome = ActionReplayer([action], execution_id="e", max_actions=10).replay(failed)
    (timer,) = outcome.new_work
    assert (timer.task_id, timer.kind) == (1, WorkKind.TIMER)
    assert timer.fire_at == format_event_timestamp(START + 40)
    fired = [
        *failed,
        make_event(EventType.TIMER_CREATED, START + 10, event_id=1, FireAt=timer.fire_at),
        make_event(EventType.ORCHESTRATOR_COMPLETED, START + 10),
        make_event(EventType.ORCHESTRATOR_STARTED, START + 40),
        make_event(EventType.TIMER_FIRED, START + 40, TimerId=1, FireAt=timer.fire_at),
    ]
    outcome = ActionReplayer([action], execution_id="e", max_actions=10).replay(fired)
    assert [(w.task_id, w.name) for w in outcome.new_work] == [(2, "flaky")]


def test_renamed_activity_is_non_deterministic() -> None:
    history = _history(make_event(EventType.TASK_SCHEDULED, START, event_id=0, Name="old"))
    with pytest.raises(NonDeterminismError) as caught:
        ActionReplayer([_activity("new")], execution_id="e", max_actions=10).replay(history)
    assert str(caught.value) == (
        "Non-Deterministic workflow detected: A previous execution of this orchestration "
        "scheduled an activity task with sequence number 0 named 'old', but the current "
        "orchestration replay instead scheduled an activity task named 'new' with this sequence "
        "number.  Was a change made to the orchestrator code after this instance had already "
        "started running?"
    )


def test_timer_replaced_by_activity_is_non_deterministic() -> None:
    history = _history(make_event(EventType.TIMER_CREATED, START, event_id=0, FireAt="x"))
    with pytest.raises(NonDeterminismError, match="ScheduleTaskOrchestratorAction"):
        ActionReplayer([_activity("a")], execution_id="e", max_actions=10).replay(history)


def test_dropped_activity_is_non_deterministic() -> None:
    history = _history(make_event(EventType.TASK_SCHEDULED, START, event_id=0, Name="gone"))
    with pytest.raises(NonDeterminismError, match="hasn't \\(yet\\?\\) scheduled this task"):
        ActionReplayer([], execution_id="e", max_actions=10).replay(history)


def test_sub_orchestration_default_id_uses_execution_and_sequence() -> None:
    action = Action(ActionType.CALL_SUB_ORCHESTRATOR, function_name="child", input_text="1")
    outcome = ActionReplayer([action], execution_id="exec1", max_actions=10).replay(_history())
    assert outcome.new_work[0].instance_id == "exec1:0"

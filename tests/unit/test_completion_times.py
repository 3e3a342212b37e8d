"""``CompletionTimes``: when an activity's answer came, read from the orchestration's history."""

from __future__ import annotations

from datetime import UTC, datetime

from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from azure.durable_functions.models.history.HistoryEventType import HistoryEventType
from azure.durable_functions.models.Task import AtomicTask

from orchestrators.timeutil import CompletionTimes


def _event(kind: HistoryEventType, event_id: int, at: str, **extra: object) -> HistoryEvent:
    return HistoryEvent(EventType=kind, EventId=event_id, IsPlayed=True, Timestamp=at, **extra)


HISTORY = [
    _event(HistoryEventType.ORCHESTRATOR_STARTED, -1, "2027-01-15T08:00:00.000000Z"),
    _event(HistoryEventType.TASK_SCHEDULED, 0, "2027-01-15T08:00:00.000000Z", Name="read"),
    _event(HistoryEventType.ORCHESTRATOR_COMPLETED, -1, "2027-01-15T08:00:00.000000Z"),
    # the answer came at 08:00:07; the host replayed the orchestration only at 08:00:30
    _event(HistoryEventType.ORCHESTRATOR_STARTED, -1, "2027-01-15T08:00:30.000000Z"),
    _event(
        HistoryEventType.TASK_COMPLETED,
        -1,
        "2027-01-15T08:00:07.250000Z",
        TaskScheduledId=0,
        Result='{"kind": "status"}',
    ),
]


def test_an_activity_answered_when_its_task_completed_event_says() -> None:
    times = CompletionTimes(HISTORY)
    assert times.of(AtomicTask(0, None)) == datetime(2027, 1, 15, 8, 0, 7, 250000, tzinfo=UTC)


def test_no_answer_in_the_history_is_no_time() -> None:
    times = CompletionTimes(HISTORY)
    assert times.of(AtomicTask(1, None)) is None  # scheduled later, or never
    assert times.of(AtomicTask(None, None)) is None  # never scheduled
    assert CompletionTimes([]).of(AtomicTask(0, None)) is None

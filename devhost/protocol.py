"""The JSON the host and the Python SDK exchange on every orchestrator episode.

Going in: the orchestration payload (``history``, ``input``, ``instanceId`` ... with PascalCase
history events carrying an integer ``EventType``). Coming out: the orchestrator state
(``isDone``, ``schemaVersion``, ``actions``, ``output``, ``error``, ``customStatus``), with the
actions of replay schema V2/V3 as a single list in which ``task_all``/``task_any`` appear as
compound WhenAll/WhenAny actions. This module builds the former and parses the latter; it knows
nothing about scheduling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, cast

from devhost.clock import format_event_timestamp
from devhost.errors import UnsupportedFeatureError

HistoryEvent = dict[str, Any]

OUT_OF_PROC_MARKER = "\n\n$OutOfProcData$:"
#: What the Durable extension tells the SDK about its storage provider (Azure Storage).
MAXIMUM_SHORT_TIMER_DURATION = "6.00:00:00"
LONG_RUNNING_TIMER_INTERVAL = "3.00:00:00"
DEFAULT_HTTP_ASYNC_SLEEP_MS = 30000


class EventType(IntEnum):
    """DTFx history event types, as numbered in the out-of-process protocol."""

    EXECUTION_STARTED = 0
    EXECUTION_COMPLETED = 1
    EXECUTION_FAILED = 2
    EXECUTION_TERMINATED = 3
    TASK_SCHEDULED = 4
    TASK_COMPLETED = 5
    TASK_FAILED = 6
    SUB_ORCHESTRATION_INSTANCE_CREATED = 7
    SUB_ORCHESTRATION_INSTANCE_COMPLETED = 8
    SUB_ORCHESTRATION_INSTANCE_FAILED = 9
    TIMER_CREATED = 10
    TIMER_FIRED = 11
    ORCHESTRATOR_STARTED = 12
    ORCHESTRATOR_COMPLETED = 13
    EVENT_SENT = 14
    EVENT_RAISED = 15
    CONTINUE_AS_NEW = 16
    GENERIC_EVENT = 17
    HISTORY_STATE = 18
    EXECUTION_SUSPENDED = 19
    EXECUTION_RESUMED = 20


#: Completion events and the field naming the sequence id they complete.
COMPLETION_ID_FIELD: Mapping[EventType, str] = {
    EventType.TASK_COMPLETED: "TaskScheduledId",
    EventType.TASK_FAILED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: "TaskScheduledId",
    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED: "TaskScheduledId",
    EventType.TIMER_FIRED: "TimerId",
}
#: Events recording work the orchestration scheduled; their EventId is the sequence id.
SCHEDULED_EVENT_TYPES = frozenset(
    {
        EventType.TASK_SCHEDULED,
        EventType.TIMER_CREATED,
        EventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
    }
)


def event_type(event: Mapping[str, Any]) -> EventType:
    """Return the type of a history event."""
    return EventType(int(event["EventType"]))


def completion_id(event: Mapping[str, Any]) -> int | None:
    """Return the sequence id a completion event completes, or None for other events."""
    key = COMPLETION_ID_FIELD.get(event_type(event))
    return None if key is None else int(event[key])


def make_event(
    kind: EventType, timestamp: float, event_id: int = -1, **fields: Any
) -> HistoryEvent:
    """Build a history event with the four fields every event carries."""
    event: HistoryEvent = {
        "EventType": int(kind),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": format_event_timestamp(timestamp),
    }
    event.update(fields)
    return event


def with_played(event: HistoryEvent, played: bool) -> HistoryEvent:
    """Return ``event`` with ``IsPlayed`` set (a copy when it changes)."""
    if event.get("IsPlayed") is played:
        return event
    copy = dict(event)
    copy["IsPlayed"] = played
    return copy


def execution_started(
    timestamp: float,
    *,
    name: str,
    input_text: str | None,
    instance_id: str,
    execution_id: str,
    parent: Mapping[str, Any] | None = None,
) -> HistoryEvent:
    """Build the ExecutionStarted event that opens every execution (Version is mandatory)."""
    return make_event(
        EventType.EXECUTION_STARTED,
        timestamp,
        Name=name,
        Version="",
        Input=input_text,
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=None if parent is None else dict(parent),
        Tags=None,
    )


def build_orchestration_payload(
    *,
    history: Sequence[HistoryEvent],
    input_value: Any,
    instance_id: str,
    is_replaying: bool,
    parent_instance_id: str | None,
) -> str:
    """Serialize the JSON the host hands to an orchestrator function."""
    return json.dumps(
        {
            "history": list(history),
            "input": input_value,
            "instanceId": instance_id,
            "isReplaying": is_replaying,
            "parentInstanceId": parent_instance_id,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "maximumShortTimerDuration": MAXIMUM_SHORT_TIMER_DURATION,
            "longRunningTimerIntervalDuration": LONG_RUNNING_TIMER_INTERVAL,
            "defaultHttpAsyncRequestSleepTimeMillseconds": DEFAULT_HTTP_ASYNC_SLEEP_MS,
        }
    )


class ActionType(IntEnum):
    """Out-of-process action types."""

    CALL_ACTIVITY = 0
    CALL_ACTIVITY_WITH_RETRY = 1
    CALL_SUB_ORCHESTRATOR = 2
    CALL_SUB_ORCHESTRATOR_WITH_RETRY = 3
    CONTINUE_AS_NEW = 4
    CREATE_TIMER = 5
    WAIT_FOR_EXTERNAL_EVENT = 6
    CALL_ENTITY = 7
    CALL_HTTP = 8
    SIGNAL_ENTITY = 9
    SCHEDULED_SIGNAL_ENTITY = 10
    WHEN_ANY = 11
    WHEN_ALL = 12


@dataclass(frozen=True)
class RetryPolicy:
    """Retry options of a ``*_with_retry`` call (the host's RetryOptions, .NET defaults)."""

    first_retry_interval_ms: float
    max_attempts: int
    backoff_coefficient: float = 1.0
    max_retry_interval_ms: float | None = None
    retry_timeout_ms: float | None = None

    def delay_ms(self, retry_count: int) -> float:
        """Delay before the attempt after failed attempt number ``retry_count`` (0-based)."""
        delay = self.first_retry_interval_ms * self.backoff_coefficient**retry_count
        if self.max_retry_interval_ms is not None:
            delay = min(delay, self.max_retry_interval_ms)
        return delay


@dataclass(frozen=True)
class Action:
    """One action of the orchestrator state (compound actions carry ``children``)."""

    kind: ActionType
    function_name: str | None = None
    input_text: str | None = None
    instance_id: str | None = None
    retry: RetryPolicy | None = None
    fire_at: str | None = None
    is_canceled: bool = False
    event_name: str | None = None
    children: tuple[Action, ...] = ()


@dataclass(frozen=True)
class OrchestratorState:
    """What an orchestrator episode returned."""

    is_done: bool
    actions: tuple[Action, ...]
    output: Any = None
    error: str | None = None
    custom_status: Any = None
    has_custom_status: bool = False
    schema_version: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _retry(value: Any) -> RetryPolicy | None:
    if not isinstance(value, dict):
        return None
    options = cast(dict[str, Any], value)
    return RetryPolicy(
        first_retry_interval_ms=float(options.get("firstRetryIntervalInMilliseconds", 0)),
        max_attempts=int(options.get("maxNumberOfAttempts", 1)),
        backoff_coefficient=float(options.get("backoffCoefficient", 1.0)),
        max_retry_interval_ms=_optional_float(options.get("maxRetryIntervalInMilliseconds")),
        retry_timeout_ms=_optional_float(options.get("retryTimeoutInMilliseconds")),
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def parse_action(raw: Mapping[str, Any]) -> Action:
    """Parse one action object.

    Raises:
        UnsupportedFeatureError: the action type is unknown to this protocol version.
    """
    try:
        kind = ActionType(int(raw["actionType"]))
    except (KeyError, ValueError, TypeError) as err:
        raise UnsupportedFeatureError(f"Unknown orchestrator action {dict(raw)!r}") from err
    children = tuple(parse_action(child) for child in raw.get("compoundActions") or ())
    return Action(
        kind=kind,
        function_name=raw.get("functionName"),
        input_text=_text(raw.get("input")),
        instance_id=raw.get("instanceId"),
        retry=_retry(raw.get("retryOptions")),
        fire_at=raw.get("fireAt"),
        is_canceled=bool(raw.get("isCanceled", False)),
        event_name=raw.get("externalEventName"),
        children=children,
    )


def parse_orchestrator_state(text: str) -> OrchestratorState:
    """Parse the state JSON an orchestrator returned.

    Raises:
        UnsupportedFeatureError: the state uses replay schema V1 (nested action lists).
        ValueError: ``text`` is not a JSON object.
    """
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError(f"Out of proc orchestrators must return a valid JSON schema: {text!r}")
    schema = document.get("schemaVersion")
    raw_actions = document.get("actions") or []
    if schema not in (1, 2):
        if raw_actions and any(raw_actions):
            raise UnsupportedFeatureError(
                "devhost supports the SDK's replay schemas V2/V3 only (schemaVersion 1 or 2); "
                f"got schemaVersion {schema!r}"
            )
        raw_actions = [[]]
    if len(raw_actions) != 1:
        raise ValueError(
            f"With OOProc schema {schema}, expected actions array to be of length 1 in outer "
            f"layer but got size: {len(raw_actions)}"
        )
    actions = tuple(parse_action(item) for item in raw_actions[0])
    error = document.get("error")
    return OrchestratorState(
        is_done=bool(document.get("isDone", False)),
        actions=actions,
        output=document.get("output"),
        error=str(error) if error else None,
        custom_status=document.get("customStatus"),
        has_custom_status="customStatus" in document and document["customStatus"] is not None,
        schema_version=schema if isinstance(schema, int) else None,
        raw=document,
    )


def split_out_of_proc_error(message: str) -> tuple[str, str | None]:
    """Split an SDK failure message into (error text, embedded state JSON or None)."""
    head, marker, tail = message.partition(OUT_OF_PROC_MARKER)
    return (head, tail) if marker else (message, None)

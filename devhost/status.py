"""Orchestration status as the host reports it.

One shape serves three readers: the in-process API (``OrchestrationStatus``), the client RPC
``GET instances/{id}`` the SDK's ``get_status`` calls, and the management webhook behind
``statusQueryGetUri``. Times use the host's ``yyyy-MM-ddTHH:mm:ssZ`` form; ``showHistory`` adds
``historyEvents`` in the host's friendlier format (event type names, function names).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devhost.clock import format_status_timestamp, to_datetime
from devhost.protocol import EventType, HistoryEvent, event_type
from devhost.store import Instance, RuntimeStatus

_HIDDEN = frozenset({EventType.ORCHESTRATOR_STARTED, EventType.ORCHESTRATOR_COMPLETED})
_OUTPUT_FIELDS = ("Result", "Input")


@dataclass(frozen=True)
class OrchestrationStatus:
    """A snapshot of one instance (``history`` only when requested)."""

    instance_id: str
    name: str
    runtime_status: RuntimeStatus
    input: Any
    output: Any
    custom_status: Any
    created_time: datetime
    last_updated_time: datetime
    parent_instance_id: str | None = None
    history: tuple[dict[str, Any], ...] | None = None

    @property
    def is_terminal(self) -> bool:
        """Completed, Failed or Terminated."""
        return self.runtime_status.is_terminal

    @classmethod
    def from_instance(cls, instance: Instance, with_history: bool = False) -> OrchestrationStatus:
        """Build the snapshot from a stored instance."""
        return cls(
            instance_id=instance.instance_id,
            name=instance.name,
            runtime_status=instance.status,
            input=_json(instance.input_text),
            output=instance.output,
            custom_status=instance.custom_status,
            created_time=to_datetime(instance.created_time),
            last_updated_time=to_datetime(instance.last_updated_time),
            parent_instance_id=None if instance.parent is None else instance.parent.instance_id,
            history=tuple(history_for_display(instance.history, True)) if with_history else None,
        )


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _lenient_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def status_payload(
    instance: Instance,
    *,
    show_input: bool = True,
    show_history: bool = False,
    show_history_output: bool = False,
) -> dict[str, Any]:
    """The JSON body of the host's status responses."""
    payload: dict[str, Any] = {
        "name": instance.name,
        "instanceId": instance.instance_id,
        "runtimeStatus": instance.status.value,
        "input": _json(instance.input_text) if show_input else None,
        "customStatus": instance.custom_status,
        "output": instance.output,
        "createdTime": format_status_timestamp(instance.created_time),
        "lastUpdatedTime": format_status_timestamp(instance.last_updated_time),
    }
    if show_history:
        payload["historyEvents"] = history_for_display(instance.history, show_history_output)
    return payload


def history_for_display(history: list[HistoryEvent], show_output: bool) -> list[dict[str, Any]]:
    """Convert raw history events to the status API's history format."""
    names: dict[int, str] = {}
    shown: list[dict[str, Any]] = []
    for event in history:
        kind = event_type(event)
        if kind in (EventType.TASK_SCHEDULED, EventType.SUB_ORCHESTRATION_INSTANCE_CREATED):
            names[int(event["EventId"])] = str(event.get("Name"))
        if kind in _HIDDEN:
            continue
        item: dict[str, Any] = {
            "EventType": kind.name.title().replace("_", ""),
            "EventId": event["EventId"],
            "Timestamp": event["Timestamp"],
        }
        for key in (
            "Name",
            "InstanceId",
            "Reason",
            "Details",
            "FireAt",
            "TimerId",
            "TaskScheduledId",
        ):
            if event.get(key) is not None:
                item["FunctionName" if key == "Name" else key] = event[key]
        task_id = event.get("TaskScheduledId")
        if task_id is not None and int(task_id) in names:
            item["FunctionName"] = names[int(task_id)]
        if show_output:
            for key in _OUTPUT_FIELDS:
                if event.get(key) is not None:
                    item[key] = _lenient_json(str(event[key]))
        shown.append(item)
    return shown

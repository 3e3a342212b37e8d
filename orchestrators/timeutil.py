"""Replay-safe time helpers: everything derives from ``context.current_utc_datetime`` or from the
timestamps of the orchestration's own history (the same on every replay)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from azure.durable_functions.models.history import HistoryEventType

from mysqlexport.times import iso, parse, utc

__all__ = ["CompletionTimes", "after", "iso", "parse", "utc"]


def after(now: datetime, seconds: float) -> datetime:
    """``now`` plus ``seconds``."""
    return utc(now) + timedelta(seconds=seconds)


class CompletionTimes:
    """When each activity of this execution returned: the ``Timestamp`` of its ``TaskCompleted``
    event, which the host stamps as the activity returns (DTFx builds the event after
    ``RunAsync``). That is a moment an answer was read at the latest, however long the host then
    took to replay the orchestration (``current_utc_datetime`` is that later moment). Built on
    first use from ``context.histories``: one pass per episode."""

    def __init__(self, histories: Iterable[Any]) -> None:
        self._histories = histories
        self._times: dict[int, datetime] | None = None

    def of(self, task: Any) -> datetime | None:
        """The moment ``task`` (a finished activity task) returned, if the history says."""
        if self._times is None:
            self._times = {
                event.TaskScheduledId: event.timestamp
                for event in self._histories
                if event.event_type == HistoryEventType.TASK_COMPLETED
            }
        task_id = getattr(task, "id", None)
        at = self._times.get(task_id) if isinstance(task_id, int) else None
        return utc(at) if at is not None else None

"""Descriptions of the work an orchestration has scheduled but not yet seen completed.

The same three shapes come out of the host-side replay (work scheduled in this episode) and out
of a scan of stored history (work outstanding after a host restart), so the engine dispatches
them the same way in both cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class WorkKind(Enum):
    """What a scheduled sequence id stands for."""

    ACTIVITY = "activity"
    TIMER = "timer"
    SUB_ORCHESTRATION = "subOrchestration"


@dataclass(frozen=True)
class ScheduledWork:
    """One sequence id an orchestration execution scheduled.

    ``input_text`` is the JSON text passed to an activity or sub-orchestration; ``fire_at`` the
    FireAt text of a timer; ``instance_id`` the id of a sub-orchestration.
    """

    task_id: int
    kind: WorkKind
    name: str | None = None
    input_text: str | None = None
    instance_id: str | None = None
    fire_at: str | None = None
    canceled: bool = False

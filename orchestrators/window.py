"""Waiting on "whichever finishes first" in a window whose members change.

The Functions host replays an out-of-process orchestrator's actions in order, awaiting each one
(``OutOfProcOrchestrationShim.ProcessAsyncActionsV2``), and the Python SDK leaves tasks that are
already scheduled out of a new ``task_any``'s action. So after a window starts new work, the host
sees a WhenAny of the *new* tasks only and waits for one of them — while the orchestrator itself
already moved on when an older task finished — and whatever the code starts next is held back
until a new task ends. A window would then refill only when its newest member finishes.

The cure: whenever new tasks join the wait, a timer due now joins too. The host's copy of the
WhenAny then completes at once and it goes on to the next actions; the orchestrator ignores the
timer (it is not a window member) and keeps waiting for real completions.
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df


def wait_any(
    context: df.DurableOrchestrationContext, waiting: list[Any], started_new: bool
) -> tuple[Any, Any]:
    """``(task_any over waiting [+ a timer due now], the timer or None)``."""
    if not started_new:
        return context.task_any(waiting), None
    release = context.create_timer(context.current_utc_datetime)
    return context.task_any([*waiting, release]), release

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

import contextlib
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState


def wait_any(
    context: df.DurableOrchestrationContext, waiting: list[Any], started_new: bool
) -> tuple[Any, Any]:
    """``(task_any over waiting [+ a timer due now], the timer or None)``."""
    if not started_new:
        return context.task_any(waiting), None
    release = context.create_timer(context.current_utc_datetime)
    return context.task_any([*waiting, release]), release


def gather(
    context: df.DurableOrchestrationContext, tasks: list[Any]
) -> Generator[Any, Any, list[tuple[bool, Any]]]:
    """Wait for every task: ``[(succeeded, result or the exception)]``, in order.

    ``task_all`` fails fast: at the first failed child the SDK ends the compound task with that
    child's exception (azure-functions-durable 1.7, ``models/Task.py``, ``WhenAllTask.
    try_set_value``) while the other children still run, and iterating its result raises. Here
    a failure is caught and the children still running are awaited one by one (yielding a task
    already scheduled adds no action: ``TaskOrchestrationExecutor.resume_user_code``), so the
    caller gets one answer per task and decides what a failure means.
    """
    if not tasks:
        return []
    try:
        yield context.task_all(tasks)
    except Exception:  # noqa: BLE001 - a child failed: wait for the others, report each
        for task in tasks:
            if task.state is TaskState.RUNNING:
                with contextlib.suppress(Exception):
                    yield task
    return [(task.state is TaskState.SUCCEEDED, task.result) for task in tasks]

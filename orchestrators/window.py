"""The sliding window every orchestrator that keeps one uses, and the waits it is built on.

``sliding_window`` starts units (a shard, a batch, one server's export or validation) while they
fit in a budget, and starts the next as soon as one finishes: a window, not waves. A ``cancel``
event stops new starts: units holding a server that was already submitted still start and are
followed to the end, every other unit left is reported Canceled, and the cancel is passed on to
the running units that listen for it (``relay_cancel``).

Two host behaviours shape the waits here:

* **task_any after new work.** The Functions host replays an out-of-process orchestrator's
  actions in order, awaiting each one (``OutOfProcOrchestrationShim.ProcessAsyncActionsV2``),
  and the Python SDK leaves tasks that are already scheduled out of a new ``task_any``'s action.
  So after a window starts new work, the host sees a WhenAny of the *new* tasks only and waits
  for one of them, and whatever the code starts next is held back until a new task ends. The
  cure (``wait_any``): whenever new tasks join the wait, a timer due now joins too; the host's
  WhenAny completes at once and the orchestrator ignores the timer.
* **task_all fails fast** (``gather``): at the first failed child the SDK ends the compound task
  with that child's exception (azure-functions-durable 1.7, ``models/Task.py``,
  ``WhenAllTask.try_set_value``) while the other children still run.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Generator, Sequence
from typing import Any, Protocol

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from mysqlexport.report import ServerRow, Tally
from workflow import names
from workflow.contracts import RelayRequest

#: How often a failed ``relay_cancel`` activity is tried again (at once: it only raises events).
RELAY_ATTEMPTS = 3


class Unit(Protocol):
    """What a window runs: one child task standing for one or more servers."""

    #: How much of the window's budget it holds while it runs.
    @property
    def cost(self) -> int: ...

    #: How many servers it stands for.
    @property
    def servers(self) -> int: ...

    #: It holds a server already submitted (probed): it runs even after a cancel.
    @property
    def submitted(self) -> bool: ...

    #: The instance a cancel is passed on to while it runs (None: it does not listen).
    @property
    def instance_id(self) -> str | None: ...

    def start(self, context: df.DurableOrchestrationContext, canceled: bool) -> Any:
        """Schedule the child; the task."""

    def rows(self, task: Any) -> list[ServerRow]:
        """The rows of its servers once ``task`` has finished (succeeded or failed)."""

    def canceled_rows(self) -> list[ServerRow]:
        """The rows of its servers when the run is canceled before it starts."""


#: Called whenever the window changes: (rows so far, counted; servers running; canceling).
Progress = Callable[[Tally, int, bool], None]


def sliding_window(  # noqa: PLR0917 - the window's inputs, each read once
    context: df.DurableOrchestrationContext,
    units: Sequence[Unit],
    budget: int,
    cancel: Any,
    canceled: bool = False,
    progress: Progress | None = None,
) -> Generator[Any, Any, tuple[list[ServerRow], bool]]:
    """Run ``units`` in order within ``budget``; ``(every server's row, canceled)``.

    A unit starts while the running ones leave room for its cost (the first always starts).
    """
    rows: list[ServerRow] = []
    tally = Tally()
    pending = deque(units)
    running: list[tuple[Any, Unit]] = []
    in_use = 0
    while pending or running:
        if canceled:
            pending = _keep_submitted(pending, rows, tally)
        started = False
        while pending and (not running or in_use + pending[0].cost <= budget):
            unit = pending.popleft()
            running.append((unit.start(context, canceled), unit))
            in_use += unit.cost
            started = True
        if progress is not None:
            progress(tally, sum(unit.servers for _, unit in running), canceled)
        if not running:
            break
        waiting = [task for task, _ in running] + ([] if canceled else [cancel])
        wait, release = wait_any(context, waiting, started)
        done = yield wait
        if done is release:
            continue
        if done is cancel:
            canceled = True
            children = [unit.instance_id for _, unit in running if unit.instance_id]
            yield from relay_cancel(context, children)
            continue
        finished = next(i for i, (task, _) in enumerate(running) if task is done)
        _, unit = running.pop(finished)
        in_use -= unit.cost
        for row in unit.rows(done):
            rows.append(row)
            tally.add(row)
    if progress is not None:
        progress(tally, 0, canceled)
    return rows, canceled


def _keep_submitted(pending: deque[Unit], rows: list[ServerRow], tally: Tally) -> deque[Unit]:
    """After a cancel: the units still to start (those holding a submitted server); the rows
    of the others are Canceled."""
    keep: deque[Unit] = deque()
    for unit in pending:
        if unit.submitted:
            keep.append(unit)
            continue
        for row in unit.canceled_rows():
            rows.append(row)
            tally.add(row)
    return keep


def wait_any(
    context: df.DurableOrchestrationContext, waiting: list[Any], started_new: bool
) -> tuple[Any, Any]:
    """``(task_any over waiting [+ a timer due now], the timer or None)``: see the module."""
    if not started_new:
        return context.task_any(waiting), None
    release = context.create_timer(context.current_utc_datetime)
    return context.task_any([*waiting, release]), release


def gather(
    context: df.DurableOrchestrationContext, tasks: list[Any]
) -> Generator[Any, Any, list[tuple[bool, Any]]]:
    """Wait for every task: ``[(succeeded, result or the exception)]``, in order.

    A failure is caught and the children still running are awaited one by one (yielding a task
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


def relay_cancel(
    context: df.DurableOrchestrationContext, instance_ids: list[str]
) -> Generator[Any, Any, None]:
    """Pass a cancel on to running child instances (orchestrators cannot raise events).

    Each orchestrator that holds children tells exactly the ones it is running, so a cancel
    reaches every unit of a run of any size without an instance query (the host answers those
    a page at a time).
    """
    if not instance_ids:
        return
    request: RelayRequest = {"instances": instance_ids}
    for _ in range(RELAY_ATTEMPTS):
        try:
            yield context.call_activity(names.RELAY_CANCEL, request)
            return
        except Exception:  # noqa: BLE001, S112 - a crashed relay is tried again
            continue

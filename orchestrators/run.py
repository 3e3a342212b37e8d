"""``export_run``: a few small servers of one shard, exported one after another in one slot.

A shard's window refills on every completion, and every completion replays the shard's whole
history, so a shard pays for each server it holds a share of its history. When a shard's window
is narrow against its size (many servers pass through each slot), its small servers are grouped
into runs (``plan_units``): a run occupies one slot and exports its servers back to back, each
through its own ``export_server`` orchestration, so the shard sees one completion per run instead
of one per server. A run never holds more than ``RUN_MAX_SERVERS`` servers nor more than
1/``RUN_SHARE`` of a slot's predicted load, so the end of the shard is as even as before; the
largest servers and the heads of the windows (the probed ones) always go alone.

A ``cancel`` event stops the run after the export in flight; the rest are reported Canceled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Mapping, Sequence
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from mysqlexport import report
from mysqlexport.redaction import redact_text
from orchestrators.blueprint import bp
from orchestrators.units import CANCEL_EVENT, canceled_row, server_call

RUN_MAX_SERVERS = 4
RUN_SHARE = 10


def plan_units(sizes: Sequence[float | None], window: int) -> list[list[int]]:
    """Group a shard's servers (largest first) into the units its window runs.

    The first ``window`` servers (the largest, and the probed ones) are units of their own;
    after them consecutive servers form runs of at most ``RUN_MAX_SERVERS`` whose predicted
    total stays within 1/``RUN_SHARE`` of one slot's share of the shard (a server that alone is
    larger stays alone). A server of unknown size (named explicitly, not discovered) counts as
    the largest and always goes alone: nothing says it is small.
    """
    count = len(sizes)
    known = [float(s) for s in sizes if s is not None]
    fill = max(known, default=1.0)
    weights = [fill if s is None else max(0.0, float(s)) for s in sizes]
    window = max(1, window)
    cap = sum(weights) / window / RUN_SHARE
    units = [[i] for i in range(min(window, count))]
    current: list[int] = []
    load = 0.0
    for i in range(min(window, count), count):
        if sizes[i] is None:
            if current:
                units.append(current)
                current, load = [], 0.0
            units.append([i])
            continue
        if current and (len(current) >= RUN_MAX_SERVERS or load + weights[i] > cap):
            units.append(current)
            current, load = [], 0.0
        current.append(i)
        load += weights[i]
    if current:
        units.append(current)
    return units


@bp.orchestration_trigger(context_name="context")
def export_run(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Export the run's servers one after another; the output is their rows, in order."""
    job: dict[str, Any] = context.get_input()
    entries: list[dict[str, Any]] = job["servers"]
    common: dict[str, Any] = job["common"]
    cancel = context.wait_for_external_event(CANCEL_EVENT)
    canceled = False
    rows: list[report.ServerRow] = []
    for entry in entries:
        if canceled:
            rows.append(canceled_row(entry))
            continue
        task = context.call_sub_orchestrator(*server_call(context, common, entry))
        winner = yield context.task_any([task, cancel])
        if winner is cancel:
            canceled = True
            with contextlib.suppress(Exception):  # followed to the end; a failure shows in
                yield task  # the task's state
        rows.append(server_row(task, entry))
    return rows


def server_row(task: Any, entry: Mapping[str, Any]) -> report.ServerRow:
    """The row a finished ``export_server`` stands for; a crashed one still yields one row."""
    if task.state is TaskState.FAILED:
        return report.server_row(
            entry["id"],
            report.FAILED,
            backup_name=entry["backupName"],
            error={"code": "OrchestrationFailed", "message": redact_text(str(task.result))[:2000]},
        )
    row: report.ServerRow = task.result
    return row

"""``export_batch``: a few small servers of one shard, exported one after another in one slot.

A shard's window refills on every completion, and every completion replays the shard's whole
history; a batch occupies one slot and exports its servers back to back, each through its own
``export_server`` orchestration, so the shard sees one completion per batch instead of one per
server (``planning.plan_batches`` decides which servers go together). A ``cancel`` event stops
the batch after the export in flight; the rest are reported Canceled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from mysqlexport import report
from orchestrators.blueprint import bp
from orchestrators.rows import canceled_row
from orchestrators.server import call_export_server, export_server_row
from workflow import names
from workflow.contracts import BatchInput


@bp.orchestration_trigger(context_name="context")
def export_batch(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Export the batch's servers one after another; the output is their rows, in order."""
    job: BatchInput = context.get_input()
    cancel = context.wait_for_external_event(names.CANCEL_EVENT)
    canceled = False
    rows: list[report.ServerRow] = []
    for entry in job["servers"]:
        if canceled:
            rows.append(canceled_row(entry))
            continue
        task = call_export_server(context, job["run"], entry)
        winner = yield context.task_any([task, cancel])
        if winner is cancel:
            canceled = True
            with contextlib.suppress(Exception):  # followed to the end; a failure shows in
                yield task  # the task's state
        rows.append(export_server_row(task, entry))
    return rows

"""``export_shard``: a sliding window over one shard of the fleet.

At most ``concurrency`` servers are in flight; as soon as one finishes the next starts (a window,
not waves). A ``cancel`` event stops new submissions: in-flight servers are followed to the end
and the rest are reported Canceled; the shard passes the cancel on to its running runs
(``relay_cancel``), which stop after their export in flight. In a dry run the window runs
``validate_server`` activities instead of exports.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from mysqlexport import report
from orchestrators.blueprint import bp
from orchestrators.run import plan_units, server_row
from orchestrators.units import (
    CANCEL_EVENT,
    activity_crash,
    canceled_row,
    relay_cancel,
    server_call,
)
from orchestrators.window import wait_any
from workflow import names
from workflow.instance_ids import run_instance_id

__all__ = ["CANCEL_EVENT", "canceled_row", "dry_run_row", "export_shard"]


def dry_run_row(
    entry: Mapping[str, Any], outcome: Mapping[str, Any], sas_count: int
) -> report.ServerRow:
    """The row for one validated server: Succeeded when an export could start, else why not."""
    server_id, name = entry["id"], entry["backupName"]
    if outcome.get("kind") != "validated":
        return report.server_row(
            server_id,
            report.FAILED,
            backup_name=name,
            attempts=1,
            error=outcome.get("error") or {"code": "ValidationFailed"},
        )
    needed = outcome.get("numberOfContainers")
    state = outcome.get("state")
    error: dict[str, Any] | None = None
    if (state or "").lower() != "ready":
        error = {
            "code": "ServerNotReady",
            "message": f"server state is {state}; exports need a Ready server",
        }
    elif isinstance(needed, int) and needed > sas_count:
        error = {
            "code": "InsufficientStorageContainers",
            "message": f"the export needs {needed} container SAS URIs; the target has {sas_count}",
        }
    return report.server_row(
        server_id,
        report.FAILED if error else report.SUCCEEDED,
        backup_name=name,
        attempts=1,
        error=error,
        number_of_containers=needed if isinstance(needed, int) else None,
    )


def _progress(total: int, tally: report.Tally, running: int, canceling: bool) -> dict[str, Any]:
    summary: dict[str, Any] = tally.as_dict()
    summary.update(total=total, running=running, pending=total - tally.total - running)
    if canceling:
        summary["canceling"] = True
    return summary


@bp.orchestration_trigger(context_name="context")
def export_shard(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Run one shard's servers through the window; the output is their rows."""
    job: dict[str, Any] = context.get_input()
    entries: list[dict[str, Any]] = job["servers"]
    common: dict[str, Any] = job["common"]
    window = max(1, int(job["concurrency"]))
    dry_run = bool(common.get("dryRun"))
    units = (
        [[i] for i in range(len(entries))]
        if dry_run
        else plan_units([e.get("size") for e in entries], window)
    )
    rows: list[report.ServerRow] = []
    tally = report.Tally()
    inflight: list[tuple[Any, list[int], str | None]] = []  # (task, unit, batch instance id)
    cancel = context.wait_for_external_event(CANCEL_EVENT)
    canceled = bool(job.get("canceled"))
    next_unit = 0

    while next_unit < len(units) or inflight:
        started = False
        while (
            next_unit < len(units)
            and len(inflight) < window
            and (not canceled or any("firstOutcome" in entries[p] for p in units[next_unit]))
        ):
            unit = units[next_unit]
            next_unit += 1
            batch_id: str | None = None
            if dry_run:
                task = context.call_activity(names.VALIDATE_SERVER, {"id": entries[unit[0]]["id"]})
            elif len(unit) == 1:
                call = server_call(context, common, entries[unit[0]])
                task = context.call_sub_orchestrator(*call)
            else:
                batch_id = run_instance_id(common["runId"], int(job.get("index", 0)), next_unit - 1)
                task = context.call_sub_orchestrator(
                    names.EXPORT_RUN,
                    {"servers": [entries[p] for p in unit], "common": common},
                    batch_id,
                )
            inflight.append((task, unit, batch_id))
            started = True
        if canceled:
            # Probed servers were already submitted (they head the window); the rest never are.
            for unit in units[next_unit:]:
                for p in unit:
                    rows.append(canceled_row(entries[p]))
                    tally.add(rows[-1])
            next_unit = len(units)
        context.set_custom_status(_progress(len(entries), tally, len(inflight), canceled))
        if not inflight:
            break
        waiting = [task for task, _, _ in inflight]
        if not canceled:
            waiting.append(cancel)
        wait, release = wait_any(context, waiting, started)
        winner = yield wait
        if winner is release:
            continue
        if winner is cancel:
            canceled = True
            yield from relay_cancel(context, [b for _, _, b in inflight if b is not None])
            continue
        index = next(i for i, (task, _, _) in enumerate(inflight) if task is winner)
        _, unit, _ = inflight.pop(index)
        for row in _rows_of(winner, [entries[p] for p in unit], dry_run, common):
            rows.append(row)
            tally.add(row)
    context.set_custom_status(_progress(len(entries), tally, 0, canceled))
    return rows


def _rows_of(
    task: Any, unit: list[dict[str, Any]], dry_run: bool, common: Mapping[str, Any]
) -> list[report.ServerRow]:
    """The rows a finished unit stands for; a crashed one still yields one row per server."""
    if dry_run:
        if task.state is TaskState.FAILED:  # the validate activity raised: that server's row
            error = activity_crash(task.result)
            return [dry_run_row(unit[0], {"kind": "error", "error": error}, 0)]
        return [dry_run_row(unit[0], task.result, int(common.get("sasCount", 1)))]
    if len(unit) == 1:
        return [server_row(task, unit[0])]
    if task.state is TaskState.FAILED:
        return [server_row(task, entry) for entry in unit]
    return list(task.result)

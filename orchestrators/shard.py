"""``export_shard``: a sliding window over one shard of the fleet.

At most ``concurrency`` servers are in flight; as soon as one finishes the next starts (a window,
not waves). A ``cancel`` event stops new submissions: in-flight servers are followed to the end
and the rest are reported Canceled. In a dry run the window runs ``validate_server`` activities
instead of exports.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from mysqlexport import function_names as names
from mysqlexport import report
from mysqlexport.durable_ids import server_instance_id
from mysqlexport.ids import ServerId
from mysqlexport.redaction import redact_text
from orchestrators.blueprint import bp
from orchestrators.timeutil import after, iso
from orchestrators.window import wait_any

CANCEL_EVENT = "cancel"


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


def canceled_row(entry: Mapping[str, Any]) -> report.ServerRow:
    """The row of a server the run never submitted because it was canceled."""
    return report.server_row(
        entry["id"],
        report.CANCELED,
        backup_name=entry["backupName"],
        error={"code": "RunCanceled", "message": "the run was canceled before this server started"},
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
    rows: list[report.ServerRow] = []
    tally = report.Tally()
    inflight: list[tuple[Any, dict[str, Any]]] = []
    cancel = context.wait_for_external_event(CANCEL_EVENT)
    canceled = bool(job.get("canceled"))
    next_index = 0

    while next_index < len(entries) or inflight:
        started = False
        while (
            next_index < len(entries)
            and len(inflight) < window
            and (not canceled or "firstOutcome" in entries[next_index])
        ):
            entry = entries[next_index]
            next_index += 1
            if dry_run:
                task = context.call_activity(names.VALIDATE_SERVER, {"id": entry["id"]})
            else:
                deadline = after(context.current_utc_datetime, 60 * common["deadlineMinutes"])
                task = context.call_sub_orchestrator(
                    names.EXPORT_SERVER,
                    {
                        **{
                            k: common[k]
                            for k in ("runId", "sealedTarget", "backupFormat", "poll", "retry")
                        },
                        **entry,
                        "deadline": iso(deadline),
                    },
                    server_instance_id(common["runId"], ServerId.parse(entry["id"]).key),
                )
            inflight.append((task, entry))
            started = True
        if canceled:
            # Probed servers were already submitted (they head the window); the rest never are.
            for entry in entries[next_index:]:
                rows.append(canceled_row(entry))
                tally.add(rows[-1])
            next_index = len(entries)
        context.set_custom_status(_progress(len(entries), tally, len(inflight), canceled))
        if not inflight:
            break
        waiting = [task for task, _ in inflight]
        if not canceled:
            waiting.append(cancel)
        wait, release = wait_any(context, waiting, started)
        winner = yield wait
        if winner is release:
            continue
        if winner is cancel:
            canceled = True
            continue
        index = next(i for i, (task, _) in enumerate(inflight) if task is winner)
        _, entry = inflight.pop(index)
        rows.append(_row_of(winner, entry, dry_run, int(common.get("sasCount", 1))))
        tally.add(rows[-1])
    context.set_custom_status(_progress(len(entries), tally, 0, canceled))
    return rows


def _row_of(task: Any, entry: Mapping[str, Any], dry_run: bool, sas_count: int) -> report.ServerRow:
    """The row a finished task stands for; a crashed child still yields exactly one row."""
    if task.state is TaskState.FAILED:
        return report.server_row(
            entry["id"],
            report.FAILED,
            backup_name=entry["backupName"],
            error={"code": "OrchestrationFailed", "message": redact_text(str(task.result))[:2000]},
        )
    if dry_run:
        return dry_run_row(entry, task.result, sas_count)
    return task.result

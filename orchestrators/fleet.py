"""``export_fleet``: one run, from the request to the report.

Resolve the servers (explicit and discovered), name each backup, probe the first few submissions
(the circuit breaker: when they all fail with the same error that speaks for the service or the
identity, the rest are reported Skipped with it instead of sending thousands of doomed calls),
then fan the servers out to shards and gather every row into the run report.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from mysqlexport import function_names as names
from mysqlexport import naming, report
from mysqlexport.durable_ids import shard_instance_id
from mysqlexport.errors import InvalidRequest
from mysqlexport.ids import ServerId
from mysqlexport.redaction import redact_text
from mysqlexport.rules import RetryPolicy, fleet_wide_error
from orchestrators.blueprint import bp
from orchestrators.timeutil import iso, utc

DEFAULT_SHARD_SIZE = 500


def plan_shards(count: int, shard_size: int, concurrency: int) -> list[tuple[int, int, int]]:
    """Split ``count`` servers into shards: (start, end, window) with windows summing to at most
    ``concurrency`` (at least 1 each) and shards no larger than ``shard_size``."""
    if count == 0:
        return []
    shards = max(1, -(-count // max(1, shard_size)))
    shards = min(shards, count)
    bounds = [(i * count // shards, (i + 1) * count // shards) for i in range(shards)]
    windows = [max(1, concurrency * (end - start) // count) for start, end in bounds]
    spare = concurrency - sum(windows)
    for i in range(len(windows)):
        if spare <= 0:
            break
        windows[i] += 1
        spare -= 1
    return [(start, end, window) for (start, end), window in zip(bounds, windows, strict=True)]


@bp.orchestration_trigger(context_name="context")
def export_fleet(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Run one fleet export; the output is the run report."""
    job: dict[str, Any] = context.get_input()
    request: dict[str, Any] = job["request"]
    run_id: str = job["runId"]
    started = utc(context.current_utc_datetime)
    dry_run = bool(request.get("dryRun"))
    policy = RetryPolicy(**job.get("retry", {}))
    context.set_custom_status({"phase": "resolving"})

    resolution = yield context.call_activity(
        names.RESOLVE_SERVERS,
        {"servers": request.get("servers") or [], "discover": request.get("discover")},
    )
    rows: list[report.ServerRow] = list(resolution["skipped"])
    entries: list[dict[str, Any]] = []
    for server_id in resolution["servers"]:
        try:
            name = naming.expand(request["backupName"], ServerId.parse(server_id), started)
        except InvalidRequest as err:
            rows.append(
                report.server_row(
                    server_id,
                    report.FAILED,
                    error={"code": "InvalidBackupName", "message": err.message},
                )
            )
            continue
        entries.append({"id": server_id, "backupName": name})

    common = {
        "runId": run_id,
        "sealedTarget": job["sealedTarget"],
        "sasCount": job["sasCount"],
        "backupFormat": request.get("backupFormat"),
        "deadlineMinutes": job["deadlineMinutes"],
        "poll": job.get("poll", {}),
        "retry": job.get("retry", {}),
        "dryRun": dry_run,
    }
    breaker: dict[str, Any] | None = None
    if entries and not dry_run:
        context.set_custom_status({"phase": "probing", "total": len(entries) + len(rows)})
        probe = entries[: policy.breaker_sample]
        outcomes = yield context.task_all(
            [
                context.call_activity(
                    names.SUBMIT_EXPORT,
                    {
                        "id": e["id"],
                        "backupName": e["backupName"],
                        "sealedTarget": common["sealedTarget"],
                        "backupFormat": common["backupFormat"],
                    },
                )
                for e in probe
            ]
        )
        errors = [o.get("error") if o.get("kind") == "error" else None for o in outcomes]
        tripped = fleet_wide_error(errors, policy) if len(probe) > 1 else None
        if tripped is not None:
            breaker = {
                "code": tripped.get("code"),
                "message": tripped.get("message"),
                "probed": len(probe),
            }
            for entry, error in zip(probe, errors, strict=True):
                rows.append(
                    report.server_row(
                        entry["id"],
                        report.FAILED,
                        backup_name=entry["backupName"],
                        attempts=1,
                        error=error,
                    )
                )
            note = (
                f"not submitted: the first {len(probe)} submissions all failed with "
                f"{tripped.get('code')}: {tripped.get('message')}"
            )
            for entry in entries[len(probe) :]:
                rows.append(
                    report.server_row(
                        entry["id"],
                        report.SKIPPED,
                        backup_name=entry["backupName"],
                        error={"code": tripped.get("code"), "message": note},
                    )
                )
            entries = []
        else:
            for entry, outcome in zip(probe, outcomes, strict=True):
                entry["firstOutcome"] = outcome

    concurrency = int(job["maxConcurrency"])
    shard_size = int(job.get("shardSize") or DEFAULT_SHARD_SIZE)
    plan = plan_shards(len(entries), shard_size, concurrency)
    tasks = [
        context.call_sub_orchestrator(
            names.EXPORT_SHARD,
            {"servers": entries[start:end], "concurrency": window, "common": common},
            shard_instance_id(run_id, index),
        )
        for index, (start, end, window) in enumerate(plan)
    ]
    context.set_custom_status(
        {
            "phase": "exporting",
            "total": len(entries) + len(rows),
            "shards": len(tasks),
            "settled": len(rows),
        }
    )
    remaining = list(zip(tasks, plan, strict=True))
    while remaining:
        done = yield context.task_any([task for task, _ in remaining])
        index = next(i for i, (task, _) in enumerate(remaining) if task is done)
        _, (start, end, _window) = remaining.pop(index)
        if done.state is TaskState.FAILED:
            message = redact_text(str(done.result))[:2000]
            rows.extend(
                report.server_row(
                    e["id"],
                    report.FAILED,
                    backup_name=e["backupName"],
                    error={"code": "ShardFailed", "message": message},
                )
                for e in entries[start:end]
            )
        else:
            rows.extend(done.result)

    context.set_custom_status({"phase": "done", "total": len(rows)})
    result = report.build_report(
        run_id,
        iso(started),
        iso(context.current_utc_datetime),
        rows,
        dry_run=dry_run,
        request=request,
    )
    result["problems"] = resolution.get("problems", [])
    result["breaker"] = breaker
    if job.get("retryOf"):
        result["retryOf"] = job["retryOf"]
    return result

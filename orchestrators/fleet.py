"""``export_fleet``: one run, from the request to the report.

Four steps: resolve the servers (explicit, plus discovery cut into scopes, one ``list_scope``
activity each, retrying transient listing failures on durable timers), probe the first few
submissions (the circuit breaker: when they all fail with the same error that speaks for the
service or the identity, the rest are reported Skipped with it instead of sending thousands of
doomed calls), fan the servers out to shards, and build the report from every row.

No child's failure ends the run without a report: a failed listing is that scope's problem, a
failed probe is that server's first outcome (retried like any failed submission), a failed shard
is a row per server it held (``ShardFailed``). A ``cancel`` event is passed on to the running
shards (``relay_cancel``), which pass it on to their running units.

Concurrency is one budget for the whole run: each shard's window is a share of
``maxConcurrency``, shards start only while their windows fit in it, and the probed servers are
the first of their shards' windows, so an export the probe started is always one the window
already counts.
"""

from __future__ import annotations

import heapq
from collections.abc import Generator, Mapping, Sequence
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from mysqlexport import discovery, naming, report
from mysqlexport.errors import InvalidRequest
from mysqlexport.ids import ServerId
from mysqlexport.redaction import redact_text
from mysqlexport.rules import RetryPolicy, backoff, fleet_wide_error
from orchestrators.blueprint import bp
from orchestrators.timeutil import after, iso, utc
from orchestrators.units import CANCEL_EVENT, activity_crash, canceled_row, relay_cancel
from orchestrators.window import gather, wait_any
from workflow import names
from workflow.instance_ids import shard_instance_id

DEFAULT_SHARD_SIZE = 500
#: A shard whose window has this many slots ends about as evenly as one global window would;
#: when the concurrency allows that many slots to more shards than ``shard_size`` requires, the
#: fleet uses them (smaller shards replay shorter histories), down to MIN_SHARD_SIZE servers.
WIDE_WINDOW = 25
MIN_SHARD_SIZE = 100
RESOLVE_ATTEMPTS = 5


def plan_shards(
    sizes: Sequence[float | None], shard_size: int, concurrency: int
) -> list[tuple[list[int], int]]:
    """Deal servers (largest first) to shards by predicted load: (positions, window) per shard.

    ``sizes`` predicts each export's length (provisioned storage; None when unknown, counted as
    the largest). The windows split ``concurrency`` evenly (each at least 1) and every server
    goes, largest first, to the shard whose earliest window slot frees first, counting the
    sizes already dealt to it (a greedy LPT over all shards' slots): the same order a single
    global window would run them in, so shards finish together and the fixed windows cost
    little makespan. No shard holds more than ``shard_size``; each keeps largest first. When
    every shard can still have ``WIDE_WINDOW`` slots, the fleet is split further (shards of at
    least ``MIN_SHARD_SIZE``): as even, and cheaper to replay.
    """
    count = len(sizes)
    if count == 0:
        return []
    needed = -(-count // max(1, shard_size))
    affordable = min(concurrency // WIDE_WINDOW, -(-count // MIN_SHARD_SIZE))
    shards = min(count, max(1, needed, affordable))
    base, extra = divmod(concurrency, shards)
    windows = [max(1, base + (1 if i < extra else 0)) for i in range(shards)]
    known = [float(s) for s in sizes if s is not None]
    unknown_weight = max(known, default=1.0)
    slots: list[list[float]] = [[0.0] * w for w in windows]
    members: list[list[int]] = [[] for _ in range(shards)]
    # (earliest free slot, servers dealt, shard) for every shard that still has room; ties
    # go round the shards, so equal sizes are dealt like cards
    frontier = [(0.0, 0, i) for i in range(shards)]
    heapq.heapify(frontier)
    for position, size in enumerate(sizes):
        _, _, shard = heapq.heappop(frontier)
        members[shard].append(position)
        weight = max(0.0, float(size)) if size is not None else unknown_weight
        heapq.heapreplace(slots[shard], slots[shard][0] + weight)
        if len(members[shard]) < shard_size:
            heapq.heappush(frontier, (slots[shard][0], len(members[shard]), shard))
    return list(zip(members, windows, strict=True))


def probe_indices(plan: list[tuple[list[int], int]], budget: int) -> list[int]:
    """The servers to probe: the heads of the first shards' windows, at most ``budget``."""
    chosen: list[int] = []
    for positions, window in plan:
        chosen.extend(positions[: min(window, budget - len(chosen))])
        if len(chosen) >= budget:
            break
    return chosen


def _submit_payload(entry: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "runId": common["runId"],
        "id": entry["id"],
        "backupName": entry["backupName"],
        "backupFormat": common["backupFormat"],
    }


def _failed_scope(scope: Mapping[str, Any], error: Any) -> dict[str, Any]:
    """The answer of a ``list_scope`` activity that raised instead of answering."""
    problem = {"scope": discovery.describe(scope), **activity_crash(error)}
    return {"servers": [], "skipped": [], "matched": 0, "problems": [problem]}


def _resolve(
    context: df.DurableOrchestrationContext, request: Mapping[str, Any], policy: RetryPolicy
) -> Generator[Any, Any, discovery.Resolution]:
    """Step 1: the explicit servers plus every discovery scope's answer.

    A scope whose listing failed transiently (or whose activity failed) is listed again after a
    backoff, up to ``RESOLVE_ATTEMPTS`` times; then its problem stays in the report.
    """
    discover = request.get("discover")
    answers: list[Mapping[str, Any]] = []
    pending = discovery.scopes(discover) if discover else []
    for attempt in range(1, RESOLVE_ATTEMPTS + 1):
        retry: list[dict[str, Any]] = []
        for at in range(0, len(pending), discovery.SCOPES_AT_ONCE):
            batch = pending[at : at + discovery.SCOPES_AT_ONCE]
            tasks = [context.call_activity(names.LIST_SCOPE, scope) for scope in batch]
            settled = yield from gather(context, tasks)
            for scope, (ok, value) in zip(batch, settled, strict=True):
                answer = value if ok else _failed_scope(scope, value)
                transient = any(p.get("transient") for p in answer.get("problems") or [])
                if transient and attempt < RESOLVE_ATTEMPTS:
                    retry.append(scope)
                else:
                    answers.append(answer)
        if not retry:
            break
        pending = retry
        yield context.create_timer(after(context.current_utc_datetime, backoff(attempt, policy)))
    return discovery.merge(request.get("servers") or [], discover, answers)


def _entries(
    request: Mapping[str, Any], resolution: discovery.Resolution, started: Any
) -> tuple[list[dict[str, Any]], list[report.ServerRow]]:
    """Each resolved server with its backup name; a row for each whose name cannot be made."""
    entries: list[dict[str, Any]] = []
    rows: list[report.ServerRow] = []
    for server_id, size in zip(resolution.servers, resolution.sizes, strict=True):
        try:
            name = naming.expand(request["backupName"], ServerId.parse(server_id), started)
        except InvalidRequest as err:
            bad_name = {"code": "InvalidBackupName", "message": err.message}
            rows.append(report.server_row(server_id, report.FAILED, error=bad_name))
            continue
        entries.append({"id": server_id, "backupName": name, "size": size})
    return entries, rows


def _probe(
    context: df.DurableOrchestrationContext,
    probed: list[dict[str, Any]],
    common: Mapping[str, Any],
    cancel: Any,
) -> Generator[Any, Any, tuple[list[dict[str, Any]], bool]]:
    """Step 2: submit the first few; ``(their outcomes, whether a cancel came meanwhile)``.

    A probe activity that raised (a crashed worker, a timeout) is that server's transient
    error: the breaker ignores it and the server's own orchestration submits again.
    """
    tasks = [context.call_activity(names.SUBMIT_EXPORT, _submit_payload(e, common)) for e in probed]
    first = yield context.task_any([context.task_all(tasks), cancel])
    canceled = first is cancel
    settled = yield from gather(context, tasks)
    outcomes = [
        value if ok else {"kind": "error", "error": activity_crash(value)} for ok, value in settled
    ]
    return outcomes, canceled


def _breaker_rows(
    entries: list[dict[str, Any]],
    probed: list[int],
    outcomes: list[dict[str, Any]],
    tripped: Mapping[str, Any],
) -> list[report.ServerRow]:
    """The probed servers Failed with their own errors, every other server Skipped."""
    note = (
        f"not submitted: the first {len(probed)} submissions all failed with "
        f"{tripped.get('code')}: {tripped.get('message')}"
    )
    rows: list[report.ServerRow] = []
    for index, entry in enumerate(entries):
        if index in probed:
            rows.append(
                report.server_row(
                    entry["id"],
                    report.FAILED,
                    attempts=1,
                    backup_name=entry["backupName"],
                    error=outcomes[probed.index(index)].get("error"),
                )
            )
        else:
            rows.append(
                report.server_row(
                    entry["id"],
                    report.SKIPPED,
                    backup_name=entry["backupName"],
                    error={"code": tripped.get("code"), "message": note},
                )
            )
    return rows


def _fan_out(  # noqa: PLR0917 - one step's inputs, named at the single call
    context: df.DurableOrchestrationContext,
    entries: list[dict[str, Any]],
    plan: list[tuple[list[int], int]],
    common: Mapping[str, Any],
    concurrency: int,
    cancel: Any,
    canceled: bool,
) -> Generator[Any, Any, tuple[list[report.ServerRow], bool]]:
    """Step 3: a window over shards inside one concurrency budget; ``(rows, canceled)``."""
    run_id = common["runId"]
    rows: list[report.ServerRow] = []
    pending = list(enumerate(plan))
    running: list[tuple[Any, int, tuple[list[int], int]]] = []
    in_use = 0
    while pending or running:
        if canceled:
            # Shards holding probed (already submitted) servers still run, to follow those
            # exports to the end; every other server not yet handed to a shard is Canceled.
            keep = []
            for item in pending:
                _, (positions, _window) = item
                if any("firstOutcome" in entries[p] for p in positions):
                    keep.append(item)
                else:
                    rows.extend(canceled_row(entries[p]) for p in positions)
            pending = keep
        started_new = False
        while pending and (not running or in_use + pending[0][1][1] <= concurrency):
            index, (positions, window) = pending.pop(0)
            shard_input: dict[str, Any] = {
                "servers": [entries[p] for p in positions],
                "concurrency": window,
                "common": common,
                "index": index,
            }
            if canceled:
                shard_input["canceled"] = True
            task = context.call_sub_orchestrator(
                names.EXPORT_SHARD, shard_input, shard_instance_id(run_id, index)
            )
            running.append((task, index, (positions, window)))
            in_use += window
            started_new = True
        if not running:
            break
        waiting = [task for task, _, _ in running] + ([] if canceled else [cancel])
        wait, release = wait_any(context, waiting, started_new)
        done = yield wait
        if done is release:
            continue
        if done is cancel:
            canceled = True
            shards = [shard_instance_id(run_id, index) for _, index, _ in running]
            yield from relay_cancel(context, shards)
            continue
        position = next(i for i, (task, _, _) in enumerate(running) if task is done)
        _, _, (positions, window) = running.pop(position)
        in_use -= window
        if done.state is TaskState.FAILED:
            message = redact_text(str(done.result))[:2000]
            rows.extend(
                report.server_row(
                    e["id"],
                    report.FAILED,
                    backup_name=e["backupName"],
                    error={"code": "ShardFailed", "message": message},
                )
                for e in (entries[p] for p in positions)
            )
        else:
            rows.extend(done.result)
    return rows, canceled


@bp.orchestration_trigger(context_name="context")
def export_fleet(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Run one fleet export; the output is the run report."""
    job: dict[str, Any] = context.get_input()
    request: dict[str, Any] = job["request"]
    run_id: str = job["runId"]
    started = utc(context.current_utc_datetime)
    dry_run = bool(request.get("dryRun"))
    policy = RetryPolicy(**job.get("retry", {}))
    concurrency = max(1, int(job["maxConcurrency"]))
    cancel = context.wait_for_external_event(CANCEL_EVENT)
    context.set_custom_status({"phase": "resolving"})

    resolution = yield from _resolve(context, request, policy)
    entries, bad_names = _entries(request, resolution, started)
    rows: list[report.ServerRow] = [*resolution.skipped, *bad_names]
    common = {
        "runId": run_id,
        "sasCount": job["sasCount"],
        "backupFormat": request.get("backupFormat"),
        "deadlineMinutes": job["deadlineMinutes"],
        "poll": job.get("poll", {}),
        "retry": job.get("retry", {}),
        "dryRun": dry_run,
    }
    plan = plan_shards(
        [e["size"] for e in entries],
        int(job.get("shardSize") or DEFAULT_SHARD_SIZE),
        concurrency,
    )

    breaker: dict[str, Any] | None = None
    canceled = False
    if entries and not dry_run:
        context.set_custom_status({"phase": "probing", "total": len(entries) + len(rows)})
        probed = probe_indices(plan, min(policy.breaker_sample, concurrency))
        outcomes, canceled = yield from _probe(
            context, [entries[i] for i in probed], common, cancel
        )
        errors = [o.get("error") if o.get("kind") == "error" else None for o in outcomes]
        tripped = fleet_wide_error(errors, policy) if len(probed) > 1 else None
        if tripped is not None:
            breaker = {
                "code": tripped.get("code"),
                "message": tripped.get("message"),
                "probed": len(probed),
            }
            rows.extend(_breaker_rows(entries, probed, outcomes, tripped))
            entries, plan = [], []
        else:
            for index, outcome in zip(probed, outcomes, strict=True):
                entries[index]["firstOutcome"] = outcome

    context.set_custom_status(
        {
            "phase": "exporting",
            "total": len(entries) + len(rows),
            "shards": len(plan),
            "settled": len(rows),
            "settledSummary": report.summarize(rows),
        }
    )
    shard_rows, canceled = yield from _fan_out(
        context, entries, plan, common, concurrency, cancel, canceled
    )
    rows.extend(shard_rows)

    context.set_custom_status({"phase": "done", "total": len(rows)})
    return report.build_report(
        run_id,
        iso(started),
        iso(context.current_utc_datetime),
        rows,
        dry_run=dry_run,
        request=request,
        problems=resolution.problems,
        breaker=breaker,
        canceled=canceled,
        retry_of=job.get("retryOf"),
    )

"""``export_fleet``: one run, from the request to the report, in four steps.

1. **Resolve** the servers: the explicit ones plus discovery, cut into scopes (one
   ``list_scope`` activity each, transient listing failures retried on durable timers).
2. **Probe** the first few submissions (the circuit breaker): when they all fail with the same
   error that speaks for the service or the identity, every other server is reported Skipped
   with it instead of sending thousands of doomed calls.
3. **Fan out** the servers to ``export_shard`` sub-orchestrations through a sliding window
   (``window.sliding_window``): each shard's window is a share of ``maxConcurrency``, and shards
   start only while their windows fit in it. Shards keep every history bounded.
4. **Report**: one row per server, from every step (a dry run of an export also asks
   ``check_target`` whether its target can be used), published by ``publish_report``
   (``publish.py``: logged and counted per server, written as files to the report container).

No child's failure ends the run without a report: a failed listing is that scope's problem, a
failed probe is that server's first outcome (retried like any failed submission), a failed shard
is a row per server it held (``ShardFailed``). A ``cancel`` event is passed on to the running
shards, which pass it on to their running batches.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from mysqlexport import discovery, naming, report
from mysqlexport.armspec import BACKUP
from mysqlexport.errors import InvalidRequest
from mysqlexport.ids import ServerId
from mysqlexport.rules import backoff, fleet_wide_error
from orchestrators.blueprint import bp
from orchestrators.planning import ShardPlan, plan_shards, probe_indices
from orchestrators.publish import publish, report_files, run_problem
from orchestrators.rows import SHARD_FAILED, canceled_row, child_failed_row
from orchestrators.server import submit_call
from orchestrators.timeutil import after, iso, utc
from orchestrators.window import gather, sliding_window
from workflow import names
from workflow.contracts import (
    FleetJob,
    RunSettings,
    Scope,
    ScopeListing,
    ServerEntry,
    ShardInput,
    SubmitAnswer,
    TargetCheck,
    TargetCheckAnswer,
    activity_crash,
    crashed,
    retry_policy,
    run_settings,
)
from workflow.instance_ids import shard_instance_id

#: A dry run's problem when the target cannot be used (``check_target``).
TARGET_UNUSABLE = "TargetUnusable"
#: How many times a scope whose listing failed transiently is listed.
RESOLVE_ATTEMPTS = 5


@bp.orchestration_trigger(context_name="context")
def export_fleet(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Run one fleet export; the output is the run report."""
    fleet = FleetRun(context, context.get_input())
    yield from fleet.resolve()
    yield from fleet.probe()
    yield from fleet.fan_out()
    yield from fleet.check_target()
    return (yield from fleet.publish())


class FleetRun:
    """One execution of ``export_fleet``: the job, what each step found, and the steps."""

    def __init__(self, context: df.DurableOrchestrationContext, job: FleetJob) -> None:
        self.context = context
        self.job = job
        self.run: RunSettings = run_settings(job)
        self.retry = retry_policy(job["retry"])
        self.concurrency = max(1, job["maxConcurrency"])
        self.started = utc(context.current_utc_datetime)
        self.cancel = context.wait_for_external_event(names.CANCEL_EVENT)
        self.canceled = False
        self.entries: list[ServerEntry] = []  # the servers still to export, largest first
        self.plan: list[ShardPlan] = []
        self.rows: list[report.ServerRow] = []  # every server settled so far
        self.problems: list[dict[str, Any]] = []
        self.breaker: dict[str, Any] | None = None

    # --- step 1: resolve ------------------------------------------------------------------

    def resolve(self) -> Generator[Any, Any, None]:
        """The servers to export (``entries``, planned into shards), Skipped rows, problems."""
        request = self.job["request"]
        named = None if request.get("discover") else len(request.get("servers") or [])
        self.context.set_custom_status({"phase": "resolving", "total": named})
        discover = request.get("discover")
        scopes = cast("list[Scope]", discovery.scopes(discover) if discover else [])
        answers = yield from self._list_scopes(scopes)
        resolution = discovery.merge(request.get("servers") or [], discover, answers)
        self.problems = resolution.problems
        self.rows.extend(resolution.skipped)
        for server_id, size in zip(resolution.servers, resolution.sizes, strict=True):
            try:
                name = naming.expand(
                    request["backupName"],
                    ServerId.parse(server_id),
                    self.started,
                    backup=self.run["operation"] == BACKUP,
                )
            except InvalidRequest as err:
                bad_name = {"code": "InvalidBackupName", "message": err.message}
                self.rows.append(report.server_row(server_id, report.FAILED, error=bad_name))
                continue
            self.entries.append({"id": server_id, "backupName": name, "size": size})
        sizes = [e["size"] for e in self.entries]
        self.plan = plan_shards(sizes, self.job["shardSize"], self.concurrency)

    def _list_scopes(self, pending: list[Scope]) -> Generator[Any, Any, list[ScopeListing]]:
        """Every scope's listing; a scope whose listing failed transiently (or whose activity
        failed) is listed again after a backoff, up to ``RESOLVE_ATTEMPTS`` times."""
        answers: list[ScopeListing] = []
        for attempt in range(1, RESOLVE_ATTEMPTS + 1):
            retry: list[Scope] = []
            for at in range(0, len(pending), discovery.SCOPES_AT_ONCE):
                batch = pending[at : at + discovery.SCOPES_AT_ONCE]
                tasks = [self.context.call_activity(names.LIST_SCOPE, scope) for scope in batch]
                settled = yield from gather(self.context, tasks)
                for scope, (ok, value) in zip(batch, settled, strict=True):
                    answer: ScopeListing = value if ok else _failed_listing(scope, value)
                    if attempt < RESOLVE_ATTEMPTS and _transient(answer):
                        retry.append(scope)
                    else:
                        answers.append(answer)
            if not retry:
                break
            pending = retry
            wait = backoff(attempt, self.retry)
            yield self.context.create_timer(after(self.context.current_utc_datetime, wait))
        return answers

    # --- step 2: probe --------------------------------------------------------------------

    def probe(self) -> Generator[Any, Any, None]:
        """Submit the heads of the first shards' windows. When every probe failed with one
        fleet-wide error the breaker trips: nothing else is submitted. Otherwise each probed
        server's answer goes with it (``firstOutcome``), so its orchestration goes on from it.
        A probe activity that raised is that server's transient error."""
        if self.entries:
            self.canceled = yield from self._cancel_came()  # while resolving: submit nothing
        if not self.entries or self.run["dryRun"] or self.canceled:
            return
        self.context.set_custom_status({"phase": "probing", "total": self._total()})
        probed = probe_indices(self.plan, min(self.retry.breaker_sample, self.concurrency))
        tasks = [submit_call(self.context, self.run, self.entries[i]) for i in probed]
        first = yield self.context.task_any([self.context.task_all(tasks), self.cancel])
        self.canceled = first is self.cancel
        settled = yield from gather(self.context, tasks)
        outcomes: list[SubmitAnswer] = [value if ok else crashed(value) for ok, value in settled]
        errors = [o["error"] if o["kind"] == "error" else None for o in outcomes]
        tripped = fleet_wide_error(errors, self.retry) if len(probed) > 1 else None
        if tripped is None:
            for index, outcome in zip(probed, outcomes, strict=True):
                self.entries[index]["firstOutcome"] = outcome
            return
        self.breaker = {
            "code": tripped.get("code"),
            "message": tripped.get("message"),
            "probed": len(probed),
        }
        self.rows.extend(self._breaker_rows(probed, outcomes, tripped))
        self.entries, self.plan = [], []

    def check_target(self) -> Generator[Any, Any, None]:
        """A dry run of an export asks ``check_target`` once whether the target can be used (a
        SAS minted for each container, or the sealed list opened): a refusal is the run's
        ``TargetUnusable`` problem, with storage's or the key's own error. It comes after the
        servers' validation, so a dry run in flight when this step was added replays as it
        recorded and schedules it as new work (tests/reliability/test_release_compatibility)."""
        if not self.run["dryRun"] or self.run["operation"] == BACKUP or self.canceled:
            return
        check: TargetCheck = {
            "runId": self.job["runId"],
            "deadlineMinutes": self.job["deadlineMinutes"],
        }
        task = self.context.call_activity(names.CHECK_TARGET, check)
        [(ok, value)] = yield from gather(self.context, [task])
        answer: TargetCheckAnswer = value if ok else crashed(value)
        if answer["kind"] == "error":
            what = "the target cannot be used"
            self.problems.append(run_problem(TARGET_UNUSABLE, what, answer["error"]))

    def _cancel_came(self) -> Generator[Any, Any, bool]:
        """Whether a cancel came while the servers were resolved. The SDK hands an event to its
        waiter only once the waiter is yielded (``TaskOrchestrationExecutor.set_task_value``
        defers it), so the waiter is yielded here beside a timer due now: the event, if it
        came, wins at once; if not, the timer ends the wait."""
        now = self.context.create_timer(self.context.current_utc_datetime)
        first = yield self.context.task_any([self.cancel, now])
        return bool(first is self.cancel)

    def _breaker_rows(
        self, probed: list[int], outcomes: list[SubmitAnswer], tripped: Mapping[str, Any]
    ) -> list[report.ServerRow]:
        """The probed servers Failed with their own errors, every other server Skipped."""
        note = (
            f"not submitted: the first {len(probed)} submissions all failed with "
            f"{tripped.get('code')}: {tripped.get('message')}"
        )
        skipped: Mapping[str, Any] | None = {"code": tripped.get("code"), "message": note}
        rows: list[report.ServerRow] = []
        for index, entry in enumerate(self.entries):
            status, error, attempts = report.SKIPPED, skipped, 0
            if index in probed:
                outcome = outcomes[probed.index(index)]
                status, attempts = report.FAILED, 1
                error = outcome["error"] if outcome["kind"] == "error" else None
            rows.append(
                report.server_row(
                    entry["id"],
                    status,
                    attempts=attempts,
                    backup_name=entry["backupName"],
                    error=error,
                )
            )
        return rows

    # --- step 3: fan out ------------------------------------------------------------------

    def fan_out(self) -> Generator[Any, Any, None]:
        """Every shard through one window whose budget is the run's concurrency."""
        self.context.set_custom_status(
            {
                "phase": "exporting",
                "total": self._total(),
                "shards": len(self.plan),
                "settled": len(self.rows),
                "settledSummary": report.summarize(self.rows),
            }
        )
        units = [
            ShardUnit(
                self.run,
                index,
                [self.entries[p] for p in shard.positions],
                shard.window,
                self.job["batchMaxServers"],
            )
            for index, shard in enumerate(self.plan)
        ]
        rows, self.canceled = yield from sliding_window(
            self.context, units, self.concurrency, self.cancel, self.canceled
        )
        self.rows.extend(rows)

    # --- step 4: report -------------------------------------------------------------------

    def publish(self) -> Generator[Any, Any, dict[str, Any]]:
        """The run report, published; a file that could not be written is one more problem."""
        self.context.set_custom_status({"phase": "publishing", "total": len(self.rows)})
        built = self.report()
        container = self.job.get("reportContainer")
        not_written = yield from publish(
            self.context, built, container, self.concurrency, self.retry
        )
        self.problems.extend(not_written)
        self.context.set_custom_status({"phase": "done", "total": len(self.rows)})
        return self.report() if not_written else built

    def report(self) -> dict[str, Any]:
        """The run report: what a user reads at the end of the run."""
        return report.build_report(
            self.job["runId"],
            iso(self.started),
            iso(self.context.current_utc_datetime),
            self.rows,
            dry_run=self.run["dryRun"],
            request=self.job["request"],
            problems=self.problems,
            breaker=self.breaker,
            canceled=self.canceled,
            retry_of=self.job.get("retryOf"),
            files=report_files(self.job["runId"], self.job.get("reportContainer")),
        )

    def _total(self) -> int:
        return len(self.entries) + len(self.rows)


@dataclass(frozen=True)
class ShardUnit:
    """One shard in the fleet's window; it holds ``window`` of the run's concurrency."""

    run: RunSettings
    index: int
    entries: list[ServerEntry]
    window: int
    batch_max_servers: int

    @property
    def cost(self) -> int:
        return self.window

    @property
    def servers(self) -> int:
        return len(self.entries)

    @property
    def submitted(self) -> bool:
        return any("firstOutcome" in entry for entry in self.entries)

    @property
    def instance_id(self) -> str:
        return shard_instance_id(self.run["runId"], self.index)

    def start(self, context: df.DurableOrchestrationContext, canceled: bool) -> Any:
        shard: ShardInput = {
            "run": self.run,
            "index": self.index,
            "window": self.window,
            "batchMaxServers": self.batch_max_servers,
            "servers": self.entries,
            "canceled": canceled,
        }
        return context.call_sub_orchestrator(names.EXPORT_SHARD, shard, self.instance_id)

    def rows(self, task: Any) -> list[report.ServerRow]:
        if task.state is TaskState.FAILED:
            return [child_failed_row(e, SHARD_FAILED, task.result) for e in self.entries]
        return list(task.result)

    def canceled_rows(self) -> list[report.ServerRow]:
        return [canceled_row(entry) for entry in self.entries]


def _failed_listing(scope: Scope, error: object) -> ScopeListing:
    """The answer of a ``list_scope`` activity that raised instead of answering."""
    problem = {"scope": discovery.describe(scope), **activity_crash(error)}
    return {"servers": [], "skipped": [], "matched": 0, "problems": [problem]}


def _transient(answer: ScopeListing) -> bool:
    return any(p.get("transient") for p in answer["problems"])

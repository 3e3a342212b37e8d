"""``export_shard``: one shard of the fleet through a sliding window.

At most ``window`` units are in flight: a server's ``export_server``, a batch of small servers
(``export_batch``, see ``planning.plan_batches``), or in a dry run a ``validate_server``
activity. A ``cancel`` event stops new starts; in-flight units are followed to the end, the rest
are reported Canceled, and the cancel is passed on to running batches, which stop after the
export in flight (``window.sliding_window``).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from mysqlexport import report
from orchestrators.blueprint import bp
from orchestrators.planning import plan_batches
from orchestrators.rows import canceled_row, dry_run_row
from orchestrators.server import call_export_server, export_server_row
from orchestrators.window import sliding_window
from workflow import names
from workflow.contracts import (
    BatchInput,
    RunSettings,
    ServerEntry,
    ServerRef,
    ShardInput,
    crashed,
)
from workflow.instance_ids import batch_instance_id


@dataclass(frozen=True)
class _OneServer:
    """A unit that stands for one server and does not listen for a cancel."""

    run: RunSettings
    entry: ServerEntry
    cost: int = 1
    servers: int = 1
    instance_id: None = None

    def canceled_rows(self) -> list[report.ServerRow]:
        return [canceled_row(self.entry)]


@dataclass(frozen=True)
class ServerUnit(_OneServer):
    """One server's export in one window slot; followed to the end after a cancel."""

    @property
    def submitted(self) -> bool:
        return "firstOutcome" in self.entry

    def start(self, context: df.DurableOrchestrationContext, canceled: bool) -> Any:
        return call_export_server(context, self.run, self.entry)

    def rows(self, task: Any) -> list[report.ServerRow]:
        return [export_server_row(task, self.entry)]


@dataclass(frozen=True)
class BatchUnit:
    """Small servers exported back to back in one window slot (``export_batch``)."""

    run: RunSettings
    entries: list[ServerEntry]
    instance_id: str
    cost: int = 1
    submitted: bool = False  # probed servers always go alone (planning.plan_batches)

    @property
    def servers(self) -> int:
        return len(self.entries)

    def start(self, context: df.DurableOrchestrationContext, canceled: bool) -> Any:
        batch: BatchInput = {"run": self.run, "servers": self.entries}
        return context.call_sub_orchestrator(names.EXPORT_BATCH, batch, self.instance_id)

    def rows(self, task: Any) -> list[report.ServerRow]:
        if task.state is TaskState.FAILED:
            return [export_server_row(task, entry) for entry in self.entries]
        return list(task.result)

    def canceled_rows(self) -> list[report.ServerRow]:
        return [canceled_row(entry) for entry in self.entries]


@dataclass(frozen=True)
class ValidateUnit(_OneServer):
    """A dry run's check of one server (``validate_server``)."""

    submitted: bool = False

    def start(self, context: df.DurableOrchestrationContext, canceled: bool) -> Any:
        ref: ServerRef = {"id": self.entry["id"], "operation": self.run["operation"]}
        return context.call_activity(names.VALIDATE_SERVER, ref)

    def rows(self, task: Any) -> list[report.ServerRow]:
        failed = task.state is TaskState.FAILED  # the activity raised: that server's row
        answer = crashed(task.result) if failed else task.result
        return [dry_run_row(self.entry, answer, self.run["sasCount"])]


Unit = ServerUnit | BatchUnit | ValidateUnit


def plan_units(job: ShardInput) -> list[Unit]:
    """The shard's servers as the units its window runs, largest first."""
    run, entries = job["run"], job["servers"]
    if run["dryRun"]:
        return [ValidateUnit(run, entry) for entry in entries]
    groups = plan_batches([e["size"] for e in entries], job["window"], job["batchMaxServers"])
    units: list[Unit] = []
    for number, group in enumerate(groups):
        if len(group) == 1:
            units.append(ServerUnit(run, entries[group[0]]))
        else:
            batch_id = batch_instance_id(run["runId"], job["index"], number)
            units.append(BatchUnit(run, [entries[p] for p in group], batch_id))
    return units


@bp.orchestration_trigger(context_name="context")
def export_shard(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Run one shard's servers through the window; the output is their rows."""
    job: ShardInput = context.get_input()
    total = len(job["servers"])

    def progress(tally: report.Tally, running: int, canceling: bool) -> None:
        summary: dict[str, Any] = tally.as_dict()
        summary.update(total=total, running=running, pending=total - tally.total - running)
        if canceling:
            summary["canceling"] = True
        context.set_custom_status(summary)

    cancel = context.wait_for_external_event(names.CANCEL_EVENT)
    rows, _ = yield from sliding_window(
        context, plan_units(job), job["window"], cancel, job["canceled"], progress
    )
    return rows

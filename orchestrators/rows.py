"""The report rows orchestrators write themselves, for servers whose own orchestration did not:
never started (canceled), lost with a failed child, or checked by a dry run."""

from __future__ import annotations

from mysqlexport import report
from mysqlexport.redaction import redact_text
from workflow.contracts import ServerEntry, ValidateAnswer

#: The error code of a server whose orchestration (``export_server``) failed.
ORCHESTRATION_FAILED = "OrchestrationFailed"
#: The error code of a server whose shard orchestration failed.
SHARD_FAILED = "ShardFailed"


def canceled_row(entry: ServerEntry) -> report.ServerRow:
    """The row of a server the run never submitted because it was canceled."""
    return report.server_row(
        entry["id"],
        report.CANCELED,
        backup_name=entry["backupName"],
        error={"code": "RunCanceled", "message": "the run was canceled before this server started"},
    )


def child_failed_row(entry: ServerEntry, code: str, failure: object) -> report.ServerRow:
    """The row of a server whose orchestration (or shard) failed instead of answering: the
    failure's message, never a secret."""
    return report.server_row(
        entry["id"],
        report.FAILED,
        backup_name=entry["backupName"],
        error={"code": code, "message": redact_text(str(failure))[:2000]},
    )


def dry_run_row(entry: ServerEntry, answer: ValidateAnswer, sas_count: int) -> report.ServerRow:
    """The row of one validated server: Succeeded when an export could start, else why not."""
    if answer["kind"] == "error":
        return report.server_row(
            entry["id"],
            report.FAILED,
            backup_name=entry["backupName"],
            attempts=1,
            error=answer["error"],
        )
    needed, state = answer["numberOfContainers"], answer["state"]
    error: dict[str, str] | None = None
    if (state or "").lower() != "ready":
        error = {
            "code": "ServerNotReady",
            "message": f"server state is {state}; exports and backups need a Ready server",
        }
    elif needed is not None and needed > sas_count:
        error = {
            "code": "InsufficientStorageContainers",
            "message": f"the export needs {needed} container SAS URIs; the target has {sas_count}",
        }
    return report.server_row(
        entry["id"],
        report.FAILED if error else report.SUCCEEDED,
        backup_name=entry["backupName"],
        attempts=1,
        error=error,
        number_of_containers=needed,
        on_demand_backups=answer.get("onDemandBackups"),
    )

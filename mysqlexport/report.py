"""The run report: one row per server, a summary, and nothing secret.

Rows are plain JSON (they cross activity and orchestration boundaries). Every server of a run
ends in exactly one of ``ROW_STATES``; the summary is derived from the rows, never kept apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, TypedDict

from mysqlexport.times import iso, parse

SUCCEEDED: Final = "Succeeded"
FAILED: Final = "Failed"
SKIPPED: Final = "Skipped"
CANCELED: Final = "Canceled"
TIMED_OUT: Final = "TimedOut"
ROW_STATES: Final = (SUCCEEDED, FAILED, SKIPPED, CANCELED, TIMED_OUT)
_SUMMARY_KEYS: Final = {
    SUCCEEDED: "succeeded",
    FAILED: "failed",
    SKIPPED: "skipped",
    CANCELED: "canceled",
    TIMED_OUT: "timedOut",
}
#: The summary's count keys, one per row state.
SUMMARY_KEYS: Final = tuple(_SUMMARY_KEYS.values())


class ErrorRow(TypedDict, total=False):
    """ARM's own error code and message (plus HTTP status and request id when known)."""

    code: str
    message: str
    status: int
    requestId: str


class ServerRow(TypedDict, total=False):
    """One server's outcome in a run."""

    id: str
    status: str
    backupName: str | None
    startTime: str | None
    endTime: str | None
    percentComplete: float | None
    datasourceSizeInBytes: int | None
    dataTransferredInBytes: int | None
    attempts: int
    numberOfContainers: int | None
    error: ErrorRow | None
    #: ``properties.backupMetadata`` of the export's final result, as the service returned it
    #: (present when the final result was read).
    backupMetadata: str
    #: Facts a reader must know besides the outcome, each ``{code, message}`` (present when
    #: there are any): ``SubmissionUnanswered``, ``FinalResultUnavailable``.
    notes: list[ErrorRow]
    #: A backup run's row: the on-demand backup resource (in place of the export's bytes).
    backup: BackupRow
    #: A backup run's dry run: the on-demand backups the server already has.
    onDemandBackups: int


class BackupRow(TypedDict):
    """The on-demand backup a backup run made (``ServerBackupV2``, as the service returned it)."""

    id: str | None
    name: str | None
    completedTime: str | None
    backupType: str | None
    source: str | None
    provisioningState: str | None


def server_row(
    server_id: str,
    status: str,
    *,
    backup_name: str | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
    percent_complete: float | None = None,
    datasource_size: int | None = None,
    data_transferred: int | None = None,
    attempts: int = 0,
    error: Mapping[str, Any] | None = None,
    number_of_containers: int | None = None,
    backup_metadata: str | None = None,
    notes: Iterable[Mapping[str, Any]] = (),
    backup: Mapping[str, Any] | None = None,
    on_demand_backups: int | None = None,
) -> ServerRow:
    """Build a row; ``status`` must be one of ``ROW_STATES``."""
    if status not in ROW_STATES:
        raise ValueError(f"{status!r} is not a report state")
    row: ServerRow = {
        "id": server_id,
        "status": status,
        "backupName": backup_name,
        "startTime": utc_z(start_time),
        "endTime": utc_z(end_time),
        "percentComplete": percent_complete,
        "datasourceSizeInBytes": datasource_size,
        "dataTransferredInBytes": data_transferred,
        "attempts": attempts,
        "error": error_row(error) if error else None,
    }
    if number_of_containers is not None:
        row["numberOfContainers"] = number_of_containers
    if backup_metadata is not None:
        row["backupMetadata"] = backup_metadata
    if backup is not None:
        row["backup"] = {
            "id": backup.get("id"),
            "name": backup.get("name"),
            "completedTime": utc_z(backup.get("completedTime")),
            "backupType": backup.get("backupType"),
            "source": backup.get("source"),
            "provisioningState": backup.get("provisioningState"),
        }
    if on_demand_backups is not None:
        row["onDemandBackups"] = on_demand_backups
    kept = [error_row(note) for note in notes]
    if kept:
        row["notes"] = kept
    return row


def utc_z(value: object) -> str | None:
    """An ARM time as every answer of the app writes times: ISO 8601 in UTC with ``Z``
    (ARM writes ``+00:00`` or seven fractional digits at times). A value that is not a time is
    kept as given, so nothing ARM said is lost."""
    if not isinstance(value, str) or not value:
        return None if value is None else str(value)
    try:
        return iso(parse(value))
    except ValueError:
        return value


def error_row(error: Mapping[str, Any]) -> ErrorRow:
    """Keep the fields a reader needs from an error dict (ARM code first)."""
    out: ErrorRow = {
        "code": str(error.get("code") or "Unknown"),
        "message": str(error.get("message") or ""),
    }
    status = error.get("status")
    if isinstance(status, int):
        out["status"] = status
    request_id = error.get("requestId")
    if isinstance(request_id, str):
        out["requestId"] = request_id
    return out


class Tally:
    """Counts by state and bytes exported, kept as rows arrive (O(1) per row), so an
    orchestrator can publish progress on every step without re-reading all its rows."""

    def __init__(self) -> None:
        self.total = 0
        self.counts: Counter[str] = Counter()
        self.exported = 0

    def add(self, row: Mapping[str, Any]) -> None:
        """Count one row."""
        self.total += 1
        self.counts[str(row.get("status"))] += 1
        if row.get("status") == SUCCEEDED:
            self.exported += int(row.get("dataTransferredInBytes") or 0)

    def as_dict(self) -> dict[str, int]:
        """``{total, succeeded, failed, skipped, canceled, timedOut, bytes}``."""
        summary = {"total": self.total}
        summary.update({key: self.counts[state] for state, key in _SUMMARY_KEYS.items()})
        summary["bytes"] = self.exported
        return summary


def summarize(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Counts by state, and bytes exported by the servers that succeeded."""
    tally = Tally()
    for row in rows:
        tally.add(row)
    return tally.as_dict()


#: The run-level outcomes (``summary.outcome``): what a Logic App or an alert branches on.
OUTCOME_SUCCEEDED: Final = "Succeeded"
OUTCOME_PARTIAL: Final = "PartiallySucceeded"
OUTCOME_FAILED: Final = "Failed"
OUTCOME_CANCELED: Final = "Canceled"


def run_outcome(summary: Mapping[str, int], problems: Sequence[Any], canceled: bool) -> str:
    """One word for the whole run, so nobody has to count rows to know whether it worked.

    ``Succeeded``: at least one server, every server Succeeded (or Skipped for its state, as
    asked) and no problem. ``Failed``: nothing succeeded, which includes a run that found
    nothing to export (a discovery that matched no server is a problem, never a quiet
    success). ``Canceled``: the run was canceled. ``PartiallySucceeded``: anything else.
    """
    if canceled:
        return OUTCOME_CANCELED
    if summary.get("succeeded", 0) == 0:
        return OUTCOME_FAILED
    bad = summary.get("failed", 0) + summary.get("timedOut", 0) + summary.get("canceled", 0)
    return OUTCOME_PARTIAL if bad or problems else OUTCOME_SUCCEEDED


def build_report(
    run_id: str,
    start_time: str,
    end_time: str,
    rows: list[ServerRow],
    *,
    dry_run: bool = False,
    request: Mapping[str, Any] | None = None,
    problems: Sequence[Mapping[str, Any]] = (),
    breaker: Mapping[str, Any] | None = None,
    canceled: bool = False,
    retry_of: str | None = None,
    files: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The orchestration's output: what a user reads at the end of a run. ``files`` says where
    its report files go (``{"container", "blobs"}``) when ``REPORT_CONTAINER_URL`` is set."""
    ordered = sorted(rows, key=lambda r: str(r.get("id", "")).lower())
    summary: dict[str, Any] = summarize(ordered)
    summary["outcome"] = run_outcome(summary, problems, canceled)
    #: Which operation ran: ``export`` (backupAndExport) or ``backup`` (on-demand, backupsV2).
    summary["operation"] = (request or {}).get("operation") or "export"
    result: dict[str, Any] = {
        "runId": run_id,
        "dryRun": dry_run,
        "startTime": start_time,
        "endTime": end_time,
        "summary": summary,
        "request": dict(request) if request else None,
        "servers": ordered,
        "problems": [dict(p) for p in problems],
        "breaker": dict(breaker) if breaker else None,
        "canceled": canceled,
    }
    if retry_of:
        result["retryOf"] = retry_of
    if files:
        result["files"] = dict(files)
    return result

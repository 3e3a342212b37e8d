"""``backup_server``: one server's on-demand backup (backupsV2), through the same steps as an
export (``server.ServerRun``): submit -> poll -> final result.

1. **Submit**: PUT ``…/backupsV2/{backupName}`` (``submit_backup``). 202: poll what it gives.
   200 or 201: the backup resource itself; when it is not finished yet (201 ``Creating``, no
   polling URL), read the resource until it is.
2. **Poll** the Azure-AsyncOperation status when there is one (``read_status``), else the
   Location URL exactly as given (``read_backup_result``; the spec's example points it at an
   ``operationStatus`` URL of another api-version), else the resource (``read_backup``), with
   waits from Retry-After (the percent estimate applies when a status gives percents).
3. **Final result**: the backup resource read with a GET (``read_backup``), by the id the
   service gave (it may name the backup otherwise than asked) or else by the name asked for,
   so the row carries its ``id``, ``completedTime``, ``backupType``, ``source`` and
   ``provisioningState``.

``provisioningState: "Ready"`` (the spec's examples) counts as Succeeded. The retry, 409,
throttling and deadline rules are the export's (``ServerRun``).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from mysqlexport import lro, report
from orchestrators.blueprint import bp
from orchestrators.server import ServerRun, run_steps, unexpected_answer
from orchestrators.timeutil import iso, parse
from workflow import names
from workflow.contracts import (
    BackupJson,
    BackupRef,
    ErrorJson,
    ReadRequest,
    Status,
    SubmitAnswer,
)

#: The row's note when the backup Succeeded but its resource could not be read afterwards.
BACKUP_UNREADABLE = "BackupResourceUnavailable"
#: The progress a Location 202 stands for: what its status body says (``OperationStatusResult``
#: ``status`` while the operation runs), which the answer passed on does not carry.
IN_PROGRESS = "InProgress"


@bp.orchestration_trigger(context_name="context")
def backup_server(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Back up one server on demand; the output is its report row."""
    return (yield from run_steps(ServerBackup(context, context.get_input())))


class ServerBackup(ServerRun):
    """backupsV2's answers, and the backup resource as the final result."""

    def __init__(self, context: df.DurableOrchestrationContext, job: Any) -> None:
        super().__init__(context, job)
        self.outcome: str | None = None  # the terminal state, once seen
        self.error: ErrorJson | None = None  # its error, when it did not succeed
        self.resource: BackupJson | None = None  # the last resource read

    def _settle(self, outcome: SubmitAnswer) -> report.ServerRow | None:
        """A 200 or 201 answered with the resource: done, or read it until it is."""
        if outcome["kind"] != "backup":
            return self._row(report.FAILED, error=unexpected_answer(outcome["kind"]))
        now = iso(self.context.current_utc_datetime)
        self.state["phase"], self.state["submittedAt"], self.state["startTime"] = "poll", now, now
        if not self._take(outcome["backup"]):  # 201 Creating: read it after its Retry-After
            advised = outcome["backup"]["retryAfter"]
            self.state["nextDelay"] = lro.next_poll_delay(advised, None, None, self.polling)
        return None

    def _ref(self) -> str:
        """The backup resource to read: the id the service gave (``backupRef``: it may name
        the backup otherwise than asked), else the id of the name asked for."""
        asked = f"{self.entry['id']}/backupsV2/{self.entry['backupName']}"
        return self.state.get("backupRef") or asked

    def _poll_call(self) -> Any:
        operation = self.state.get("operation")
        if operation and operation["asyncOperationUrl"]:
            status: ReadRequest = {"url": operation["asyncOperationUrl"]}
            return self.context.call_activity(names.READ_STATUS, status)
        if operation and operation["locationUrl"]:
            location: ReadRequest = {"url": operation["locationUrl"]}
            return self.context.call_activity(names.READ_BACKUP_RESULT, location)
        ref: BackupRef = {"ref": self._ref()}
        return self.context.call_activity(names.READ_BACKUP, ref)

    def _after_poll(
        self, answer: Any, polled_at: datetime, read_at: datetime
    ) -> float | report.ServerRow | None:
        if answer["kind"] == "error":
            return self._poll_failed(answer["error"])
        self.state.pop("pollStreak", None)
        ended = (answer["kind"] == "status" and self._take_status(answer)) or (
            answer["kind"] == "backup" and self._take(answer["backup"])
        )
        if ended:
            return None
        if answer.get("percentComplete") is not None:  # a Location 202's status body
            self.state["percent"] = answer["percentComplete"]
        if answer["kind"] == "running":  # Location said 202: the progress shows it runs
            self._show(IN_PROGRESS)
        advised = answer["backup"]["retryAfter"] if answer["kind"] == "backup" else None
        elapsed = (polled_at - parse(self.state["submittedAt"])).total_seconds()
        return lro.next_poll_delay(
            answer.get("retryAfter", advised),
            self.state.get("percent"),
            max(0.0, elapsed),
            self.polling,
            lag=(self._now() - read_at).total_seconds(),
        )

    def _take_status(self, status: Status) -> bool:
        """Keep what a status says; True when it is terminal."""
        if status["percentComplete"] is not None:
            self.state["percent"] = status["percentComplete"]
        if status["startTime"]:
            self.state["startTime"] = status["startTime"]
        if status.get("resourceId"):
            self.state["backupRef"] = str(status.get("resourceId"))
        self._show(status["status"])
        if not lro.is_terminal(status["status"]):
            return False
        self.finished, self.outcome, self.error = True, status["status"], status["error"]
        if status["endTime"]:
            self.state["endTime"] = status["endTime"]
        return True

    def _take(self, backup: BackupJson) -> bool:
        """Keep a resource read; True when its state is terminal (``finished``)."""
        self.resource = backup
        if backup["id"]:
            self.state["backupRef"] = backup["id"]
        if backup.get("endTime"):
            self.state["endTime"] = str(backup.get("endTime"))
        self._show(backup["state"])
        if not lro.is_terminal(backup["state"]):
            return False
        self.finished, self.outcome, self.error = True, backup["state"], backup["error"]
        return True

    def final_result(self) -> Generator[Any, Any, report.ServerRow]:
        """The backup resource read with a GET: the row carries what it says. A backup that
        failed or was canceled ends with ARM's error, nothing more read."""
        if not lro.is_succeeded(self.outcome):
            return self._backup_row(report.FAILED, self.error or _no_error(self.outcome))
        ref: BackupRef = {"ref": self._ref()}
        answer, problem = yield from self._read_final(names.READ_BACKUP, ref, ("backup",))
        notes: tuple[Mapping[str, Any], ...] = ()
        if answer is not None:
            self.resource = answer["backup"]
        else:
            notes = (
                {
                    "code": BACKUP_UNREADABLE,
                    "message": "the backup Succeeded (its status said so) but its resource "
                    f"could not be read ({problem.get('code')}: {problem.get('message') or ''})",
                },
            )
        return self._backup_row(report.SUCCEEDED, None, notes)

    def _backup_row(
        self,
        status: str,
        error: Mapping[str, Any] | None,
        notes: tuple[Mapping[str, Any], ...] = (),
    ) -> report.ServerRow:
        backup = self.resource
        completed = backup["completedTime"] if backup else None
        # The percent ARM reported (none when no answer carried one: a 201, a 200). A Location
        # 202's is an estimate of at most 99 and the 200 that ends it carries none of its own,
        # so a Succeeded backup that reported progress is at 100, not at the last estimate.
        percent = self.state.get("percent")
        if status == report.SUCCEEDED and percent is not None:
            percent = 100.0
        return self._row(
            status,
            end_time=completed or self.state.get("endTime"),
            percent_complete=percent,
            error=error,
            backup=_backup_fields(backup) if backup else None,
            notes=notes,
        )


def _backup_fields(backup: BackupJson) -> dict[str, Any]:
    """What a row says of the backup resource."""
    keys = ("id", "name", "completedTime", "backupType", "source", "provisioningState")
    return {key: backup[key] for key in keys}  # type: ignore[literal-required]


def _no_error(state: str | None) -> ErrorJson:
    """The row's error when the backup did not succeed and ARM gave no error with it."""
    if (state or "").lower() == "canceled":
        return {"code": "BackupCanceled", "message": "the on-demand backup ended Canceled"}
    return {"code": "BackupFailed", "message": f"the on-demand backup ended {state} with no error"}

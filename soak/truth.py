"""The run report against the emulator's ground truth, server by server.

``judge`` is pure: it takes the report, the fleet and the emulator's export records and says, for
every server, whether its row is the truth:

* every server has exactly one row, and every row is a server of the fleet;
* Succeeded only if the server's last export is the one the run named and it succeeded (all of
  its bytes transferred); Failed with an export only if that export failed, carrying the
  service's own error code; Failed without an export only with an error the service answered
  (it has an HTTP status) or a transport failure; Skipped only for a server not Ready, with no
  export; nothing else (TimedOut, Canceled) is expected in a soak;
* nothing lost: every export the service accepted for the run is followed to its end and
  reported with its outcome;
* duplicates: a second export of one server in one run. The run names each server's backup
  once, and the service answers a repeated name with the existing export, so a repeat caused by
  a lost answer or a crashed activity starts nothing new; such repeats are counted separately.

``judge_backups`` does the same for a backup run (on-demand backups) against the emulator's
backups; its docstring says what the truth is there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from armemulator import DEFAULT_BACKUP_LIMIT, BackupRecord, ExportRecord, ServerSpec
from armemulator.records import OperationRecord

TRANSPORT_CODES = frozenset({"ConnectionError", "Timeout", "RequestError"})


@dataclass
class RowVerdict:
    """What comparing a report's rows with the ground truth found, whichever the operation;
    ``ok`` when every row is the truth and nothing is lost."""

    servers: int = 0
    rows: int = 0
    by_state: Counter[str] = field(default_factory=Counter)
    failed_by_code: Counter[str] = field(default_factory=Counter)
    matched: int = 0
    gave_up: list[tuple[str, str]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    double_reported: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.double_reported or self.duplicates or self.mismatches)


@dataclass
class Verdict(RowVerdict):
    """An export run's comparison with the emulator's exports."""

    exports_accepted: int = 0
    exports_failed: int = 0
    repeats_absorbed: int = 0
    foreign_exports: int = 0


def _name(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def _by_server(records: Iterable[OperationRecord]) -> dict[str, list[Any]]:
    """The records of each server (by lower-cased resource id), in the order given."""
    grouped: dict[str, list[Any]] = {}
    for record in records:
        grouped.setdefault(record.server_id.lower(), []).append(record)
    return grouped


def _rows_by_server(
    report: Mapping[str, Any], specs: Mapping[str, ServerSpec], verdict: RowVerdict, outside: str
) -> dict[str, list[Mapping[str, Any]]]:
    """The report's rows of each server; counts them, and a row of no server in ``specs`` is a
    mismatch (``outside`` says where it is not)."""
    verdict.servers = len(specs)
    rows: dict[str, list[Mapping[str, Any]]] = {}
    for row in report.get("servers", []):
        rows.setdefault(str(row.get("id", "")).lower(), []).append(row)
        verdict.rows += 1
    for key in rows.keys() - specs.keys():
        verdict.mismatches.append(f"{_name(key)}: a row for a server {outside}")
    return rows


def _the_row(
    spec: ServerSpec, found: Sequence[Mapping[str, Any]], verdict: RowVerdict, done: str | None
) -> Mapping[str, Any] | None:
    """The server's one row, counted by state (and a failure by code); None, with the verdict
    told, when it has none (``done``: what the service did for it, if anything) or several."""
    if not found:
        verdict.lost.append(
            f"{spec.name}: no row" + (f" although the service {done}" if done else "")
        )
        return None
    if len(found) > 1:
        verdict.double_reported.append(f"{spec.name}: {len(found)} rows")
        return None
    row = found[0]
    verdict.by_state[str(row.get("status"))] += 1
    if row.get("status") == "Failed":
        verdict.failed_by_code[str((row.get("error") or {}).get("code"))] += 1
    return row


def _judged(verdict: RowVerdict, spec: ServerSpec, why: str | None) -> None:
    if why is None:
        verdict.matched += 1
    else:
        verdict.mismatches.append(f"{spec.name}: {why}")


def _summary_counted(report: Mapping[str, Any], verdict: RowVerdict) -> Mapping[str, Any]:
    summary: Mapping[str, Any] = report.get("summary") or {}
    if summary.get("total") != verdict.rows:
        verdict.mismatches.append(f"summary total {summary.get('total')} != {verdict.rows} rows")
    return summary


def _unanswered(error: Mapping[str, Any]) -> str | None:
    """Why a Failed row with no operation of the service's is not the truth: it must carry an
    answer of the service (an HTTP status) or a transport failure."""
    if not isinstance(error.get("status"), int) and error.get("code") not in TRANSPORT_CODES:
        return f"Failed with {error.get('code')}, not an answer of the service"
    return None


def _skipped(done: bool, spec: ServerSpec, what: str) -> str | None:
    """Why a Skipped row is not the truth: only a server not Ready, with nothing ``what``."""
    if done or spec.state == "Ready":
        return f"Skipped although {what if done else 'Ready'}"
    return None


def _check_row(
    row: Mapping[str, Any], spec: ServerSpec, records: Sequence[ExportRecord]
) -> str | None:
    """Why ``row`` is not the truth about ``spec``, or None when it is."""
    status = row.get("status")
    error = row.get("error") or {}
    ours = [r for r in records if r.backup_name == row.get("backupName") and not r.duplicate]
    real = [r for r in records if not r.duplicate]
    last = real[-1] if real else None
    if status == "Succeeded":
        if not ours or last is not ours[-1] or last.outcome != "Succeeded":
            return "reported Succeeded but the server's last export is not the run's, succeeded"
        if row.get("dataTransferredInBytes") != last.datasource_size_bytes:
            return "reported Succeeded without every byte transferred"
        return None
    if status == "Failed":
        if ours:
            if ours[-1].outcome != "Failed":
                return f"reported Failed ({error.get('code')}) but the export {ours[-1].outcome}"
            if error.get("code") != ours[-1].error_code:
                return f"Failed with {error.get('code')}, the service said {ours[-1].error_code}"
            return None
        return _unanswered(error)
    if status == "Skipped":
        return _skipped(bool(ours), spec, "exported")
    return f"unexpected state {status} ({error.get('code')})"


def judge(
    report: Mapping[str, Any], fleet: Iterable[ServerSpec], exports: Iterable[ExportRecord]
) -> Verdict:
    """Compare ``report`` with the fleet and the ground truth (see the module docstring)."""
    verdict = Verdict()
    specs = {s.resource_id.lower(): s for s in fleet}
    records = _by_server(exports)
    rows = _rows_by_server(report, specs, verdict, "that does not exist")
    run_names = {str(r.get("backupName")) for found in rows.values() for r in found}
    for key, spec in sorted(specs.items()):
        history: list[ExportRecord] = records.get(key, [])
        ours = [r for r in history if r.backup_name in run_names]
        accepted = [r for r in ours if not r.duplicate]
        verdict.exports_accepted += len(accepted)
        verdict.exports_failed += sum(r.outcome == "Failed" for r in accepted)
        verdict.repeats_absorbed += sum(r.duplicate for r in ours)
        verdict.foreign_exports += sum(not r.duplicate for r in history) - len(accepted)
        if len(accepted) > 1:
            verdict.duplicates.append((spec.name, len(accepted)))
        row = _the_row(spec, rows.get(key, []), verdict, "exported it" if accepted else None)
        if row is None:
            continue
        failed = row.get("status") == "Failed"
        if failed and not accepted and spec.state == "Ready" and not spec.forbidden:
            verdict.gave_up.append((spec.name, str((row.get("error") or {}).get("code"))))
        if accepted and row.get("backupName") != accepted[-1].backup_name:
            verdict.lost.append(f"{spec.name}: the service's export is not the one reported")
            continue
        _judged(verdict, spec, _check_row(row, spec, history))
    _summary_counted(report, verdict)
    return verdict


# --- on-demand backups (the backup run) --------------------------------------------------------

#: ``provisioningState`` of a finished backup: the enum's value and the examples' "Ready".
BACKUP_DONE_STATES = frozenset({"succeeded", "ready"})
#: ARM's answer to a PUT on a server that already holds the most on-demand backups.
LIMIT_CODE = "OnDemandBackupLimitExceeded"
#: The row's note when a submission's answer was lost and a later one was followed.
UNANSWERED_NOTE = "SubmissionUnanswered"
#: The row's note when the backup succeeded but its resource could not be read afterwards.
UNREADABLE_NOTE = "BackupResourceUnavailable"
#: PUT answers that give the client no operation to read: a 201 or 200 with the backup
#: resource, which has no ``error`` (``ServerBackupV2`` in the 2024-12-30 spec has none), so a
#: failed backup's code is ARM's to give only when it answered 202 (``armemulator.BackupAnswer``).
RESOURCE_ONLY_ANSWERS = frozenset({"created", "completed"})
#: The row's code for a backup that ended Failed or Canceled with no error of ARM's
#: (``orchestrators.backup._no_error``).
NO_ERROR_CODES = {"Failed": "BackupFailed", "Canceled": "BackupCanceled"}


@dataclass
class BackupVerdict(RowVerdict):
    """A backup run's comparison with the emulator's backups."""

    backups_accepted: int = 0
    backups_failed: int = 0
    #: The run's backups by how their PUT was answered (``BackupRecord.answer``).
    by_answer: Counter[str] = field(default_factory=Counter)
    foreign_backups: int = 0
    #: Servers whose failed backup of the run's name was replaced by a resubmission of that
    #: name: (server, backups, whether the row's note tells of a lost answer).
    replaced: list[tuple[str, int, bool]] = field(default_factory=list)


def _at(text: Any) -> float | None:
    """An ISO 8601 instant as epoch seconds (None when absent or unreadable)."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _codes(row: Mapping[str, Any]) -> set[str]:
    return {str(note.get("code")) for note in row.get("notes") or ()}


def _check_backup_row(
    row: Mapping[str, Any], spec: ServerSpec, ours: Sequence[BackupRecord], limit: int
) -> str | None:
    """Why ``row`` is not the truth about ``spec``'s backup run, or None when it is; ``ours``
    are the backups the service accepted for the run on this server, oldest first."""
    status = row.get("status")
    error = row.get("error") or {}
    last = ours[-1] if ours else None
    if status == "Succeeded":
        if last is None or last.outcome != "Succeeded":
            return "reported Succeeded but the service has no succeeded backup of the run's"
        backup = row.get("backup") or {}
        if not backup and UNREADABLE_NOTE in _codes(row):
            return None  # succeeded, and the row says its resource could not be read
        if str(backup.get("id", "")).lower() != last.resource_id.lower():
            return f"reported backup {backup.get('id')}, the service made {last.resource_id}"
        if str(backup.get("provisioningState", "")).lower() not in BACKUP_DONE_STATES:
            return f"Succeeded with provisioningState {backup.get('provisioningState')}"
        completed = _at(backup.get("completedTime"))
        if completed is None or abs(completed - last.ends_at) > 0.001:
            return f"completedTime {backup.get('completedTime')} is not when the backup ended"
        return None
    if status == "Failed":
        if last is not None:
            if last.outcome == "Succeeded":
                return f"reported Failed ({error.get('code')}) but the backup Succeeded"
            codes = {last.error_code}
            if last.answer in RESOURCE_ONLY_ANSWERS:
                codes.add(NO_ERROR_CODES.get(last.outcome))
            if error.get("code") not in codes:
                return (
                    f"Failed with {error.get('code')}, the service said {last.error_code} "
                    f"(its PUT answered {last.answer})"
                )
            return None
        if spec.state == "Ready" and spec.on_demand_backups >= limit:
            if error.get("code") != LIMIT_CODE:
                return f"at the backup limit, but Failed with {error.get('code')}"
            return None
        return _unanswered(error)
    if status == "Skipped":
        return _skipped(bool(ours), spec, "backed up")
    return f"unexpected state {status} ({error.get('code')})"


def judge_backups(
    report: Mapping[str, Any],
    scope: Iterable[ServerSpec],
    backups: Iterable[BackupRecord],
    first_sequence: int,
    limit: int = DEFAULT_BACKUP_LIMIT,
) -> BackupVerdict:
    """Compare a backup run's ``report`` with its ``scope`` and the emulator's backups.

    The run's backups are those the service accepted from ``first_sequence`` on
    (``BackupRecord.sequence``, counted before the run was requested); the ones before are
    someone else's. For every server of the scope:

    * exactly one row, and every row a server of the scope; the summary names the operation;
    * **Succeeded** only if the last backup the run started there succeeded, and the row names
      that backup resource (its id, which may differ from the name asked for), its
      ``completedTime`` and a finished ``provisioningState`` ("Succeeded" or the examples'
      "Ready"); or, when the row notes ``BackupResourceUnavailable``, without those;
    * **Failed** with a backup only with that backup's own error code (or, when its PUT was
      answered with the resource, which carries no error, with the app's ``BackupFailed``);
      without one, only with an answer of the service (an HTTP status) or a transport failure,
      and with ``OnDemandBackupLimitExceeded`` for a server that was at its limit;
    * **Skipped** only for a server not Ready, with no backup;
    * **nothing lost**: every backup the run started is on a row that names its backup name;
    * **duplicates**: the service starts a second backup of one name only after the first ended
      Failed or Canceled (a repeat of a running or succeeded one is answered from it), so a
      resubmission after a lost answer can only *replace* a failed backup. Replacements are
      counted with whether the row's ``SubmissionUnanswered`` note tells of them (it cannot
      when the host ran the activity twice within one call); a second backup beside one that
      did not fail is a duplicate.
    """
    verdict = BackupVerdict()
    specs = {s.resource_id.lower(): s for s in scope}
    records = _by_server(backups)
    rows = _rows_by_server(report, specs, verdict, "outside the run's scope")
    for key, spec in sorted(specs.items()):
        history: list[BackupRecord] = records.get(key, [])
        ours = [r for r in history if r.sequence >= first_sequence]
        verdict.foreign_backups += len(history) - len(ours)
        verdict.backups_accepted += len(ours)
        verdict.backups_failed += sum(r.outcome != "Succeeded" for r in ours)
        verdict.by_answer.update(r.answer for r in ours)
        row = _the_row(spec, rows.get(key, []), verdict, "backed it up" if ours else None)
        if row is None:
            continue
        expected = spec.forbidden or spec.on_demand_backups >= limit
        if row.get("status") == "Failed" and not ours and spec.state == "Ready" and not expected:
            verdict.gave_up.append((spec.name, str((row.get("error") or {}).get("code"))))
        strangers = [r.asked_name for r in ours if r.asked_name != row.get("backupName")]
        if strangers:
            verdict.lost.append(f"{spec.name}: the service's backup {strangers[0]} is not reported")
            continue
        if len(ours) > 1:
            if any(r.outcome == "Succeeded" for r in ours[:-1]):
                verdict.duplicates.append((spec.name, len(ours)))
            else:
                verdict.replaced.append((spec.name, len(ours), UNANSWERED_NOTE in _codes(row)))
        _judged(verdict, spec, _check_backup_row(row, spec, ours, limit))
    summary = _summary_counted(report, verdict)
    if summary.get("operation") != "backup":
        verdict.mismatches.append(f"the summary says operation {summary.get('operation')!r}")
    return verdict

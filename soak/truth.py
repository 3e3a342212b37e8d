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

TRANSPORT_CODES = frozenset({"ConnectionError", "Timeout", "RequestError"})


@dataclass
class Verdict:
    """What the comparison found; ``ok`` when every row is the truth and nothing is lost."""

    servers: int = 0
    rows: int = 0
    by_state: Counter[str] = field(default_factory=Counter)
    failed_by_code: Counter[str] = field(default_factory=Counter)
    matched: int = 0
    exports_accepted: int = 0
    exports_failed: int = 0
    repeats_absorbed: int = 0
    foreign_exports: int = 0
    gave_up: list[tuple[str, str]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    double_reported: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.double_reported or self.duplicates or self.mismatches)


def _name(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


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
        if not isinstance(error.get("status"), int) and error.get("code") not in TRANSPORT_CODES:
            return f"Failed with {error.get('code')}, not an answer of the service"
        return None
    if status == "Skipped":
        if ours or spec.state == "Ready":
            return f"Skipped although {'exported' if ours else 'Ready'}"
        return None
    return f"unexpected state {status} ({error.get('code')})"


def judge(
    report: Mapping[str, Any], fleet: Iterable[ServerSpec], exports: Iterable[ExportRecord]
) -> Verdict:
    """Compare ``report`` with the fleet and the ground truth (see the module docstring)."""
    verdict = Verdict()
    specs = {s.resource_id.lower(): s for s in fleet}
    verdict.servers = len(specs)
    records: dict[str, list[ExportRecord]] = {}
    for record in exports:
        records.setdefault(record.server_id.lower(), []).append(record)
    rows: dict[str, list[Mapping[str, Any]]] = {}
    for row in report.get("servers", []):
        rows.setdefault(str(row.get("id", "")).lower(), []).append(row)
        verdict.rows += 1
    for key in rows.keys() - specs.keys():
        verdict.mismatches.append(f"{_name(key)}: a row for a server that does not exist")
    run_names = {str(r.get("backupName")) for found in rows.values() for r in found}
    for key, spec in sorted(specs.items()):
        found = rows.get(key, [])
        history = records.get(key, [])
        ours = [r for r in history if r.backup_name in run_names]
        accepted = [r for r in ours if not r.duplicate]
        verdict.exports_accepted += len(accepted)
        verdict.exports_failed += sum(r.outcome == "Failed" for r in accepted)
        verdict.repeats_absorbed += sum(r.duplicate for r in ours)
        verdict.foreign_exports += sum(not r.duplicate for r in history) - len(accepted)
        if len(accepted) > 1:
            verdict.duplicates.append((spec.name, len(accepted)))
        if not found:
            verdict.lost.append(
                f"{spec.name}: no row" + (" although the service exported it" if accepted else "")
            )
            continue
        if len(found) > 1:
            verdict.double_reported.append(f"{spec.name}: {len(found)} rows")
            continue
        row = found[0]
        verdict.by_state[str(row.get("status"))] += 1
        error = row.get("error") or {}
        if row.get("status") == "Failed":
            verdict.failed_by_code[str(error.get("code"))] += 1
            if not accepted and spec.state == "Ready" and not spec.forbidden:
                verdict.gave_up.append((spec.name, str(error.get("code"))))
        if accepted and row.get("backupName") != accepted[-1].backup_name:
            verdict.lost.append(f"{spec.name}: the service's export is not the one reported")
            continue
        why = _check_row(row, spec, history)
        if why is None:
            verdict.matched += 1
        else:
            verdict.mismatches.append(f"{spec.name}: {why}")
    summary = report.get("summary") or {}
    if summary.get("total") != verdict.rows:
        verdict.mismatches.append(f"summary total {summary.get('total')} != {verdict.rows} rows")
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
class BackupVerdict:
    """What the comparison of a backup run's report with the emulator's backups found."""

    servers: int = 0
    rows: int = 0
    by_state: Counter[str] = field(default_factory=Counter)
    failed_by_code: Counter[str] = field(default_factory=Counter)
    matched: int = 0
    backups_accepted: int = 0
    backups_failed: int = 0
    #: The run's backups by how their PUT was answered (``BackupRecord.answer``).
    by_answer: Counter[str] = field(default_factory=Counter)
    foreign_backups: int = 0
    #: Servers whose failed backup of the run's name was replaced by a resubmission of that
    #: name: (server, backups, whether the row's note tells of a lost answer).
    replaced: list[tuple[str, int, bool]] = field(default_factory=list)
    gave_up: list[tuple[str, str]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    double_reported: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, int]] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.double_reported or self.duplicates or self.mismatches)


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
        if not isinstance(error.get("status"), int) and error.get("code") not in TRANSPORT_CODES:
            return f"Failed with {error.get('code')}, not an answer of the service"
        return None
    if status == "Skipped":
        if ours or spec.state == "Ready":
            return f"Skipped although {'backed up' if ours else 'Ready'}"
        return None
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
    verdict.servers = len(specs)
    records: dict[str, list[BackupRecord]] = {}
    for record in backups:
        records.setdefault(record.server_id.lower(), []).append(record)
    rows: dict[str, list[Mapping[str, Any]]] = {}
    for row in report.get("servers", []):
        rows.setdefault(str(row.get("id", "")).lower(), []).append(row)
        verdict.rows += 1
    for key in rows.keys() - specs.keys():
        verdict.mismatches.append(f"{_name(key)}: a row for a server outside the run's scope")
    for key, spec in sorted(specs.items()):
        found = rows.get(key, [])
        history = records.get(key, [])
        ours = [r for r in history if r.sequence >= first_sequence]
        verdict.foreign_backups += len(history) - len(ours)
        verdict.backups_accepted += len(ours)
        verdict.backups_failed += sum(r.outcome != "Succeeded" for r in ours)
        verdict.by_answer.update(r.answer for r in ours)
        if not found:
            verdict.lost.append(
                f"{spec.name}: no row" + (" although the service backed it up" if ours else "")
            )
            continue
        if len(found) > 1:
            verdict.double_reported.append(f"{spec.name}: {len(found)} rows")
            continue
        row = found[0]
        verdict.by_state[str(row.get("status"))] += 1
        error = row.get("error") or {}
        if row.get("status") == "Failed":
            verdict.failed_by_code[str(error.get("code"))] += 1
            expected = spec.forbidden or spec.on_demand_backups >= limit
            if not ours and spec.state == "Ready" and not expected:
                verdict.gave_up.append((spec.name, str(error.get("code"))))
        strangers = [r.asked_name for r in ours if r.asked_name != row.get("backupName")]
        if strangers:
            verdict.lost.append(f"{spec.name}: the service's backup {strangers[0]} is not reported")
            continue
        if len(ours) > 1:
            if any(r.outcome == "Succeeded" for r in ours[:-1]):
                verdict.duplicates.append((spec.name, len(ours)))
            else:
                verdict.replaced.append((spec.name, len(ours), UNANSWERED_NOTE in _codes(row)))
        why = _check_backup_row(row, spec, ours, limit)
        if why is None:
            verdict.matched += 1
        else:
            verdict.mismatches.append(f"{spec.name}: {why}")
    summary = report.get("summary") or {}
    if summary.get("total") != verdict.rows:
        verdict.mismatches.append(f"summary total {summary.get('total')} != {verdict.rows} rows")
    if summary.get("operation") != "backup":
        verdict.mismatches.append(f"the summary says operation {summary.get('operation')!r}")
    return verdict

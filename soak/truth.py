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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from armemulator import ExportRecord, ServerSpec

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

"""``python -m soak``: run the soak, compare with ground truth, print the figures.

    python -m soak                          # 500 servers, the default faults (make soak)
    python -m soak --servers 2000 --seed 9  # bigger, another draw of the dice
    python -m soak --record-histories tests/reliability/histories   # the determinism fixtures

After the export run, a backup run (on-demand backups) over half the fleet's resource groups
is judged the same way (``--backup-groups 0`` leaves it out). Exit status 0 when every row of
both runs is the truth, nothing is lost and nothing leaked; 1 otherwise. The figures are also
written as JSON (``--json``, default ``reports/soak.json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from soak.backups import BackupRun
from soak.harness import SoakConfig, SoakResult, run_soak
from soak.histories import RECORDING, record
from soak.truth import BackupVerdict, RowVerdict, Verdict, judge, judge_backups

ARM_KINDS = (
    "backup_and_export",
    "async_operation",
    "operation_status",
    "list_servers",
    "validate_backup",
    "get_server",
)
#: The requests of a backup run: PUT, polls of its operation, GETs and lists of backups.
BACKUP_KINDS = (
    "create_backup",
    "backup_operation_status",
    "backup_async_operation",
    "get_backup",
    "list_backups",
    "list_servers",
    "list_servers_by_resource_group",
    "get_server",
)


def truth_figures(verdict: RowVerdict) -> dict[str, Any]:
    """What every run's comparison with the ground truth found, as JSON."""
    return {
        "servers": verdict.servers,
        "rows": verdict.rows,
        "byState": dict(verdict.by_state),
        "failedByCode": dict(verdict.failed_by_code),
        "rowsEqualToTruth": verdict.matched,
        "lost": verdict.lost,
        "reportedTwice": verdict.double_reported,
        "mismatches": verdict.mismatches,
        "gaveUpAfterTransientErrors": [{"server": s, "code": c} for s, c in verdict.gave_up],
    }


def backup_figures(run: BackupRun, verdict: BackupVerdict) -> dict[str, Any]:
    """The backup run's figures, as JSON."""
    counters = run.counters
    by_status = counters.by_status(BACKUP_KINDS)
    return {
        "runId": run.run_id,
        "resourceGroups": run.groups,
        "answersByPhase": run.answers,
        "realSeconds": round(run.real_seconds, 1),
        "virtualHours": round(run.virtual_seconds / 3600, 2),
        "arm": {
            "requests": sum(counters.requests.get(kind, 0) for kind in BACKUP_KINDS),
            "requestsByKind": {k: counters.requests.get(k, 0) for k in BACKUP_KINDS},
            "responsesByStatus": {str(k): v for k, v in sorted(by_status.items())},
            "faultsInjected": dict(counters.faults),
            "throttled": sum(counters.throttled.values()),
            "conflicts409": by_status.get(409, 0),
            "foreignBackups": verdict.foreign_backups,
            "serversAtTheLimit": run.limit_servers,
            "backupsAccepted": verdict.backups_accepted,
            "backupsByAnswer": {a: verdict.by_answer[a] for a in run.answers},
            "backupsFailed": verdict.backups_failed,
            "repeatsAnsweredWithTheExistingBackup": counters.duplicate_backups,
            "peakBackupsRunning": counters.peak_backups_running,
            "foreignHostRequests": counters.foreign_host_requests,
        },
        "host": {
            "restarts": run.restarts,
            "activityRuns": run.activity_runs,
            "activityResultsLost": run.crashes,
        },
        "truth": {
            **truth_figures(verdict),
            "duplicateBackups": [{"server": s, "backups": n} for s, n in verdict.duplicates],
            "failedBackupsReplaced": [
                {"server": s, "backups": n, "noted": noted} for s, n, noted in verdict.replaced
            ],
        },
        "passed": verdict.ok,
    }


def figures(
    result: SoakResult, verdict: Verdict, backup_verdict: BackupVerdict | None = None
) -> dict[str, Any]:
    """Everything printed, as JSON (the backup run judged here unless ``backup_verdict``)."""
    backup: dict[str, Any] | None = None
    if result.backup is not None:
        run = result.backup
        if backup_verdict is None:
            backup_verdict = judge_backups(run.report, run.scope, run.backups, run.first_sequence)
        backup = backup_figures(run, backup_verdict)
    counters = result.counters
    arm_requests = sum(counters.requests.get(kind, 0) for kind in ARM_KINDS)
    by_status: Counter[int] = Counter()
    for (kind, status), count in counters.responses.items():
        if kind in ARM_KINDS:
            by_status[status] += count
    return {
        "config": dataclasses.asdict(result.config),
        "realSeconds": round(result.real_seconds, 1),
        "virtualHours": round(result.virtual_seconds / 3600, 2),
        "arm": {
            "requests": arm_requests,
            "responsesByStatus": {str(k): v for k, v in sorted(by_status.items())},
            "faultsInjected": dict(counters.faults),
            "throttled": sum(counters.throttled.values()),
            "conflicts409": by_status.get(409, 0),
            "foreignExports": verdict.foreign_exports,
            "exportsAccepted": verdict.exports_accepted,
            "exportsFailed": verdict.exports_failed,
            "foreignHostRequests": counters.foreign_host_requests,
        },
        "host": {
            "restarts": result.restarts,
            "activityRuns": result.host_stats.activities_run,
            "activityResultsLost": result.crashes,
            "orchestrations": result.host_stats.instances,
            "episodes": result.host_stats.episodes,
            "timersFired": result.host_stats.timers_fired,
            "longestHistory": result.host_stats.max_history_length,
        },
        "truth": {
            **truth_figures(verdict),
            "duplicateExports": [{"server": s, "exports": n} for s, n in verdict.duplicates],
            "repeatsAnsweredWithTheExistingExport": verdict.repeats_absorbed,
        },
        "credentials": {
            "logRecordsScanned": result.log_records,
            "bytesScanned": result.scanned_bytes,
            "findings": [dataclasses.asdict(f) for f in result.findings],
        },
        "backup": backup,
        "passed": verdict.ok and not result.findings and (backup is None or backup["passed"]),
    }


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _fault_lines(arm: dict[str, Any], requests: int) -> list[str]:
    """The injected faults and ARM's own refusals, as every run's figures show them."""
    faults = arm["faultsInjected"]
    errors = faults.get("error_500", 0) + faults.get("error_503", 0)
    return [
        f"  500 / 503 injected      {faults.get('error_500', 0)} / {faults.get('error_503', 0)}"
        f"  ({_pct(errors, requests)})",
        f"  connection resets       {faults.get('connection_reset', 0)}"
        f"  ({_pct(faults.get('connection_reset', 0), requests)})",
        f"  429 throttled           {arm['throttled']}",
    ]


def _host_lines(host: dict[str, Any]) -> list[str]:
    return [
        f"  activity results lost   {host['activityResultsLost']} of {host['activityRuns']} runs"
        f"  ({_pct(host['activityResultsLost'], host['activityRuns'])})",
        f"  host restarts           {host['restarts']}",
    ]


def _truth_lines(truth: dict[str, Any]) -> list[str]:
    """The comparison with the ground truth (``truth_figures``), as lines."""
    states = ", ".join(f"{k} {v}" for k, v in sorted(truth["byState"].items()))
    codes = ", ".join(f"{k} {v}" for k, v in sorted(truth["failedByCode"].items()))
    return [
        f"  rows                    {truth['rows']} for {truth['servers']} servers: {states}",
        f"  Failed, by code         {codes or '-'}",
        f"  rows equal to truth     {truth['rowsEqualToTruth']} / {truth['servers']}",
        f"  lost                    {len(truth['lost'])}",
        f"  reported twice          {len(truth['reportedTwice'])}",
        f"  wrong                   {len(truth['mismatches'])}",
    ]


def _listed(prefix: str, groups: list[tuple[str, list[Any]]]) -> list[str]:
    """Each non-empty group's items (the first 50), under its title."""
    lines: list[str] = []
    for title, items in groups:
        if items:
            lines += ["", f"{prefix}{title}:", *(f"  {item}" for item in items[:50])]
    return lines


def render(data: dict[str, Any]) -> str:
    """The figures as a few lines of text."""
    arm, host, truth, creds = data["arm"], data["host"], data["truth"], data["credentials"]
    requests = arm["requests"]
    lines = [
        f"soak: {truth['servers']} servers, seed {data['config']['seed']}: "
        f"{data['realSeconds']} s in all; the export run {data['virtualHours']} h of emulated time",
        "",
        "faults",
        f"  ARM requests            {requests}",
        *_fault_lines(arm, requests),
        f"  409 conflicts           {arm['conflicts409']}"
        f"  ({arm['foreignExports']} servers busy with a foreign export at the start)",
        f"  exports ended Failed    {arm['exportsFailed']} of {arm['exportsAccepted']}"
        f"  ({_pct(arm['exportsFailed'], arm['exportsAccepted'])})",
        *_host_lines(host),
        "",
        "report vs ground truth",
        *_truth_lines(truth),
        f"  exports accepted        {arm['exportsAccepted']}",
        f"  duplicate exports       {len(truth['duplicateExports'])}",
        f"  repeats absorbed        {truth['repeatsAnsweredWithTheExistingExport']}"
        "  (resubmissions after a lost answer, answered with the export already made)",
        f"  gave up (transient)     {len(truth['gaveUpAfterTransientErrors'])}",
        "",
        "credentials",
        f"  scanned                 {creds['bytesScanned']:,} bytes of store and answers, "
        f"{creds['logRecordsScanned']:,} log records at DEBUG",
        f"  SAS signatures, tokens  {len(creds['findings'])} found",
        f"  requests to a foreign host {arm['foreignHostRequests']}",
        "",
        "host",
        f"  orchestrations {host['orchestrations']}, episodes {host['episodes']}, "
        f"timers {host['timersFired']}, longest history {host['longestHistory']} events",
    ]
    lines += _listed(
        "",
        [
            ("lost", truth["lost"]),
            ("reported twice", truth["reportedTwice"]),
            ("wrong", truth["mismatches"]),
            ("duplicate exports", truth["duplicateExports"]),
            ("gave up", truth["gaveUpAfterTransientErrors"]),
            ("leaks", creds["findings"]),
        ],
    )
    if data.get("backup"):
        lines += ["", *render_backup(data["backup"])]
    lines += ["", "PASS" if data["passed"] else "FAIL"]
    return "\n".join(lines)


def render_backup(data: dict[str, Any]) -> list[str]:
    """The backup run's figures as lines of text."""
    arm, host, truth = data["arm"], data["host"], data["truth"]
    requests = arm["requests"]
    kinds = arm["requestsByKind"]
    replaced = truth["failedBackupsReplaced"]
    noted = sum(1 for item in replaced if item["noted"])
    lines = [
        f"backup run (on-demand backups): {truth['servers']} servers of "
        f"{len(data['resourceGroups'])} resource groups, {data['virtualHours']} h of emulated "
        f"time in {data['realSeconds']} s",
        "  PUT answered, by phase  "
        + ", ".join(f"{a} ({arm['backupsByAnswer'].get(a, 0)})" for a in data["answersByPhase"]),
        f"  ARM requests            {requests}: PUT {kinds['create_backup']}, operation polls "
        f"{kinds['backup_operation_status'] + kinds['backup_async_operation']}, "
        f"backup GETs {kinds['get_backup']}, server lists "
        f"{kinds['list_servers'] + kinds['list_servers_by_resource_group']}",
        *_fault_lines(arm, requests),
        f"  409 conflicts           {arm['conflicts409']}"
        f"  ({arm['foreignBackups']} foreign backups running at the run's first PUTs)",
        f"  at the backup limit     {len(arm['serversAtTheLimit'])} servers",
        f"  backups ended Failed    {arm['backupsFailed']} of {arm['backupsAccepted']}"
        f"  ({_pct(arm['backupsFailed'], arm['backupsAccepted'])})",
        *_host_lines(host),
        "",
        "backup run vs ground truth",
        *_truth_lines(truth),
        f"  backups accepted        {arm['backupsAccepted']}",
        f"  duplicate backups       {len(truth['duplicateBackups'])}",
        f"  failed backups replaced {len(replaced)}  ({noted} told by the row's note)",
        f"  repeats absorbed        {arm['repeatsAnsweredWithTheExistingBackup']}"
        "  (resubmissions answered with the backup already made or running)",
        f"  gave up (transient)     {len(truth['gaveUpAfterTransientErrors'])}",
        f"  requests to a foreign host {arm['foreignHostRequests']}",
    ]
    return lines + _listed(
        "backup run: ",
        [
            ("lost", truth["lost"]),
            ("reported twice", truth["reportedTwice"]),
            ("wrong", truth["mismatches"]),
            ("duplicate backups", truth["duplicateBackups"]),
            ("failed backups replaced", replaced),
            ("gave up", truth["gaveUpAfterTransientErrors"]),
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__.split("\n")[0])
    parser.add_argument("--servers", type=int, default=SoakConfig.servers)
    parser.add_argument("--seed", type=int, default=SoakConfig.seed)
    parser.add_argument("--restarts", type=int, default=SoakConfig.restarts)
    parser.add_argument(
        "--backup-groups",
        type=int,
        default=SoakConfig.backup_groups,
        help="resource groups (of 10) the backup run covers; 0: no backup run",
    )
    parser.add_argument("--json", type=Path, default=Path("reports/soak.json"))
    parser.add_argument(
        "--record-histories",
        type=Path,
        metavar="DIR",
        help="run the small recording soak and save its histories to DIR (test fixtures)",
    )
    args = parser.parse_args(argv)
    if args.record_histories:
        config = RECORDING
    else:
        config = SoakConfig(
            servers=args.servers,
            seed=args.seed,
            restarts=args.restarts,
            backup_groups=args.backup_groups,
        )
    result = run_soak(config, keep_store=bool(args.record_histories))
    verdict = judge(result.report, result.fleet, result.exports)
    data = figures(result, verdict)
    print(render(data))
    if args.record_histories and data["passed"] and result.store is not None:
        for path in record(result.store, result.run_id, args.record_histories, config):
            print(f"recorded {path}")
    if not args.record_histories:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0 if data["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""The soak's judge of a backup run catches every way its report can lie about the backups.

``soak.truth.judge_backups`` compares a backup run's report with the emulator's backups (ground
truth); here it is shown the truth and each kind of lie. The harness itself (the backup run
after the export run, every fault, restarts) runs in ``test_soak.py``'s small soak and in
``make soak``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from armemulator import DEFAULT_BACKUP_LIMIT, BackupRecord, ServerSpec
from armemulator.representations import iso
from soak.truth import judge_backups

SUB = "ffffffff-ffff-ffff-ffff-ffffffffffff"
A = ServerSpec(SUB, "rg", "a")
B = ServerSpec(SUB, "rg", "b")
STOPPED = ServerSpec(SUB, "rg", "c", state="Stopped")
FULL = ServerSpec(SUB, "rg", "d", on_demand_backups=DEFAULT_BACKUP_LIMIT)
LOCKED = ServerSpec(SUB, "rg", "e", forbidden=True)
SCOPE = (A, B, STOPPED, FULL, LOCKED)
#: Backups from this sequence on are the run's; the foreign one before it is not.
FIRST = 10


def record(spec: ServerSpec, sequence: int, outcome: str = "Succeeded", **kw: Any) -> BackupRecord:
    asked = kw.pop("asked_name", f"{spec.name}-1")
    values: dict[str, Any] = {
        "sequence": sequence,
        "operation_id": f"op-{sequence}",
        "subscription": SUB,
        "resource_group": spec.resource_group,
        "server_name": spec.name,
        "server_id": spec.resource_id,
        "location": "eastus",
        "asked_name": asked,
        "name": f"customer_20270115t080000_guid_{asked}",
        "source": "OnDemand",
        "automatic": False,
        "preexisting": False,
        "api_version": "2024-12-30",
        "principal": "p",
        "answer": "location",
        "submitted_at": 1000.0,
        "ends_at": 1600.0,
        "planned_seconds": 600.0,
        "outcome": outcome,
        "error_code": {"Failed": "OnDemandBackupFailed", "Canceled": "OperationCanceled"}.get(
            outcome
        ),
    }
    values.update(kw)
    return BackupRecord(**values)


def row(spec: ServerSpec, status: str, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": spec.resource_id, "status": status, "backupName": f"{spec.name}-1"}
    out.update(kw)
    return out


def succeeded(spec: ServerSpec, made: BackupRecord, **kw: Any) -> dict[str, Any]:
    backup = {
        "id": made.resource_id,
        "name": made.name,
        "completedTime": iso(made.ends_at),
        "backupType": "FULL",
        "source": "OnDemand",
        "provisioningState": "Ready",
    }
    backup.update(kw)
    return row(spec, "Succeeded", backup=backup)


def report(*rows: dict[str, Any], operation: str = "backup") -> dict[str, Any]:
    return {"servers": list(rows), "summary": {"total": len(rows), "operation": operation}}


FOREIGN = record(B, 3, asked_name="manual-b", answer="location")
MADE_A = record(A, FIRST)
FAILED_B = record(B, FIRST + 1, "Failed")
TRUTH = [FOREIGN, MADE_A, FAILED_B]
ROWS = {
    "a": succeeded(A, MADE_A),
    "b": row(B, "Failed", error={"code": "OnDemandBackupFailed"}),
    "c": row(STOPPED, "Skipped", backupName=None, error={"code": "ServerStateNotAllowed"}),
    "d": row(
        FULL,
        "Failed",
        error={"code": "OnDemandBackupLimitExceeded", "status": 400},
        notes=[{"code": "SubmissionOutcomeUnknown"}],
    ),
    "e": row(LOCKED, "Failed", error={"code": "AuthorizationFailed", "status": 403}),
}


def with_rows(**changed: dict[str, Any] | None) -> dict[str, Any]:
    rows = {**ROWS, **changed}
    return report(*(r for r in rows.values() if r is not None))


def test_the_truth_passes() -> None:
    verdict = judge_backups(report(*ROWS.values()), SCOPE, TRUTH, FIRST)
    assert verdict.ok, verdict.mismatches + verdict.lost
    assert verdict.matched == verdict.servers == 5
    assert (verdict.backups_accepted, verdict.backups_failed, verdict.foreign_backups) == (2, 1, 1)
    assert verdict.by_answer == {"location": 2}
    assert verdict.gave_up == []  # the limit and the refused identity are not giving up


LIES: dict[str, tuple[dict[str, Any], list[BackupRecord]]] = {
    "lost": (with_rows(a=None), TRUTH),
    "twice": (report(*ROWS.values(), ROWS["a"]), TRUTH),
    "succeeded-but-failed": (with_rows(b=succeeded(B, FAILED_B)), TRUTH),
    "failed-but-succeeded": (
        with_rows(a=row(A, "Failed", error={"code": "ServiceUnavailable", "status": 503})),
        TRUTH,
    ),
    "wrong-code": (with_rows(b=row(B, "Failed", error={"code": "Oops"})), TRUTH),
    "no-code-where-arm-gave-one": (
        with_rows(b=row(B, "Failed", error={"code": "BackupFailed"})),
        TRUTH,
    ),
    "not-the-service": (
        with_rows(b=row(B, "Failed", error={"code": "ActivityFailed"})),
        [FOREIGN, MADE_A],
    ),
    "another-resource": (
        with_rows(a=succeeded(A, MADE_A, id=f"{A.resource_id}/backupsV2/a-1")),
        TRUTH,
    ),
    "not-finished": (with_rows(a=succeeded(A, MADE_A, provisioningState="Creating")), TRUTH),
    "completed-at-another-time": (
        with_rows(a=succeeded(A, MADE_A, completedTime=iso(MADE_A.ends_at + 60))),
        TRUTH,
    ),
    "the-foreign-backup-reported": (with_rows(b=succeeded(B, FOREIGN)), TRUTH),
    "limit-as-something-else": (
        with_rows(d=row(FULL, "Failed", error={"code": "InternalServerError", "status": 500})),
        TRUTH,
    ),
    "skipped-but-ready": (with_rows(a=row(A, "Skipped")), [FOREIGN, FAILED_B]),
    "timed-out": (with_rows(a=row(A, "TimedOut")), TRUTH),
    "stranger": (
        report(*ROWS.values(), row(ServerSpec(SUB, "other", "z"), "Skipped")),
        TRUTH,
    ),
    "unreported-backup": (with_rows(), [*TRUTH, record(A, FIRST + 5, asked_name="a-2")]),
    "an-export-report": (report(*ROWS.values(), operation="export"), TRUTH),
}


@pytest.mark.parametrize("name", sorted(LIES))
def test_each_lie_is_caught(name: str) -> None:
    lie, truth = LIES[name]
    assert not judge_backups(lie, SCOPE, truth, FIRST).ok


def test_a_failed_backup_answered_with_the_resource_may_have_no_code_of_arms() -> None:
    """A 201 or 200 answers with the backup resource, which has no error: the row cannot carry
    ARM's code, and says the backup ended Failed with none."""
    created = dataclasses.replace(FAILED_B, answer="created")
    plain = with_rows(b=row(B, "Failed", error={"code": "BackupFailed"}))
    assert judge_backups(plain, SCOPE, [FOREIGN, MADE_A, created], FIRST).ok


def test_a_replaced_failed_backup_is_counted_and_a_second_success_is_a_duplicate() -> None:
    again = record(B, FIRST + 2, replaces=FAILED_B.sequence)
    noted = succeeded(B, again) | {"notes": [{"code": "SubmissionUnanswered"}]}
    verdict = judge_backups(with_rows(b=noted), SCOPE, [*TRUTH, again], FIRST)
    assert verdict.ok and verdict.replaced == [("b", 2, True)] and not verdict.duplicates

    second = record(A, FIRST + 3)
    verdict = judge_backups(report(*ROWS.values()), SCOPE, [*TRUTH, second], FIRST)
    assert verdict.duplicates == [("a", 2)] and not verdict.ok


def test_a_succeeded_backup_whose_resource_could_not_be_read_says_so() -> None:
    unread = row(A, "Succeeded", notes=[{"code": "BackupResourceUnavailable"}])
    assert judge_backups(with_rows(a=unread), SCOPE, TRUTH, FIRST).ok
    assert not judge_backups(with_rows(a=row(A, "Succeeded")), SCOPE, TRUTH, FIRST).ok


def test_a_small_soak_judges_its_backup_run_too() -> None:
    """The backup run after the export run: the same host and store, faults, lost activity
    results and restarts, servers at their limit and foreign backups in the way, a PUT answered
    another way in each phase; every row the truth, and still no credential anywhere."""
    from soak import SoakConfig, run_soak  # noqa: PLC0415 - the harness, only here
    from soak.__main__ import figures, render  # noqa: PLC0415
    from soak.truth import judge  # noqa: PLC0415
    from tests.waits import HANG_SECONDS  # noqa: PLC0415

    config = SoakConfig(
        servers=40,
        seed=5,
        forbidden_fraction=0.05,
        activity_crash=0.05,
        restarts=1,
        backup_groups=10,
        backup_conflicts=0.05,
        backup_limit_share=0.05,
        backup_fail_rate=0.1,
        max_concurrency=10,
        shard_size=10,
        timeout_seconds=HANG_SECONDS,
    )
    result = run_soak(config)
    run = result.backup
    assert run is not None
    verdict = judge_backups(run.report, run.scope, run.backups, run.first_sequence)
    data = figures(result, judge(result.report, result.fleet, result.exports), verdict)
    assert data["passed"], render(data)
    assert verdict.matched == verdict.servers == 40
    assert run.restarts == config.backup_restarts and run.crashes > 0
    assert run.limit_servers and run.conflict_servers
    assert data["backup"]["arm"]["conflicts409"] > 0 and sum(run.counters.faults.values()) > 0
    assert verdict.failed_by_code["OnDemandBackupLimitExceeded"] == len(run.limit_servers)
    assert set(run.answers) == {"completed", "location", "async-operation", "created"}
    assert result.findings == [] and "backup run vs ground truth" in render(data)

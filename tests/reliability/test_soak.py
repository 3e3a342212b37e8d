"""The soak's judge catches every way a report can lie, and a small soak passes it.

``make soak`` runs 500 servers; here a fleet of 40 goes through the same harness (every fault,
crashes, host restarts) so the harness cannot rot, and the judge is shown each kind of lie.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from armemulator import ExportRecord, ServerSpec
from soak import SoakConfig, judge, run_soak
from soak.__main__ import figures, render
from tests.waits import HANG_SECONDS

SUB = "ffffffff-ffff-ffff-ffff-ffffffffffff"
A = ServerSpec(SUB, "rg", "a")
B = ServerSpec(SUB, "rg", "b")
STOPPED = ServerSpec(SUB, "rg", "c", state="Stopped")


def record(spec: ServerSpec, name: str, outcome: str = "Succeeded", **kw: Any) -> ExportRecord:
    values: dict[str, Any] = {
        "sequence": 0,
        "operation_id": "op",
        "subscription": SUB,
        "resource_group": spec.resource_group,
        "server_name": spec.name,
        "server_id": spec.resource_id,
        "location": "eastus",
        "backup_name": name,
        "backup_format": None,
        "api_version": "2024-12-30",
        "principal": "p",
        "sas_uri_count": 1,
        "containers": (),
        "datasource_size_bytes": spec.datasource_size_bytes,
        "submitted_at": 0.0,
        "started_at": 5.0,
        "ends_at": 60.0,
        "planned_seconds": 55.0,
        "outcome": outcome,
        "error_code": "AggregateException" if outcome == "Failed" else None,
    }
    values.update(kw)
    return ExportRecord(**values)


def row(spec: ServerSpec, status: str, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": spec.resource_id, "status": status, "backupName": f"{spec.name}-1"}
    if status == "Succeeded":
        out["dataTransferredInBytes"] = spec.datasource_size_bytes
    out.update(kw)
    return out


def report(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"servers": list(rows), "summary": {"total": len(rows)}}


FLEET = (A, B, STOPPED)
TRUTH = [record(A, "a-1"), record(B, "b-1", "Failed")]
SKIPPED = row(STOPPED, "Skipped", backupName=None, error={"code": "ServerStateNotAllowed"})
FAILED_B = row(B, "Failed", error={"code": "AggregateException"})


def test_the_truth_passes() -> None:
    verdict = judge(report(row(A, "Succeeded"), FAILED_B, SKIPPED), FLEET, TRUTH)
    assert verdict.ok and verdict.matched == 3
    assert verdict.exports_accepted == 2 and verdict.exports_failed == 1


def test_each_lie_is_caught() -> None:
    lies = {
        "lost": report(row(A, "Succeeded"), SKIPPED),
        "twice": report(row(A, "Succeeded"), row(A, "Succeeded"), FAILED_B, SKIPPED),
        "succeeded-but-failed": report(row(A, "Succeeded"), row(B, "Succeeded"), SKIPPED),
        "wrong-code": report(
            row(A, "Succeeded"), row(B, "Failed", error={"code": "Oops"}), SKIPPED
        ),
        "failed-but-succeeded": report(
            row(A, "Failed", error={"code": "ServiceUnavailable", "status": 503}),
            FAILED_B,
            SKIPPED,
        ),
        "not-the-service": report(
            row(A, "Succeeded"), row(B, "Failed", error={"code": "ActivityFailed"}), SKIPPED
        ),
        "timed-out": report(row(A, "TimedOut"), FAILED_B, SKIPPED),
        "bytes": report(row(A, "Succeeded", dataTransferredInBytes=1), FAILED_B, SKIPPED),
        "stranger": report(
            row(A, "Succeeded"), FAILED_B, SKIPPED, row(ServerSpec(SUB, "x", "z"), "Succeeded")
        ),
    }
    truth_without_b = [TRUTH[0]]
    for name, lie in lies.items():
        truth = truth_without_b if name == "not-the-service" else TRUTH
        assert not judge(lie, FLEET, truth).ok, name


def test_a_later_export_by_someone_else_makes_succeeded_a_lie() -> None:
    later = dataclasses.replace(record(A, "manual"), sequence=2)
    verdict = judge(report(row(A, "Succeeded"), FAILED_B, SKIPPED), FLEET, [*TRUTH, later])
    assert verdict.mismatches and not verdict.ok


def test_duplicates_and_absorbed_repeats_are_counted() -> None:
    again = record(A, "a-1", duplicate=True)
    verdict = judge(report(row(A, "Succeeded"), FAILED_B, SKIPPED), FLEET, [*TRUTH, again])
    assert verdict.ok and verdict.repeats_absorbed == 1
    second = record(A, "a-1")  # a second real export of the same server in one run
    verdict = judge(report(row(A, "Succeeded"), FAILED_B, SKIPPED), FLEET, [*TRUTH, second])
    assert verdict.duplicates == [("a", 2)] and not verdict.ok


def test_a_small_soak_ends_with_the_truth_and_no_leak() -> None:
    config = SoakConfig(
        servers=40,
        seed=3,
        conflicts=0.05,
        forbidden_fraction=0.05,
        fail_rate=0.1,
        activity_crash=0.05,
        restarts=2,
        max_concurrency=10,
        shard_size=10,
        timeout_seconds=HANG_SECONDS,
    )
    result = run_soak(config)
    verdict = judge(result.report, result.fleet, result.exports)
    data = figures(result, verdict)
    assert data["passed"], render(data)
    assert verdict.matched == verdict.servers == 40
    assert result.restarts == 2 and result.crashes > 0
    assert sum(result.counters.faults.values()) > 0 and data["arm"]["conflicts409"] > 0
    assert result.log_records > 0 and result.findings == []
    assert "PASS" in render(data)

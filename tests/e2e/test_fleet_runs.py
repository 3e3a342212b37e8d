"""Fleet runs end to end: what a user or a Logic App sees, checked against ARM's ground truth."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from armemulator import Faults, ServerSpec, make_fleet
from armemulator.kinds import Kind
from devhost.indexing import FunctionKind
from orchestrators.server import CONTINUE_AS_NEW_POLLS
from tests.e2e.conftest import SAS, SIG, SUB, Stack, StackFactory, discover_body, server_id
from workflow import names as function_names


def rows_by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"].rsplit("/", 1)[1]: row for row in report["servers"]}


def test_discovered_fleet_ends_with_one_true_row_per_server(stack: Stack) -> None:
    report = stack.run(discover_body())
    rows = rows_by_name(report)
    fleet = {s.name: s for s in stack.emu.servers()}
    truth = {e.server_name: e for e in stack.emu.exports()}
    assert set(rows) == set(fleet)
    for name, spec in fleet.items():
        row = rows[name]
        if spec.state != "Ready":
            assert row["status"] == "Skipped" and row["error"]["code"] == "ServerStateNotAllowed"
            assert name not in truth
        elif spec.forbidden:
            assert row["status"] == "Failed" and row["error"]["code"] == "AuthorizationFailed"
        elif spec.number_of_containers > 1:
            assert row["error"]["code"] == "InsufficientStorageContainers"
        else:  # exported: the row says what the service really did
            assert row["status"] == truth[name].outcome, row
            assert row["backupName"] == truth[name].backup_name
            if truth[name].outcome == "Failed":
                assert row["error"]["code"] == truth[name].error_code == "AggregateException"
            else:
                assert row["dataTransferredInBytes"] == spec.datasource_size_bytes
                assert row["percentComplete"] == 100
    summary = report["summary"]
    assert summary["total"] == len(fleet)
    settled = ("succeeded", "failed", "skipped", "canceled", "timedOut")
    assert sum(summary[k] for k in settled) == len(fleet)
    assert summary["bytes"] == sum(
        r["dataTransferredInBytes"] for r in rows.values() if r["status"] == "Succeeded"
    )


def test_logic_apps_async_pattern_202_then_200_with_the_report(stack: Stack) -> None:
    stack.emu.add_server(ServerSpec(SUB, "TestGroup", "slow-one", export_seconds=3 * 3600))
    with stack.host.hold_clock():
        started = stack.start({"servers": [server_id("slow-one")], "target": {"sasUriList": [SAS]}})
        assert started.status_code == 202
        body = started.json()
        assert started.headers["Location"] == body["statusQueryGetUri"]
        running = stack.session.get(started.headers["Location"], timeout=10)
        assert (
            running.status_code == 202 and running.headers["Location"] == body["statusQueryGetUri"]
        )
        assert "Retry-After" in running.headers
    final = stack.follow(started.headers["Location"])
    assert final["output"]["summary"]["succeeded"] == 1


def test_bad_requests_are_refused_naming_fields_and_nothing_starts(stack: Stack) -> None:
    cases = [
        (b"{not json", "body"),
        (json.dumps({"servers": ["nope"], "target": {"sasUriList": [SAS]}}).encode(), "servers[0]"),
        (
            json.dumps(
                {"servers": [server_id("a")], "target": {"sasUriList": ["http://x/c?sig=1"]}}
            ).encode(),
            "target.sasUriList[0]",
        ),
        (
            json.dumps(
                {"servers": [server_id("a")], "target": {"sasUriList": [SAS]}, "maxConcurrency": 0}
            ).encode(),
            "maxConcurrency",
        ),
    ]
    for raw, field in cases:
        answer = stack.api(
            "POST", "exports", data=raw, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 400, answer.text
        targets = [d["target"] for d in answer.json()["error"]["details"]]
        assert field in targets
        assert SIG not in answer.text
    assert sum(stack.emu.counters().requests.values()) == 0
    assert stack.host.stats().instances == 0 if hasattr(stack.host.stats(), "instances") else True


def test_duplicates_and_missing_servers(stack: Stack) -> None:
    report = stack.run(
        {
            "servers": [
                server_id("mysqltestserver"),
                server_id("mysqltestserver", "testgroup"),
                server_id("ghost"),
            ],
            "target": {"sasUriList": [SAS]},
        }
    )
    rows = rows_by_name(report)
    assert set(rows) == {"mysqltestserver", "ghost"}
    assert (
        rows["ghost"]["status"] == "Failed" and rows["ghost"]["error"]["code"] == "ResourceNotFound"
    )
    assert rows["mysqltestserver"]["status"] == "Succeeded"
    assert stack.emu.counters().requests_by_server[("backup_and_export", "mysqltestserver")] == 1


def test_paused_service_trips_the_breaker_after_the_first_few(make_stack: StackFactory) -> None:
    fleet = tuple(make_fleet(40, seed=3, stopped_fraction=0.0))
    stack = make_stack(fleet=fleet, paused=(400, "FeatureNotAvailable", "Export is paused."))
    report = stack.run(discover_body())
    summary = report["summary"]
    assert summary["total"] == 40 and summary["succeeded"] == 0
    assert report["breaker"]["code"] == "FeatureNotAvailable"
    probed = report["breaker"]["probed"]
    assert summary["failed"] == probed and summary["skipped"] == 40 - probed
    assert all(r["error"]["code"] == "FeatureNotAvailable" for r in report["servers"])
    assert stack.emu.counters().requests[Kind.BACKUP_AND_EXPORT.value] == probed


def test_window_never_exceeds_max_concurrency_and_fills_it(make_stack: StackFactory) -> None:
    fleet = tuple(
        ServerSpec(SUB, "rg", f"s{i:02d}", export_seconds=600 + 60 * i) for i in range(12)
    )
    stack = make_stack(fleet=fleet)
    report = stack.run(discover_body(maxConcurrency=3))
    assert report["summary"]["succeeded"] == 12
    assert stack.emu.counters().peak_exports_running == 3


def test_a_running_export_409_is_waited_out(make_stack: StackFactory) -> None:
    fleet = (ServerSpec(SUB, "rg", "busy", export_seconds=900),)
    stack = make_stack(fleet=fleet)
    token = stack.emu.issue_token()
    url = f"{stack.emu.url}{server_id('busy', 'rg')}/backupAndExport?api-version=2024-12-30"
    first = stack.session.post(
        url,
        json={
            "backupSettings": {"backupName": "someone-else"},
            "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": [SAS]},
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert first.status_code == 202
    report = stack.run(discover_body())
    row = report["servers"][0]
    assert row["status"] == "Succeeded" and row["attempts"] >= 2
    assert stack.emu.counters().responses.get((Kind.BACKUP_AND_EXPORT.value, 409), 0) >= 1


def test_transient_failures_are_retried_to_success(make_stack: StackFactory) -> None:
    fleet = tuple(ServerSpec(SUB, "rg", f"t{i}", export_seconds=300) for i in range(8))
    stack = make_stack(
        fleet=fleet, faults=Faults(error_503=0.1, error_500=0.05, connection_reset=0.05)
    )
    report = stack.run(discover_body())
    assert report["summary"]["succeeded"] == 8, report["servers"]
    assert sum(stack.emu.counters().faults.values()) > 0


def test_throttled_submissions_wait_instead_of_failing(make_stack: StackFactory) -> None:
    # A busy subscription: 5 writes of burst, one more every 5 s. A window of 30 submissions
    # gets 429s with Retry-After 5 s and retries in lockstep; each round lets a few through.
    fleet = tuple(ServerSpec(SUB, "rg", f"w{i:02d}", export_seconds=120) for i in range(30))
    stack = make_stack(fleet=fleet, write_burst=5, write_refill_per_second=0.2)
    report = stack.run(discover_body(maxConcurrency=30))
    assert report["summary"]["succeeded"] == 30, [r["error"] for r in report["servers"]]
    assert stack.emu.counters().throttled.get(Kind.BACKUP_AND_EXPORT.value, 0) > 30


def test_throttled_polls_do_not_end_running_exports(make_stack: StackFactory) -> None:
    # Reads are scarce (one every 20 s) and twenty exports poll in lockstep: most polls get a
    # 429 whose Retry-After is right for one caller and too short for the other nineteen.
    fleet = tuple(ServerSpec(SUB, "rg", f"p{i:02d}", export_seconds=600) for i in range(20))
    stack = make_stack(fleet=fleet, read_burst=25, read_refill_per_second=0.05)
    report = stack.run(discover_body(maxConcurrency=20))
    assert report["summary"]["succeeded"] == 20, [r["error"] for r in report["servers"]]
    assert sum(stack.emu.counters().throttled.values()) > 20


def test_deadline_turns_a_long_export_into_timed_out(make_stack: StackFactory) -> None:
    fleet = (ServerSpec(SUB, "rg", "huge", export_seconds=5 * 3600),)
    stack = make_stack(fleet=fleet)
    report = stack.run(discover_body(deadlineMinutes=60))
    row = report["servers"][0]
    assert row["status"] == "TimedOut" and row["error"]["code"] == "DeadlineExceeded"
    assert 0 < (row["percentComplete"] or 0) < 100


def test_cancel_follows_in_flight_exports_and_cancels_the_rest(make_stack: StackFactory) -> None:
    fleet = tuple(ServerSpec(SUB, "rg", f"c{i}", export_seconds=1800) for i in range(6))
    stack = make_stack(fleet=fleet)
    with stack.host.hold_clock():
        started = stack.start(discover_body(maxConcurrency=2))
        run_id = started.json()["id"]
        stack.wait_until(lambda: stack.emu.counters().exports_running >= 2, "two exports running")
        canceled = stack.api("POST", f"exports/{run_id}/cancel")
        assert canceled.status_code == 202
    final = stack.follow(started.headers["Location"])["output"]
    states = sorted(r["status"] for r in final["servers"])
    assert states.count("Succeeded") == 2 and states.count("Canceled") == 4
    assert stack.emu.counters().requests[Kind.BACKUP_AND_EXPORT.value] == 2


def test_retry_failed_starts_a_run_for_the_failed_servers_only(make_stack: StackFactory) -> None:
    fleet = (
        ServerSpec(SUB, "rg", "good", export_seconds=60),
        ServerSpec(SUB, "rg", "bad", export_seconds=60, fail_export=True),
    )
    stack = make_stack(fleet=fleet)
    first = stack.start(discover_body())
    report = stack.follow(first.headers["Location"])["output"]
    assert report["summary"]["failed"] == 1
    retry = stack.api("POST", f"exports/{report['runId']}/retry-failed")
    assert retry.status_code == 202, retry.text
    second = stack.follow(retry.headers["Location"])["output"]
    assert [r["id"].rsplit("/", 1)[1] for r in second["servers"]] == ["bad"]
    assert second["retryOf"] == report["runId"]
    clean = stack.run({"servers": [server_id("good", "rg")], "target": {"sasUriList": [SAS]}})
    nothing = stack.api("POST", f"exports/{clean['runId']}/retry-failed")
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "NothingToRetry"


def test_dry_run_validates_without_exporting(stack: Stack) -> None:
    ids = [
        server_id("mysqltestserver"),
        server_id("mysqltestserver2"),
        server_id("billing-db", "ProdGroup"),
        server_id("analytics-db", "ProdGroup"),
    ]
    report = stack.run({"servers": ids, "target": {"sasUriList": [SAS]}, "dryRun": True})
    rows = rows_by_name(report)
    assert rows["mysqltestserver"]["status"] == "Succeeded"
    assert rows["mysqltestserver2"]["error"]["code"] == "ServerNotReady"
    assert rows["billing-db"]["error"]["code"] == "AuthorizationFailed"
    assert rows["analytics-db"]["error"]["code"] == "InsufficientStorageContainers"
    assert rows["analytics-db"]["numberOfContainers"] == 2
    assert stack.emu.counters().requests.get(Kind.BACKUP_AND_EXPORT.value, 0) == 0


def test_location_only_contract_works(make_stack: StackFactory) -> None:
    stack = make_stack(async_operation_header=False)
    report = stack.run({"servers": [server_id("mysqltestserver")], "target": {"sasUriList": [SAS]}})
    assert report["servers"][0]["status"] == "Succeeded"
    assert stack.emu.counters().requests.get(Kind.ASYNC_OPERATION.value, 0) == 0


def test_progress_endpoint_and_unknown_runs(stack: Stack) -> None:
    stack.emu.add_server(ServerSpec(SUB, "TestGroup", "slow-two", export_seconds=3600))
    with stack.host.hold_clock():
        started = stack.start({"servers": [server_id("slow-two")], "target": {"sasUriList": [SAS]}})
        run_id = started.json()["id"]
        stack.wait_until(
            lambda: bool(stack.api("GET", f"exports/{run_id}").json()["servers"]), "a server row"
        )
        progress = stack.api("GET", f"exports/{run_id}").json()
        assert progress["runtimeStatus"] == "Running" and progress["summary"]["total"] == 1
    stack.follow(started.headers["Location"])
    done = stack.api("GET", f"exports/{run_id}").json()
    assert done["summary"]["succeeded"] == 1 and done["servers"][0]["status"] == "Succeeded"
    assert stack.api("GET", "exports/exp-does-not-exist").status_code == 404


def test_no_sas_signature_in_durable_state_answers_or_logs(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stack.emu.set_faults(Faults(error_503=0.2))  # errors are logged and reported too
    started = stack.start(discover_body())
    final = stack.follow(started.headers["Location"])
    progress = stack.api("GET", f"exports/{final['instanceId']}")
    stack.host.store.save(tmp_path / "store.json")
    durable = (tmp_path / "store.json").read_text()
    assert "sealed:v1:" in durable  # the target is persisted, sealed
    emitted = started.text + json.dumps(final) + progress.text + caplog.text + durable
    assert SIG not in emitted


def test_every_name_the_orchestrators_call_is_an_indexed_function(stack: Stack) -> None:
    kinds = {f.registered_name: f.kind for f in stack.host.index.functions}
    for name in function_names.ORCHESTRATORS:
        assert kinds[name] is FunctionKind.ORCHESTRATOR
    for name in function_names.ACTIVITIES:
        assert kinds[name] is FunctionKind.ACTIVITY


def test_http_functions_require_a_function_key(stack: Stack) -> None:
    routes = [f for f in stack.host.index.functions if f.kind is FunctionKind.HTTP]
    assert {f.http.template for f in routes if f.http} == {
        "exports",
        "exports/{runId}",
        "exports/{runId}/cancel",
        "exports/{runId}/retry-failed",
        "health",
    }
    assert all(f.http and f.http.auth_level.lower() == "function" for f in routes)


def test_histories_stay_bounded_with_shards(make_stack: StackFactory) -> None:
    fleet = tuple(make_fleet(60, seed=5, stopped_fraction=0.0))
    stack = make_stack(settings={"SHARD_SIZE": "10"}, fleet=fleet)
    report = stack.run(discover_body(maxConcurrency=12))
    assert report["summary"]["total"] == 60
    stats = stack.host.stats()
    assert stats.max_history_length < 200
    assert stack.emu.counters().peak_exports_running <= 12


def test_long_exports_continue_as_new_and_keep_their_history_short(
    make_stack: StackFactory,
) -> None:
    fleet = (ServerSpec(SUB, "rg", "marathon", export_seconds=5400),)
    stack = make_stack(
        settings={"POLL_MAX_SECONDS": "20", "POLL_DEFAULT_SECONDS": "10"}, fleet=fleet
    )
    report = stack.run(discover_body())
    row = report["servers"][0]
    assert row["status"] == "Succeeded" and row["percentComplete"] == 100
    polls = stack.emu.counters().requests[Kind.ASYNC_OPERATION.value]
    assert polls > 5 * CONTINUE_AS_NEW_POLLS  # several executions' worth of polls ...
    # ... none kept in one history: about 8 events per poll cycle, plus the start.
    assert stack.host.stats().max_history_length <= 8 * CONTINUE_AS_NEW_POLLS + 16


def test_window_refills_when_any_export_ends_not_only_the_newest(make_stack: StackFactory) -> None:
    """The host replays an orchestrator's actions in order and waits on each (the out-of-proc
    shim), so a task_any over tasks started earlier must not hold back the next start."""
    minutes = {"a": 75, "b": 50, "c": 30, "d": 25, "e": 5}
    fleet = tuple(
        ServerSpec(SUB, "rg", name, export_seconds=60 * m, datasource_size_bytes=m * 2**30)
        for name, m in minutes.items()
    )
    stack = make_stack(
        settings={"POLL_MAX_SECONDS": "30", "POLL_DEFAULT_SECONDS": "10"},
        fleet=fleet,
        pending_seconds=0,
    )
    report = stack.run(discover_body(maxConcurrency=3))
    assert report["summary"]["succeeded"] == 5
    exports = {e.server_name: e for e in stack.emu.exports()}
    first = sorted(exports, key=lambda name: exports[name].submitted_at)[:3]
    assert sorted(first) == ["a", "b", "c"]  # the three largest first
    # c ends first and d takes its place; then b ends (5 min before d) and e must start at once,
    # give or take the poll that notices b's end.
    assert exports["e"].submitted_at - exports["b"].ends_at < 240


def test_narrow_windows_export_small_servers_in_runs(make_stack: StackFactory) -> None:
    """80 like servers through 2 slots: after the heads, runs of 4 (each within a tenth of a
    slot's load) go back to back; the window still never holds more than 2 exports."""
    fleet = tuple(ServerSpec(SUB, "rg", f"r{i:02d}", export_seconds=120) for i in range(80))
    stack = make_stack(settings={"SHARD_SIZE": "100"}, fleet=fleet)
    report = stack.run(discover_body(maxConcurrency=2))
    assert report["summary"]["succeeded"] == 80
    assert sorted(rows_by_name(report)) == sorted(s.name for s in fleet)
    assert stack.emu.counters().peak_exports_running == 2
    assert stack.emu.counters().requests[Kind.BACKUP_AND_EXPORT.value] == 80
    run_id = report["runId"]
    runs = stack.host.store.query(prefix=f"{run_id}:batch:")
    assert len(runs) == (80 - 2) // 4 + 1  # 2 heads alone, then runs of 4 (the last of 2)
    shard = stack.host.store.get(f"{run_id}:shard:0000")
    assert shard is not None
    # the shard holds 21 units, not 80 servers: about 8 events per unit
    assert len(shard.history) < 8 * 25

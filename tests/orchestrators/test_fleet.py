"""``export_fleet``: resolve -> probe -> fan out -> report, with list_scope, the probes and the
shards answered by a script."""

from __future__ import annotations

from typing import Any

import pytest

from mysqlexport import discovery, report
from orchestrators.rows import SHARD_FAILED
from tests.orchestrators.script import (
    BUSY,
    FORBIDDEN,
    METADATA,
    PUBLISHED,
    RUN_ID,
    SUBSCRIPTION,
    UNAVAILABLE,
    accepted,
    by_name,
    cancel,
    children_open,
    completed,
    exports,
    fleet_job,
    problem,
    scheduled,
    script,
    server_id,
    short,
    status,
)
from tests.reliability.replaying import (
    START,
    Answer,
    Call,
    ChildAnswer,
    External,
    Later,
    Raises,
    ScriptedRun,
    real_children,
)
from workflow import names
from workflow.contracts import FleetJob, ScopeListing
from workflow.instance_ids import shard_instance_id

THREE = [server_id("db1"), server_id("db2"), server_id("db3")]


def fleet(
    job: FleetJob,
    answer: Answer,
    children: ChildAnswer | None = None,
    events: list[External] | None = None,
) -> tuple[dict[str, Any], ScriptedRun]:
    run = ScriptedRun(
        names.EXPORT_FLEET, job, answer, children=children or exports(), events=events or []
    )
    state = run.run()
    assert state.error is None, state.error
    output: dict[str, Any] = state.output
    return output, run


def shard_servers(run: ScriptedRun) -> list[list[dict[str, Any]]]:
    """The servers of each export_shard, in the order started."""
    return [c.input["servers"] for c in run.called(names.EXPORT_SHARD)]


def listing(*servers: tuple[str, int | None], problems: list[Any] | None = None) -> ScopeListing:
    return {
        "servers": list(servers),
        "skipped": [],
        "matched": len(servers),
        "problems": problems or [],
    }


def test_explicit_servers_are_probed_exported_and_reported() -> None:
    output, run = fleet(
        fleet_job(servers=THREE), script(submit_export=[accepted(), accepted(), accepted()])
    )
    assert output["runId"] == RUN_ID
    assert output["summary"]["succeeded"] == 3
    assert output["summary"]["outcome"] == report.OUTCOME_SUCCEEDED
    assert output["breaker"] is None and output["canceled"] is False and output["problems"] == []
    assert [short(r["id"]) for r in output["servers"]] == ["db1", "db2", "db3"]
    assert run.called(names.LIST_SCOPE) == []
    (shard,) = run.called(names.EXPORT_SHARD)
    assert shard.instance_id == shard_instance_id(RUN_ID, 0)
    assert shard.input["window"] == 4 and shard.input["canceled"] is False
    assert [s["backupName"] for s in shard.input["servers"]] == [
        "db1-202701150800",
        "db2-202701150800",
        "db3-202701150800",
    ]
    assert run.episodes[-1].custom_status == {"phase": "done", "total": 3}


def test_each_probe_answer_goes_to_the_shard_as_that_servers_first_outcome() -> None:
    answers = [accepted(), BUSY, Raises("worker exited")]
    _, run = fleet(fleet_job(servers=THREE), script(submit_export=answers))
    probes = run.called(names.SUBMIT_EXPORT)
    assert [short(p.input["id"]) for p in probes] == ["db1", "db2", "db3"]
    (servers,) = shard_servers(run)
    firsts = [s["firstOutcome"] for s in servers]
    assert firsts[:2] == [accepted(), BUSY]
    assert firsts[2]["kind"] == "error"
    assert firsts[2]["error"]["code"] == "ActivityFailed" and firsts[2]["error"]["transient"]


def test_only_the_heads_of_the_windows_are_probed() -> None:
    servers = [server_id(f"db{i}") for i in range(6)]
    _, run = fleet(
        fleet_job(servers=servers, max_concurrency=2), script(submit_export=[accepted()] * 2)
    )
    assert len(run.called(names.SUBMIT_EXPORT)) == 2  # min(breakerSample, maxConcurrency)
    (servers_in_shard,) = shard_servers(run)
    assert ["firstOutcome" in s for s in servers_in_shard] == [True, True] + [False] * 4


def test_shards_start_only_while_their_windows_fit_in_the_concurrency() -> None:
    servers = [server_id(f"db{i}") for i in range(5)]
    seconds = {f"db{i}": s for i, s in enumerate([30.0, 10.0, 20.0, 5.0, 1.0])}
    output, run = fleet(
        fleet_job(servers=servers, max_concurrency=2, shard_size=1),
        script(submit_export=[accepted()] * 2),
        exports(seconds=lambda server: seconds[short(server)]),
    )
    assert len(run.called(names.EXPORT_SHARD)) == 5
    assert {c.input["window"] for c in run.called(names.EXPORT_SHARD)} == {1}
    assert children_open(run) == 2  # five shards of one slot each, two slots in all
    assert output["summary"]["succeeded"] == 5


def test_discovery_retries_a_transient_listing_failure() -> None:
    scope = discovery.scope_path(SUBSCRIPTION)
    flaky = listing(problems=[{"scope": scope, "code": "ServiceUnavailable", "transient": True}])
    found = listing((server_id("small"), 8), (server_id("large"), 256))
    output, run = fleet(
        fleet_job(discover={"subscriptions": [SUBSCRIPTION]}),
        script(list_scope=[flaky, found], submit_export=[accepted(), accepted()]),
    )
    scopes = run.called(names.LIST_SCOPE)
    assert len(scopes) == 2 and scopes[0].input == scopes[1].input
    assert scopes[0].input == {
        "subscription": SUBSCRIPTION,
        "resourceGroups": [],
        "tags": {},
        "states": ["Ready"],
    }
    assert [t.fire_at - t.at for t in run.timers][:1] == [15]  # rules.backoff(1)
    assert output["problems"] == []
    (servers,) = shard_servers(run)
    assert [(short(s["id"]), s["size"]) for s in servers] == [("large", 256), ("small", 8)]


def test_a_listing_activity_that_raised_is_listed_again() -> None:
    found = listing((server_id("db1"), 8))
    output, run = fleet(
        fleet_job(discover={"subscriptions": [SUBSCRIPTION]}),
        script(list_scope=[Raises("timeout"), found], submit_export=[accepted()]),
    )
    assert len(run.called(names.LIST_SCOPE)) == 2
    assert output["problems"] == [] and output["summary"]["succeeded"] == 1


def test_a_scope_that_keeps_failing_is_a_problem_in_the_report() -> None:
    scope = discovery.scope_path(SUBSCRIPTION)
    flaky = listing(problems=[{"scope": scope, "code": "ServiceUnavailable", "transient": True}])
    output, run = fleet(
        fleet_job(servers=[server_id("db1")], discover={"subscriptions": [SUBSCRIPTION]}),
        script(list_scope=[flaky] * 5, submit_export=[accepted()]),
    )
    assert len(run.called(names.LIST_SCOPE)) == 5  # fleet.RESOLVE_ATTEMPTS
    assert [p["code"] for p in output["problems"]] == ["ServiceUnavailable"]
    assert output["summary"]["outcome"] == report.OUTCOME_PARTIAL


def test_the_breaker_trips_when_every_probe_fails_with_one_fleet_wide_error() -> None:
    servers = [server_id(f"db{i}") for i in range(7)]
    output, run = fleet(
        fleet_job(servers=servers, max_concurrency=5), script(submit_export=[FORBIDDEN] * 5)
    )
    assert run.called(names.EXPORT_SHARD) == []
    assert output["breaker"]["code"] == "AuthorizationFailed"
    assert output["breaker"]["probed"] == 5
    rows = by_name(output["servers"])
    probed = {n for n, r in rows.items() if r["status"] == report.FAILED}
    assert probed == {f"db{i}" for i in range(5)}
    assert {rows[n]["error"]["code"] for n in rows} == {"AuthorizationFailed"}
    assert rows["db0"]["attempts"] == 1 and rows["db0"]["error"]["status"] == 403
    assert rows["db5"]["status"] == rows["db6"]["status"] == report.SKIPPED
    assert rows["db5"]["attempts"] == 0
    assert "not submitted: the first 5 submissions" in rows["db5"]["error"]["message"]
    assert output["summary"]["outcome"] == report.OUTCOME_FAILED


def test_the_breaker_holds_when_the_probes_fail_differently() -> None:
    servers = [server_id(f"db{i}") for i in range(3)]
    answers = [FORBIDDEN, FORBIDDEN, problem("ResourceNotFound", 404)]
    output, run = fleet(fleet_job(servers=servers), script(submit_export=answers))
    assert output["breaker"] is None
    assert len(run.called(names.EXPORT_SHARD)) == 1


def test_a_failed_shard_becomes_a_shard_failed_row_per_server() -> None:
    servers = [server_id(f"db{i}") for i in range(4)]

    def children(call: Call) -> Any:
        lost = call.instance_id == shard_instance_id(RUN_ID, 0)
        return exports(fail=lambda _server: "shard lost" if lost else None)(call)

    output, run = fleet(
        fleet_job(servers=servers, shard_size=2),
        script(submit_export=[UNAVAILABLE] * 4),
        children,
    )
    shards = shard_servers(run)
    assert len(shards) == 2
    rows = by_name(output["servers"])
    lost = {short(s["id"]) for s in shards[0]}
    assert {n for n, r in rows.items() if r["status"] == report.FAILED} == lost
    assert {rows[n]["error"]["code"] for n in lost} == {SHARD_FAILED}
    assert "shard lost" in rows[next(iter(lost))]["error"]["message"]
    assert output["summary"]["outcome"] == report.OUTCOME_PARTIAL


def test_a_cancel_during_probing_starts_only_the_shards_holding_probed_servers() -> None:
    servers = [server_id(f"db{i}") for i in range(3)]
    output, run = fleet(
        fleet_job(servers=servers, max_concurrency=2, shard_size=1),
        script(submit_export=[accepted(), accepted()]),
        events=[cancel(scheduled(names.SUBMIT_EXPORT))],
    )
    assert len(run.called(names.SUBMIT_EXPORT)) == 2  # the probes sent are followed
    shards = shard_servers(run)
    assert len(shards) == 2
    assert all(c.input["canceled"] for c in run.called(names.EXPORT_SHARD))
    assert all("firstOutcome" in s[0] for s in shards)
    rows = output["servers"]
    assert sorted(r["status"] for r in rows) == [
        report.CANCELED,
        report.SUCCEEDED,
        report.SUCCEEDED,
    ]
    assert output["canceled"] is True
    assert output["summary"]["outcome"] == report.OUTCOME_CANCELED


def test_a_cancel_while_shards_run_is_relayed_to_them() -> None:
    servers = [server_id(f"db{i}") for i in range(4)]
    output, run = fleet(
        fleet_job(servers=servers, shard_size=2),
        script(submit_export=[accepted()] * 4, relay_cancel=[{"delivered": 2, "gone": 0}]),
        exports(seconds=lambda _server: 600.0),
        events=[cancel(lambda r: len(r.called(names.EXPORT_SHARD)) == 2)],
    )
    (relay,) = run.called(names.RELAY_CANCEL)
    assert relay.input == {"instances": [shard_instance_id(RUN_ID, i) for i in (0, 1)]}
    assert output["canceled"] is True


def test_a_dry_run_skips_the_probe() -> None:
    output, run = fleet(fleet_job(servers=THREE, dry_run=True), script())
    assert run.called(names.SUBMIT_EXPORT) == []
    (shard,) = run.called(names.EXPORT_SHARD)
    assert shard.input["run"]["dryRun"] is True
    assert not any("firstOutcome" in s for s in shard.input["servers"])
    assert output["dryRun"] is True
    (check,) = run.called(names.CHECK_TARGET)  # the target looked at once, nothing exported
    assert check.input == {"runId": RUN_ID, "deadlineMinutes": 1440}
    assert output["problems"] == []


def test_a_dry_run_whose_target_cannot_be_used_says_why() -> None:
    denied = problem("AuthorizationPermissionMismatch", None)
    denied["error"]["source"] = "storage"
    output, run = fleet(fleet_job(servers=THREE, dry_run=True), script(check_target=[denied]))
    (unusable,) = output["problems"]
    assert unusable["code"] == "TargetUnusable"
    assert unusable["error"]["code"] == "AuthorizationPermissionMismatch"
    assert "AuthorizationPermissionMismatch" in unusable["message"]
    assert len(run.called(names.EXPORT_SHARD)) == 1  # the servers are still validated
    assert output["summary"]["outcome"] == report.OUTCOME_PARTIAL


def test_a_dry_run_whose_check_raised_says_so() -> None:
    output, _ = fleet(
        fleet_job(servers=THREE, dry_run=True), script(check_target=[Raises("worker died")])
    )
    assert [p["error"]["code"] for p in output["problems"]] == ["ActivityFailed"]


def test_a_backup_name_the_api_refuses_is_that_servers_row() -> None:
    servers = [server_id("db1", group="__"), server_id("db2", group="rg-2")]
    output, run = fleet(
        fleet_job(servers=servers, backup_name="{resourceGroup}"),
        script(submit_export=[accepted()]),
    )
    rows = by_name(output["servers"])
    assert rows["db1"]["status"] == report.FAILED
    assert rows["db1"]["error"]["code"] == "InvalidBackupName"
    assert rows["db2"]["status"] == report.SUCCEEDED
    (servers_in_shard,) = shard_servers(run)
    assert [(short(s["id"]), s["backupName"]) for s in servers_in_shard] == [("db2", "rg-2")]


def test_a_discovery_that_matches_nothing_is_a_problem() -> None:
    output, run = fleet(
        fleet_job(discover={"subscriptions": [SUBSCRIPTION]}), script(list_scope=[listing()])
    )
    assert [p["code"] for p in output["problems"]] == [discovery.NO_SERVERS_MATCHED]
    assert run.called(names.SUBMIT_EXPORT) == run.called(names.EXPORT_SHARD) == []
    assert output["summary"]["outcome"] == report.OUTCOME_FAILED


def test_a_whole_run_through_the_apps_own_shard_batch_and_server_orchestrators() -> None:
    sizes = {"large": 100, "medium": 90, "s1": 1, "s2": 1, "s3": 1, "s4": 1}
    found = listing(*((server_id(n), size) for n, size in sizes.items()))
    sent: list[str] = []

    def arm(name: str, payload: Any) -> Any:
        if name == names.LIST_SCOPE:
            return found
        if name == names.SUBMIT_EXPORT:
            sent.append(short(payload["id"]))
            return accepted()
        if name == names.READ_STATUS:
            return status("Succeeded", percent=100, size=2048, moved=2048)
        if name == names.PUBLISH_REPORT:
            return PUBLISHED
        assert name == names.READ_RESULT, name
        return completed()

    output, run = fleet(
        fleet_job(discover={"subscriptions": [SUBSCRIPTION]}, max_concurrency=2),
        arm,
        real_children(arm),
    )
    rows = by_name(output["servers"])
    assert set(rows) == set(sizes)
    assert {r["status"] for r in rows.values()} == {report.SUCCEEDED}
    assert {r["backupMetadata"] for r in rows.values()} == {METADATA}
    assert sorted(sent) == sorted(sizes)  # each once: the probed two are not sent again
    assert sent[:2] == ["large", "medium"]  # the probe: the heads of the window
    assert output["summary"]["outcome"] == report.OUTCOME_SUCCEEDED
    assert len(run.called(names.EXPORT_SHARD)) == 1


# The SDK warns "Potential duplicate Task completion for TaskId: cancel" for an event raised
# before the orchestrator first yields its waiter (TaskOrchestrationExecutor.set_task_value defers
# it); it is applied once the waiter is yielded.
@pytest.mark.filterwarnings("ignore:Potential duplicate Task completion")
def test_a_cancel_while_resolving_submits_nothing() -> None:
    found = listing((server_id("a"), 8), (server_id("b"), 4))
    output, run = fleet(
        fleet_job(discover={"subscriptions": [SUBSCRIPTION]}),
        script(list_scope=[Later(10, found)], submit_export=[accepted()] * 2),
        events=[External(names.CANCEL_EVENT, {"requested": True}, at=START + 5)],
    )
    assert output["canceled"] is True
    assert run.called(names.SUBMIT_EXPORT) == []
    assert {r["status"] for r in output["servers"]} == {report.CANCELED}


# --- the end: publish_report ----------------------------------------------------------------

REPORTS = "https://reportsacct.blob.core.windows.net/reports"


def with_container(job: FleetJob) -> FleetJob:
    return {**job, "reportContainer": REPORTS}


def test_the_report_is_published_once_with_where_its_files_go() -> None:
    blobs = [f"{RUN_ID}/report.json", f"{RUN_ID}/servers.csv", f"{RUN_ID}/report.html"]
    published = {"kind": "published", "blobs": blobs}
    output, run = fleet(
        with_container(fleet_job(servers=THREE, max_concurrency=3)),
        script(submit_export=[accepted()] * 3, publish_report=[published]),
    )
    (call,) = run.called(names.PUBLISH_REPORT)
    assert call.input == {
        "report": output,
        "container": REPORTS,
        "concurrency": 3,
        "record": True,
    }
    assert output["files"] == {"container": REPORTS, "blobs": blobs}
    assert output["problems"] == [] and output["summary"]["outcome"] == report.OUTCOME_SUCCEEDED


def test_a_run_without_a_report_container_is_still_published_for_its_logs() -> None:
    output, run = fleet(fleet_job(servers=THREE), script(submit_export=[accepted()] * 3))
    (call,) = run.called(names.PUBLISH_REPORT)
    assert call.input["container"] is None and "files" not in output


def test_a_transient_write_failure_is_tried_again_on_a_durable_timer() -> None:
    busy = problem("ServerBusy", status=503, transient=True)
    output, run = fleet(
        with_container(fleet_job(servers=THREE)),
        script(
            submit_export=[accepted()] * 3,
            publish_report=[busy, Raises("worker died"), PUBLISHED],
        ),
    )
    calls = run.called(names.PUBLISH_REPORT)
    assert [c.input["record"] for c in calls] == [True, False, False]  # counted once
    assert [t.fire_at - t.at for t in run.timers][-2:] == [15, 30]  # rules.backoff(1), (2)
    assert output["problems"] == []


def test_a_report_that_cannot_be_written_is_a_problem_and_the_run_still_reports() -> None:
    denied = problem("AuthorizationPermissionMismatch", status=403)
    output, run = fleet(
        with_container(fleet_job(servers=THREE)),
        script(submit_export=[accepted()] * 3, publish_report=[denied]),
    )
    assert len(run.called(names.PUBLISH_REPORT)) == 1  # permanent: not tried again
    assert output["summary"]["succeeded"] == 3
    (written,) = output["problems"]
    assert written["code"] == "ReportNotWritten"
    assert written["error"]["code"] == "AuthorizationPermissionMismatch"
    assert REPORTS in written["message"]
    assert output["summary"]["outcome"] == report.OUTCOME_PARTIAL


def test_a_write_that_keeps_failing_transiently_gives_up_after_four_calls() -> None:
    busy = problem("ServerBusy", status=503, transient=True)
    output, run = fleet(
        with_container(fleet_job(servers=THREE)),
        script(submit_export=[accepted()] * 3, publish_report=[busy] * 4),
    )
    assert len(run.called(names.PUBLISH_REPORT)) == 4  # publish.PUBLISH_ATTEMPTS
    assert [p["code"] for p in output["problems"]] == ["ReportNotWritten"]

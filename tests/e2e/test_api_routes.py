"""The routes a caller needs besides starting a run (issue 13), end to end: the app on devhost
against the ARM emulator, over loopback HTTP.

* ``GET /api/exports``: the app's runs only, newest first, paged with the app's continuation
  token (followed through ``nextLink``), filtered by status and creation time;
* ``POST /api/exports/{runId}/retry-failed``: its body (a new ``target``, or nothing), one retry
  of a run at a time, ``TargetUnavailable`` when the original target cannot be opened;
* ``GET /api/health``: each check, healthy and not, without a secret;
* every time in the app's answers in UTC with a ``Z``; ``total`` from the first progress answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import pytest

from armemulator import Emulator, EmulatorConfig, Faults, Kind, ServerSpec
from devhost.azurite import Azurite
from devhost.management import QueryPaging, paging_default
from mysqlexport.request import parse_request
from mysqlexport.sealing import Sealer
from mysqlexport.settings import Settings
from tests.e2e.conftest import SAS, SIG, SUB, Stack, StackFactory, server_id
from tests.storage_setup import create_container
from triggers.listing import Cursor, RunQuery, find_runs
from triggers.retries import MAX_RETRIES
from workflow.contracts import fleet_job
from workflow.instance_ids import (
    SCHEDULE_INSTANCE_ID,
    is_run_id,
    new_run_id,
    retry_run_id,
    target_instance_id,
)

#: ISO 8601 in UTC with a ``Z``: what every time in the app's answers looks like.
UTC_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
SAS2 = SAS.replace("/backups?", "/backups2?")


def export_body(*names: str, group: str = "TestGroup", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "servers": [server_id(name, group) for name in names],
        "target": {"sasUriList": [SAS]},
    }
    body.update(extra)
    return body


def dry_runs(stack: Stack, count: int) -> list[str]:
    """``count`` dry runs, one emulated minute apart (runs of the same second are listed by id),
    oldest first."""
    started = []
    for _ in range(count):
        stack.host.advance_clock(60)
        started.append(stack.run(export_body("mysqltestserver", dryRun=True))["runId"])
    return started


def listed(stack: Stack, **params: str) -> dict[str, Any]:
    answer = stack.api("GET", "exports", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def every_page(stack: Stack, **params: str) -> tuple[list[dict[str, Any]], int]:
    """Every run the list gives, following ``nextLink`` to the end; and how many pages."""
    runs: list[dict[str, Any]] = []
    answer = stack.api("GET", "exports", params=params)
    for pages in range(1, 1000):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        runs.extend(body["value"])
        if body["nextLink"] is None:
            assert body["continuationToken"] is None
            return runs, pages
        assert body["continuationToken"] in body["nextLink"]
        answer = stack.session.get(body["nextLink"], timeout=30)
    raise AssertionError("the list did not end")


def client_of(stack: Stack) -> df.DurableOrchestrationClient:
    """The SDK's own durable client, bound to devhost as a function's binding would be."""
    return df.DurableOrchestrationClient(stack.host.client_binding())


# --- GET /api/exports ----------------------------------------------------------------------


def test_the_list_holds_the_apps_runs_only_newest_first(stack: Stack) -> None:
    dry = stack.run(export_body("mysqltestserver", dryRun=True))
    stack.host.advance_clock(60)
    backup = stack.run({"operation": "backup", "servers": [server_id("mysqltestserver")]})
    stack.host.advance_clock(60)
    failed = stack.run(export_body("inventory-db", group="ProdGroup"))
    stack.host.advance_clock(60)
    retry = stack.api("POST", f"exports/{failed['runId']}/retry-failed")
    assert retry.status_code == 202, retry.text
    stack.follow(retry.headers["Location"])
    body = listed(stack)
    runs = body["value"]
    assert [r["runId"] for r in runs] == [
        retry.json()["id"],
        failed["runId"],
        backup["runId"],
        dry["runId"],
    ]
    assert body["continuationToken"] is None and body["nextLink"] is None
    # nothing but runs: the store also holds targets, shards and servers of these runs
    assert len(stack.host.store.query()) > len(runs)
    by_id = {r["runId"]: r for r in runs}
    assert by_id[dry["runId"]]["dryRun"] is True
    assert by_id[backup["runId"]]["operation"] == "backup"
    assert by_id[failed["runId"]]["operation"] == "export"
    assert by_id[retry.json()["id"]]["retryOf"] == failed["runId"]
    for run in runs:
        assert run["runtimeStatus"] == "Completed"
        assert UTC_Z.fullmatch(run["createdTime"]) and UTC_Z.fullmatch(run["lastUpdatedTime"])
        assert run["summary"]["total"] == 1 and "servers" not in run
    assert SIG not in json.dumps(body) and "sealed" not in json.dumps(body)


def test_a_page_at_a_time_to_the_end(stack: Stack) -> None:
    started = dry_runs(stack, 5)
    with paging_default(QueryPaging(page_size=100, empty_pages=True)):  # as Azure Storage may
        runs, pages = every_page(stack, top="2")
    assert [r["runId"] for r in runs] == started[::-1]
    assert pages == 3


def test_runs_created_far_apart_are_all_found(stack: Stack) -> None:
    """Slices double backwards from the newest: a run days before the next is still found."""
    first = stack.run(export_body("mysqltestserver", dryRun=True))["runId"]
    stack.host.advance_clock(9 * 24 * 3600)
    second = stack.run(export_body("mysqltestserver", dryRun=True))["runId"]
    stack.host.advance_clock(3600 * 5)
    third = stack.run(export_body("mysqltestserver", dryRun=True))["runId"]
    assert [r["runId"] for r in listed(stack)["value"]] == [third, second, first]
    assert [r["runId"] for r in every_page(stack, top="1")[0]] == [third, second, first]


def test_filter_by_status_and_creation_time(stack: Stack) -> None:
    stack.emu.add_server(ServerSpec(SUB, "TestGroup", "slow-one", export_seconds=3600))
    done = stack.run(export_body("mysqltestserver", dryRun=True))
    stack.host.advance_clock(600)
    with stack.host.hold_clock():
        started = stack.start(export_body("slow-one"))
        going = started.json()["id"]
        stack.wait_until(lambda: stack.emu.counters().exports_running == 1, "the export runs")
        running = listed(stack, runtimeStatus="Running")["value"]
        assert [r["runId"] for r in running] == [going]
        assert running[0]["summary"] is None and running[0]["operation"] == "export"
        both = listed(stack, runtimeStatus="Running,Completed")["value"]
        assert [r["runId"] for r in both] == [going, done["runId"]]
        created = datetime.fromisoformat(running[0]["createdTime"].replace("Z", "+00:00"))
        since = (created - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        assert [r["runId"] for r in listed(stack, createdTimeFrom=since)["value"]] == [going]
        before = listed(stack, createdTimeTo=done["endTime"])["value"]
        assert [r["runId"] for r in before] == [done["runId"]]
        assert listed(stack, runtimeStatus="Failed")["value"] == []
    stack.follow(started.headers["Location"])


def test_bad_list_parameters_are_refused_by_name(stack: Stack) -> None:
    answer = stack.api(
        "GET",
        "exports",
        params={
            "runtimeStatus": "Running,running",
            "createdTimeFrom": "yesterday",
            "createdTimeTo": "2026-11-29",
            "top": "0",
            "continuationToken": "not-a-token",
        },
    )
    assert answer.status_code == 400
    named = {d["target"] for d in answer.json()["error"]["details"]}
    assert named == {
        "runtimeStatus",
        "createdTimeFrom",
        "createdTimeTo",
        "top",
        "continuationToken",
    }
    assert stack.api("GET", "exports", params={"top": "101"}).status_code == 400
    late, early = "2026-11-29T00:00:00Z", "2026-11-28T00:00:00Z"
    reversed_range = {"createdTimeFrom": late, "createdTimeTo": early}
    assert stack.api("GET", "exports", params=reversed_range).status_code == 400


def test_the_widest_times_are_taken(stack: Stack) -> None:
    """The first and last moments RFC 3339 can write (a fuzzer found the last one a 500)."""
    started = dry_runs(stack, 2)
    first, last = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
    every = listed(stack, createdTimeFrom=first, createdTimeTo=last)["value"]
    assert [r["runId"] for r in every] == started[::-1]
    assert listed(stack, createdTimeFrom=last)["value"] == []
    assert listed(stack, createdTimeTo=first)["value"] == []


def test_scheduled_runs_are_listed_but_not_the_schedules_own_instance(stack: Stack) -> None:
    run_id = new_run_id("sched")
    request = parse_request({"operation": "backup", "servers": [server_id("mysqltestserver")]})
    job = fleet_job(run_id, request, Settings.from_env())
    stack.host.start_orchestration("scheduled_run", job, SCHEDULE_INSTANCE_ID)
    stack.host.wait_for(SCHEDULE_INSTANCE_ID, timeout=120)
    runs = listed(stack)["value"]
    assert [r["runId"] for r in runs] == [run_id]
    assert runs[0]["operation"] == "backup" and runs[0]["summary"]["total"] == 1


def test_a_small_scan_budget_ends_pages_early_and_loses_nothing(stack: Stack) -> None:
    """A page ends where the request's reading of the task hub does, short or even empty, and
    its token resumes there: following the tokens gives every run once, newest first."""
    started = dry_runs(stack, 6)
    client = client_of(stack)
    now = datetime.fromtimestamp(stack.clock.now() + 1, UTC)
    whole, following = asyncio.run(find_runs(client, _query(top=100), now))
    assert [r["instanceId"] for r in whole] == started[::-1] and following is None
    for budget in (4, 12, 40):
        found: list[str] = []
        short = 0
        cursor: Cursor | None = None
        for _ in range(1000):
            rows, cursor = asyncio.run(find_runs(client, _query(cursor=cursor), now, budget=budget))
            found.extend(r["instanceId"] for r in rows)
            short += cursor is not None and len(rows) < 2
            if cursor is None:
                break
        assert found == started[::-1], budget
        if budget == 4:
            assert short > 0  # pages ended before they were full, and went on
        assert cursor is None


def test_the_slices_reach_back_from_a_clock_far_ahead(stack: Stack) -> None:
    """The first slice ends at the app's clock; runs long before it are found all the same."""
    started = dry_runs(stack, 2)
    later = datetime.now(UTC) + timedelta(days=3 * 365)
    rows, following = asyncio.run(find_runs(client_of(stack), _query(), later))
    assert [r["instanceId"] for r in rows] == started[::-1] and following is None


def _query(top: int = 2, cursor: Cursor | None = None) -> RunQuery:
    return RunQuery(frozenset(), None, None, top, cursor)


# --- POST /api/exports/{runId}/retry-failed -------------------------------------------------


def test_a_retry_body_it_does_not_understand_is_refused_by_name(stack: Stack) -> None:
    failed = stack.run(export_body("inventory-db", group="ProdGroup"))
    url = f"exports/{failed['runId']}/retry-failed"
    before = len(stack.host.store.query())
    cases: list[tuple[bytes, set[str]]] = [
        (b"garbage", {"body"}),
        (b"null", {"body"}),
        (b"[]", {"body"}),
        (
            b'{"bogus": 1, "target": {"sasUriList": ["http://x"]}}',
            {"bogus", "target.sasUriList[0]"},
        ),
        (b'{"target": {"sasUriList": [], "x": 1}}', {"target.sasUriList", "target.x"}),
    ]
    for raw, named in cases:
        answer = stack.api("POST", url, data=raw, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, (raw, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "InvalidRequest"
        assert {d["target"] for d in error["details"]} == named, raw
    assert len(stack.host.store.query()) == before  # nothing started


def test_a_retry_with_a_new_target_fixes_insufficient_containers(stack: Stack) -> None:
    first = stack.run(export_body("analytics-db", group="ProdGroup"))
    assert first["servers"][0]["error"]["code"] == "InsufficientStorageContainers"
    retry = stack.api(
        "POST",
        f"exports/{first['runId']}/retry-failed",
        json={"target": {"sasUriList": [SAS, SAS2]}},
    )
    assert retry.status_code == 202, retry.text
    assert retry.json()["id"] == retry_run_id(first["runId"], 1)
    second = stack.follow(retry.headers["Location"])["output"]
    assert second["servers"][0]["status"] == "Succeeded", second
    assert second["request"]["sasUriCount"] == 2
    assert SIG not in retry.text + json.dumps(second)


def test_a_backup_run_takes_no_target_on_retry(stack: Stack) -> None:
    first = stack.run({"operation": "backup", "servers": [server_id("inventory-db", "ProdGroup")]})
    assert first["summary"]["failed"] == 1
    url = f"exports/{first['runId']}/retry-failed"
    refused = stack.api("POST", url, json={"target": {"sasUriList": [SAS]}})
    assert refused.status_code == 400
    assert refused.json()["error"]["target"] == "target"
    plain = stack.api("POST", url, json={})
    assert plain.status_code == 202, plain.text
    assert stack.follow(plain.headers["Location"])["output"]["summary"]["operation"] == "backup"


def test_one_retry_of_a_run_at_a_time(stack: Stack) -> None:
    first = stack.run(export_body("inventory-db", group="ProdGroup"))
    url = f"exports/{first['runId']}/retry-failed"
    with stack.host.hold_clock():
        one = stack.api("POST", url)
        assert one.status_code == 202, one.text
        retry_id = one.json()["id"]
        assert retry_id == retry_run_id(first["runId"], 1) and is_run_id(retry_id)
        again = stack.api("POST", url, json={"target": {"sasUriList": [SAS2]}})
        assert again.status_code == 409, again.text
        error = again.json()["error"]
        assert (error["code"], error["runId"]) == ("RetryRunning", retry_id)
        assert retry_id in error["message"]
    stack.follow(one.headers["Location"])
    two = stack.api("POST", url)
    assert two.status_code == 202, two.text
    assert two.json()["id"] == retry_run_id(first["runId"], 2)
    stack.follow(two.headers["Location"])


def test_retries_are_numbered_past_gaps_and_bounded(stack: Stack) -> None:
    """Ids of retries that exist (or were purged) are not given again; after ``MAX_RETRIES``
    the answer names the last one, whose own failures are what is left to retry."""
    first = stack.run(export_body("inventory-db", group="ProdGroup"))
    run_id = first["runId"]
    stack.host.start_orchestration("export_target", {}, retry_run_id(run_id, 3))
    stack.host.run_until_idle(timeout=60)
    answer = stack.api("POST", f"exports/{run_id}/retry-failed")
    assert answer.status_code == 202 and answer.json()["id"] == retry_run_id(run_id, 4)
    stack.follow(answer.headers["Location"])
    for n in range(5, MAX_RETRIES + 1):
        stack.host.start_orchestration("export_target", {}, retry_run_id(run_id, n))
    stack.host.run_until_idle(timeout=60)
    full = stack.api("POST", f"exports/{run_id}/retry-failed")
    assert full.status_code == 409
    error = full.json()["error"]
    assert (error["code"], error["runId"]) == ("TooManyRetries", retry_run_id(run_id, MAX_RETRIES))


def test_a_target_the_key_no_longer_opens_is_refused_with_the_reason(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = stack.run(export_body("inventory-db", group="ProdGroup"))
    url = f"exports/{first['runId']}/retry-failed"
    old_key, new_key = stack_key(), Sealer.new_key()
    monkeypatch.setenv("SAS_SEALING_KEY", new_key)  # rotated, the old key dropped
    refused = stack.api("POST", url)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "TargetUnavailable" and "SAS_SEALING_KEY" in error["message"]
    assert old_key not in refused.text and new_key not in refused.text
    monkeypatch.setenv("SAS_SEALING_KEY", f"{new_key},{old_key}")  # rotated, the old one kept
    kept = stack.api("POST", url)
    assert kept.status_code == 202, kept.text
    stack.follow(kept.headers["Location"])


def test_a_purged_target_is_refused_and_a_new_one_serves(stack: Stack) -> None:
    first = stack.run(export_body("inventory-db", group="ProdGroup"))
    stack.host.store.purge(target_instance_id(first["runId"]))
    url = f"exports/{first['runId']}/retry-failed"
    refused = stack.api("POST", url)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "TargetUnavailable"
    assert "purged" in refused.json()["error"]["message"]
    fresh = stack.api("POST", url, json={"target": {"sasUriList": [SAS]}})
    assert fresh.status_code == 202, fresh.text
    stack.follow(fresh.headers["Location"])


def stack_key() -> str:
    return os.environ["SAS_SEALING_KEY"]


# --- GET /api/health -----------------------------------------------------------------------


def checks_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in body["checks"]}


def test_health_is_200_when_everything_serves(stack: Stack) -> None:
    answer = stack.api("GET", "health")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "Healthy" and "error" not in body
    checks = checks_of(body)
    assert list(checks) == [
        "settings",
        "scheduleRequest",
        "sealingKey",
        "armToken",
        "arm",
        "reportContainer",
        "taskHub",
    ]
    assert all(c["healthy"] for c in checks.values())
    assert "not set" in checks["reportContainer"]["message"]
    assert "answered 200" in checks["arm"]["message"]  # Operations_List
    assert stack.emu.counters().requests.get(Kind.LIST_OPERATIONS.value, 0) == 1
    assert stack_key() not in answer.text
    assert stack.emu.identity_header not in answer.text


def test_health_names_each_failed_check_without_a_secret(
    make_stack: StackFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = make_stack()
    monkeypatch.delenv("SAS_SEALING_KEY")
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    monkeypatch.setenv("EXPORT_SCHEDULE_REQUEST", '{"servers": ["x"], "bogus": 1}')
    answer = stack.api("GET", "health")
    assert answer.status_code == 503, answer.text
    body = answer.json()
    checks = checks_of(body)
    failed = {name for name, c in checks.items() if not c["healthy"]}
    assert failed == {"scheduleRequest", "sealingKey", "armToken", "arm"}
    assert checks["arm"]["code"] == "NotChecked"
    assert checks["armToken"]["code"] == "CredentialUnavailable"
    assert "SAS_SEALING_KEY" in checks["sealingKey"]["message"]
    assert {d["target"] for d in body["error"]["details"]} == failed
    assert body["error"]["code"] == "Unhealthy" and body["status"] == "Unhealthy"
    assert stack.emu.identity_header not in answer.text and "not-the-header" not in answer.text


def test_health_says_when_the_settings_are_invalid(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLL_MAX_SECONDS", "soon")
    answer = stack.api("GET", "health")
    assert answer.status_code == 503
    checks = checks_of(answer.json())
    assert not checks["settings"]["healthy"] and "POLL_MAX_SECONDS" in checks["settings"]["message"]
    assert checks["armToken"]["code"] == checks["arm"]["code"] == "NotChecked"
    assert checks["reportContainer"]["code"] == "NotChecked"
    assert checks["sealingKey"]["healthy"] and checks["taskHub"]["healthy"]


def test_health_reads_the_report_container_with_the_apps_identity(
    make_stack: StackFactory, azurite: Azurite
) -> None:
    there = create_container(azurite)
    settings = {"REPORT_CONTAINER_URL": there, "REQUESTS_CA_BUNDLE": str(azurite.ca_bundle)}
    stack = make_stack(settings=settings)
    answer = stack.api("GET", "health")
    assert answer.status_code == 200, answer.text
    assert there in checks_of(answer.json())["reportContainer"]["message"]

    missing = azurite.container_url("not-created")
    stack = make_stack(settings={**settings, "REPORT_CONTAINER_URL": missing})
    answer = stack.api("GET", "health")
    assert answer.status_code == 503, answer.text
    check = checks_of(answer.json())["reportContainer"]
    assert check["code"] == "ContainerNotFound" and not check["healthy"]


def test_health_when_arm_refuses_the_token_or_does_not_answer(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Emulator(EmulatorConfig(seed=3)) as other:  # its own token authority
        monkeypatch.setenv("ARM_ENDPOINT", other.url)
        refused = stack.api("GET", "health")
    assert refused.status_code == 503
    arm = checks_of(refused.json())["arm"]
    assert arm["code"] == "ArmRefusedToken" and "401" in arm["message"]
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("ARM_ENDPOINT", f"http://127.0.0.1:{closed.getsockname()[1]}")
        gone = stack.api("GET", "health")
    assert gone.status_code == 503
    assert checks_of(gone.json())["arm"]["code"] == "ArmUnreachable"


# --- times and totals ----------------------------------------------------------------------


def test_progress_times_are_utc_with_z(stack: Stack) -> None:
    report = stack.run(export_body("mysqltestserver"))
    progress = stack.api("GET", f"exports/{report['runId']}").json()
    assert UTC_Z.fullmatch(progress["createdTime"]) and UTC_Z.fullmatch(progress["lastUpdatedTime"])
    row = progress["servers"][0]
    assert UTC_Z.fullmatch(row["startTime"]) and UTC_Z.fullmatch(row["endTime"])


def test_the_total_is_known_from_the_first_progress_answer(stack: Stack) -> None:
    named = [
        server_id("mysqltestserver"),
        server_id("mysqltestserver", "testgroup"),
        server_id("orders-db", "ProdGroup"),
    ]
    with stack.host.hold_clock():
        started = stack.start({"servers": named, "target": {"sasUriList": [SAS]}})
        first = stack.api("GET", f"exports/{started.json()['id']}").json()
    assert first["summary"]["total"] == 2  # the same server twice is exported once
    stack.follow(started.headers["Location"])


def test_the_total_is_known_before_the_runs_first_episode(stack: Stack) -> None:
    """A run the host has not run yet (Pending, no custom status): the total is the request's
    servers, de-duplicated, and the phase is its first step. The instance is put in devhost's
    store without a dispatch, so the answer is read before any episode, however fast the host."""
    run_id = new_run_id()
    named = [server_id("orders-db", "ProdGroup"), server_id("orders-db", "prodgroup")]
    request = parse_request({"servers": named, "target": {"sasUriList": [SAS]}})
    job = fleet_job(run_id, request, Settings.from_env())
    stack.host.store.create_instance(
        instance_id=run_id, name="export_fleet", input_text=json.dumps(job), timestamp=0.0
    )
    progress = stack.api("GET", f"exports/{run_id}").json()
    assert progress["runtimeStatus"] == "Pending" and progress["phase"] == "resolving"
    assert progress["summary"]["total"] == 1 and progress["summary"]["pending"] == 1
    stack.host.terminate(run_id)


def test_a_discovery_run_says_resolving_with_no_total_until_listed(stack: Stack) -> None:
    stack.emu.set_faults(Faults(error_503=1.0, kinds=frozenset({Kind.LIST_SERVERS})))
    with stack.host.hold_clock():  # the listing's retry waits on a durable timer: held
        started = stack.start(
            {"discover": {"subscriptions": [SUB]}, "target": {"sasUriList": [SAS]}}
        )
        run_id = started.json()["id"]
        stack.wait_until(
            lambda: stack.emu.counters().requests.get(Kind.LIST_SERVERS.value, 0) >= 1,
            "the first listing",
        )
        progress = stack.api("GET", f"exports/{run_id}").json()
        assert progress["phase"] == "resolving"
        assert progress["summary"]["total"] is None and progress["summary"]["pending"] is None
        stack.emu.set_faults(Faults())
    report = stack.follow(started.headers["Location"])
    assert report["output"]["summary"]["total"] == len(stack.emu.servers())

"""What the real Functions host does that a friendlier host would hide, and the app coping.

Instance queries come a page at a time (and a page may be empty and still have a token), so
cancel, progress and the schedule must not rest on one query; discovery is cut into scopes so
one failed listing costs one scope; and a server orchestration's input does not grow with the
SAS list.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest

from armemulator import ServerSpec
from armemulator.kinds import Kind
from devhost.management import QueryPaging, paging_default
from devhost.store import RuntimeStatus
from mysqlexport import discovery
from tests.e2e.conftest import SAS, SUB, StackFactory, discover_body, server_id
from workflow.instance_ids import server_prefix


@pytest.fixture
def empty_pages() -> Iterator[None]:
    """Instance queries answer every other page empty, with a token, as Azure Storage may."""
    with paging_default(QueryPaging(empty_pages=True)):
        yield


@pytest.mark.parametrize("pages", ["full pages", "every other page empty"])
def test_cancel_stops_every_batch_after_its_export_in_flight(
    make_stack: StackFactory, pages: str
) -> None:
    # one slot: the largest server (a short export) alone, then batches of 4 four-hour exports
    paging = QueryPaging(empty_pages=pages != "full pages")
    with paging_default(paging):
        _cancel_batches(make_stack)


def _cancel_batches(make_stack: StackFactory) -> None:
    head = ServerSpec(SUB, "rg", "q-head", export_seconds=60, datasource_size_bytes=100 * 2**30)
    rest = tuple(ServerSpec(SUB, "rg", f"q{i:02d}", export_seconds=4 * 3600) for i in range(39))
    stack = make_stack(settings={"SHARD_SIZE": "100"}, fleet=(head, *rest))
    with stack.host.hold_clock():
        started = stack.start(discover_body(maxConcurrency=1))
        run_id = started.json()["id"]
        # the clock moves at most 3 h: the run's four-hour export is in flight at the cancel
        stack.step_clock_until(
            lambda: stack.emu.counters().requests.get(Kind.BACKUP_AND_EXPORT.value, 0) >= 2,
            "the first run submitted its first export",
            step=60.0,
            budget=3 * 3600.0,
        )
        assert stack.host.store.query(prefix=f"{run_id}:batch:", statuses=[RuntimeStatus.RUNNING])
        canceled = stack.api("POST", f"exports/{run_id}/cancel")
        assert canceled.status_code == 202
    final = stack.follow(started.headers["Location"])["output"]
    states = [r["status"] for r in final["servers"]]
    # the head and the run's export in flight are followed to the end; nothing submitted after
    assert stack.emu.counters().requests[Kind.BACKUP_AND_EXPORT.value] == 2
    assert states.count("Succeeded") == 2 and states.count("Canceled") == 38
    assert final["summary"]["outcome"] == "Canceled"


def test_progress_counts_every_server_when_queries_are_paged(
    make_stack: StackFactory, empty_pages: None
) -> None:
    fleet = tuple(ServerSpec(SUB, "rg", f"p{i:03d}", export_seconds=3600) for i in range(150))
    stack = make_stack(settings={"SHARD_SIZE": "100"}, fleet=fleet)
    with stack.host.hold_clock():
        started = stack.start(discover_body(maxConcurrency=120))
        run_id = started.json()["id"]
        progress: dict[str, object] = {}

        def all_running() -> bool:
            nonlocal progress
            progress = stack.api("GET", f"exports/{run_id}").json()
            return len(progress.get("servers") or []) == 120  # type: ignore[arg-type]

        stack.wait_until(all_running, "120 exports running")
        summary = progress["summary"]
        assert isinstance(summary, dict)
        assert summary["total"] == 150
        assert summary["running"] == 120 and summary["pending"] == 30
        assert summary["succeeded"] == 0
    report = stack.follow(started.headers["Location"], timeout=300)["output"]
    assert report["summary"]["succeeded"] == 150


def test_schedule_never_overlaps_with_paged_queries_and_old_runs_in_the_hub(
    make_stack: StackFactory, empty_pages: None
) -> None:
    request = {"servers": [server_id("nightly", "rg")], "target": {"sasUriList": [SAS]}}
    stack = make_stack(
        settings={
            "EXPORT_SCHEDULE": "0 */20 * * * *",
            "EXPORT_SCHEDULE_REQUEST": json.dumps(request),
        },
        host_options={"timer_triggers": True, "advance_to_schedules": True},
        fleet=(ServerSpec(SUB, "rg", "nightly", export_seconds=50 * 60),),
    )
    with stack.host.hold_clock():  # hundreds of finished runs from earlier nights
        for i in range(150):
            stack.host.start_orchestration("export_target", {}, instance_id=f"sched-{i:020x}")

    def completed_runs() -> list[tuple[float, float]]:
        done = stack.host.store.query(prefix="sched-", statuses=[RuntimeStatus.COMPLETED])
        return sorted(
            (i.created_time, i.last_updated_time) for i in done if i.name == "export_fleet"
        )

    stack.wait_until(lambda: len(completed_runs()) >= 3, "three scheduled runs completed")
    stack.host.stop()
    runs = completed_runs()
    every = sorted(
        (i.created_time, i.last_updated_time, i.status)
        for i in stack.host.store.query(prefix="sched-")
        if i.name == "export_fleet"
    )
    for (_, ended, status), (began, _, _) in itertools.pairwise(every):
        assert status is RuntimeStatus.COMPLETED  # only the last may still be running
        assert began >= ended  # each scheduled run starts after the previous one ended
    assert stack.emu.counters().requests[Kind.BACKUP_AND_EXPORT.value] >= len(runs)


def test_discovery_across_many_scopes_reports_the_scope_that_failed(
    make_stack: StackFactory,
) -> None:
    subs = [f"{i:08d}-aaaa-bbbb-cccc-dddddddddddd" for i in range(3)]
    groups = [f"g{j:02d}" for j in range(30)]  # more than one scope's worth of groups
    fleet = tuple(
        ServerSpec(sub, group, f"s{i}-{group}", export_seconds=60)
        for i, sub in enumerate(subs)
        for group in groups
    )
    stack = make_stack(fleet=fleet, forbidden_scopes=frozenset({f"/subscriptions/{subs[1]}"}))
    report = stack.run(
        {
            "discover": {"subscriptions": subs, "resourceGroups": groups},
            "target": {"sasUriList": [SAS]},
            "maxConcurrency": 60,
        }
    )
    assert len(discovery.scopes({"subscriptions": subs, "resourceGroups": groups})) == 6
    succeeded = {r["id"].rsplit("/", 1)[1] for r in report["servers"] if r["status"] == "Succeeded"}
    assert succeeded == {s.name for s in fleet if s.subscription != subs[1]}
    assert len(report["servers"]) == 60  # nothing of the forbidden subscription is a row
    # one problem per listing that failed: each of the forbidden subscription's 30 groups
    assert {p["code"] for p in report["problems"]} == {"AuthorizationFailed"}
    assert len(report["problems"]) == 30
    assert all(subs[1] in p["scope"] for p in report["problems"])
    assert report["summary"]["outcome"] == "PartiallySucceeded"


@pytest.mark.parametrize(
    ("discover", "code"),
    [
        ({"subscriptions": ["11111111-2222-3333-4444-555555555555"]}, "SubscriptionNotFound"),
        ({"subscriptions": [SUB], "tags": {"backup": "never"}}, "NoServersMatched"),
        ({"subscriptions": [SUB], "resourceGroups": ["no-such-group"]}, "ResourceGroupNotFound"),
    ],
)
def test_nothing_exported_never_looks_like_success(
    make_stack: StackFactory, discover: dict[str, object], code: str
) -> None:
    stack = make_stack()
    report = stack.run({"discover": discover, "target": {"sasUriList": [SAS]}})
    assert report["summary"]["total"] == 0
    assert [p["code"] for p in report["problems"]] == [code]
    assert report["summary"]["outcome"] == "Failed"


def _maximal_sas(count: int) -> list[str]:
    head = "https://account{i:02d}.blob.core.windows.net/backups?sv=2022-11-02&sr=c&sp=rcw&sig="
    return [(head.format(i=i) + "A" * 4096)[:4093] + "%3D" for i in range(count)]


def _server_input_sizes(make_stack: StackFactory, sas: list[str]) -> list[int]:
    stack = make_stack()
    report = stack.run({"servers": [server_id("mysqltestserver")], "target": {"sasUriList": sas}})
    assert report["summary"]["succeeded"] == 1
    found = stack.host.store.query(prefix=server_prefix(report["runId"]))
    assert found
    return [len(i.input_text or "") for i in found]


def test_server_inputs_do_not_grow_with_the_sas_list(make_stack: StackFactory) -> None:
    one = _server_input_sizes(make_stack, _maximal_sas(1))
    many = _server_input_sizes(make_stack, _maximal_sas(64))
    assert max(one) < 2_000
    assert max(many) - max(one) < 100  # the same but for the run id's and times' lengths

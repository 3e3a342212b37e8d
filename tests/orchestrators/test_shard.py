"""``export_shard`` through its branches: the sliding window, batches of small servers, dry
runs, cancels and failed children, with every child answered by a script."""

from __future__ import annotations

from typing import Any

from mysqlexport import report
from mysqlexport.ids import ServerId
from orchestrators.rows import ORCHESTRATION_FAILED
from tests.orchestrators.script import (
    accepted,
    by_name,
    cancel,
    children_open,
    entry,
    exports,
    scheduled,
    script,
    shard_input,
    short,
    validated,
)
from tests.reliability.replaying import Raises, ScriptedRun
from workflow import names
from workflow.contracts import RelayAnswer, ShardInput
from workflow.instance_ids import batch_instance_id, server_instance_id

RELAYED: RelayAnswer = {"delivered": 1, "gone": 0}


def shard(job: ShardInput, run: ScriptedRun | None = None, **kw: Any) -> tuple[Any, ScriptedRun]:
    run = run or ScriptedRun(names.EXPORT_SHARD, job, script(**kw), children=exports())
    state = run.run()
    assert state.error is None, state.error
    return state.output, run


def started(run: ScriptedRun, name: str = names.EXPORT_SERVER) -> list[list[str]]:
    """The servers of each call named ``name``, in the order they were scheduled."""
    out = []
    for call in run.called(name):
        servers = call.input["servers"] if "servers" in call.input else [call.input["server"]]
        out.append([short(s["id"]) for s in servers])
    return out


def test_the_window_never_holds_more_than_its_units_and_refills_in_order() -> None:
    servers = [entry(f"db{i}") for i in range(7)]
    seconds = {f"db{i}": s for i, s in enumerate([50, 10, 31, 20, 40, 5, 16])}
    job = shard_input(servers, window=3)
    run = ScriptedRun(
        names.EXPORT_SHARD,
        job,
        script(),
        children=exports(seconds=lambda server: seconds[short(server)]),
    )
    rows, run = shard(job, run)
    assert children_open(run) == 3  # full, never over
    assert started(run) == [[f"db{i}"] for i in range(7)]  # in the shard's order
    assert [short(r["id"]) for r in rows] == ["db1", "db3", "db2", "db5", "db0", "db6", "db4"]
    assert {r["status"] for r in rows} == {report.SUCCEEDED}
    first = run.called(names.EXPORT_SERVER)[0]
    assert first.instance_id == server_instance_id(
        job["run"]["runId"], ServerId.parse(servers[0]["id"]).key
    )
    assert first.input["deadline"] == "2027-01-16T08:00:00Z"  # deadlineMinutes from its start
    final = run.episodes[-1].custom_status
    assert final["total"] == 7 and final["succeeded"] == 7
    assert final["running"] == 0 and final["pending"] == 0


def small_shard(batch_max_servers: int) -> ShardInput:
    """Two large servers and seven small ones: with a window of 2, the small ones are light
    enough to share a slot (planning.plan_batches: 1/10 of a slot's share each)."""
    servers = [entry("big0", 100), entry("big1", 90)]
    servers += [entry(f"small{i}", 1) for i in range(7)]
    return shard_input(servers, window=2, batch_max_servers=batch_max_servers)


def test_small_servers_go_in_batches_of_at_most_batch_max_servers() -> None:
    job = small_shard(3)
    rows, run = shard(job)
    assert started(run, names.EXPORT_BATCH) == [
        ["small0", "small1", "small2"],
        ["small3", "small4", "small5"],
    ]
    assert started(run) == [["big0"], ["big1"], ["small6"]]
    batch_ids = [c.instance_id for c in run.called(names.EXPORT_BATCH)]
    assert batch_ids == [batch_instance_id(job["run"]["runId"], 0, n) for n in (2, 3)]
    assert children_open(run) == 2
    assert len(rows) == 9 and {r["status"] for r in rows} == {report.SUCCEEDED}


def test_batch_max_servers_of_one_schedules_no_batch() -> None:
    rows, run = shard(small_shard(1))
    assert run.called(names.EXPORT_BATCH) == []
    assert len(started(run)) == 9 and len(rows) == 9


def test_a_dry_run_validates_each_server_and_writes_its_row() -> None:
    servers = [entry(n) for n in ("ready", "stopped", "big", "crashed", "other")]
    answers = {
        "ready": validated("Ready", 1),
        "stopped": validated("Stopped", None),
        "big": validated("Ready", 5),
        "crashed": Raises("worker exited"),
        "other": validated("Ready", 2),
    }
    job = shard_input(servers, window=2, dry_run=True, sas_count=2)

    def validate(name: str, ref: Any) -> Any:
        assert name == names.VALIDATE_SERVER, name
        return answers[short(ref["id"])]

    run = ScriptedRun(names.EXPORT_SHARD, job, validate)
    rows, run = shard(job, run)
    assert run.called(kind="suborchestration") == []
    assert [c.input for c in run.called(names.VALIDATE_SERVER)] == [
        {"id": s["id"], "operation": "export"} for s in servers
    ]
    assert max(sum(1 for c in e.open if c.kind == "activity") for e in run.episodes) == 2
    got = by_name(rows)
    assert got["ready"]["status"] == report.SUCCEEDED and got["ready"]["numberOfContainers"] == 1
    assert got["other"]["status"] == report.SUCCEEDED  # exactly as many containers as SAS
    assert got["stopped"]["error"]["code"] == "ServerNotReady"
    assert got["big"]["error"]["code"] == "InsufficientStorageContainers"
    assert got["crashed"]["status"] == report.FAILED
    assert got["crashed"]["error"]["code"] == "ActivityFailed"
    assert "worker exited" in got["crashed"]["error"]["message"]
    assert {got[n]["status"] for n in ("stopped", "big")} == {report.FAILED}


def test_a_cancel_cancels_what_has_not_started_and_is_relayed_to_running_batches() -> None:
    job = small_shard(3)
    seconds = {"big0": 1000.0, "big1": 10.0, "small0": 1000.0}
    run = ScriptedRun(
        names.EXPORT_SHARD,
        job,
        script(relay_cancel=[RELAYED]),
        children=exports(seconds=lambda server: seconds.get(short(server), 0.0)),
        events=[cancel(scheduled(names.EXPORT_BATCH))],
    )
    rows, run = shard(job, run)
    batch = batch_instance_id(job["run"]["runId"], 0, 2)
    assert run.called(names.RELAY_CANCEL)[0].input == {"instances": [batch]}
    assert started(run, names.EXPORT_BATCH) == [["small0", "small1", "small2"]]
    assert started(run) == [["big0"], ["big1"]]
    got = by_name(rows)
    assert len(got) == 9
    canceled = {n for n, r in got.items() if r["status"] == report.CANCELED}
    assert canceled == {"small3", "small4", "small5", "small6"}
    assert got["small3"]["error"]["code"] == "RunCanceled"
    assert got["big0"]["status"] == report.SUCCEEDED  # running units are followed to the end


def test_after_a_cancel_probed_servers_still_start() -> None:
    servers = [entry("first"), entry("probed", first=accepted()), entry("later")]
    job = shard_input(servers, window=1)
    run = ScriptedRun(
        names.EXPORT_SHARD,
        job,
        script(),
        children=exports(seconds=lambda _server: 100.0),
        events=[cancel(scheduled(names.EXPORT_SERVER))],
    )
    rows, run = shard(job, run)
    assert started(run) == [["first"], ["probed"]]
    assert run.called(names.RELAY_CANCEL) == []  # a server's export does not listen for it
    got = by_name(rows)
    assert got["later"]["status"] == report.CANCELED
    assert got["probed"]["status"] == got["first"]["status"] == report.SUCCEEDED
    assert run.episodes[-2].custom_status.get("canceling") is True


def test_a_shard_started_canceled_follows_only_its_probed_servers() -> None:
    servers = [entry("probed", first=accepted()), entry("other0"), entry("other1")]
    rows, run = shard(shard_input(servers, window=3, canceled=True))
    assert started(run) == [["probed"]]
    got = by_name(rows)
    assert got["probed"]["status"] == report.SUCCEEDED
    assert got["other0"]["status"] == got["other1"]["status"] == report.CANCELED


def test_a_failed_server_orchestration_becomes_an_orchestration_failed_row() -> None:
    servers = [entry("db0"), entry("db1")]
    job = shard_input(servers)
    run = ScriptedRun(
        names.EXPORT_SHARD,
        job,
        script(),
        children=exports(fail=lambda server: "boom" if short(server) == "db0" else None),
    )
    rows, run = shard(job, run)
    got = by_name(rows)
    assert got["db0"]["status"] == report.FAILED
    assert got["db0"]["error"]["code"] == ORCHESTRATION_FAILED
    assert "Orchestrator function 'export_server' failed: boom" in got["db0"]["error"]["message"]
    assert got["db1"]["status"] == report.SUCCEEDED


def test_a_failed_batch_fails_each_of_its_servers() -> None:
    job = small_shard(3)
    run = ScriptedRun(
        names.EXPORT_SHARD,
        job,
        script(),
        children=exports(fail=lambda server: "lost" if short(server) == "small0" else None),
    )
    rows, run = shard(job, run)
    failed = {n for n, r in by_name(rows).items() if r["status"] == report.FAILED}
    assert failed == {"small0", "small1", "small2"}
    assert {by_name(rows)[n]["error"]["code"] for n in failed} == {ORCHESTRATION_FAILED}


def test_the_shards_progress_counts_running_servers_not_units() -> None:
    job = small_shard(3)
    run = ScriptedRun(
        names.EXPORT_SHARD,
        job,
        script(),
        children=exports(seconds=lambda server: 100.0 if "small" in server else 10.0),
    )
    _, run = shard(job, run)
    for episode in run.episodes:
        servers_open = sum(
            len(c.input["servers"]) if c.name == names.EXPORT_BATCH else 1
            for c in episode.open
            if c.kind == "suborchestration"
        )
        assert episode.custom_status["running"] == servers_open, episode

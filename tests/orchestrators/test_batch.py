"""``export_batch``: small servers exported one after another in one window slot."""

from __future__ import annotations

from typing import Any

from mysqlexport import report
from orchestrators.rows import ORCHESTRATION_FAILED
from tests.orchestrators.script import (
    batch_input,
    cancel,
    children_open,
    entry,
    exports,
    scheduled,
    script,
    short,
)
from tests.reliability.replaying import START, External, ScriptedRun
from workflow import names

SERVERS = [entry("small0", 1), entry("small1", 1), entry("small2", 1)]


def batch(**kw: Any) -> tuple[list[Any], ScriptedRun]:
    kw.setdefault("children", exports(seconds=lambda _server: 60.0))
    run = ScriptedRun(names.EXPORT_BATCH, batch_input(SERVERS), script(), **kw)
    state = run.run()
    assert state.error is None, state.error
    return state.output, run


def started(run: ScriptedRun) -> list[str]:
    return [short(c.input["server"]["id"]) for c in run.called(names.EXPORT_SERVER)]


def test_servers_are_exported_one_after_another_in_order() -> None:
    rows, run = batch()
    assert started(run) == ["small0", "small1", "small2"]
    assert children_open(run) == 1
    assert [short(r["id"]) for r in rows] == ["small0", "small1", "small2"]
    assert {r["status"] for r in rows} == {report.SUCCEEDED}
    # each export's deadline counts from its own start
    deadlines = [c.input["deadline"] for c in run.called(names.EXPORT_SERVER)]
    assert deadlines == ["2027-01-16T08:00:00Z", "2027-01-16T08:01:00Z", "2027-01-16T08:02:00Z"]


def test_a_cancel_after_the_first_server_cancels_the_rest() -> None:
    rows, run = batch(events=[cancel(scheduled(names.EXPORT_SERVER))])
    assert started(run) == ["small0"]
    assert [r["status"] for r in rows] == [report.SUCCEEDED, report.CANCELED, report.CANCELED]
    assert rows[1]["error"]["code"] == "RunCanceled"


def test_a_cancel_between_servers_lets_the_running_one_finish() -> None:
    rows, run = batch(events=[External(names.CANCEL_EVENT, {"requested": True}, at=START + 90)])
    assert started(run) == ["small0", "small1"]
    assert [r["status"] for r in rows] == [report.SUCCEEDED, report.SUCCEEDED, report.CANCELED]


def test_a_failed_server_is_its_row_and_the_batch_goes_on() -> None:
    rows, run = batch(
        children=exports(fail=lambda server: "boom" if short(server) == "small1" else None)
    )
    assert started(run) == ["small0", "small1", "small2"]
    assert [r["status"] for r in rows] == [report.SUCCEEDED, report.FAILED, report.SUCCEEDED]
    assert rows[1]["error"]["code"] == ORCHESTRATION_FAILED

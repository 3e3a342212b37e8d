"""``scheduled_run`` runs the tick's fleet export as a child under the run's own id;
``export_target`` only holds the sealed target as its input."""

from __future__ import annotations

from typing import Any

from mysqlexport import report
from tests.orchestrators.script import RUN_ID, fleet_job, script, server_id
from tests.reliability.replaying import Fails, ScriptedRun
from workflow import names
from workflow.contracts import TargetInput

JOB = fleet_job(servers=[server_id("db1")])
SUMMARY = {"total": 1, "succeeded": 1, "outcome": report.OUTCOME_SUCCEEDED}


def scheduled(fleet_answer: Any) -> tuple[Any, ScriptedRun]:
    run = ScriptedRun(names.SCHEDULED_RUN, JOB, script(), children=lambda _call: fleet_answer)
    state = run.run()
    assert state.error is None, state.error
    return state.output, run


def test_a_fleet_that_completed_is_reported_with_its_summary() -> None:
    output, run = scheduled({"runId": RUN_ID, "summary": SUMMARY, "servers": []})
    assert output == {"runId": RUN_ID, "runtimeStatus": "Completed", "summary": SUMMARY}
    (fleet,) = run.called(kind="suborchestration")
    assert (fleet.name, fleet.instance_id, fleet.input) == (names.EXPORT_FLEET, RUN_ID, JOB)
    assert run.episodes[0].custom_status == {"runId": RUN_ID}


def test_a_fleet_that_failed_is_reported_failed_with_its_reason() -> None:
    output, _ = scheduled(Fails("ValueError: no"))
    assert output["runId"] == RUN_ID and output["runtimeStatus"] == "Failed"
    assert "Orchestrator function 'export_fleet' failed: ValueError: no" in output["error"]


def test_the_target_holds_its_input_and_ends_at_once() -> None:
    target: TargetInput = {"sealedTarget": "sealed"}
    run = ScriptedRun(names.EXPORT_TARGET, target, script())
    state = run.run()
    assert state.is_done and state.error is None and state.output is None
    assert run.calls == [] and run.timers == [] and len(run.episodes) == 1

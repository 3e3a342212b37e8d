"""``scheduled_run``: the one instance through which every scheduled run goes.

The timer trigger starts it (instance id ``SCHEDULE_INSTANCE_ID``) only when it is not
running; it runs the tick's fleet export as a sub-orchestration under the run's own id and ends
with it. So "the previous scheduled run is still going" is one status read of a known id: no
instance query, which the host answers a page at a time, can miss a running run however many
old runs the task hub holds.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from mysqlexport.redaction import redact_text
from orchestrators.blueprint import bp
from workflow import names
from workflow.contracts import FleetJob


@bp.orchestration_trigger(context_name="context")
def scheduled_run(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Run one scheduled export; the output names the run and its outcome."""
    job: FleetJob = context.get_input()
    run_id = job["runId"]
    context.set_custom_status({"runId": run_id})
    task = context.call_sub_orchestrator(names.EXPORT_FLEET, job, run_id)
    try:
        report = yield task
    except Exception:  # noqa: BLE001 - the run's own status says why; the schedule goes on
        return {"runId": run_id, "runtimeStatus": "Failed", "error": redact_text(str(task.result))}
    summary = report.get("summary") if isinstance(report, dict) else None
    return {"runId": run_id, "runtimeStatus": "Completed", "summary": summary}

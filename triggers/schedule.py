"""Scheduled runs: ``EXPORT_SCHEDULE`` (NCRONTAB) with the request body in
``EXPORT_SCHEDULE_REQUEST``.

Every scheduled run goes through one instance, ``scheduled_run`` under the fixed id
``SCHEDULE_INSTANCE_ID``, which ends with its run. A tick reads that instance's status: while
it is running, the tick is skipped and logged; otherwise the tick starts it again (the host
replaces a finished instance of the same id) with a new run. One status read of a known id, so
no instance query (which the host answers a page at a time) can miss a running run, however
many old runs the task hub keeps.
"""

from __future__ import annotations

import json
import logging
import os

import azure.durable_functions as df
import azure.functions as func

from mysqlexport.errors import ExportError
from mysqlexport.request import parse_request
from mysqlexport.settings import Settings
from triggers.runs import RUNNING, run_target, start_target
from workflow import names
from workflow.contracts import fleet_job
from workflow.instance_ids import SCHEDULE_INSTANCE_ID, new_run_id

logger = logging.getLogger(__name__)
bp = df.Blueprint()
SCHEDULED_PREFIX = "sched"


@bp.timer_trigger(arg_name="timer", schedule="%EXPORT_SCHEDULE%", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def scheduled_export(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Start the scheduled run unless the previous one is still running."""
    current = await client.get_status(SCHEDULE_INSTANCE_ID)
    if getattr(current, "runtime_status", None) in RUNNING:
        custom = current.custom_status if isinstance(current.custom_status, dict) else {}
        logger.warning(
            "scheduled export skipped: run %s is still running", custom.get("runId", "?")
        )
        return
    try:
        raw = os.environ.get("EXPORT_SCHEDULE_REQUEST", "")
        request = parse_request(json.loads(raw) if raw.strip() else None)
        job_settings = Settings.from_env()
        target = run_target(request)
    except (ExportError, ValueError) as err:
        logger.error("scheduled export not started: EXPORT_SCHEDULE_REQUEST: %s", err)
        return
    run_id = new_run_id(SCHEDULED_PREFIX)
    if target is not None:
        await start_target(client, run_id, target)
    job = fleet_job(run_id, request, job_settings)
    await client.start_new(names.SCHEDULED_RUN, SCHEDULE_INSTANCE_ID, job)
    logger.info("scheduled export run %s started (past due: %s)", run_id, timer.past_due)

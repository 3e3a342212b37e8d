"""Scheduled runs: ``EXPORT_SCHEDULE`` (NCRONTAB) with the request body in
``EXPORT_SCHEDULE_REQUEST``. A run never overlaps its predecessor: while the previous scheduled
run is still going, the tick is skipped and logged."""

from __future__ import annotations

import json
import logging
import os

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from mysqlexport.durable_ids import new_run_id
from mysqlexport.errors import ExportError
from mysqlexport.jobs import FLEET_ORCHESTRATOR, fleet_job
from mysqlexport.request import parse_request
from mysqlexport.sealing import Sealer
from mysqlexport.settings import Settings

logger = logging.getLogger(__name__)
bp = df.Blueprint()
SCHEDULED_PREFIX = "sched"


@bp.timer_trigger(arg_name="timer", schedule="%EXPORT_SCHEDULE%", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def scheduled_export(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Start the scheduled run unless the previous one is still running."""
    running = await client.get_status_by(
        instance_id_prefix=f"{SCHEDULED_PREFIX}-",
        runtime_status=[OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending],
    )
    previous = [s.instance_id for s in running or [] if ":" not in (s.instance_id or "")]
    if previous:
        logger.warning("scheduled export skipped: run %s is still running", previous[0])
        return
    try:
        raw = os.environ.get("EXPORT_SCHEDULE_REQUEST", "")
        request = parse_request(json.loads(raw) if raw.strip() else None)
        job_settings = Settings.from_env()
        sealer = Sealer.from_setting(os.environ.get("SAS_SEALING_KEY"))
    except (ExportError, ValueError) as err:
        logger.error("scheduled export not started: EXPORT_SCHEDULE_REQUEST: %s", err)
        return
    run_id = new_run_id(SCHEDULED_PREFIX)
    await client.start_new(
        FLEET_ORCHESTRATOR, run_id, fleet_job(run_id, request, job_settings, sealer)
    )
    logger.info("scheduled export run %s started (past due: %s)", run_id, timer.past_due)

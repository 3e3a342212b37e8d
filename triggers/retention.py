"""History retention: every night, purge the finished history older than
``HISTORY_RETENTION_DAYS`` (default 30; 0 keeps everything).

The schedule is fixed here, not a ``%SETTING%``: the host resolves a binding's ``%SETTING%``
when it indexes the function, and one that does not resolve puts the function in error
(Azure/azure-functions-host#10346), so an optional feature must not need a setting to be
indexed. The retention is read at each tick instead, validated with the other settings.

A tick finds the oldest run that has not finished (one instance query, read to its last page)
and starts the ``purge_history`` orchestration under the fixed id ``history-purge``, unless the
previous purge is still running. The orchestration takes "now" from the host's clock, holds the
cutoff back to before that run, and purges (``workflow.retention`` has the rules).
"""

from __future__ import annotations

import logging
from typing import Final

import azure.durable_functions as df
import azure.functions as func
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from mysqlexport.errors import SettingsError
from mysqlexport.settings import Settings
from triggers.instances import QueryFailed, query_instances
from workflow.retention import (
    PURGE_HISTORY,
    RETENTION_INSTANCE_ID,
    UNFINISHED_STATUSES,
    RetentionJob,
    oldest_running_run,
)

logger = logging.getLogger(__name__)
bp = df.Blueprint()

#: Every night at 04:15 UTC (NCRONTAB: second minute hour day month weekday).
PURGE_SCHEDULE: Final = "0 15 4 * * *"
_UNFINISHED: Final = tuple(OrchestrationRuntimeStatus(s) for s in UNFINISHED_STATUSES)


@bp.timer_trigger(arg_name="timer", schedule=PURGE_SCHEDULE, run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def history_retention(
    timer: func.TimerRequest, client: df.DurableOrchestrationClient
) -> None:
    """Start tonight's purge, unless retention is off or the last purge is still running."""
    try:
        days = Settings.from_env().history_retention_days
    except SettingsError as err:
        logger.error("history purge not started: %s", err)
        return
    if days == 0:
        logger.info("history purge off: HISTORY_RETENTION_DAYS is 0")
        return
    current = await client.get_status(RETENTION_INSTANCE_ID)
    if getattr(current, "runtime_status", None) in _UNFINISHED:
        logger.warning("history purge skipped: the previous purge is still running")
        return
    try:
        unfinished = await query_instances(client, prefix="", statuses=_UNFINISHED)
    except QueryFailed as err:
        logger.error("history purge not started: the runs still going are unknown: %s", err)
        return
    oldest = oldest_running_run((s.instance_id, s.created_time) for s in unfinished)
    if oldest is not None:
        logger.info(
            "history purge keeps what run %s (created %s, not finished) may still need",
            oldest["instanceId"],
            oldest["createdTime"],
        )
    job = RetentionJob(retentionDays=days, oldestRunning=oldest)
    await client.start_new(PURGE_HISTORY, RETENTION_INSTANCE_ID, dict(job))
    logger.info("history purge started (retention %d days, past due: %s)", days, timer.past_due)

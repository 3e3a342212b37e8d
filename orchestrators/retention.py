"""``purge_history``: one night's purge of finished history (``workflow.retention`` says what
goes and what stays).

An orchestration, not the timer itself, because the cutoff is "now" minus the retention and
the one clock every part of the app agrees on is the host's (``current_utc_datetime``): the
worker's wall clock is not it on devhost's virtual clock. It decides the cutoff and leaves the
I/O to the ``purge_finished`` activity.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, cast

import azure.durable_functions as df

from mysqlexport.times import iso
from orchestrators.blueprint import bp
from workflow.retention import (
    PURGE_FINISHED,
    PurgeAnswer,
    PurgeRequest,
    RetentionJob,
    RetentionReport,
    purge_cutoff,
)


@bp.orchestration_trigger(context_name="context")
def purge_history(
    context: df.DurableOrchestrationContext,
) -> Generator[Any, Any, RetentionReport]:
    """Purge every finished instance created up to the cutoff; report how many went."""
    job = cast(RetentionJob, context.get_input())
    cutoff, held_by = purge_cutoff(context.current_utc_datetime, job)
    request = PurgeRequest(createdTimeTo=iso(cutoff))
    answer = cast(PurgeAnswer, (yield context.call_activity(PURGE_FINISHED, request)))
    return RetentionReport(
        retentionDays=job["retentionDays"],
        createdTimeTo=request["createdTimeTo"],
        heldBy=held_by,
        instancesDeleted=answer["instancesDeleted"],
    )

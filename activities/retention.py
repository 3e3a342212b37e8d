"""``purge_finished``: delete the finished instances created up to a cutoff, with the durable
client's purge by filter.

One call: ``DurableOrchestrationClient.purge_instance_history_by`` sends ``DELETE
{rpcBaseUrl}instances/?createdTimeFrom=…&createdTimeTo=…&runtimeStatus=Completed,Failed,Terminated``
(azure-functions-durable 1.7, ``RpcManagementOptions.to_url``; times written
``%Y-%m-%dT%H:%M:%S.%fZ`` whatever their zone, so they are passed in UTC) and the host deletes
every match, each instance's history and state, before it answers ``{"instancesDeleted": n}``,
or 404 for none, which the SDK reads as 0 (azure-functions-durable-extension
``HttpApiHandler.HandleDeleteHistoryWithFiltersRequestAsync``). The statuses must be named: the
Azure Storage provider keeps only finished ones from the request, and a request with none has no
status condition and deletes running instances too (``devhost.management`` cites the source).
Purging again is harmless, so a retried activity is too.

The work is bounded by the host, not here: the Azure Storage provider deletes the matches a page
of 100 at a time, a share of its storage concurrency at once, until none is left. Night after
night that is one day's runs. The first purge of an old task hub may take longer than the SDK
waits for an answer (240 s, ``http_utils._get_session`` in azure-functions-durable 1.7): then the
activity fails (the ``history-purge`` instance shows it) while the host goes on deleting (the
handler passes the request no cancellation), and the next night's purge finds the rest.
"""

from __future__ import annotations

import logging
from typing import cast

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from activities.functions import bp
from mysqlexport.times import parse
from workflow.retention import (
    EPOCH,
    FINISHED_STATUSES,
    PurgeAnswer,
    PurgeRequest,
)

logger = logging.getLogger(__name__)


@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def purge_finished(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    """Purge the finished instances created from ``EPOCH`` to ``createdTimeTo`` (inclusive)."""
    request = cast(PurgeRequest, payload)
    result = await client.purge_instance_history_by(
        created_time_from=EPOCH,
        created_time_to=parse(request["createdTimeTo"]),
        runtime_status=[OrchestrationRuntimeStatus(s) for s in FINISHED_STATUSES],
    )
    deleted = int(result.instances_deleted)
    logger.info(
        "history purge: %d finished instances created up to %s deleted",
        deleted,
        request["createdTimeTo"],
        extra={"instancesDeleted": deleted, "createdTimeTo": request["createdTimeTo"]},
    )
    return dict(PurgeAnswer(instancesDeleted=deleted))

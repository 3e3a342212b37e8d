"""What a shard hands out: one server's ``export_server`` call, and the row of one never started."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import azure.durable_functions as df

from mysqlexport import function_names as names
from mysqlexport import report
from mysqlexport.durable_ids import server_instance_id
from mysqlexport.ids import ServerId
from orchestrators.timeutil import after, iso

CANCEL_EVENT = "cancel"
SERVER_SETTINGS = ("runId", "sealedTarget", "backupFormat", "poll", "retry")


def server_call(
    context: df.DurableOrchestrationContext, common: Mapping[str, Any], entry: Mapping[str, Any]
) -> tuple[str, dict[str, Any], str]:
    """``(name, input, instance id)`` of the ``export_server`` for ``entry``, starting now.

    The deadline counts from the moment the server's export starts, not from the run's start.
    """
    deadline = after(context.current_utc_datetime, 60 * common["deadlineMinutes"])
    job = {**{k: common[k] for k in SERVER_SETTINGS}, **entry, "deadline": iso(deadline)}
    instance = server_instance_id(common["runId"], ServerId.parse(entry["id"]).key)
    return names.EXPORT_SERVER, job, instance


def canceled_row(entry: Mapping[str, Any]) -> report.ServerRow:
    """The row of a server the run never submitted because it was canceled."""
    return report.server_row(
        entry["id"],
        report.CANCELED,
        backup_name=entry["backupName"],
        error={"code": "RunCanceled", "message": "the run was canceled before this server started"},
    )

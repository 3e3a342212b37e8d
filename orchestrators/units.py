"""What the fleet, shards and runs share: one server's ``export_server`` call, the row of one
never started, passing a cancel on to running children, and an activity's crash as an error."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import azure.durable_functions as df

from mysqlexport import report
from mysqlexport.ids import ServerId
from mysqlexport.redaction import redact_text
from orchestrators.timeutil import after, iso
from workflow import names
from workflow.instance_ids import server_instance_id

CANCEL_EVENT = names.CANCEL_EVENT
SERVER_SETTINGS = ("runId", "backupFormat", "poll", "retry")


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


#: How often a failed ``relay_cancel`` activity is tried again (at once: it only raises events).
RELAY_ATTEMPTS = 3


def relay_cancel(
    context: df.DurableOrchestrationContext, instance_ids: list[str]
) -> Generator[Any, Any, None]:
    """Pass a cancel on to running child instances (orchestrators cannot raise events).

    Children know no run-wide query: each orchestrator that holds children tells exactly the
    ones it is running, so a cancel reaches every unit of a run of any size without an instance
    query (the host's queries are paged; the SDK reads one page).
    """
    if not instance_ids:
        return
    for _ in range(RELAY_ATTEMPTS):
        try:
            yield context.call_activity(names.RELAY_CANCEL, {"instances": instance_ids})
            return
        except Exception:  # noqa: BLE001, S112 - a crashed relay is tried again
            continue


def activity_crash(err: Any) -> dict[str, Any]:
    """An activity that raised instead of answering (a worker crash, a timeout, a bug): keep the
    message, never a secret. Transient: whatever it was doing may work when tried again."""
    return {"code": "ActivityFailed", "message": redact_text(str(err))[:2000], "transient": True}

"""Starting a run, the same way from every entry point (HTTP, retry-failed, the schedule).

A run is two instances: ``{runId}:target`` (``export_target``) keeps the sealed SAS list once,
as its input, and ``{runId}`` (``export_fleet``, or ``scheduled_run`` for the schedule) does
the work. The target is started first, so the run's first submission always finds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from workflow import names
from workflow.contracts import sealed_target_of
from workflow.instance_ids import target_instance_id

#: The statuses of an instance that has not finished.
RUNNING = (OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending)


async def start_target(
    client: df.DurableOrchestrationClient, run_id: str, target: Mapping[str, Any]
) -> None:
    """Keep ``run_id``'s sealed target (``workflow.contracts.target_input``)."""
    await client.start_new(names.EXPORT_TARGET, target_instance_id(run_id), dict(target))


async def start_run(
    client: df.DurableOrchestrationClient,
    run_id: str,
    job: Mapping[str, Any],
    target: Mapping[str, Any],
) -> None:
    """Start ``export_fleet`` for ``job`` under ``run_id``, its target first."""
    await start_target(client, run_id, target)
    await client.start_new(names.EXPORT_FLEET, run_id, dict(job))


async def read_target(client: df.DurableOrchestrationClient, run_id: str) -> dict[str, Any] | None:
    """The sealed target a run was started with, or None when it is gone (purged)."""
    status = await client.get_status(target_instance_id(run_id), show_input=True)
    sealed = sealed_target_of(getattr(status, "input_", None))
    return None if sealed is None else {"sealedTarget": sealed}

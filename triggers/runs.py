"""Starting a run, the same way from every entry point (HTTP, retry-failed, the schedule).

An export run is two instances: ``{runId}:target`` (``export_target``) keeps the target once, as
its input (``workflow.contracts.TargetInput``: the container URLs, or the SAS list sealed), and
``{runId}`` (``export_fleet``, or ``scheduled_run`` for the schedule) does the work. The target
is started first, so the run's first submission always finds it. A backup run has no target:
``{runId}`` alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from mysqlexport.request import RunRequest, Target
from mysqlexport.sealing import Sealer
from workflow import names
from workflow.contracts import TargetInput, kept_target_of, target_input
from workflow.instance_ids import target_instance_id

#: The statuses of an instance that has not finished.
RUNNING = (OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending)


async def start_target(
    client: df.DurableOrchestrationClient, run_id: str, target: Mapping[str, Any]
) -> None:
    """Keep ``run_id``'s target (``workflow.contracts.target_input``)."""
    await client.start_new(names.EXPORT_TARGET, target_instance_id(run_id), dict(target))


def kept_target(target: Target) -> TargetInput:
    """What the run keeps of ``target``: its container URLs as they are, or its SAS list sealed
    with ``SAS_SEALING_KEY`` (read only then: a containers run needs no key)."""
    return target_input(target, Sealer.from_env)


def run_target(request: RunRequest) -> TargetInput | None:
    """An export run's kept target (``kept_target``); None for a backup run, which has no
    target (its backups stay in the service)."""
    return None if request.backup else kept_target(request.target)


async def start_run(
    client: df.DurableOrchestrationClient,
    run_id: str,
    job: Mapping[str, Any],
    target: Mapping[str, Any] | None,
) -> None:
    """Start ``export_fleet`` for ``job`` under ``run_id``, its target (if any) first."""
    if target is not None:
        await start_target(client, run_id, target)
    await client.start_new(names.EXPORT_FLEET, run_id, dict(job))


async def read_target(client: df.DurableOrchestrationClient, run_id: str) -> TargetInput | None:
    """The target a run was started with, or None when it is gone (purged)."""
    status = await client.get_status(target_instance_id(run_id), show_input=True)
    return kept_target_of(getattr(status, "input_", None))

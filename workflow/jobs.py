"""The input of one fleet run, built the same way by every entry point.

The HTTP starter, the schedule and retry-failed all turn a validated request into the JSON the
``export_fleet`` orchestrator receives. Everything an orchestrator would otherwise read from the
environment (poll bounds, concurrency, deadlines) is decided here, once, so orchestrators stay
deterministic. The SAS list is sealed and kept once per run, apart from the job (``target_input``,
the input of the run's ``export_target`` instance): orchestration inputs and histories never
carry it, so their size does not grow with the list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from mysqlexport.request import ExportRequest
from mysqlexport.rules import RetryPolicy
from mysqlexport.sealing import Sealer
from mysqlexport.settings import Settings


def fleet_job(
    run_id: str,
    request: ExportRequest,
    settings: Settings,
    *,
    retry_of: str | None = None,
) -> dict[str, Any]:
    """The ``export_fleet`` input for ``request``."""
    policy = RetryPolicy()
    return {
        "runId": run_id,
        "request": request.public_dict(),
        "sasCount": len(request.sas_uris),
        "maxConcurrency": request.max_concurrency or settings.max_concurrency,
        "deadlineMinutes": request.deadline_minutes or settings.deadline_minutes,
        "shardSize": settings.shard_size,
        "poll": {
            "default_seconds": settings.poll_default_seconds,
            "max_seconds": settings.poll_max_seconds,
        },
        "retry": {
            "transient_attempts": policy.transient_attempts,
            "breaker_sample": policy.breaker_sample,
        },
        "retryOf": retry_of,
    }


def target_input(request: ExportRequest, sealer: Sealer) -> dict[str, Any]:
    """The input of the run's ``export_target`` instance: the sealed SAS list, once per run."""
    return {"sealedTarget": sealer.seal(request.sas_uris)}


def sealed_target_of(target_input_value: Any) -> str | None:
    """The sealed SAS list from an ``export_target`` instance's input as a status query returns
    it (the SDK hands it over as JSON text or as a value), or None when it is not there."""
    value = target_input_value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    sealed = value.get("sealedTarget") if isinstance(value, Mapping) else None
    return sealed if isinstance(sealed, str) else None


def retry_job(run_id: str, original: Mapping[str, Any], servers: Sequence[str]) -> dict[str, Any]:
    """A new run for ``servers`` with the original run's options (its target is copied apart)."""
    request = dict(original["request"])
    request.update(servers=list(servers), discover=None)
    return {**original, "runId": run_id, "request": request, "retryOf": original["runId"]}

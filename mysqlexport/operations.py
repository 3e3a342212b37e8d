"""The bodies of the workflow's activities: one ARM interaction each, answered as plain JSON.

Activities are the only place the workflow does I/O. Each body here takes its dependencies (an
``ArmClient``, a ``Sealer``) as arguments and returns a JSON-ready dict; the Functions glue in
``activities/`` only builds those dependencies per call. Expected failures (ARM said no, the
network failed) come back as ``{"kind": "error", "error": {...}}`` carrying ARM's code, because
an exception crossing into an orchestrator is flattened to a string by the Durable SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from mysqlexport import report
from mysqlexport.arm import ArmClient
from mysqlexport.errors import ExportError, ExportFailed
from mysqlexport.ids import ServerId
from mysqlexport.models import AcceptedOperation, ExportResult, StillRunning
from mysqlexport.request import Discovery
from mysqlexport.sealing import Sealer

logger = logging.getLogger(__name__)


def error_outcome(err: ExportError) -> dict[str, Any]:
    """An expected failure as data."""
    return {"kind": "error", "error": err.to_dict()}


def _result_outcome(result: ExportResult) -> dict[str, Any]:
    return {"kind": "completed", "result": result.to_dict()}


def _failed_outcome(err: ExportFailed) -> dict[str, Any]:
    return {
        "kind": "failed",
        "result": err.result.to_dict() if err.result else None,
        "error": err.to_dict(),
    }


def resolve_servers(payload: Mapping[str, Any], client: ArmClient) -> dict[str, Any]:
    """Explicit servers plus discovered ones, de-duplicated; servers in a state the request does
    not allow are returned as Skipped rows with the reason, never dropped silently.

    The servers come back largest first (by provisioned storage, the size hint ARM's list
    gives): exporting the longest jobs first keeps the window full to the end instead of waiting
    on one big export started last. Servers of unknown size (named explicitly, not listed) go
    first, in the order given, since they may be the big ones.
    """
    selected: dict[str, str] = {}
    sizes: dict[str, int] = {}
    skipped_keys: set[str] = set()
    skipped: list[report.ServerRow] = []
    problems: list[dict[str, Any]] = []
    for raw in payload.get("servers") or []:
        server = ServerId.parse(raw)
        selected.setdefault(server.key, server.resource_id)
    discover = payload.get("discover")
    if discover:
        spec = Discovery.from_dict(discover)
        allowed = {s.lower() for s in spec.states}
        wanted_tags = {k.lower(): v for k, v in spec.tags.items()}
        scopes: list[tuple[str, str | None]] = [
            (sub, group) for sub in spec.subscriptions for group in (spec.resource_groups or [None])
        ]
        for subscription, group in scopes:
            scope = f"/subscriptions/{subscription}" + (f"/resourceGroups/{group}" if group else "")
            try:
                for info in client.list_servers(subscription, group):
                    tags = {k.lower(): v for k, v in info.tags.items()}
                    if any(tags.get(k) != v for k, v in wanted_tags.items()):
                        continue
                    key = info.id.key
                    if info.storage_gb is not None:
                        sizes[key] = info.storage_gb
                    if key in selected or key in skipped_keys:
                        continue
                    if (info.state or "").lower() not in allowed:
                        skipped_keys.add(key)
                        skipped.append(
                            report.server_row(
                                info.id.resource_id,
                                report.SKIPPED,
                                error={
                                    "code": "ServerStateNotAllowed",
                                    "message": f"server state is {info.state}; the request "
                                    f"exports servers in state {', '.join(spec.states)}",
                                },
                            )
                        )
                        continue
                    selected[key] = info.id.resource_id
            except ExportError as err:
                logger.warning("listing servers in %s failed: %s", scope, err)
                problems.append({"scope": scope, **err.to_dict()})
    unknown = [rid for key, rid in selected.items() if key not in sizes]
    known = sorted(
        (rid for key, rid in selected.items() if key in sizes),
        key=lambda rid: (-sizes[rid.lower()], rid.lower()),
    )
    return {
        "servers": unknown + known,
        # Provisioned storage in GB, in the same order (None when unknown): how the fleet
        # predicts each export's length when it deals servers to shards.
        "sizes": [None] * len(unknown) + [sizes[rid.lower()] for rid in known],
        "skipped": skipped,
        "problems": problems,
    }


def validate_server(payload: Mapping[str, Any], client: ArmClient) -> dict[str, Any]:
    """Dry run for one server: its state and how many containers its export needs."""
    server = ServerId.parse(payload["id"])
    try:
        info = client.get_server(server)
        if (info.state or "").lower() != "ready":
            return {"kind": "validated", "state": info.state, "numberOfContainers": None}
        containers = client.validate_backup(server)
    except ExportError as err:
        return error_outcome(err)
    return {"kind": "validated", "state": info.state, "numberOfContainers": containers}


def submit_export(payload: Mapping[str, Any], client: ArmClient, sealer: Sealer) -> dict[str, Any]:
    """POST backupAndExport for one server, once."""
    server = ServerId.parse(payload["id"])
    try:
        sas_uris = sealer.open(payload["sealedTarget"])
        outcome = client.submit_export(
            server, payload["backupName"], sas_uris, payload.get("backupFormat")
        )
    except ExportFailed as err:
        return _failed_outcome(err)
    except ExportError as err:
        logger.info(
            "submit for %s refused: %s", server, err, extra={"server_id": server.resource_id}
        )
        return error_outcome(err)
    if isinstance(outcome, AcceptedOperation):
        logger.info(
            "export of %s accepted",
            server,
            extra={"server_id": server.resource_id, "arm_request_id": outcome.request_id},
        )
        return {"kind": "accepted", "operation": outcome.to_dict()}
    return _result_outcome(outcome)


def read_status(payload: Mapping[str, Any], client: ArmClient) -> dict[str, Any]:
    """One read of the Azure-AsyncOperation status resource."""
    try:
        status = client.get_status(payload["url"])
    except ExportError as err:
        return error_outcome(err)
    return {"kind": "status", **status.to_dict()}


def read_result(payload: Mapping[str, Any], client: ArmClient) -> dict[str, Any]:
    """One read of the Location URL: still running, or the final result."""
    try:
        outcome = client.get_result(payload["url"])
    except ExportFailed as err:
        return _failed_outcome(err)
    except ExportError as err:
        return error_outcome(err)
    if isinstance(outcome, StillRunning):
        return {"kind": "running", "retryAfter": outcome.retry_after}
    return _result_outcome(outcome)

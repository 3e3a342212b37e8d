"""What each activity does: one ARM interaction, answered as its contract says.

Activities are the only place the workflow does I/O. Each body here takes its dependencies (an
``ArmClient``, a ``Sealer``) as arguments and returns the answer ``workflow.contracts`` names;
the Functions glue (``activities/functions.py``) only builds those dependencies per call.
Expected failures (ARM said no, the network failed) come back as a ``Problem`` carrying ARM's
code, because an exception crossing into an orchestrator is flattened to a string by the
Durable SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from mysqlexport import report
from mysqlexport.arm import ArmClient
from mysqlexport.armspec import BACKUP
from mysqlexport.discovery import scope_path
from mysqlexport.errors import ExportError, ExportFailed
from mysqlexport.ids import ServerId
from mysqlexport.models import AcceptedOperation, BackupResource, ExportResult, StillRunning
from mysqlexport.redaction import SecretUri
from mysqlexport.request import DEFAULT_STATES, MAX_DEADLINE_MINUTES
from mysqlexport.sealing import Sealer
from mysqlexport.storage import MAX_SAS_LIFETIME, StorageError
from workflow.contracts import (
    BackupAnswer,
    BackupRef,
    Completed,
    Failed,
    Problem,
    ReadRequest,
    ResultAnswer,
    Running,
    Scope,
    ScopeListing,
    ServerRef,
    StatusAnswer,
    SubmitAnswer,
    SubmitRequest,
    TargetCheckAnswer,
    TargetInput,
    ValidateAnswer,
    backup_json,
    operation,
    problem,
    result_json,
    status_answer,
)

logger = logging.getLogger(__name__)


def _failed(err: ExportFailed) -> Failed:
    return {
        "kind": "failed",
        "result": result_json(err.result) if isinstance(err.result, ExportResult) else None,
        "error": problem(err)["error"],
    }


def list_scope(payload: Scope, client: ArmClient) -> ScopeListing:
    """List one discovery scope (``mysqlexport.discovery.scopes``): a subscription, or some of
    its resource groups. Each listing that fails is a problem carrying ARM's own code; the rest
    of the scope is still listed.

    Answers servers whose tags match, in an allowed state, with their size hint; Skipped rows
    (with the reason) for matching servers in another state; how many matched.
    """
    subscription = str(payload["subscription"])
    groups: list[str | None] = list(payload.get("resourceGroups") or []) or [None]
    states = list(payload.get("states") or DEFAULT_STATES)
    allowed = {s.lower() for s in states}
    wanted_tags = {str(k).lower(): v for k, v in (payload.get("tags") or {}).items()}
    servers: list[tuple[str, int | None]] = []
    skipped: list[report.ServerRow] = []
    problems: list[dict[str, Any]] = []
    matched = 0
    for group in groups:
        scope = scope_path(subscription, group)
        try:
            for info in client.list_servers(subscription, group):
                tags = {k.lower(): v for k, v in info.tags.items()}
                if any(tags.get(k) != v for k, v in wanted_tags.items()):
                    continue
                matched += 1
                if (info.state or "").lower() in allowed:
                    servers.append((info.id.resource_id, info.storage_gb))
                    continue
                skipped.append(
                    report.server_row(
                        info.id.resource_id,
                        report.SKIPPED,
                        error={
                            "code": "ServerStateNotAllowed",
                            "message": f"server state is {info.state}; the request takes "
                            f"servers in state {', '.join(states)}",
                        },
                    )
                )
        except ExportError as err:
            logger.warning("listing servers in %s failed: %s", scope, err)
            problems.append({"scope": scope, **err.to_dict()})
    return {"servers": servers, "skipped": skipped, "matched": matched, "problems": problems}


def validate_server(payload: ServerRef, client: ArmClient) -> ValidateAnswer:
    """Dry run for one server: its state, and how many containers its export needs (an export
    run) or how many on-demand backups it already has (a backup run). Nothing is created."""
    server = ServerId.parse(payload["id"])
    backup = payload.get("operation") == BACKUP
    try:
        info = client.get_server(server)
        if (info.state or "").lower() != "ready":
            return {"kind": "validated", "state": info.state, "numberOfContainers": None}
        if backup:
            count = sum(1 for b in client.list_backups(server) if is_on_demand(b))
            return {
                "kind": "validated",
                "state": info.state,
                "numberOfContainers": None,
                "onDemandBackups": count,
            }
        containers = client.validate_backup(server)
    except ExportError as err:
        return problem(err)
    return {"kind": "validated", "state": info.state, "numberOfContainers": containers}


def is_on_demand(backup: BackupResource) -> bool:
    """Whether a listed backup is an on-demand one: the service's automatic backups say
    ``source: "Automatic"`` (the spec's examples); anything else counts as on demand."""
    return (backup.source or "").lower() != "automatic"


def target_unavailable(run_id: str) -> Problem:
    """The answer when a run's kept target cannot be found (its instance was purged)."""
    return {
        "kind": "error",
        "error": {
            "code": "TargetUnavailable",
            "message": f"the export target of run {run_id} is no longer in the task hub "
            "(purged?); start a new run with the target",
        },
    }


#: Added to a minted SAS's life beyond the export's deadline, for the clocks of this machine
#: and of storage that differ (Microsoft's SAS best practices allow 15 minutes of clock skew,
#: as ``mysqlexport.storage`` does for the start), and for the seconds between the fleet's
#: probe submission and the start of the server's orchestration, from which its deadline counts.
SAS_EXPIRY_MARGIN: Final = timedelta(minutes=15)

#: Mints a container SAS for each URL, valid until the given expiry (``mysqlexport.storage.
#: mint_container_sas`` with the app's identity, in the Functions glue).
Minter = Callable[[Sequence[str], datetime], Sequence[SecretUri]]


def sas_expiry(now: datetime, deadline_minutes: int | None) -> datetime:
    """When a SAS minted at ``now`` for an export expires: the server's deadline counts from its
    own start, at or before ``now``, so ``now`` + the deadline covers every moment the app
    follows the export, plus ``SAS_EXPIRY_MARGIN``, and never beyond the 7 days a user
    delegation key may live (the longest deadline a request may ask is 7 days too). A payload
    without the deadline (scheduled before it was passed on) gets the longest a request may ask.
    """
    minutes = deadline_minutes if deadline_minutes is not None else MAX_DEADLINE_MINUTES
    return now + min(timedelta(minutes=minutes) + SAS_EXPIRY_MARGIN, MAX_SAS_LIFETIME)


def storage_problem(err: StorageError) -> Problem:
    """A SAS that could not be minted, as the server's answer: storage's own code, retried by
    the orchestrator's rules when storage says it is transient. Storage's HTTP status goes in
    the message, not in ``status``: the submission rules read ``status`` as ARM's answer to a
    POST that may have started an export (``mysqlexport.submissions``), and ARM was not called."""
    error = problem(err)["error"]
    status = error.pop("status", None)
    if status is not None:
        error["message"] = f"{error.get('message', '')} (storage answered HTTP {status})"
    error["source"] = "storage"
    return {"kind": "error", "error": error}


def target_sas(
    target: TargetInput,
    deadline_minutes: int | None,
    sealer: Callable[[], Sealer],
    mint: Minter,
    now: datetime,
) -> Sequence[SecretUri]:
    """The SAS URIs of this one submission: a containers target gets a fresh SAS minted now,
    for this export's deadline (``sas_expiry``), used once and never stored; a SAS list is
    opened from its seal. Raises ``ExportError`` (``StorageError`` with storage's code)."""
    if "containers" in target:
        return mint(target["containers"], sas_expiry(now, deadline_minutes))
    return sealer().open(target["sealedTarget"])


def check_target(sas_uris: Callable[[], Sequence[SecretUri]]) -> TargetCheckAnswer:
    """A dry run's look at the target, without exporting: a containers target gets its SAS
    minted as a submission would (proving the identity may get a user delegation key on each
    account: Storage Blob Delegator), a SAS list is opened from its seal (proving the key). The
    SAS is dropped at once; whether the service may write with it shows only in a real run."""
    try:
        count = len(sas_uris())
    except StorageError as err:
        return storage_problem(err)
    except ExportError as err:
        return problem(err)
    return {"kind": "usable", "containers": count}


def submit_export(
    payload: SubmitRequest, client: ArmClient, sas_uris: Callable[[], Sequence[SecretUri]]
) -> SubmitAnswer:
    """POST backupAndExport for one server, once. ``sas_uris`` gives this submission's SAS list
    (``target_sas``: minted for it, or opened from the run's seal; never in the payload)."""
    server = ServerId.parse(payload["id"])
    try:
        uris = sas_uris()
    except StorageError as err:
        logger.info("no SAS for %s: %s", server, err, extra={"server_id": server.resource_id})
        return storage_problem(err)
    except ExportError as err:
        return problem(err)
    try:
        outcome = client.submit_export(server, payload["backupName"], uris, payload["backupFormat"])
    except ExportFailed as err:
        return _failed(err)
    except ExportError as err:
        logger.info(
            "submit for %s refused: %s", server, err, extra={"server_id": server.resource_id}
        )
        return problem(err)
    if isinstance(outcome, AcceptedOperation):
        logger.info(
            "export of %s accepted",
            server,
            extra={"server_id": server.resource_id, "arm_request_id": outcome.request_id},
        )
        return {"kind": "accepted", "operation": operation(outcome)}
    completed: Completed = {"kind": "completed", "result": result_json(outcome)}
    return completed


def read_status(payload: ReadRequest, client: ArmClient) -> StatusAnswer:
    """One read of the Azure-AsyncOperation status resource."""
    try:
        status = client.get_status(payload["url"])
    except ExportError as err:
        return problem(err)
    return status_answer(status)


def read_result(payload: ReadRequest, client: ArmClient) -> ResultAnswer:
    """One read of the Location URL: still running, or the final result."""
    try:
        outcome = client.get_result(payload["url"])
    except ExportFailed as err:
        return _failed(err)
    except ExportError as err:
        return problem(err)
    if isinstance(outcome, StillRunning):
        return {"kind": "running", "retryAfter": outcome.retry_after}
    return {"kind": "completed", "result": result_json(outcome)}


def submit_backup(payload: SubmitRequest, client: ArmClient) -> SubmitAnswer:
    """PUT backupsV2/{backupName} for one server, once: accepted (202), or the backup resource
    itself (200/201, finished or not)."""
    server = ServerId.parse(payload["id"])
    try:
        outcome = client.create_backup(server, payload["backupName"])
    except ExportError as err:
        logger.info(
            "backup of %s refused: %s", server, err, extra={"server_id": server.resource_id}
        )
        return problem(err)
    if isinstance(outcome, AcceptedOperation):
        return {"kind": "accepted", "operation": operation(outcome)}
    return {"kind": "backup", "backup": backup_json(outcome)}


def read_backup_result(payload: ReadRequest, client: ArmClient) -> BackupAnswer:
    """One read of a backup's Location URL: still running, or the backup as it ended."""
    return _backup_answer(lambda: client.get_backup_result(payload["url"]))


def read_backup(payload: BackupRef, client: ArmClient) -> BackupAnswer:
    """One GET of a backup resource, by its id."""
    return _backup_answer(lambda: client.get_backup(payload["ref"]))


def _backup_answer(read: Callable[[], StillRunning | BackupResource]) -> BackupAnswer:
    """``read()`` (a backup's Location or its resource) as the answer: still running, the
    backup, or ARM's error."""
    try:
        outcome = read()
    except ExportError as err:
        return problem(err)
    if isinstance(outcome, StillRunning):
        running: Running = {"kind": "running", "retryAfter": outcome.retry_after}
        if outcome.percent_complete is not None:
            running["percentComplete"] = outcome.percent_complete
        return running
    return {"kind": "backup", "backup": backup_json(outcome)}

r"""ARM semantics of each route: what a request means and what the service answers.

Why this module exists: once a request is routed, authenticated and past throttling (``app``),
what remains is the API itself - checks in the service's order, a model call, a representation.
Each method here is one operation of the contract; failures are raised as ``ArmError``.

Scopes first, on every route about servers (list, get, validate, export): the subscription
exists (404 ``SubscriptionNotFound``) and is registered (409), the identity holds a role on the
subscription or resource group (``EmulatorConfig.forbidden_scopes``; 403 ``AuthorizationFailed``,
before the group is looked up, as ARM authorizes before the resource provider sees the request),
the resource group exists (404 ``ResourceGroupNotFound``).

Order of checks for ``POST .../backupAndExport`` (the emulator's reading of the contract):
api-version, path parameters and scopes, request body, resource group and server exist (404),
caller authorised on the server (403), paused (configured error), server ``Ready`` (400), enough
SAS URIs for ``validateBackup``'s ``numberOfContainers`` (400); then a repeat of a backup name
the server already accepted is answered as ``EmulatorConfig.resubmission`` says (by default 409
while that export runs, then 200 with its final result - the operation "creates a backup if not
existing"; or 202 again, a second export; or 400 ``DuplicateBackupName``); any other name meets
409 while an export (or, unless ``backup_conflicts_with_export`` is off, an on-demand backup)
runs on the server, else the export is accepted: its backup files are written through every SAS
URI on a loopback host (``armemulator.exportfiles``; a refusal makes the export fail, see
``ArmOperations._write_backup_files``), then 202 Accepted. ``validateBackup`` makes the
same checks except the pause: the documented pause concerns exporting, and a read-only estimate
does not export anything.

Order of checks for ``PUT .../backupsV2/{backupName}`` (on-demand backups; the spec states no
error, so every rule here is the emulator's reading, see ``armemulator.backups``): api-version
(one that carries backupsV2), path parameters (``backupName`` ``^[-\w\._]+$``) and scopes, the
optional body (none, ``{}`` or a ServerBackupV2 object; else 400 ``InvalidRequestContent``),
resource group (404 ``ResourceGroupNotFound``) and server (404 ``ParentResourceNotFound``, as ARM
answers about a nested resource whose parent is missing), caller authorised on the server (403),
refused (``EmulatorConfig.backups_paused``: the configured error); then a name the server already
has is answered from its backup (running: the same operation again, as first answered; ended
Succeeded: 200 with the resource; Failed or Canceled: a new backup replaces it); else server
``Ready`` (400 ``InvalidServerState``), no backup running (409 ``BackupAlreadyRunningForServer``),
no export running unless ``backup_conflicts_with_export`` is off (the same 409), fewer than
``backup_limit`` on-demand backups held (400 ``OnDemandBackupLimitExceeded``); then the answer of
``EmulatorConfig.backup_answer``. GET and list of backups make the checks up to the server's;
they are not refused while backups are.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from armemulator import errors, validation
from armemulator.auth import Principal
from armemulator.backups import BackupRecord, BackupRequest
from armemulator.clock import Clock, retry_after_headers
from armemulator.config import (
    BACKUPS_V2_API_VERSIONS,
    BackupAnswer,
    EmulatorConfig,
    PausedError,
    Scope,
    parse_scopes,
)
from armemulator.errors import ArmError
from armemulator.exportfiles import ExportWriter
from armemulator.fleet import ServerSpec
from armemulator.kinds import ACTIONS, Kind
from armemulator.model import (
    BackupResult,
    ExportRecord,
    ExportRequest,
    FleetModel,
    SubmitResult,
)
from armemulator.oplinks import LinkKind, LinkSigner
from armemulator.representations import (
    async_operation_status,
    backup_and_export_response,
    backup_location_result,
    backup_operation_status,
    backup_resource,
    operation_list,
    server_resource,
    validate_backup_response,
)
from armemulator.wire import Request, Response

_SERVERS_TYPE = "flexibleServers"
_EXPORT_TYPE = "flexibleServers/backupAndExport"
_VALIDATE_TYPE = "flexibleServers/validateBackup"
_OPERATION_TYPE = "locations/operationStatus"
_BACKUPS_TYPE = "flexibleServers/backupsV2"
_OPERATIONS_TYPE = "operations"

#: A record whose operation can be polled.
Operation = ExportRecord | BackupRecord


@dataclass
class LiveSettings:
    """Settings that may change while serving (single attribute writes are atomic)."""

    public_base: str = ""
    polling_base: str | None = None
    paused: PausedError | None = None
    backups_paused: PausedError | None = None
    backup_answer: BackupAnswer = BackupAnswer.LOCATION


def _encode_skip_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8")).rstrip(b"=").decode("ascii")


def _decode_skip_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise errors.invalid_path_parameter(
            "$skipToken", token, "it is not a valid token."
        ) from err


class ArmOperations:
    """The operations of the contract, over one model."""

    def __init__(
        self,
        *,
        config: EmulatorConfig,
        clock: Clock,
        model: FleetModel,
        signer: LinkSigner,
        live: LiveSettings,
        created_at: float,
        writer: ExportWriter | None = None,
    ) -> None:
        self._config = config
        self._writer = writer or ExportWriter(config)
        self._clock = clock
        self._model = model
        self._signer = signer
        self._live = live
        self._created_at = created_at
        self._unregistered = {s.lower() for s in config.unregistered_subscriptions}
        self._forbidden: frozenset[Scope] = parse_scopes(config.forbidden_scopes)
        self._granted = (
            None
            if config.granted_actions is None
            else frozenset(a.lower() for a in config.granted_actions)
        )
        self._backup_api_versions = tuple(
            v for v in config.supported_api_versions if v in BACKUPS_V2_API_VERSIONS
        )

    # --- shared checks ----------------------------------------------------------------------

    def _api_version(self, request: Request, resource_type: str) -> str:
        return validation.api_version(
            request.query.get("api-version"), self._config.supported_api_versions, resource_type
        )

    def _subscription(self, raw: str) -> str:
        subscription = validation.subscription_id(unquote(raw))
        if not self._model.subscription_exists(subscription):
            raise errors.subscription_not_found(subscription)
        if subscription.lower() in self._unregistered:
            raise errors.subscription_not_registered()
        return subscription

    def _authorize(
        self,
        principal: Principal,
        kind: Kind,
        subscription: str,
        resource_group: str | None,
        scope: str,
    ) -> None:
        """403 when the identity holds no role on the subscription or the resource group, or
        (``EmulatorConfig.granted_actions``) its role lacks the action of ``kind``."""
        sub = subscription.lower()
        group = resource_group.lower() if resource_group is not None else None
        if (sub, None) in self._forbidden or (group and (sub, group) in self._forbidden):
            raise errors.authorization_failed(principal.object_id, ACTIONS[kind], scope)
        if self._granted is not None and ACTIONS[kind].lower() not in self._granted:
            raise errors.authorization_failed(principal.object_id, ACTIONS[kind], scope)

    def _server_path(
        self, params: dict[str, str], principal: Principal, kind: Kind
    ) -> tuple[str, str, str]:
        subscription = self._subscription(params["subscription"])
        resource_group = validation.resource_group_name(unquote(params["resource_group"]))
        name = validation.server_name(unquote(params["server"]))
        scope = (
            f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
            f"/providers/Microsoft.DBforMySQL/flexibleServers/{name}"
        )
        self._authorize(principal, kind, subscription, resource_group, scope)
        return subscription, resource_group, name

    def _existing_server(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        principal: Principal,
        kind: Kind,
        *,
        missing: Callable[[], ArmError] | None = None,
    ) -> ServerSpec:
        """The server, else 404 (the group's, or ``missing``'s, by default the server's) or 403
        for a server the identity may not touch."""
        spec = self._model.find_server(subscription, resource_group, name)
        if spec is None:
            if not self._model.resource_group_exists(subscription, resource_group):
                raise errors.resource_group_not_found(resource_group)
            raise missing() if missing else errors.server_not_found(resource_group, name)
        if spec.forbidden:
            raise errors.authorization_failed(principal.object_id, ACTIONS[kind], spec.resource_id)
        return spec

    def _polling_url(self, kind: LinkKind, record: Operation, api_version: str) -> str:
        return self._signer.url(
            base=self._live.polling_base or self._live.public_base,
            kind=kind,
            subscription=record.subscription,
            location=record.location,
            operation_id=record.operation_id,
            api_version=api_version,
            issued_at=record.url_issued_at,
            nonce=record.url_nonce,
        )

    # --- servers ----------------------------------------------------------------------------

    def list_servers(
        self, request: Request, params: dict[str, str], principal: Principal
    ) -> Response:
        api_version = self._api_version(request, _SERVERS_TYPE)
        subscription = self._subscription(params["subscription"])
        resource_group: str | None = None
        if "resource_group" in params:
            resource_group = validation.resource_group_name(unquote(params["resource_group"]))
        parent = f"/subscriptions/{subscription}" + (
            f"/resourceGroups/{resource_group}" if resource_group is not None else ""
        )
        self._authorize(
            principal,
            Kind.LIST_SERVERS,
            subscription,
            resource_group,
            f"{parent}/providers/Microsoft.DBforMySQL",
        )
        if resource_group is not None and not self._model.resource_group_exists(
            subscription, resource_group
        ):
            raise errors.resource_group_not_found(resource_group)
        token = request.query.get("$skiptoken")
        after = _decode_skip_token(token) if token else None
        specs, next_key = self._model.list_servers(
            subscription, resource_group, after, max(1, self._config.page_size)
        )
        body: dict[str, object] = {
            "value": [server_resource(spec, self._created_at) for spec in specs]
        }
        if next_key is not None:
            scope = f"/subscriptions/{subscription}"
            if resource_group is not None:
                scope += f"/resourceGroups/{resource_group}"
            body["nextLink"] = (
                f"{self._live.public_base}{scope}/providers/Microsoft.DBforMySQL/flexibleServers"
                f"?api-version={api_version}&$skipToken={_encode_skip_token(next_key)}"
            )
        return Response.json(200, body)

    def list_operations(self, request: Request) -> Response:
        """Operations_List: the provider's operations this emulator serves, one page. ARM
        authenticates the caller (done before dispatch) and checks no role: the call names no
        subscription or resource."""
        self._api_version(request, _OPERATIONS_TYPE)
        return Response.json(200, operation_list())

    def get_server(
        self, request: Request, params: dict[str, str], principal: Principal
    ) -> Response:
        self._api_version(request, _SERVERS_TYPE)
        subscription, resource_group, name = self._server_path(params, principal, Kind.GET_SERVER)
        spec = self._existing_server(subscription, resource_group, name, principal, Kind.GET_SERVER)
        return Response.json(200, server_resource(spec, self._created_at))

    # --- backup and export ------------------------------------------------------------------

    def validate_backup(
        self, request: Request, params: dict[str, str], principal: Principal
    ) -> Response:
        self._api_version(request, _VALIDATE_TYPE)
        subscription, resource_group, name = self._server_path(
            params, principal, Kind.VALIDATE_BACKUP
        )
        spec = self._existing_server(
            subscription, resource_group, name, principal, Kind.VALIDATE_BACKUP
        )
        if spec.state != "Ready":
            raise errors.invalid_server_state(spec.name, spec.state)
        return Response.json(200, validate_backup_response(spec))

    def backup_and_export(
        self, request: Request, params: dict[str, str], principal: Principal
    ) -> Response:
        api_version = self._api_version(request, _EXPORT_TYPE)
        subscription, resource_group, name = self._server_path(
            params, principal, Kind.BACKUP_AND_EXPORT
        )
        body = validation.backup_and_export_body(request.body, api_version)
        self._existing_server(subscription, resource_group, name, principal, Kind.BACKUP_AND_EXPORT)
        paused = self._live.paused
        if paused is not None:
            raise ArmError(*paused)
        outcome = self._model.submit_export(
            subscription,
            resource_group,
            name,
            ExportRequest(
                backup_name=body.backup_name,
                backup_format=body.backup_format,
                sas_uri_count=body.sas_uri_count,
                containers=body.containers,
                api_version=api_version,
                principal=principal.object_id,
            ),
        )
        spec, record = outcome.server, outcome.record
        if outcome.result is SubmitResult.NOT_FOUND or spec is None:
            raise errors.server_not_found(resource_group, name)
        if outcome.result is SubmitResult.NOT_READY:
            raise errors.invalid_server_state(spec.name, spec.state)
        if outcome.result is SubmitResult.TOO_FEW_CONTAINERS:
            raise errors.insufficient_containers(spec.number_of_containers, body.sas_uri_count)
        if outcome.result is SubmitResult.ALREADY_RUNNING:
            raise errors.backup_already_running(spec.name)
        if outcome.result is SubmitResult.BACKUP_RUNNING:
            raise errors.backup_already_running(spec.name, errors.BACKUP_RUNNING)
        if outcome.result is SubmitResult.REPEAT_REFUSED:
            raise errors.duplicate_backup_name(spec.name, body.backup_name)
        if record is None:  # unreachable: DUPLICATE and ACCEPTED always carry a record
            raise errors.server_not_found(resource_group, name)
        if outcome.result is SubmitResult.DUPLICATE:
            return Response.json(200, backup_and_export_response(record, self._clock.now()))
        record = self._write_backup_files(record, body.sas_uris)
        headers = {
            "Location": self._polling_url(LinkKind.OPERATION_STATUS, record, api_version),
            # The 202's request id is the operation's id: the .NET SDK's scenario test reads it
            # as the operationId of operationResults (Azure/azure-sdk-for-net, sdk/mysql/
            # Azure.ResourceManager.MySql/tests/Scenario/MySqlFlexibleServerBackupTests.cs).
            "x-ms-request-id": record.operation_id,
        }
        if self._config.async_operation_header:
            headers["Azure-AsyncOperation"] = self._polling_url(
                LinkKind.ASYNC_OPERATION, record, api_version
            )
        headers.update(retry_after_headers(self._clock, self._config.retry_after_seconds))
        return Response.empty(202, headers)

    def _write_backup_files(self, record: ExportRecord, sas_uris: tuple[str, ...]) -> ExportRecord:
        """Write the accepted export's files through its loopback SAS URIs, and settle its
        outcome: a refusal fails it with storage's code (``exportfiles``, ``WriteRefusal``).

        When: at accept time, synchronously, after the model accepted the export (outside its
        lock: a 409 or a duplicate writes nothing) and before the 202 is sent. The service
        streams the backup while the export is InProgress; writing it all up front is less
        faithful in two ways, both documented: the blobs are there while the status still says
        Pending or InProgress, and a SAS that expires during a long export does not fail it (it
        is judged once, at accept time). In exchange the outcome is decided before any client
        can hold the polling URLs, so every status read, the official SDK's result and the
        ground truth (``emu.exports()``, which the soak's truth comparison reads) agree from the
        first answer on, on any clock (a virtual clock is advanced past the end without anyone
        polling, and nothing has to run in the background or under the model's lock). A
        refused export fails when its transfer starts (``started_at``), nothing transferred:
        one terminal state, as any other export.
        """
        result = self._writer.write(record, sas_uris)
        if result is None:
            return record
        if result.refusal is None:
            self._model.record_export_blobs(record.operation_id, result.blobs)
            return record
        refused = self._model.refuse_export_write(
            record.operation_id, result.refusal.code, result.refusal.message, result.blobs
        )
        return refused or record

    # --- on-demand backups (backupsV2) ---------------------------------------------------------

    def _backup_path(
        self, request: Request, params: dict[str, str], principal: Principal, kind: Kind
    ) -> tuple[str, str, str, str]:
        """api-version (one that carries backupsV2), path parameters and scopes."""
        api_version = validation.api_version(
            request.query.get("api-version"), self._backup_api_versions, _BACKUPS_TYPE
        )
        subscription, resource_group, name = self._server_path(params, principal, kind)
        if "backup" in params:
            validation.backup_v2_name(unquote(params["backup"]))
        return api_version, subscription, resource_group, name

    def _parent(
        self, subscription: str, resource_group: str, name: str, principal: Principal, kind: Kind
    ) -> ServerSpec:
        """The server a backupsV2 route is under: 404 ParentResourceNotFound when missing."""
        return self._existing_server(
            subscription,
            resource_group,
            name,
            principal,
            kind,
            missing=lambda: errors.parent_resource_not_found(name),
        )

    def _backup_server(
        self, request: Request, params: dict[str, str], principal: Principal, kind: Kind
    ) -> tuple[str, ServerSpec]:
        api_version, subscription, resource_group, name = self._backup_path(
            request, params, principal, kind
        )
        return api_version, self._parent(subscription, resource_group, name, principal, kind)

    def create_backup(
        self, request: Request, params: dict[str, str], principal: Principal
    ) -> Response:
        kind = Kind.CREATE_BACKUP
        api_version, subscription, resource_group, name = self._backup_path(
            request, params, principal, kind
        )
        asked = unquote(params["backup"])
        validation.backup_v2_body(request.body)
        self._parent(subscription, resource_group, name, principal, kind)
        paused = self._live.backups_paused
        if paused is not None:
            raise ArmError(*paused)
        outcome = self._model.submit_backup(
            subscription,
            resource_group,
            name,
            BackupRequest(asked, api_version, principal.object_id, self._live.backup_answer),
        )
        spec, record = outcome.server, outcome.record
        if outcome.result is BackupResult.NOT_FOUND or spec is None:
            raise errors.parent_resource_not_found(name)
        if outcome.result is BackupResult.NOT_READY:
            raise errors.invalid_server_state(spec.name, spec.state)
        if outcome.result is BackupResult.BACKUP_RUNNING:
            raise errors.backup_already_running(spec.name, errors.BACKUP_RUNNING)
        if outcome.result is BackupResult.EXPORT_RUNNING:
            raise errors.backup_already_running(spec.name, errors.EXPORT_RUNNING)
        if outcome.result is BackupResult.LIMIT_REACHED:
            raise errors.backup_limit_exceeded(spec.name, self._config.backup_limit)
        if record is None:  # unreachable: the other results always carry a record
            raise errors.parent_resource_not_found(name)
        now = self._clock.now()
        if outcome.result is BackupResult.EXISTS:
            return Response.json(200, self._backup_body(record, now))
        return self._backup_accepted(record, now)

    def _backup_body(self, record: BackupRecord, now: float) -> dict[str, object]:
        return backup_resource(record, now, self._config.backup_succeeded_state)

    def _backup_accepted(self, record: BackupRecord, now: float) -> Response:
        """A new backup's answer, or a running one's again: as ``record.answer`` says."""
        answer = BackupAnswer(record.answer)
        retry = retry_after_headers(self._clock, self._config.retry_after_seconds)
        if answer is BackupAnswer.COMPLETED:
            return Response.json(200, self._backup_body(record, now))
        if answer is BackupAnswer.CREATED:
            return Response.json(201, self._backup_body(record, now), retry)
        status_version = self._config.backup_status_api_version
        headers = {
            "Location": self._polling_url(LinkKind.OPERATION_STATUS, record, status_version),
            # as for exports: the 202's request id is the operation's id
            "x-ms-request-id": record.operation_id,
        }
        if answer is BackupAnswer.ASYNC_OPERATION:
            headers["Azure-AsyncOperation"] = self._polling_url(
                LinkKind.ASYNC_OPERATION, record, status_version
            )
        headers.update(retry)
        return Response.empty(202, headers)

    def get_backup(
        self, request: Request, params: dict[str, str], principal: Principal
    ) -> Response:
        _, spec = self._backup_server(request, params, principal, Kind.GET_BACKUP)
        backup_name = unquote(params["backup"])
        _, record = self._model.find_backup(
            spec.subscription, spec.resource_group, spec.name, backup_name
        )
        if record is None:
            raise errors.backup_not_found(spec.resource_group, spec.name, backup_name)
        return Response.json(200, self._backup_body(record, self._clock.now()))

    def list_backups(
        self, request: Request, params: dict[str, str], principal: Principal
    ) -> Response:
        api_version, spec = self._backup_server(request, params, principal, Kind.LIST_BACKUPS)
        token = request.query.get("$skiptoken")
        after: int | None = None
        if token:
            decoded = _decode_skip_token(token)
            if not decoded.isdigit():
                raise errors.invalid_path_parameter("$skipToken", token, "it is not a valid token.")
            after = int(decoded)
        size = self._config.backup_page_size or self._config.page_size
        _, records, next_after = self._model.list_backups(
            spec.subscription, spec.resource_group, spec.name, after, max(1, size)
        )
        now = self._clock.now()
        body: dict[str, object] = {"value": [self._backup_body(r, now) for r in records]}
        if next_after is not None:
            body["nextLink"] = (
                f"{self._live.public_base}{spec.resource_id}/backupsV2"
                f"?api-version={api_version}&$skipToken={_encode_skip_token(str(next_after))}"
            )
        return Response.json(200, body)

    # --- polling ----------------------------------------------------------------------------

    def _operation(self, request: Request, params: dict[str, str]) -> tuple[Operation, str]:
        api_version = self._api_version(request, _OPERATION_TYPE)
        subscription = validation.subscription_id(unquote(params["subscription"]))
        location = unquote(params["location"])
        operation_id = validation.operation_id(unquote(params["operation"]))
        if not self._signer.has_signature(request.query):
            raise errors.invalid_operation_url()
        record: Operation | None = self._model.find_operation(operation_id)
        if record is None:
            record = self._model.find_backup_operation(operation_id)
        if (
            record is None
            or record.subscription.lower() != subscription.lower()
            or record.location != location.lower()
        ):
            raise errors.operation_not_found(operation_id)
        if not self._signer.verify(subscription, location, operation_id, request.query):
            raise errors.invalid_operation_url()
        return record, api_version

    def async_operation(self, request: Request, params: dict[str, str]) -> Response:
        """The Azure-AsyncOperation resource: always 200, ``Retry-After`` while running."""
        record, _ = self._operation(request, params)
        now = self._clock.now()
        headers: dict[str, str] = {}
        if not record.is_terminal_at(now):
            headers.update(retry_after_headers(self._clock, self._config.retry_after_seconds))
        if isinstance(record, BackupRecord):
            body = backup_operation_status(record, now, LinkKind.ASYNC_OPERATION.value)
            return Response.json(200, body, headers)
        return Response.json(200, async_operation_status(record, now), headers)

    def operation_status(self, request: Request, params: dict[str, str]) -> Response:
        """The Location URL: 202 with itself and ``Retry-After`` while running, then 200.

        A backup's 202 also carries its ``OperationStatusResult`` (status "InProgress"), for a
        client that reads progress there; azure-core's LocationPolling judges by the HTTP status
        alone (azure-core 1.41.0, azure/core/polling/base_polling.py:535, ``return "InProgress"
        if response.status_code == 202 else "Succeeded"``), so a 200 while running would end the
        SDK's polling at once. Once the backup ended the 200 carries the resource with the
        operation's status (``representations.backup_location_result``), which the SDK takes as
        its result: LocationPolling asks for no final GET (base_polling.py:497, ``return
        None``), so this body is what ``LROPoller.result()`` deserializes as a ServerBackupV2
        (tests/component/test_official_sdk_backups.py).
        """
        record, api_version = self._operation(request, params)
        now = self._clock.now()
        if isinstance(record, BackupRecord):
            if record.is_terminal_at(now):
                succeeded = self._config.backup_succeeded_state
                return Response.json(200, backup_location_result(record, now, succeeded))
            body = backup_operation_status(record, now, LinkKind.OPERATION_STATUS.value)
            headers = {
                "Location": self._polling_url(LinkKind.OPERATION_STATUS, record, api_version)
            }
            headers.update(retry_after_headers(self._clock, self._config.retry_after_seconds))
            return Response.json(202, body, headers)
        if record.is_terminal_at(now):
            return Response.json(200, backup_and_export_response(record, now))
        headers = {"Location": self._polling_url(LinkKind.OPERATION_STATUS, record, api_version)}
        headers.update(retry_after_headers(self._clock, self._config.retry_after_seconds))
        return Response.empty(202, headers)

    def describe_operation(self, params: dict[str, str]) -> tuple[str | None, bool]:
        """The server an operation belongs to (for per-server counters), if known, and whether
        it is an on-demand backup's (whose polls are counted as their own kinds)."""
        operation_id = unquote(params.get("operation", ""))
        export = self._model.find_operation(operation_id)
        if export is not None:
            return export.server_name, False
        backup = self._model.find_backup_operation(operation_id)
        return (backup.server_name, True) if backup is not None else (None, False)

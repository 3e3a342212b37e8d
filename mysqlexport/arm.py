"""A small, strict ARM client for backupAndExport, on-demand backups (backupsV2) and the calls
around them.

It speaks HTTP with ``requests`` and gets tokens from an azure-identity credential. It keeps three
promises the rest of the app relies on:

* the bearer token is sent only to the configured ARM endpoint (same scheme, host and port); a
  polling or paging URL anywhere else is refused before any byte is sent;
* SAS URIs travel only in the POST body, never in a log line, exception or ``repr``;
* a POST or PUT is never re-sent here (the workflow decides, because a lost answer may mean an
  export or backup did start); GETs are retried a few times, immediately, on transient failures
  without a ``Retry-After`` (waiting is the workflow's job: activities must not sleep).
"""

from __future__ import annotations

import functools
import http.cookiejar
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol
from urllib.parse import urljoin

import requests

from mysqlexport import lro
from mysqlexport.armspec import check_backup_format
from mysqlexport.errors import (
    ArmError,
    ArmTransportError,
    BadArmResponse,
    CredentialError,
    ExportFailed,
    InvalidRequest,
    UntrustedUrl,
    arm_error_from_body,
)
from mysqlexport.hosts import origin_of
from mysqlexport.ids import (
    PROVIDER,
    RESOURCE_TYPE,
    ServerId,
    validate_backup_name,
    validate_resource_group,
    validate_subscription,
)
from mysqlexport.models import (
    AcceptedOperation,
    BackupResource,
    ExportResult,
    OperationStatus,
    ServerInfo,
    StillRunning,
)
from mysqlexport.redaction import SecretUri, redact_url
from mysqlexport.settings import Settings

logger = logging.getLogger(__name__)

USER_AGENT: Final = "mysql-fleet-export/0.1 python-requests"
MAX_PAGES: Final = 100_000


@dataclass(frozen=True)
class ArmOperation:
    """One kind of ARM call the client makes, with the RBAC action it needs."""

    name: str
    method: str
    action: str


SUBMIT_EXPORT: Final = ArmOperation(
    "backupAndExport", "POST", f"{PROVIDER}/{RESOURCE_TYPE}/backupAndExport/action"
)
VALIDATE_BACKUP: Final = ArmOperation(
    "validateBackup", "POST", f"{PROVIDER}/{RESOURCE_TYPE}/validateBackup/action"
)
GET_SERVER: Final = ArmOperation("getServer", "GET", f"{PROVIDER}/{RESOURCE_TYPE}/read")
LIST_SERVERS: Final = ArmOperation("listServers", "GET", f"{PROVIDER}/{RESOURCE_TYPE}/read")
GET_OPERATION_STATUS: Final = ArmOperation(
    "getOperationStatus", "GET", f"{PROVIDER}/locations/azureAsyncOperation/read"
)
GET_OPERATION_RESULT: Final = ArmOperation(
    "getOperationResult", "GET", f"{PROVIDER}/locations/operationResults/read"
)
# On-demand backups (backupsV2). The actions are spelled as Microsoft's list of resource provider
# operations spells them, with a lower-case "v" (MicrosoftDocs/azure-docs, articles/
# role-based-access-control/permissions/databases.md, Microsoft.DBforMySQL:
# "Microsoft.DBforMySQL/flexibleServers/backupsv2/write", ".../backupsv2/read"; RBAC compares
# actions case-insensitively). A PUT is a write, a GET a read (Azure/azure-resource-manager-rpc
# v1.0/proxy-api-reference.md, the operation ``name``: "If it is a PUT/PATCH on a collection or
# named value, Write should be used. If it is a GET, Read should be used.").
CREATE_BACKUP: Final = ArmOperation(
    "createBackup", "PUT", f"{PROVIDER}/{RESOURCE_TYPE}/backupsv2/write"
)
GET_BACKUP: Final = ArmOperation("getBackup", "GET", f"{PROVIDER}/{RESOURCE_TYPE}/backupsv2/read")
LIST_BACKUPS: Final = ArmOperation(
    "listBackups", "GET", f"{PROVIDER}/{RESOURCE_TYPE}/backupsv2/read"
)
# A backup's Location URL is the same location-scoped operationStatus resource as an export's
# (the create example: ".../locations/eastus/operationStatus/{id}"), read as GET_OPERATION_RESULT
# reads it; its Azure-AsyncOperation URL is read with get_status, as an export's.
# Microsoft's list names no ".../locations/operationStatus/read" action; and Microsoft documents
# that tracking an asynchronous operation needs the role at the resource group (or wider), as the
# tracking URL is not scoped to the resource (Learn, "Track asynchronous Azure operations",
# section "Permissions for tracking async status"; MicrosoftDocs/azure-docs
# articles/azure-resource-manager/management/async-operations.md, since PR #262414, 2024-01-04).
GET_BACKUP_RESULT: Final = ArmOperation(
    "getBackupResult", "GET", f"{PROVIDER}/locations/operationResults/read"
)
OPERATIONS: Final = (
    SUBMIT_EXPORT,
    VALIDATE_BACKUP,
    GET_SERVER,
    LIST_SERVERS,
    GET_OPERATION_STATUS,
    GET_OPERATION_RESULT,
    CREATE_BACKUP,
    GET_BACKUP,
    LIST_BACKUPS,
    GET_BACKUP_RESULT,
)


class AccessTokenLike(Protocol):
    """What azure-core's ``AccessToken`` offers."""

    @property
    def token(self) -> str: ...


class TokenCredential(Protocol):
    """The azure-core credential protocol (``DefaultAzureCredential`` and friends)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessTokenLike: ...


# The environment variables azure-identity reads to choose and configure a credential.
IDENTITY_ENVIRONMENT: Final = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
)


def default_credential() -> TokenCredential:
    """The process's ``DefaultAzureCredential`` for the current identity environment.

    Managed identity in Azure (``AZURE_CLIENT_ID`` picks a user-assigned one), ``az login`` on a
    laptop. One instance per identity environment, so its token cache is reused across activity
    calls as azure-identity recommends, while the client itself is still built per call.
    """
    return _credential_for(tuple(os.environ.get(name) for name in IDENTITY_ENVIRONMENT))


@functools.cache
def _credential_for(_environment: tuple[str | None, ...]) -> TokenCredential:
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415 - heavy import, used lazily

    return DefaultAzureCredential()


_THREAD = threading.local()


def shared_session() -> requests.Session:
    """This thread's pooled HTTP session, reused by every client built with ``from_settings``.

    The Functions worker runs activities on a pool of threads; keeping one session per thread
    keeps the TLS connections to ARM open from one activity call to the next (a new connection
    and handshake per poll cost more CPU and latency than the poll itself). Sessions are not
    shared between threads (requests does not promise that is safe), and they accept no cookies.
    """
    session: requests.Session | None = getattr(_THREAD, "session", None)
    if session is None:
        session = requests.Session()
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        _THREAD.session = session
    return session


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ArmClient:
    """Calls ARM for one app: submit and poll exports, create, poll, read and list on-demand
    backups, validate, list and read servers."""

    def __init__(
        self,
        settings: Settings,
        credential: TokenCredential,
        *,
        session: requests.Session | None = None,
    ) -> None:
        self._settings = settings
        self._credential = credential
        self._own_session = session is None
        self._session = session or requests.Session()
        self._origin = settings.arm_origin

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ArmClient:
        """A client from app settings, the default credential and this thread's session."""
        return cls(settings or Settings.from_env(), default_credential(), session=shared_session())

    def close(self) -> None:
        """Release the HTTP session if this client created it."""
        if self._own_session:
            self._session.close()

    def __enter__(self) -> ArmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ArmClient(endpoint={self._settings.arm_endpoint!r})"

    # ------------------------------------------------------------------ operations

    def submit_export(
        self,
        server: ServerId,
        backup_name: str,
        sas_uris: Sequence[str],
        backup_format: str | None = None,
    ) -> AcceptedOperation | ExportResult:
        """POST backupAndExport once.

        Returns the accepted operation (202) or, when the service answers at once (200), the
        final result. A final result whose status is Failed or Canceled raises ``ExportFailed``.
        """
        validate_backup_name(backup_name)
        if isinstance(sas_uris, str) or not sas_uris:
            raise InvalidRequest({"sasUriList": "at least one container SAS URI is required"})
        settings: dict[str, str] = {"backupName": backup_name}
        if backup_format is not None:
            settings["backupFormat"] = check_backup_format(backup_format)
        body = {
            "backupSettings": settings,
            "targetDetails": {
                "objectType": "FullBackupStoreDetails",
                "sasUriList": [_reveal(uri) for uri in sas_uris],
            },
        }
        url = self._action_url(server, "backupAndExport")
        response = self._send("POST", url, json_body=body, retries=0)
        if response.status_code == 202:
            return self._accepted(response, url, "backupAndExport")
        if response.status_code == 200:
            return self._final_result(response, server)
        raise self._unexpected(response, "backupAndExport", "200 or 202")

    def validate_backup(self, server: ServerId) -> int:
        """POST validateBackup; the number of storage containers the export needs."""
        response = self._send("POST", self._action_url(server, "validateBackup"), retries=0)
        body = self._json(response)
        props = body.get("properties")
        count = props.get("numberOfContainers") if isinstance(props, Mapping) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _bad(response, "validateBackup answered without properties.numberOfContainers")
        return count

    def get_status(self, url: str) -> OperationStatus:
        """GET the operation status resource (the Azure-AsyncOperation URL)."""
        response = self._read(url)
        retry_after = self._retry_after(response)
        if response.status_code == 202 and not response.content:
            return OperationStatus(status="InProgress", retry_after=retry_after)
        body = self._json(response)
        if not isinstance(body.get("status"), str):
            raise _bad(response, "the operation status has no 'status'")
        return OperationStatus.from_body(body, retry_after)

    def get_result(self, location_url: str) -> StillRunning | ExportResult:
        """GET the Location URL: ``StillRunning`` while 202, else the final result.

        A final result whose status is Failed or Canceled raises ``ExportFailed``.
        """
        response = self._read(location_url)
        if response.status_code == 202:
            return StillRunning(self._retry_after(response))
        body = self._json(response)
        status = body.get("status")
        if isinstance(status, str) and not lro.is_terminal(status):
            return StillRunning(self._retry_after(response))
        return self._final_result(response, None)

    def list_servers(
        self, subscription: str, resource_group: str | None = None
    ) -> Iterator[ServerInfo]:
        """Every flexible server in a subscription (or one resource group), following nextLink."""
        sub = validate_subscription(subscription, "subscription")
        scope = f"/subscriptions/{sub}"
        if resource_group is not None:
            scope += f"/resourceGroups/{validate_resource_group(resource_group)}"
        url = self._arm_url(f"{scope}/providers/{PROVIDER}/{RESOURCE_TYPE}")
        for item, response in self._paged(url, "server list"):
            yield self._server_info(item, response)

    def get_server(self, server: ServerId) -> ServerInfo:
        """GET one server (state, tags, location)."""
        response = self._read(self._arm_url(server.resource_id))
        return self._server_info(self._json(response), response)

    # ------------------------------------------------------------------ on-demand backups

    def create_backup(
        self, server: ServerId, backup_name: str
    ) -> AcceptedOperation | BackupResource:
        """PUT ``backupsV2/{backup_name}`` once, with no body (the spec's example sends none).

        202: the accepted operation (its URLs exactly as given, another api-version included).
        200 or 201: the backup as the answer shows it; a 201 may say "Creating" (read it with
        ``get_backup`` until it is terminal; its ``retry_after`` says when). A failed backup is a
        value here, not an exception: its ``state`` is Failed and ``error`` ARM's, when given.
        """
        url = self._arm_url(self.backup_id(server, backup_name))
        response = self._send("PUT", url, retries=0)
        if response.status_code == 202:
            return self._accepted(response, url, "backupsV2")
        if response.status_code in (200, 201):
            # a 201 without a provisioningState is still running, a 200 without one is done
            return self._backup(response, "Succeeded" if response.status_code == 200 else None)
        raise self._unexpected(response, "backupsV2", "200, 201 or 202")

    def backup_id(self, server: ServerId, backup_name: str) -> str:
        """The resource id of ``backup_name`` on ``server`` (what to GET when no other id is
        known; the service may name the backup otherwise, see ``BackupResource.id``)."""
        return f"{server.resource_id}/backupsV2/{_backup_name(backup_name)}"

    def get_backup(self, ref: str) -> BackupResource:
        """GET one backup: ``ref`` is a backup resource id (``/subscriptions/...``) or a full URL
        on the ARM endpoint (used as given)."""
        url = ref if "://" in ref else self._arm_url(_backup_path(ref))
        return self._backup(self._read(url), "Succeeded")

    def list_backups(self, server: ServerId) -> list[BackupResource]:
        """Every backup of the server (automatic ones included), following nextLink to the last
        page. A backup accepted with a 202 may not be listed until it ends (ARM RPC)."""
        url = self._arm_url(f"{server.resource_id}/backupsV2")
        return [
            self._backup_item(item, response) for item, response in self._paged(url, "backup list")
        ]

    def get_backup_result(self, location_url: str) -> StillRunning | BackupResource:
        """One read of a backup's Location URL: ``StillRunning`` while it answers 202 (or 200
        with a state that is not terminal), else the ended backup.

        The outcome is the body's ``provisioningState``, else its ``status``; a 200 or 204 that
        states neither has succeeded (ARM RPC: a Location URL answers the finished operation as
        the PUT would have). ``error`` is ARM's; the id is ``resourceId`` when the body is an
        ``OperationStatusResult``. A ``BackupResource`` returned here is always terminal.
        """
        response = self._read(location_url)
        retry_after = self._retry_after(response)
        if response.status_code not in (200, 202, 204):
            raise self._unexpected(response, "the backup's Location URL", "200, 202 or 204")
        body = self._json(response) if response.content else {}
        running = StillRunning.from_body(body, retry_after)
        if response.status_code == 202:
            return running
        backup = self._backup(response, "Succeeded", body)
        return backup if backup.is_terminal else running

    # ------------------------------------------------------------------ plumbing

    def is_trusted(self, url: str) -> bool:
        """True when ``url`` is on the ARM endpoint, so a token may be sent to it."""
        try:
            return origin_of(url) == self._origin
        except ValueError:
            return False

    def _arm_url(self, path: str) -> str:
        """``path`` (a resource id, or one with a child) on the ARM endpoint, at our api-version."""
        return f"{self._settings.arm_endpoint}{path}?api-version={self._settings.api_version}"

    def _action_url(self, server: ServerId, action: str) -> str:
        return self._arm_url(f"{server.resource_id}/{action}")

    def _read(self, url: str) -> requests.Response:
        """GET ``url``, retried as GETs are (see ``_send``)."""
        return self._send("GET", url, retries=self._settings.get_retries)

    def _accepted(self, response: requests.Response, url: str, what: str) -> AcceptedOperation:
        """A 202's polling URLs (relative ones resolved against ``url``) and Retry-After."""
        urls = lro.polling_urls(response.headers)
        if not urls:
            raise _bad(
                response,
                f"{what} answered 202 without a Location or Azure-AsyncOperation header",
                transient=False,
            )
        location = urls.get("location")
        async_op = urls.get("azure-asyncoperation")
        return AcceptedOperation(
            location_url=urljoin(url, location) if location else None,
            async_operation_url=urljoin(url, async_op) if async_op else None,
            retry_after=self._retry_after(response),
            request_id=response.headers.get("x-ms-request-id"),
        )

    @staticmethod
    def _unexpected(response: requests.Response, what: str, expected: str) -> BadArmResponse:
        return _bad(
            response,
            f"{what} answered HTTP {response.status_code}; expected {expected}",
            transient=False,
        )

    def _paged(self, url: str, what: str) -> Iterator[tuple[object, requests.Response]]:
        """Each item of a paged list with the answer it came in, following nextLink (relative
        ones resolved; ``_send`` refuses one off the ARM endpoint) to the last page."""
        next_url: str | None = url
        seen: set[str] = set()
        while next_url is not None:
            if next_url in seen or len(seen) >= MAX_PAGES:
                raise BadArmResponse(f"{what} paging does not end (at {redact_url(next_url)})")
            seen.add(next_url)
            response = self._read(next_url)
            body = self._json(response)
            values = body.get("value")
            if not isinstance(values, list):
                raise _bad(response, f"the {what} has no 'value' array")
            for item in values:
                yield item, response
            link = body.get("nextLink")
            next_url = urljoin(next_url, link) if isinstance(link, str) and link else None

    def _token(self) -> str:
        try:
            return self._credential.get_token(self._settings.arm_scope).token
        except Exception as err:
            raise CredentialError(
                f"could not get a token for {self._settings.arm_scope}: {err}"
            ) from err

    def _send(
        self,
        method: str,
        url: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        retries: int,
    ) -> requests.Response:
        if not self.is_trusted(url):
            raise UntrustedUrl(
                f"refusing to send the ARM token to {redact_url(url)}: it is not on the "
                f"configured ARM endpoint {self._settings.arm_endpoint}"
            )
        attempts = 1 + max(0, retries)
        for attempt in range(1, attempts + 1):
            error = self._send_once(method, url, json_body)
            if isinstance(error, requests.Response):
                return error
            retry = error.transient and attempt < attempts and not error.retry_after
            logger.info(
                "%s %s failed (%s%s)",
                method,
                redact_url(url),
                error.code,
                ", retrying" if retry else "",
                extra={"arm_request_id": error.request_id, "attempt": attempt},
            )
            if not retry:
                raise error
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(
        self, method: str, url: str, json_body: Mapping[str, Any] | None
    ) -> requests.Response | ArmError:
        headers = {
            "Authorization": f"Bearer {self._token()}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "x-ms-client-request-id": str(uuid.uuid4()),
        }
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                url,
                json=json_body,
                headers=headers,
                timeout=(
                    self._settings.connect_timeout_seconds,
                    self._settings.read_timeout_seconds,
                ),
                allow_redirects=False,
            )
        except requests.Timeout as err:
            return ArmTransportError(f"{method} {redact_url(url)} timed out: {err}", code="Timeout")
        except requests.ConnectionError as err:
            return ArmTransportError(
                f"{method} {redact_url(url)} could not connect: {err}", code="ConnectionError"
            )
        except requests.RequestException as err:
            return ArmTransportError(
                f"{method} {redact_url(url)} failed: {err}", code="RequestError"
            )
        request_id = response.headers.get("x-ms-request-id")
        logger.debug(
            "%s %s -> %s in %.0f ms",
            method,
            redact_url(url),
            response.status_code,
            (time.monotonic() - started) * 1000,
            extra={"arm_request_id": request_id},
        )
        if response.status_code in (200, 201, 202, 204):
            return response
        retry_after = self._retry_after(response)
        if 300 <= response.status_code < 400:
            return BadArmResponse(
                f"ARM answered HTTP {response.status_code} (redirects are not followed)",
                status=response.status_code,
                request_id=request_id,
                transient=False,
            )
        try:
            body: object = response.json()
        except ValueError:
            body = None
        return arm_error_from_body(
            body,
            status=response.status_code,
            request_id=request_id,
            retry_after=retry_after,
            default_message=f"{method} {redact_url(url)} answered HTTP {response.status_code}",
        )

    @staticmethod
    def _retry_after(response: requests.Response) -> float | None:
        return lro.parse_retry_after(response.headers, _utcnow())

    @staticmethod
    def _json(response: requests.Response) -> Mapping[str, Any]:
        try:
            body = response.json()
        except ValueError as err:
            raise BadArmResponse(
                f"ARM answered HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
                request_id=response.headers.get("x-ms-request-id"),
                transient=True,
            ) from err
        if not isinstance(body, Mapping):
            raise BadArmResponse(
                "ARM answered with JSON that is not an object",
                status=response.status_code,
                request_id=response.headers.get("x-ms-request-id"),
                transient=True,
            )
        return body

    def _final_result(self, response: requests.Response, server: ServerId | None) -> ExportResult:
        result = ExportResult.from_body(
            self._json(response), response.headers.get("x-ms-request-id")
        )
        if lro.is_failed(result.status):
            code = result.error.code if result.error else f"Export{result.status}"
            message = result.error.message if result.error else f"the export ended {result.status}"
            raise ExportFailed(
                message,
                status_text=result.status,
                code=code,
                request_id=result.request_id,
                result=result,
            )
        if not lro.is_succeeded(result.status):
            where = f" for {server}" if server else ""
            raise BadArmResponse(
                f"the final export result{where} has status {result.status!r}",
                status=response.status_code,
                request_id=result.request_id,
            )
        return result

    def _backup(
        self,
        response: requests.Response,
        default_status: str | None,
        body: Mapping[str, Any] | None = None,
    ) -> BackupResource:
        """The backup an answer carries (``body`` when already read; an empty body states
        nothing, so ``default_status`` decides)."""
        if body is None:
            body = self._json(response) if response.content else {}
        return BackupResource.from_body(
            body,
            default_status=default_status,
            retry_after=self._retry_after(response),
            request_id=response.headers.get("x-ms-request-id"),
        )

    @staticmethod
    def _backup_item(item: object, response: requests.Response) -> BackupResource:
        if not isinstance(item, Mapping):
            raise _bad(response, "a backup in ARM's list is not an object")
        return BackupResource.from_body(
            item, default_status="Succeeded", request_id=response.headers.get("x-ms-request-id")
        )

    @staticmethod
    def _server_info(item: object, response: requests.Response) -> ServerInfo:
        if not isinstance(item, Mapping):
            raise BadArmResponse("a server in ARM's answer is not an object")
        try:
            return ServerInfo.from_body(item)
        except InvalidRequest as err:
            raise BadArmResponse(
                f"ARM returned a server with an unusable id: {err.message}",
                status=response.status_code,
                request_id=response.headers.get("x-ms-request-id"),
            ) from err


def _reveal(uri: str) -> str:
    return uri.reveal() if isinstance(uri, SecretUri) else str(uri)


def _bad(
    response: requests.Response, message: str, *, transient: bool | None = None
) -> BadArmResponse:
    """``BadArmResponse`` for an answer that breaks the contract, with its status and request id."""
    return BadArmResponse(
        message,
        status=response.status_code,
        request_id=response.headers.get("x-ms-request-id"),
        transient=transient,
    )


def _backup_name(name: str, field: str = "backupName") -> str:
    """A backupsV2 name, checked before it goes into a URL path: the API's pattern (``ids``),
    and not a dot segment ("." or "..", which the pattern allows and a URL resolves away)."""
    validate_backup_name(name, field, backup=True)
    if set(name) == {"."}:
        raise InvalidRequest({field: f"{name!r} is not a valid backup name (not only dots)"})
    return name


def _backup_path(ref: str, field: str = "backup") -> str:
    """The canonical path of a backup resource id: a ``ServerId``, then ``backupsV2/{name}``."""
    parts = ref.strip("/").split("/")
    if len(parts) != 10 or parts[8].lower() != "backupsv2":
        raise InvalidRequest(
            {field: f"{ref!r} is not a backup resource id (<server id>/backupsV2/<backupName>)"}
        )
    server = ServerId.parse("/" + "/".join(parts[:8]), field)
    return f"{server.resource_id}/backupsV2/{_backup_name(parts[9], field)}"

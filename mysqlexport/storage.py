"""Blob storage, reached with the app's managed identity: SAS minted per export, report files.

Why this module exists: a scheduled run or a Logic App should hold no SAS at all. Given blob
container URLs (no SAS), the app mints a short-lived user-delegation SAS for each export with its
own identity (``mint_container_sas``) and hands it to ARM in the one POST; and it writes each
run's report files to a container with that identity (``ContainerWriter``), by OAuth, with no
key and no SAS. Every failure is an ``ExportError`` (``StorageError``) carrying storage's own
error code (``x-ms-error-code``) and no secret.

**User-delegation SAS** (Microsoft Learn, "Create a user delegation SAS" and "Get User Delegation
Key"): the identity asks each storage account once for a user delegation key (``POST
?restype=service&comp=userdelegationkey`` with a bearer token for ``https://storage.azure.com``;
it needs ``Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey``, in the
built-in *Storage Blob Delegator* role), then signs a container SAS with it locally. The key's
start and expiry must lie within 7 days of the current time (the SDKs' GetUserDelegationKey
parameters), so a SAS lives 7 days at most; here the key lives exactly as long as the SAS it
signs. A user-delegation SAS grants no more than the identity itself may do, so the identity
also needs a data role on the target containers (*Storage Blob Data Contributor*).

**Start time** (``clock_skew``, default 15 minutes back): Microsoft's SAS guidance warns that a
SAS starting "now" fails intermittently for the first minutes because machines' clocks differ
(the .NET/Java ``GetUserDelegationKey`` docs: "If you set the start time to the current time,
failures might occur intermittently for the first few minutes ... known as clock skew"; the SAS
best practices suggest a start at least 15 minutes in the past). The expiry is the caller's: the
export's deadline, and no more.

**Permissions for an export** (``EXPORT_PERMISSIONS = "rcw"``, HTTPS only). What backupAndExport
does with the SAS is not documented beyond the spec's "SASUriList of storage containers where
backup data is to be streamed/copied" (BackupAndExport spec 2023-12-30, FullBackupStoreDetails;
the CLI's ``--sas-uri``: "SAS URI for destination container"); Microsoft publishes no permission
list for it (not in the REST reference, the CLI's help, nor the how-to that described the
export). Two configurations are known to have worked against the service:

* a third-party script (repository not identified) calling backupAndExport with a container
  service SAS from ``listServiceSas``: ``signedPermission: rcw``, ``signedProtocol: https``,
  expiry 1 hour;
* Microsoft's own SDK scenario test (Azure/azure-sdk-for-net,
  sdk/mysql/Azure.ResourceManager.MySql/tests/Scenario/MySqlFlexibleServerBackupTests.cs, one
  version): an account SAS for blob objects only with ``rwd``, 1 hour.

What each letter allows (Create a user delegation SAS, "Specify permissions"): ``r`` read a
blob's content and properties; ``c`` write a new blob; ``w`` create or write a blob's content,
properties, metadata and block list; ``a`` append a block; ``l`` list the container's blobs;
``d`` delete. The service writes the backup files as blobs; large files go up as blocks (Put
Block, Put Block List), which need ``w`` at the service versions the SDK signs here (2025-11-05;
only service version 2026-04-06 lets ``c`` alone stage blocks, per its release notes). So:
``w`` to write the files, ``c`` with it (it adds nothing ``w`` does not already allow, and keeps
the SAS identical to the known working container SAS), ``r`` because both working
configurations grant it (the service may read back what it wrote; unverified, so not taken
away). Not ``l``: neither configuration grants it (the .NET account SAS covers objects only,
which cannot list a container). Not ``d``: the script's SAS worked without it. Not ``a``.

**TLS**: default verification, as azure-core's requests transport does it: the system's trust
store via certifi, or the bundle named by ``REQUESTS_CA_BUNDLE`` (requests reads it when
verification is on; the tests point it at Azurite's throwaway CA). ``connection_verify`` (a CA
bundle path, or ``True``) is passed to the SDK for callers that want it explicit. In Azure the
app sets neither.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import (
    BlobServiceClient,
    ContainerClient,
    ContainerSasPermissions,
    ContentSettings,
    UserDelegationKey,
    generate_container_sas,
)

from mysqlexport import containers
from mysqlexport.arm import default_credential
from mysqlexport.containers import ContainerUrl
from mysqlexport.errors import ServiceError
from mysqlexport.redaction import SecretUri

logger = logging.getLogger(__name__)

#: The scope of a bearer token for Azure Storage (the SDK asks for it itself).
STORAGE_SCOPE: Final = "https://storage.azure.com/.default"
#: The least permissions an export's SAS carries (module docstring: why these).
EXPORT_PERMISSIONS: Final = "rcw"
#: How far back a SAS (and its key) starts, for machines whose clocks differ.
DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=15)
#: The longest a user delegation key, so its SAS, may live (GetUserDelegationKey).
MAX_SAS_LIFETIME: Final = timedelta(days=7)
#: The container SAS permission letters this module accepts.
_KNOWN_PERMISSIONS: Final = frozenset("racwdl")
#: Bounds on one HTTP exchange with storage (seconds); the SDK retries on its own within them.
_CONNECTION_TIMEOUT: Final = 20
_READ_TIMEOUT: Final = 60


class StorageError(ServiceError):
    """Storage refused or could not be reached; ``code`` is storage's own ``x-ms-error-code``
    (``AuthorizationPermissionMismatch``, ``ContainerNotFound``, ...) or ours when there was no
    answer. ``status`` is the HTTP status, ``request_id`` storage's ``x-ms-request-id``."""

    code = "StorageError"


class StorageUnreachable(StorageError, ConnectionError):
    """No answer from storage: connection refused or reset, timeout, TLS failure."""

    code = "StorageUnreachable"
    transient = True


class InvalidContainerUrl(StorageError, ValueError):
    """A container URL that cannot be used (not https, a SAS in it, no container name)."""

    code = "InvalidContainerUrl"
    transient = False


def app_credential() -> TokenCredential:
    """The app's identity (``mysqlexport.arm.default_credential``, one per identity
    environment), typed as azure-core's credential protocol that the storage SDK takes."""
    return cast(TokenCredential, default_credential())


def parse_container_url(url: str) -> ContainerUrl:
    """``url`` as ``mysqlexport.containers`` reads it (the app's one parser of container URLs:
    ``https://{account}.blob.core.windows.net/{container}``, or Azurite's path style on a
    loopback host). Raises ``InvalidContainerUrl`` saying why, without the URL (it may carry
    a SAS): the app reaches containers with its identity and mints its own SAS."""
    try:
        return containers.parse_container_url(url)
    except ValueError as err:
        raise InvalidContainerUrl(f"the container URL {err}") from err


def storage_error(err: AzureError, doing: str) -> StorageError:
    """The ``StorageError`` for an SDK failure while ``doing`` (what, on which container)."""
    if isinstance(err, (ServiceRequestError, ServiceResponseError)):
        return StorageUnreachable(f"{doing}: no answer from storage: {err.message}")
    if isinstance(err, HttpResponseError) and err.response is not None:
        status = err.response.status_code
        # azure-core types ``response`` by its common API, which leaves the headers out.
        headers: Mapping[str, str] = getattr(err.response, "headers", None) or {}
        # Storage's own code as sent; the SDK's ``error_code`` is an enum whose str() is not it.
        sdk_code = getattr(err, "error_code", None)
        code = headers.get("x-ms-error-code") or getattr(sdk_code, "value", sdk_code)
        lines = (err.message or err.response.reason or "").strip().splitlines()
        return StorageError(
            f"{doing}: {lines[0] if lines else f'HTTP {status}'}",
            code=str(code) if code else f"Http{status}",
            status=status,
            request_id=headers.get("x-ms-request-id"),
        )
    # No HTTP answer from storage: the credential could not get a token (azure-identity raises
    # ClientAuthenticationError without a response), or the SDK failed before sending.
    return StorageError(
        f"{doing}: no token for storage: {err.message}", code="CredentialUnavailable"
    )


@contextmanager
def _mapped(doing: str) -> Iterator[None]:
    try:
        yield
    except AzureError as err:
        raise storage_error(err, doing) from err


def _client_options(connection_verify: bool | str) -> dict[str, Any]:
    # The SDK's ExponentialRetry waits 15 s, then 18 s, then 24 s (initial_backoff 15,
    # increment_base 3, retry_total 3); here it retries twice within seconds and leaves longer
    # outages to the activity's own retry, which records each attempt.
    return {
        "connection_verify": connection_verify,
        "connection_timeout": _CONNECTION_TIMEOUT,
        "read_timeout": _READ_TIMEOUT,
        "retry_total": 2,
        "initial_backoff": 1,
        "increment_base": 2,
        "random_jitter_range": 1,
    }


def _utc(value: datetime, name: str) -> datetime:
    # The SDK writes a datetime as given with a "Z" (strftime), so make it UTC first.
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0)


def _permission(permissions: str) -> ContainerSasPermissions:
    unknown = set(permissions) - _KNOWN_PERMISSIONS
    if unknown or not permissions:
        raise ValueError(
            f"permissions are letters of {''.join(sorted(_KNOWN_PERMISSIONS))!r}, "
            f"not {permissions!r}"
        )
    return ContainerSasPermissions.from_string(permissions)


def mint_container_sas(
    container_urls: Sequence[str],
    credential: TokenCredential,
    *,
    expiry: datetime,
    permissions: str = EXPORT_PERMISSIONS,
    start: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    now: datetime | None = None,
    connection_verify: bool | str = True,
) -> list[SecretUri]:
    """A user-delegation SAS URI for each container, in order, signed with one user delegation
    key per storage account, which ``credential`` (the app's managed identity) obtains.

    The SAS allows ``permissions`` over HTTPS only, from ``start`` (default ``now`` minus
    ``clock_skew``) to ``expiry``; ``now`` defaults to the machine's UTC time. Each value is a
    ``SecretUri``: formatting, logging or raising it shows no signature; ``reveal()`` gives
    the URI to send. Nothing is stored. Raises ``InvalidContainerUrl``, ``ValueError`` for a
    window that is empty or longer than 7 days, and ``StorageError`` with storage's code.
    """
    refs = [parse_container_url(url) for url in container_urls]
    now = _utc(now or datetime.now(UTC), "now")
    start = _utc(start, "start") if start is not None else now - clock_skew
    expiry = _utc(expiry, "expiry")
    permission = _permission(permissions)
    if expiry <= start:
        raise ValueError("the SAS must expire after it starts")
    if expiry - now > MAX_SAS_LIFETIME:
        raise ValueError("a user-delegation SAS lives at most 7 days")
    keys: dict[str, UserDelegationKey] = {}
    minted: list[SecretUri] = []
    for ref in refs:
        key = keys.get(ref.account_url)
        if key is None:
            key = keys[ref.account_url] = _delegation_key(
                ref, credential, start, expiry, connection_verify
            )
        token = generate_container_sas(
            ref.account,
            ref.name,
            user_delegation_key=key,
            permission=permission,
            expiry=expiry,
            start=start,
            protocol="https",
        )
        minted.append(SecretUri(f"{ref.url}?{token}"))
    logger.info(
        "minted %d container SAS with %d user delegation key(s)",
        len(minted),
        len(keys),
        extra={"permissions": permissions, "sasExpiry": expiry.isoformat()},
    )
    return minted


def _delegation_key(
    ref: ContainerUrl,
    credential: TokenCredential,
    start: datetime,
    expiry: datetime,
    connection_verify: bool | str,
) -> UserDelegationKey:
    with (
        _mapped(f"getting a user delegation key from {ref.account_url}"),
        BlobServiceClient(
            ref.account_url, credential=credential, **_client_options(connection_verify)
        ) as service,
    ):
        return service.get_user_delegation_key(start, expiry)


class ContainerWriter:
    """Writes and reads blobs of one container with the app's identity (OAuth; no key, no SAS).

    For the report files: ``upload`` overwrites, so an activity retried after a partial write
    writes the same names again.
    """

    def __init__(
        self,
        container_url: str,
        credential: TokenCredential,
        *,
        connection_verify: bool | str = True,
    ) -> None:
        self.ref = parse_container_url(container_url)
        self._credential = credential
        self._verify = connection_verify

    def _client(self) -> ContainerClient:
        return ContainerClient(
            self.ref.account_url,
            self.ref.name,
            credential=self._credential,
            **_client_options(self._verify),
        )

    def upload(self, name: str, data: bytes | str, content_type: str) -> str:
        """Write blob ``name`` (overwriting it) with ``content_type``; its URL (no SAS)."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        with _mapped(f"writing {name} to {self.ref.url}"), self._client() as container:
            container.upload_blob(
                name,
                payload,
                overwrite=True,
                content_settings=ContentSettings(content_type=content_type),
            )
        return f"{self.ref.url}/{name}"

    def read(self, name: str) -> bytes:
        """The content of blob ``name``."""
        with _mapped(f"reading {name} from {self.ref.url}"), self._client() as container:
            return container.download_blob(name).readall()

    def probe(self) -> None:
        """Read the container's properties: proves a token for storage, that the container is
        there, and that the identity may read it (``GET /api/health``)."""
        with _mapped(f"reading the properties of {self.ref.url}"), self._client() as container:
            container.get_container_properties()

    def properties(self, name: str) -> Mapping[str, Any]:
        """Blob ``name``'s content type and size (what a reader of the report files checks)."""
        doing = f"reading the properties of {name} in {self.ref.url}"
        with _mapped(doing), self._client() as container:
            props = container.get_blob_client(name).get_blob_properties()
        return {"contentType": props.content_settings.content_type, "size": props.size}


__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "EXPORT_PERMISSIONS",
    "MAX_SAS_LIFETIME",
    "STORAGE_SCOPE",
    "ContainerWriter",
    "InvalidContainerUrl",
    "StorageError",
    "StorageUnreachable",
    "app_credential",
    "mint_container_sas",
    "parse_container_url",
    "storage_error",
]

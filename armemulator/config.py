"""Everything the emulator can be told, with defaults that mirror the real service.

Why this module exists: tests, benchmarks and the CLI build an emulator from one frozen value, so
a run is described completely (and reproducibly, through ``seed``) by its ``EmulatorConfig``.
The API facts behind the defaults (api-versions, backupFormat enums, throttling buckets) come from
the service's published OpenAPI documents and ARM's documentation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from armemulator.clock import Clock, WallClock
from armemulator.faults import Faults
from armemulator.fleet import ServerSpec

#: (HTTP status, ARM code, message) answered to backupAndExport while paused.
PausedError = tuple[int, str, str]

#: Microsoft documents on-demand backup and export as "temporarily paused" but not the error a
#: paused call returns; this status and code are the emulator's guess.
DEFAULT_PAUSED_ERROR: PausedError = (
    400,
    "BackupAndExportPaused",
    "On-demand backup and export is temporarily paused for Azure Database for MySQL "
    "flexible servers.",
)


class Resubmission(StrEnum):
    """How backupAndExport answers a resubmission: the same backup name again for a server
    whose export of that name it already accepted (what a client sends after losing the answer
    to its first POST). ARM's contract promises none of these; each is a reading of it.
    """

    #: 409 BackupAlreadyRunningForServer while that export runs, then 200 with its final
    #: result ("exports the backup ... by creating a backup if not existing"). The default.
    CONFLICT_THEN_RESULT = "conflict-then-result"
    #: 202 again, running or not: a second export of the same name (``ExportRecord.repeat_of``).
    ACCEPT_AGAIN = "accept-again"
    #: 400 DuplicateBackupName (an invented code, see ``errors.duplicate_backup_name``).
    REFUSE = "refuse"


#: api-versions of Microsoft.DBforMySQL that carry backupAndExport, oldest first.
SUPPORTED_API_VERSIONS: tuple[str, ...] = (
    "2022-09-30-preview",
    "2023-06-01-preview",
    "2023-06-30",
    "2023-10-01-preview",
    "2023-12-30",
    "2024-12-01-preview",
    "2024-12-30",
    "2025-06-01-preview",
)

#: backupSettings.backupFormat enum per api-version ("None" existed only in the first preview).
_FIRST_PREVIEW_FORMATS = ("None", "CollatedFormat")
_LATER_FORMATS = ("CollatedFormat", "Raw")


def backup_formats(api_version: str) -> tuple[str, ...]:
    """The backupFormat values ``api_version`` accepts."""
    return _FIRST_PREVIEW_FORMATS if api_version == "2022-09-30-preview" else _LATER_FORMATS


MIB = 1024**2

#: A scope of ``extra_scopes`` / ``forbidden_scopes``: a subscription or one of its groups.
_SCOPE = re.compile(r"^/subscriptions/([^/]+)(?:/resourceGroups/([^/]+))?/?$", re.IGNORECASE)

#: ``(subscription, resource group or None)``, lower case.
Scope = tuple[str, str | None]


def parse_scope(scope: str) -> Scope:
    """ "/subscriptions/{id}" or "/subscriptions/{id}/resourceGroups/{name}" -> its parts."""
    found = _SCOPE.match(scope.strip())
    if not found:
        raise ValueError(
            f"a scope is '/subscriptions/{{id}}' or '/subscriptions/{{id}}/resourceGroups/"
            f"{{name}}', not {scope!r}"
        )
    group = found.group(2)
    return found.group(1).lower(), group.lower() if group else None


def parse_scopes(scopes: Iterable[str]) -> frozenset[Scope]:
    return frozenset(parse_scope(s) for s in scopes)


DEFAULT_AUDIENCE = "https://management.azure.com"


@dataclass(frozen=True)
class EmulatorConfig:
    """How to run one emulator. ``EmulatorConfig()`` serves the default fleet on a free port."""

    # --- network -----------------------------------------------------------------------------
    host: str = "127.0.0.1"
    #: 0 = pick a free port.
    port: int = 0
    #: PEM files; both set = serve HTTPS.
    tls_cert: str | None = None
    tls_key: str | None = None
    #: Base of absolute URLs (nextLink, polling URLs); None = the emulator's own URL.
    public_base: str | None = None
    #: Base of polling URLs only, to hand out URLs on another host; None = public_base.
    polling_base: str | None = None
    #: Idle keep-alive connections are closed after this many real seconds.
    idle_timeout_seconds: float = 120.0
    max_body_bytes: int = 1024 * 1024

    # --- time and randomness -------------------------------------------------------------------
    clock: Clock = field(default_factory=WallClock)
    seed: int = 0

    # --- identity ----------------------------------------------------------------------------
    #: Secret clients send as X-IDENTITY-HEADER; None = env IDENTITY_HEADER, else random.
    identity_header: str | None = None
    #: Token audience ARM routes accept (with or without a trailing slash).
    audience: str = DEFAULT_AUDIENCE
    token_lifetime_seconds: float = 3600.0
    tenant_id: str = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    #: Object id of the system-assigned identity (tokens requested without client_id).
    principal_id: str = "00000000-0000-0000-0000-00000000a11c"
    #: client_id reported for the system-assigned identity.
    system_client_id: str = "00000000-0000-0000-0000-00000000c11e"

    # --- fleet -------------------------------------------------------------------------------
    #: None = ``fleet.default_fleet()``.
    fleet: Sequence[ServerSpec] | None = None
    #: Subscriptions answered 409 MissingSubscriptionRegistration.
    unregistered_subscriptions: frozenset[str] = frozenset()
    #: Scopes that exist without any server: "/subscriptions/{id}" or
    #: "/subscriptions/{id}/resourceGroups/{name}". Besides these, the subscriptions and groups
    #: of the fleet exist (and those of ``unregistered_subscriptions`` and
    #: ``forbidden_scopes``); a subscription that does not is answered 404 SubscriptionNotFound,
    #: a resource group 404 ResourceGroupNotFound.
    extra_scopes: frozenset[str] = frozenset()
    #: Scopes the identity holds no role on (same shapes): every ARM call at or under one is
    #: answered 403 AuthorizationFailed, before the resource group or server is looked up.
    forbidden_scopes: frozenset[str] = frozenset()
    page_size: int = 100

    # --- the API contract --------------------------------------------------------------------
    supported_api_versions: tuple[str, ...] = SUPPORTED_API_VERSIONS
    #: Send Azure-AsyncOperation on the 202 (the 2024-12-30 contract declares only Location).
    async_operation_header: bool = True
    #: Retry delay (emulated seconds) on 202s and non-terminal polls.
    retry_after_seconds: float = 10.0
    #: None = accepting; a (status, code, message) = backupAndExport answers that error.
    paused: PausedError | None = None
    #: How a repeat of an accepted backup name on the same server is answered.
    resubmission: Resubmission = Resubmission.CONFLICT_THEN_RESULT

    # --- export behaviour --------------------------------------------------------------------
    #: Emulated seconds an accepted export stays "Pending".
    pending_seconds: float = 5.0
    throughput_bytes_per_second: float = 50.0 * MIB
    #: Duration jitter: the size-derived duration is multiplied by uniform(1-j, 1+j).
    duration_jitter: float = 0.2
    #: Probability that an export ends Failed (besides servers with fail_export).
    fail_rate: float = 0.0

    # --- throttling (ARM's per-subscription, per-principal token buckets) --------------------
    throttling: bool = True
    read_burst: int = 250
    read_refill_per_second: float = 25.0
    write_burst: int = 200
    write_refill_per_second: float = 10.0

    # --- faults ------------------------------------------------------------------------------
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        parse_scopes(self.extra_scopes)  # a malformed scope is refused here, not ignored later
        parse_scopes(self.forbidden_scopes)

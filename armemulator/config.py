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


class BackupAnswer(StrEnum):
    """How ``PUT .../backupsV2/{backupName}`` answers when it accepts a backup.

    The 2024-12-30 contract declares 200 (body), 201 (body, ``Retry-After``) and 202
    (``Location``, ``Retry-After``) and says ``final-state-via: azure-async-operation``; which the
    live service sends is not in the spec. Each mode is one of those readings, so a client can be
    tested against every one.
    """

    #: 202, no body, ``Location`` = the location-scoped ``operationStatus/{id}`` URL carrying
    #: ``EmulatorConfig.backup_status_api_version``, and ``Retry-After``: the spec example's
    #: answer. The default.
    LOCATION = "location"
    #: 202 with ``Azure-AsyncOperation`` (``azureAsyncOperation/{id}``) and the same ``Location``.
    ASYNC_OPERATION = "async-operation"
    #: 201 with the backup (``provisioningState: "Creating"``) and only ``Retry-After``: no
    #: polling URL, the client reads the backup resource until it is terminal.
    CREATED = "created"
    #: 200 with the finished backup at once (it takes no emulated time).
    COMPLETED = "completed"


class BackupNaming(StrEnum):
    """What a created backup is named (the create example answers another name than it asked)."""

    #: The resource is named as asked.
    AS_ASKED = "as-asked"
    #: ``customer_<yyyymmdd>t<hhmmss>_<guid>_<asked>``, like the create example's
    #: ``customer_20220507t073755_bb392c3b-..._mybackup``. The asked name is then kept in
    #: ``properties.backupNameV2`` (the emulator's choice; the spec says only "Backup name"),
    #: a GET by the asked name is 404 (the resource exists only under its own name), and the
    #: operation's ``resourceId``, the Location URL's final body and the 200/201 bodies carry
    #: the real id.
    PREFIXED = "prefixed"


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


#: The api-versions above that also carry backupsV2 (LongRunningBackups first appears in
#: 2023-10-01-preview, see shared/reference/arm-backup-and-export.md section 1.1).
BACKUPS_V2_API_VERSIONS: tuple[str, ...] = SUPPORTED_API_VERSIONS[
    SUPPORTED_API_VERSIONS.index("2023-10-01-preview") :
]

#: The api-version of the create example's ``Location`` URL (another version than the PUT's).
BACKUP_STATUS_API_VERSION = "2023-06-01-preview"

#: Not in the spec (nor anywhere Microsoft documents): what a refused on-demand backup returns.
#: The emulator's stand-in for ``EmulatorConfig.backups_paused`` / ``Emulator.set_backups_paused``.
DEFAULT_BACKUPS_PAUSED_ERROR: PausedError = (
    400,
    "OnDemandBackupNotAllowed",
    "On-demand backups are not available for this server at the moment.",
)

#: Microsoft's docs: "You can trigger a total of 50 on-demand backups from the portal."
#: (MicrosoftDocs/azure-databases-docs, articles/mysql/flexible-server/concepts-backup-restore.md)
DEFAULT_BACKUP_LIMIT = 50


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

    # --- the export's files (``armemulator.exportfiles``) ---------------------------------------
    #: Write an accepted export's backup files through every SAS URI on a loopback host (e.g.
    #: Azurite), before the 202; a refusal fails the export with storage's code. SAS URIs on
    #: other hosts are never contacted. False = never contact any storage.
    storage_writes: bool = True
    #: CA bundle (file or directory) trusted for those writes; None = ``REQUESTS_CA_BUNDLE``,
    #: else ``CURL_CA_BUNDLE``, else the system's store (read at each write).
    storage_ca_bundle: str | None = None
    #: Seconds each storage connection, request and answer may take.
    storage_timeout_seconds: float = 10.0
    #: Bytes of stand-in data written per data part (one part per SAS URI).
    export_part_bytes: int = 8192

    # --- on-demand backups (backupsV2); see ``armemulator.backups`` --------------------------
    #: How an accepted create answers (202 Location, 202 Azure-AsyncOperation, 201, 200).
    backup_answer: BackupAnswer = BackupAnswer.LOCATION
    #: api-version of the polling URLs of a backup (the example's differs from the PUT's).
    backup_status_api_version: str = BACKUP_STATUS_API_VERSION
    #: The name a created backup gets (as asked, or prefixed as in the create example).
    backup_names: BackupNaming = BackupNaming.AS_ASKED
    #: ``provisioningState`` of a finished backup: "Succeeded" (the enum), or "Ready" as both
    #: examples show. The operation's ``status`` says "Succeeded" either way.
    backup_succeeded_state: str = "Succeeded"
    #: ``properties.source`` of an on-demand backup. Not in the spec (both examples show
    #: "Automatic", the create example included); automatic backups say "Automatic".
    backup_source: str = "OnDemand"
    #: Emulated seconds a backup takes when its server names none: its size at this rate,
    #: times the duration jitter.
    backup_throughput_bytes_per_second: float = 100.0 * MIB
    #: Probability that a backup ends Failed (besides servers whose backup_outcome says so).
    backup_fail_rate: float = 0.0
    #: On-demand backups a server may hold (running or succeeded); not in the spec.
    backup_limit: int = DEFAULT_BACKUP_LIMIT
    #: None = accepting; a (status, code, message) = every backupsV2 create answers that error.
    backups_paused: PausedError | None = None
    #: Backups per page of ``GET .../backupsV2``; None = ``page_size``.
    backup_page_size: int | None = None
    #: An export and an on-demand backup of one server exclude each other (409), as two of
    #: either kind do. Not in the spec.
    backup_conflicts_with_export: bool = True

    # --- authorization -----------------------------------------------------------------------
    #: None = the identity may perform every action; a set of actions (e.g. a custom role's
    #: ``Actions``) = any call whose action (``kinds.ACTIONS``) is not in it is answered
    #: 403 AuthorizationFailed. Compared without regard to case.
    granted_actions: frozenset[str] | None = None

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
        if self.export_part_bytes < 1:
            raise ValueError(f"export_part_bytes must be positive, got {self.export_part_bytes!r}")
        if self.storage_timeout_seconds <= 0:
            raise ValueError(
                f"storage_timeout_seconds must be positive, got {self.storage_timeout_seconds!r}"
            )
        if self.backup_limit < 0:
            raise ValueError(f"backup_limit must not be negative, got {self.backup_limit!r}")
        if not 0.0 <= self.backup_fail_rate <= 1.0:
            raise ValueError(f"backup_fail_rate must be in [0, 1], got {self.backup_fail_rate!r}")
        if self.backup_status_api_version not in self.supported_api_versions:
            raise ValueError(
                f"backup_status_api_version {self.backup_status_api_version!r} is not one of "
                "supported_api_versions"
            )

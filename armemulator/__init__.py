"""An Azure Resource Manager emulator for Microsoft.DBforMySQL flexible servers' backupAndExport
and on-demand backups (backupsV2).

Why this package exists: the fleet export app must be tested and benchmarked against ARM without
an Azure subscription - and against the situations Azure rarely shows on demand (throttling,
lost responses, failing exports, a paused feature). The emulator is a real HTTP(S) server on
loopback that the official SDK (azure-mgmt-mysqlflexibleservers with azure-identity's
ManagedIdentityCredential) cannot tell from the service. Standard library only; it imports nothing
from the rest of the project.

    from armemulator import Emulator, EmulatorConfig, VirtualClock
    with Emulator(EmulatorConfig(clock=VirtualClock())) as emu:
        ...  # emu.url, emu.token_endpoint, emu.identity_header, emu.clock.advance(60)

Modules: ``clock`` (time), ``throttle`` (ARM token buckets), ``faults`` (injected failures),
``fleet`` (server descriptions), ``config`` (settings), ``model`` (state and ground truth),
``backups`` (one on-demand backup and its rules), ``exportfiles`` (an export's files, written
through SAS URIs on loopback),
``auth`` / ``identity`` (tokens, managed-identity endpoint), ``oplinks`` (signed polling URLs),
``validation`` / ``errors`` / ``representations`` (the contract), ``handlers`` (operations),
``app`` (request pipeline), ``server`` (HTTP transport), ``admin`` (/_emulator routes),
``counters`` (observations), ``emulator`` (the facade), ``announce`` (what the CLI tells a
person), ``__main__`` (CLI).
"""

from armemulator.backups import BackupRecord
from armemulator.clock import Clock, ScaledClock, VirtualClock, WallClock
from armemulator.config import (
    BACKUP_STATUS_API_VERSION,
    BACKUPS_V2_API_VERSIONS,
    DEFAULT_BACKUP_LIMIT,
    DEFAULT_BACKUPS_PAUSED_ERROR,
    DEFAULT_PAUSED_ERROR,
    SUPPORTED_API_VERSIONS,
    BackupAnswer,
    BackupNaming,
    EmulatorConfig,
    PausedError,
    Resubmission,
)
from armemulator.counters import Counters
from armemulator.emulator import Emulator
from armemulator.errors import ArmError, EmulatorError, NotStartedError
from armemulator.faults import Faults, FaultType
from armemulator.fleet import DEFAULT_SUBSCRIPTION, GIB, ServerSpec, default_fleet, make_fleet
from armemulator.kinds import POLLING_KINDS, Kind
from armemulator.model import ExportRecord

__all__ = [
    "BACKUPS_V2_API_VERSIONS",
    "BACKUP_STATUS_API_VERSION",
    "DEFAULT_BACKUPS_PAUSED_ERROR",
    "DEFAULT_BACKUP_LIMIT",
    "DEFAULT_PAUSED_ERROR",
    "DEFAULT_SUBSCRIPTION",
    "GIB",
    "POLLING_KINDS",
    "SUPPORTED_API_VERSIONS",
    "ArmError",
    "BackupAnswer",
    "BackupNaming",
    "BackupRecord",
    "Clock",
    "Counters",
    "Emulator",
    "EmulatorConfig",
    "EmulatorError",
    "ExportRecord",
    "FaultType",
    "Faults",
    "Kind",
    "NotStartedError",
    "PausedError",
    "Resubmission",
    "ScaledClock",
    "ServerSpec",
    "VirtualClock",
    "WallClock",
    "default_fleet",
    "make_fleet",
]

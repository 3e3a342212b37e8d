"""Names of the kinds of request the emulator answers.

Why this module exists: routing, counters, throttling and fault targeting all speak about "kinds"
of request (a backupAndExport POST, a poll of an Azure-AsyncOperation URL...). One enum keeps the
names identical everywhere, including in the JSON of ``/_emulator/counters``.

Polls of an on-demand backup's operation travel the same URL shapes as an export's
(``locations/{l}/operationStatus|azureAsyncOperation/{id}``, as in the API's examples); the
application tells them apart by the operation they name and counts them as
``backup_operation_status`` / ``backup_async_operation``, so a test or a benchmark can count
(and target faults at) one operation's polls without the other's.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """One kind of request; the value is what counters show."""

    BACKUP_AND_EXPORT = "backup_and_export"
    VALIDATE_BACKUP = "validate_backup"
    ASYNC_OPERATION = "async_operation"
    OPERATION_STATUS = "operation_status"
    LIST_SERVERS = "list_servers"
    LIST_SERVERS_BY_RESOURCE_GROUP = "list_servers_by_resource_group"
    GET_SERVER = "get_server"
    #: ``PUT .../backupsV2/{backupName}`` (LongRunningBackup_Create).
    CREATE_BACKUP = "create_backup"
    #: ``GET .../backupsV2/{backupName}`` (LongRunningBackups_Get).
    GET_BACKUP = "get_backup"
    #: ``GET .../backupsV2`` (LongRunningBackups_List).
    LIST_BACKUPS = "list_backups"
    #: GETs of an on-demand backup's polling URLs (Location, Azure-AsyncOperation).
    BACKUP_OPERATION_STATUS = "backup_operation_status"
    BACKUP_ASYNC_OPERATION = "backup_async_operation"
    #: ``GET /providers/Microsoft.DBforMySQL/operations`` (Operations_List): the provider's
    #: operations, no subscription or resource named (what the app's ``GET /api/health`` calls).
    LIST_OPERATIONS = "list_operations"
    #: The managed-identity token endpoint.
    IDENTITY = "identity"
    UNKNOWN = "unknown"


#: GETs of the polling URLs handed out in a 202 (exports' and on-demand backups').
POLLING_KINDS = frozenset(
    {
        Kind.ASYNC_OPERATION,
        Kind.OPERATION_STATUS,
        Kind.BACKUP_ASYNC_OPERATION,
        Kind.BACKUP_OPERATION_STATUS,
    }
)

#: The polling kinds of an on-demand backup's operation, by the kind of the URL's route.
BACKUP_POLLING_KINDS: dict[Kind, Kind] = {
    Kind.ASYNC_OPERATION: Kind.BACKUP_ASYNC_OPERATION,
    Kind.OPERATION_STATUS: Kind.BACKUP_OPERATION_STATUS,
}

#: Requests ARM counts against the subscription's write bucket (POST actions and PUTs are
#: writes).
WRITE_KINDS = frozenset({Kind.BACKUP_AND_EXPORT, Kind.VALIDATE_BACKUP, Kind.CREATE_BACKUP})

#: The ARM action each kind needs (403 messages, ``EmulatorConfig.granted_actions``).
#: The backupsV2 actions are spelled as Microsoft's list of resource provider operations spells
#: them ("Azure permissions for Databases", MicrosoftDocs/azure-docs
#: articles/role-based-access-control/permissions/databases.md @03e5750a: ``.../backupsv2/write``,
#: ``.../backupsv2/read``, ``.../backupsv2/delete``, no descriptions). Polls need no action here:
#: the emulator authorizes the calls about servers, not the reads of an operation's status.
ACTIONS: dict[Kind, str] = {
    Kind.BACKUP_AND_EXPORT: "Microsoft.DBforMySQL/flexibleServers/backupAndExport/action",
    Kind.VALIDATE_BACKUP: "Microsoft.DBforMySQL/flexibleServers/validateBackup/action",
    Kind.GET_SERVER: "Microsoft.DBforMySQL/flexibleServers/read",
    Kind.LIST_SERVERS: "Microsoft.DBforMySQL/flexibleServers/read",
    Kind.LIST_SERVERS_BY_RESOURCE_GROUP: "Microsoft.DBforMySQL/flexibleServers/read",
    Kind.CREATE_BACKUP: "Microsoft.DBforMySQL/flexibleServers/backupsv2/write",
    Kind.GET_BACKUP: "Microsoft.DBforMySQL/flexibleServers/backupsv2/read",
    Kind.LIST_BACKUPS: "Microsoft.DBforMySQL/flexibleServers/backupsv2/read",
}

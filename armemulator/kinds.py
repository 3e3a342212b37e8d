"""Names of the kinds of request the emulator answers.

Why this module exists: routing, counters, throttling and fault targeting all speak about "kinds"
of request (a backupAndExport POST, a poll of an Azure-AsyncOperation URL...). One enum keeps the
names identical everywhere, including in the JSON of ``/_emulator/counters``.
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
    #: The managed-identity token endpoint.
    IDENTITY = "identity"
    UNKNOWN = "unknown"


#: GETs of the polling URLs handed out in a 202.
POLLING_KINDS = frozenset({Kind.ASYNC_OPERATION, Kind.OPERATION_STATUS})

#: Requests ARM counts against the subscription's write bucket (POST actions are writes).
WRITE_KINDS = frozenset({Kind.BACKUP_AND_EXPORT, Kind.VALIDATE_BACKUP})

#: The ARM action each kind needs, for 403 messages.
ACTIONS: dict[Kind, str] = {
    Kind.BACKUP_AND_EXPORT: "Microsoft.DBforMySQL/flexibleServers/backupAndExport/action",
    Kind.VALIDATE_BACKUP: "Microsoft.DBforMySQL/flexibleServers/validateBackup/action",
    Kind.GET_SERVER: "Microsoft.DBforMySQL/flexibleServers/read",
    Kind.LIST_SERVERS: "Microsoft.DBforMySQL/flexibleServers/read",
    Kind.LIST_SERVERS_BY_RESOURCE_GROUP: "Microsoft.DBforMySQL/flexibleServers/read",
}

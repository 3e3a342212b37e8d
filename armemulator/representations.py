"""The JSON the service returns: server resources, operation status, BackupAndExportResponse,
ServerBackupV2.

Why this module exists: response shapes are the contract the SDK deserializes, so they are
written once, next to each other, from the API's OpenAPI documents and examples (Server of
2024-12-30, the Azure-AsyncOperation resource of the ARM RPC, BackupAndExportResponse,
ServerBackupV2 and common-types' OperationStatusResult). They are pure functions of a model value
and the current emulated time.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from armemulator.backups import BACKUP_TYPE, BackupRecord
from armemulator.fleet import FULL_VERSIONS, GIB, ServerSpec, display_location
from armemulator.kinds import ACTIONS
from armemulator.model import EXPORT_ERROR_MESSAGE, ExportRecord, ExportStatus

SERVER_TYPE = "Microsoft.DBforMySQL/flexibleServers"
EXPORT_TYPE = "Microsoft.DBforMySQL/flexibleServers/backupAndExport"
#: The list example's type (the create example says ``.../flexibleServers/backups``).
BACKUP_V2_TYPE = "Microsoft.DBforMySQL/flexibleServers/backupsV2"


def iso(epoch: float) -> str:
    """ISO 8601 UTC with microseconds and 'Z', as ARM writes times."""
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def server_resource(spec: ServerSpec, created_at: float) -> dict[str, Any]:
    """A ``Server`` (TrackedResource) as Servers_Get / Servers_List return it."""
    storage_gb = max(20, math.ceil(spec.datasource_size_bytes / GIB) * 2)
    return {
        "id": spec.resource_id,
        "name": spec.name,
        "type": SERVER_TYPE,
        "location": display_location(spec.location),
        "tags": dict(spec.tags),
        "sku": {"name": spec.sku_name, "tier": spec.sku_tier},
        "systemData": {
            "createdBy": "fleet-admin@contoso.com",
            "createdByType": "User",
            "createdAt": iso(created_at - 90 * 86400),
            "lastModifiedBy": "fleet-admin@contoso.com",
            "lastModifiedByType": "User",
            "lastModifiedAt": iso(created_at - 86400),
        },
        "properties": {
            "administratorLogin": "cloudsa",
            "version": spec.version,
            "fullVersion": FULL_VERSIONS.get(spec.version, spec.version),
            "availabilityZone": "1",
            "state": spec.state,
            "fullyQualifiedDomainName": f"{spec.name}.mysql.database.azure.com",
            "databasePort": 3306,
            "replicationRole": "None",
            "replicaCapacity": 10,
            "storage": {
                "storageSizeGB": storage_gb,
                "iops": 360 + 3 * storage_gb,
                "autoGrow": "Enabled",
                "logOnDisk": "Disabled",
                "storageSku": "Premium_LRS",
                "autoIoScaling": "Enabled",
                "storageRedundancy": "LocalRedundancy",
            },
            "backup": {
                "backupRetentionDays": 7,
                "backupIntervalHours": 24,
                "geoRedundantBackup": "Disabled",
                "earliestRestoreDate": iso(created_at - 7 * 86400),
            },
            "highAvailability": {"mode": "Disabled", "state": "NotEnabled"},
            "network": {"publicNetworkAccess": "Enabled"},
            "maintenancePolicy": {"patchStrategy": "Regular"},
            "maintenanceWindow": {
                "customWindow": "Disabled",
                "dayOfWeek": 0,
                "startHour": 0,
                "startMinute": 0,
                "batchOfMaintenance": "Default",
            },
        },
    }


def _error(record: ExportRecord) -> dict[str, Any]:
    return {"code": record.error_code, "message": record.error_message or EXPORT_ERROR_MESSAGE}


def backup_metadata(record: ExportRecord) -> str:
    """The ``backupMetadata`` string: "metadata related to backup to be stored for restoring
    resource in key-value pairs" (BackupAndExport.json 2023-12-30), which the API's examples show
    as a JSON object of string values (``"{\"key1\":\"value1\",\"key2\":\"value2\"}"``).
    What a restore would need to find and read the backup; never a SAS URI or a token."""
    return json.dumps(
        {
            "backupName": record.backup_name,
            "serverName": record.server_name,
            "serverResourceId": record.server_id,
            "backupFormat": record.backup_format or "Raw",
            "backupTime": iso(record.ends_at),
            "numberOfContainers": str(record.sas_uri_count),
            "datasourceSizeInBytes": str(record.datasource_size_bytes),
            "operationId": record.operation_id,
        },
        separators=(",", ":"),
    )


def async_operation_status(record: ExportRecord, now: float) -> dict[str, Any]:
    """The Azure-AsyncOperation resource: always 200; ``status`` says where the export is."""
    status = record.status_at(now)
    body: dict[str, Any] = {
        "id": (
            f"/subscriptions/{record.subscription}/providers/Microsoft.DBforMySQL/locations/"
            f"{record.location}/azureAsyncOperation/{record.operation_id}"
        ),
        "name": record.operation_id,
        "status": status.value,
        "startTime": iso(record.submitted_at),
        "percentComplete": record.percent_at(now),
        "properties": {
            "datasourceSizeInBytes": record.datasource_size_bytes,
            "dataTransferredInBytes": record.transferred_at(now),
        },
    }
    if record.is_terminal_at(now):
        body["endTime"] = iso(record.ends_at)
    if status is ExportStatus.FAILED:
        body["error"] = _error(record)
    return body


def backup_and_export_response(record: ExportRecord, now: float) -> dict[str, Any]:
    """The final ``BackupAndExportResponse`` (Location URL once terminal, or a duplicate's 200)."""
    status = record.status_at(now)
    body: dict[str, Any] = {
        "id": f"{record.server_id}/backupAndExport/{record.backup_name}",
        "name": record.backup_name,
        "type": EXPORT_TYPE,
        "status": status.value,
        "startTime": iso(record.submitted_at),
        "percentComplete": record.percent_at(now),
        "properties": {
            "datasourceSizeInBytes": record.datasource_size_bytes,
            "dataTransferredInBytes": record.transferred_at(now),
            "backupMetadata": backup_metadata(record),
        },
    }
    if record.is_terminal_at(now):
        body["endTime"] = iso(record.ends_at)
    if status is ExportStatus.FAILED:
        body["error"] = _error(record)
    return body


def validate_backup_response(spec: ServerSpec) -> dict[str, Any]:
    return {"properties": {"numberOfContainers": spec.number_of_containers}}


# --- on-demand backups (backupsV2) ------------------------------------------------------------


def backup_resource(record: BackupRecord, now: float, succeeded_state: str) -> dict[str, Any]:
    """A ``ServerBackupV2`` as GET, list and the 200/201 answers show it at ``now``.

    ``backupNameV2`` appears only when the resource is named otherwise than asked, and carries
    the asked name (the emulator's choice: it appears in no example).
    """
    properties: dict[str, Any] = {
        "backupType": BACKUP_TYPE,
        "source": record.source,
        "provisioningState": record.provisioning_state_at(now, succeeded_state),
    }
    if record.name != record.asked_name:
        properties["backupNameV2"] = record.asked_name
    if record.is_terminal_at(now) and record.outcome == "Succeeded":
        properties["completedTime"] = iso(record.ends_at)
    return {
        "id": record.resource_id,
        "name": record.name,
        "type": BACKUP_V2_TYPE,
        "properties": properties,
    }


def _backup_operation_id(record: BackupRecord, segment: str) -> str:
    return (
        f"/subscriptions/{record.subscription}/providers/Microsoft.DBforMySQL/locations/"
        f"{record.location}/{segment}/{record.operation_id}"
    )


def backup_operation_status(record: BackupRecord, now: float, segment: str) -> dict[str, Any]:
    """common-types ``OperationStatusResult`` of a backup's operation at ``now``, as served at
    ``.../locations/{l}/{segment}/{id}``: ``status`` "InProgress", then "Succeeded", "Failed"
    or "Canceled" (with ``error``); ``resourceId`` is the backup's real id from the start."""
    body: dict[str, Any] = {
        "id": _backup_operation_id(record, segment),
        "name": record.operation_id,
        "status": record.status_at(now),
        "percentComplete": record.percent_at(now),
        "startTime": iso(record.submitted_at),
        "resourceId": record.resource_id,
    }
    if record.is_terminal_at(now):
        body["endTime"] = iso(record.ends_at)
        message = record.error_message()
        if record.error_code and message:
            body["error"] = {"code": record.error_code, "message": message}
    return body


def backup_location_result(
    record: BackupRecord, now: float, succeeded_state: str
) -> dict[str, Any]:
    """What a backup's Location URL answers (200) once the backup has ended: the backup resource
    - what the PUT would have answered synchronously (ARM RPC, "202 Accepted and Location
    Headers", rule 5), and what azure-core makes the SDK's result under Location polling - with
    the operation's ``status``, ``percentComplete``, ``startTime``, ``endTime``, ``resourceId``
    and ``error`` beside it, as the same provider's BackupAndExportResponse carries them.
    The emulator's reading; the spec defines no operationStatus path."""
    status = backup_operation_status(record, now, "operationStatus")
    body = backup_resource(record, now, succeeded_state)
    for field in ("status", "percentComplete", "startTime", "endTime", "resourceId", "error"):
        if field in status:
            body[field] = status[field]
    return body


_OPERATIONS_READ = "Microsoft.DBforMySQL/operations/read"


def operation_list() -> dict[str, Any]:
    """Operations_List's answer (``OperationListResult``: ``value`` of ``Operation``, each
    ``name``, ``display`` {provider, resource, operation, description}, ``origin``; the models of
    azure-mgmt-mysqlflexibleservers 1.0.0 ``models/_models_py3.py``): the actions this emulator
    checks (``kinds.ACTIONS``) and the list's own read, in a stable order."""
    names = sorted({*ACTIONS.values(), _OPERATIONS_READ})
    return {
        "value": [
            {
                "name": name,
                "display": {
                    "provider": "Microsoft DB for MySQL",
                    "resource": name.split("/")[-2],
                    "operation": name.rsplit("/", 1)[-1],
                    "description": f"{name.rsplit('/', 1)[-1]} on {name.split('/')[-2]}",
                },
                "origin": "user,system",
            }
            for name in names
        ]
    }

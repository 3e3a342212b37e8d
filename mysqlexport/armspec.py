"""What ARM's APIs accept, as their OpenAPI definitions state it, and which one a run uses.

The request's validation (``request``) and the ARM client (``arm``) both check a value here, so
the app accepts exactly what it may send. (The API's name patterns live with the names, in
``ids``.)
"""

from __future__ import annotations

from typing import Final

from mysqlexport.errors import InvalidRequest

#: A run's ``operation``: ``export`` is backupAndExport (a full backup copied to the caller's
#: containers, POST ``…/backupAndExport``); ``backup`` is an on-demand backup kept in the service
#: (PUT ``…/backupsV2/{backupName}``, generally available; it cannot be exported).
EXPORT: Final = "export"
BACKUP: Final = "backup"
OPERATIONS: Final = (EXPORT, BACKUP)

#: ``BackupSettings.backupFormat``: the enum of api-versions 2023-12-30 and 2024-12-30
#: (Azure/azure-rest-api-specs ``Backups/stable/2023-12-30/BackupAndExport.json``, copied in
#: shared/reference/specs/BackupAndExport.2023-12-30.json: ``"enum": ["CollatedFormat", "Raw"]``,
#: ``x-ms-enum`` BackupFormat). The first preview, 2022-09-30-preview, had ``None`` and
#: ``CollatedFormat``; the app never sends ``None``. The spec marks ``CollatedFormat`` "INTERNAL -
#: DO NOT USE" but lists it, so it is passed on when asked for. Omitted, the service chooses.
BACKUP_FORMATS: Final = ("Raw", "CollatedFormat")


def check_backup_format(value: object, field: str = "backupFormat") -> str:
    """Return ``value`` if it is one of ``BACKUP_FORMATS``, or raise ``InvalidRequest``."""
    if isinstance(value, str) and value in BACKUP_FORMATS:
        return value
    raise InvalidRequest({field: f"must be one of {', '.join(BACKUP_FORMATS)}"})

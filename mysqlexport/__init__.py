"""Export full backups of Azure Database for MySQL flexible servers with ARM's backupAndExport.

This package is the part of the app that is not Azure Functions glue: the ARM client, the values
it returns, settings, errors and redaction. It imports nothing from ``azure.functions`` so it can
be used and tested on its own.
"""

from mysqlexport.arm import ArmClient
from mysqlexport.errors import (
    ArmError,
    ArmTransportError,
    BadArmResponse,
    CredentialError,
    ExportError,
    ExportFailed,
    InvalidRequest,
    SettingsError,
    UntrustedUrl,
)
from mysqlexport.ids import ServerId, validate_backup_name
from mysqlexport.models import (
    AcceptedOperation,
    ErrorDetail,
    ExportResult,
    OperationStatus,
    ServerInfo,
    StillRunning,
)
from mysqlexport.redaction import SecretUri, redact_text, redact_url
from mysqlexport.settings import Settings

__all__ = [
    "AcceptedOperation",
    "ArmClient",
    "ArmError",
    "ArmTransportError",
    "BadArmResponse",
    "CredentialError",
    "ErrorDetail",
    "ExportError",
    "ExportFailed",
    "ExportResult",
    "InvalidRequest",
    "OperationStatus",
    "SecretUri",
    "ServerId",
    "ServerInfo",
    "Settings",
    "SettingsError",
    "StillRunning",
    "UntrustedUrl",
    "redact_text",
    "redact_url",
    "validate_backup_name",
]

"""Export full backups of Azure Database for MySQL flexible servers with ARM's backupAndExport.

This package is the part of the app that is not Azure Functions glue: the ARM client, the values
it returns, settings, errors and redaction. It imports nothing from ``azure.functions`` so it can
be used and tested on its own.

The names below are loaded on first use (PEP 562), so importing one module of the package (the
pure polling rules in ``mysqlexport.lro``, say) loads neither the ARM client nor ``requests``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mysqlexport.arm import ArmClient
    from mysqlexport.errors import (
        ArmError,
        ArmTransportError,
        BadArmResponse,
        CredentialError,
        ExportError,
        ExportFailed,
        InvalidRequest,
        RequestTooLarge,
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

#: Which module each public name lives in.
_HOMES = {
    "ArmClient": "arm",
    "ArmError": "errors",
    "ArmTransportError": "errors",
    "BadArmResponse": "errors",
    "CredentialError": "errors",
    "ExportError": "errors",
    "ExportFailed": "errors",
    "InvalidRequest": "errors",
    "RequestTooLarge": "errors",
    "SettingsError": "errors",
    "UntrustedUrl": "errors",
    "ServerId": "ids",
    "validate_backup_name": "ids",
    "AcceptedOperation": "models",
    "ErrorDetail": "models",
    "ExportResult": "models",
    "OperationStatus": "models",
    "ServerInfo": "models",
    "StillRunning": "models",
    "SecretUri": "redaction",
    "redact_text": "redaction",
    "redact_url": "redaction",
    "Settings": "settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'mysqlexport' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mysqlexport.{home}"), name)


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
    "RequestTooLarge",
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

"""ARM error responses: the exception the handlers raise and the JSON body ARM sends.

Why this module exists: every failure the emulator reports has the ARM shape
``{"error": {"code", "message", "target"?, "details": [], "additionalInfo": []}}`` and a status,
and some carry headers (``Retry-After`` on 429/503, ``WWW-Authenticate`` on 401). Keeping the
codes and their wording in one place keeps the handlers short and the wording consistent.

Codes marked *invented* below have no documented counterpart for backupAndExport (the reference
research found none); they are the emulator's stand-ins so a client can be tested against the
situation at all: ``BackupAndExportPaused`` (Microsoft documents the feature as paused but not the
error a paused call returns), ``InvalidServerState``, ``BackupAlreadyRunningForServer``,
``InsufficientStorageContainers``, ``InvalidOperationUrl``, ``DuplicateBackupName`` (how the
service answers a repeated backup name is not documented at all). For on-demand backups
(backupsV2), whose spec states no error at all: ``OnDemandBackupLimitExceeded`` (400, the
documented limit of 50 on-demand backups) and ``BackupAlreadyRunningForServer`` again (409, for a
second backup, or a backup and an export, at once). An export whose files storage refused
(``armemulator.exportfiles``) fails with storage's own ``x-ms-error-code``, or with one of two
invented codes: ``StorageRequestFailed`` (an error status without a code) and
``StorageUnreachable`` (a loopback storage that refuses connections, resets or times out). No
message ever contains a SAS URI or a bearer token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Invented: storage answered an export's write with an error status but no code.
STORAGE_REQUEST_FAILED = "StorageRequestFailed"
#: Invented: the loopback storage of an export's SAS could not be reached (refused, reset,
#: timeout, TLS failure).
STORAGE_UNREACHABLE = "StorageUnreachable"


class EmulatorError(Exception):
    """Base of every exception the emulator raises."""


class NotStartedError(EmulatorError, RuntimeError):
    """The emulator was asked for its address before ``start()``."""


class ArmError(EmulatorError):
    """An ARM error response: status, code, message, optional target and extra headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers: dict[str, str] = dict(headers or {})

    def detail(self) -> dict[str, Any]:
        """The ARM ``ErrorDetail`` object."""
        detail: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            detail["target"] = self.target
        detail["details"] = []
        detail["additionalInfo"] = []
        return detail

    def body(self) -> bytes:
        """The ARM ``ErrorResponse`` body, UTF-8 JSON."""
        return json.dumps({"error": self.detail()}).encode("utf-8")


def _short(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


# --- Authentication (401) -----------------------------------------------------------------------

ENTRA_AUTHORITY = "https://login.microsoftonline.com/common"


def _www_authenticate(description: str) -> dict[str, str]:
    return {
        "WWW-Authenticate": (
            f'Bearer authorization_uri="{ENTRA_AUTHORITY}", error="invalid_token", '
            f'error_description="{description}"'
        )
    }


def missing_authorization() -> ArmError:
    return ArmError(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing.",
        headers=_www_authenticate(
            "The authentication failed because of missing 'Authorization' header."
        ),
    )


def invalid_token(reason: str) -> ArmError:
    return ArmError(
        401,
        "InvalidAuthenticationToken",
        reason,
        headers=_www_authenticate("The access token is invalid."),
    )


# --- Request shape (400) ------------------------------------------------------------------------


def missing_api_version() -> ArmError:
    return ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )


def unsupported_api_version(api_version: str, resource_type: str, supported: list[str]) -> ArmError:
    return ArmError(
        400,
        "NoRegisteredProviderFound",
        f"No registered resource provider found for location 'global' and API version "
        f"'{_short(api_version)}' for type '{resource_type}'. The supported api-versions are "
        f"'{', '.join(supported)}'. The supported locations are ''.",
    )


def invalid_subscription_id(value: str) -> ArmError:
    return ArmError(
        400,
        "InvalidSubscriptionId",
        f"The provided subscription identifier '{_short(value)}' is malformed or invalid.",
    )


def invalid_path_parameter(name: str, value: str, rule: str) -> ArmError:
    return ArmError(
        400,
        "InvalidParameterValue",
        f"The value '{_short(value)}' of parameter '{name}' is invalid: {rule}",
        target=name,
    )


def invalid_request_content(reason: str) -> ArmError:
    return ArmError(
        400,
        "InvalidRequestContent",
        f"The request content was invalid and could not be deserialized: {reason}",
    )


def missing_property(path: str) -> ArmError:
    return ArmError(
        400,
        "MissingRequiredProperty",
        f"The request body is missing the required property '{path}'.",
        target=path,
    )


def invalid_property(path: str, reason: str) -> ArmError:
    return ArmError(
        400, "InvalidParameterValue", f"The value of '{path}' is invalid: {reason}", target=path
    )


def invalid_operation_url() -> ArmError:
    return ArmError(
        400,
        "InvalidOperationUrl",
        "The operation URL is not valid: its signature is missing or does not match. "
        "Use the polling URL returned by the service verbatim.",
    )


# --- Resources (404/403/409) --------------------------------------------------------------------


def subscription_not_found(subscription: str) -> ArmError:
    """ARM's answer for a subscription that does not exist, as users report it (e.g.
    Azure/autorest-clientruntime-for-java issue 511: ``{"error":{"code":"SubscriptionNotFound",
    "message":"The subscription '0b1f6471-...' could not be found."}}`` with 404)."""
    return ArmError(
        404,
        "SubscriptionNotFound",
        f"The subscription '{_short(subscription)}' could not be found.",
    )


def resource_group_not_found(resource_group: str) -> ArmError:
    return ArmError(
        404,
        "ResourceGroupNotFound",
        f"Resource group '{_short(resource_group)}' could not be found.",
    )


def server_not_found(resource_group: str, server: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource 'Microsoft.DBforMySQL/flexibleServers/{_short(server)}' under resource "
        f"group '{_short(resource_group)}' was not found. For more details please go to "
        "https://aka.ms/ARMResourceNotFoundFix",
    )


def parent_resource_not_found(server: str) -> ArmError:
    """ARM's answer about a nested resource whose parent does not exist (Microsoft's "Resolve
    errors for parent resources": ``Code=ParentResourceNotFound; Message=Can not perform requested
    operation on nested resource. Parent resource 'exampleserver' not found.``; 404, as the Synapse
    .NET SDK's workspace tests assert)."""
    return ArmError(
        404,
        "ParentResourceNotFound",
        f"Can not perform requested operation on nested resource. Parent resource "
        f"'{_short(server)}' not found.",
    )


def backup_not_found(resource_group: str, server: str, backup: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource 'Microsoft.DBforMySQL/flexibleServers/{_short(server)}/backupsV2/"
        f"{_short(backup)}' under resource group '{_short(resource_group)}' was not found. For "
        "more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def operation_not_found(operation_id: str) -> ArmError:
    return ArmError(
        404,
        "OperationNotFound",
        f"The operation '{_short(operation_id)}' could not be found.",
    )


def path_not_found(path: str) -> ArmError:
    return ArmError(
        404,
        "InvalidResourceType",
        f"The resource type could not be found for the request path '{_short(path, 160)}'.",
    )


def method_not_allowed(method: str, allowed: str) -> ArmError:
    return ArmError(
        405,
        "HttpMethodNotAllowed",
        f"The requested resource does not support http method '{_short(method, 16)}'.",
        headers={"Allow": allowed},
    )


def authorization_failed(principal: str, action: str, scope: str) -> ArmError:
    """ARM's wording, as users report it (e.g. microsoft/vscode-azureappservice issue 1892):
    the scope is the request's resource, or for a list the parent scope and the provider
    (".../resourceGroups/{rg}/providers/Microsoft.Authorization" for a role assignment list)."""
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{principal}' with object id '{principal}' does not have authorization to "
        f"perform action '{action}' over scope '{scope}' or the scope is invalid. If access was "
        "recently granted, please refresh your credentials.",
    )


def subscription_not_registered() -> ArmError:
    return ArmError(
        409,
        "MissingSubscriptionRegistration",
        "The subscription is not registered to use namespace 'Microsoft.DBforMySQL'. "
        "See https://aka.ms/rps-not-found for how to register subscriptions.",
    )


def invalid_server_state(server: str, state: str) -> ArmError:
    """Invented code (see module docstring)."""
    return ArmError(
        400,
        "InvalidServerState",
        f"The operation cannot be performed on server '{server}' because it is in state "
        f"'{state}'. The server must be 'Ready'.",
    )


def insufficient_containers(required: int, supplied: int) -> ArmError:
    """Invented code (see module docstring)."""
    return ArmError(
        400,
        "InsufficientStorageContainers",
        f"The backup needs {required} storage container(s) but {supplied} SAS URI(s) were "
        "supplied. Call validateBackup for the number of containers required.",
        target="targetDetails.sasUriList",
    )


#: What ``backup_already_running`` names as running.
EXPORT_RUNNING = "A backup and export operation"
BACKUP_RUNNING = "An on-demand backup"


def backup_already_running(server: str, running: str = EXPORT_RUNNING) -> ArmError:
    """Invented code (see module docstring), for exports and on-demand backups alike."""
    return ArmError(
        409,
        "BackupAlreadyRunningForServer",
        f"{running} is already in progress for server '{server}'. "
        "Wait for the previous operation to finish.",
    )


def backup_limit_exceeded(server: str, limit: int) -> ArmError:
    """Invented code (see module docstring). 400, not 409 or 429: the limit does not lift by
    waiting for a running operation (on-demand backups go only as the retention period ends)."""
    return ArmError(
        400,
        "OnDemandBackupLimitExceeded",
        f"Server '{server}' already has {limit} on-demand backups, the most it can keep. "
        "Older on-demand backups are removed as the server's backup retention period ends.",
    )


def duplicate_backup_name(server: str, backup_name: str) -> ArmError:
    """Invented code (see module docstring): ``Resubmission.REFUSE``'s answer to a repeat."""
    return ArmError(
        400,
        "DuplicateBackupName",
        f"A backup and export named '{_short(backup_name)}' was already requested for server "
        f"'{server}'. Use another backup name.",
        target="backupSettings.backupName",
    )


# --- Throttling and injected faults -------------------------------------------------------------


def throttled(
    op: str, subscription: str, principal: str, seconds: float, headers: Mapping[str, str]
) -> ArmError:
    return ArmError(
        429,
        "SubscriptionRequestsThrottled",
        f"Number of '{op}' requests for subscription '{subscription}' actor '{principal}' "
        f"exceeded. Please try again after '{int(seconds)}' seconds after additional tokens are "
        "available. Refer to https://aka.ms/arm-throttling for additional information.",
        headers=headers,
    )


def internal_server_error(subscription: str, correlation_id: str, timestamp: str) -> ArmError:
    return ArmError(
        500,
        "InternalServerError",
        f"Encountered internal server error. Diagnostic information: timestamp '{timestamp}', "
        f"subscription id '{subscription}', tracking id '{correlation_id}', request correlation "
        f"id '{correlation_id}'.",
    )


def service_unavailable(headers: Mapping[str, str]) -> ArmError:
    return ArmError(
        503,
        "ServiceUnavailable",
        "The service is temporarily unavailable. Please retry the request later.",
        headers=headers,
    )

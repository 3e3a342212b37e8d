"""Checks on what a client sends: api-version, path parameters, the backupAndExport body and the
backupsV2 body.

Why this module exists: the service rejects malformed requests with 400s whose ``target`` names
the offending parameter or JSON path; a client's own validation is only trustworthy if the
emulator is at least as strict as the published contract. Rules come from the OpenAPI documents
(common-types patterns for subscriptionId, resourceGroupName, serverName and backupName; the
FullBackupStoreDetails discriminator; the backupFormat enum of each api-version).

SAS URIs are secrets: no message here ever contains one, only its position in ``sasUriList``.
The model keeps only their count and a redacted form (scheme, host and path; no query).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from armemulator import errors
from armemulator.config import backup_formats

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_RESOURCE_GROUP = re.compile(r"^[-\w\._\(\)]+$")
_SERVER_NAME = re.compile(r"^[a-z0-9][-a-z0-9]*(?<!-)$")
_BACKUP_NAME = re.compile(r"(^[a-z0-9]$)|(^[a-z0-9][a-z0-9-]*[a-z0-9]$)")
_OPERATION_ID = re.compile(r"^[-\w]{1,64}$")

#: backupsV2's ``backupName`` (2024-12-30: ``^[-\w\._]+$``, no length limit declared).
#: ``\w`` as the service's .NET regex reads it: letters and digits of any script, and "_".
_BACKUP_V2_NAME = re.compile(r"^[-\w\._]+$")

FULL_BACKUP_STORE_DETAILS = "FullBackupStoreDetails"


def api_version(query_version: str | None, supported: Sequence[str], resource_type: str) -> str:
    if not query_version:
        raise errors.missing_api_version()
    if query_version not in supported:
        raise errors.unsupported_api_version(query_version, resource_type, list(supported))
    return query_version


def subscription_id(value: str) -> str:
    if not _GUID.match(value):
        raise errors.invalid_subscription_id(value)
    return value


def resource_group_name(value: str) -> str:
    if not 1 <= len(value) <= 90 or not _RESOURCE_GROUP.match(value):
        raise errors.invalid_path_parameter(
            "resourceGroupName",
            value,
            r"it must be 1-90 characters matching '^[-\w\._\(\)]+$'.",
        )
    return value


def server_name(value: str) -> str:
    if not 1 <= len(value) <= 63 or not _SERVER_NAME.match(value):
        raise errors.invalid_path_parameter(
            "serverName",
            value,
            "it must be 1-63 lowercase letters, digits or hyphens, and must not start or end "
            "with a hyphen.",
        )
    return value


def backup_v2_name(value: str) -> str:
    if not _BACKUP_V2_NAME.fullmatch(value):  # fullmatch: '$' would allow a final newline
        raise errors.invalid_path_parameter(
            "backupName",
            value,
            r"it must match '^[-\w\._]+$' (letters, digits, '-', '.' and '_').",
        )
    return value


def operation_id(value: str) -> str:
    if not _OPERATION_ID.match(value):
        raise errors.operation_not_found(value)
    return value


@dataclass(frozen=True)
class BackupAndExportBody:
    """A valid backupAndExport request body, SAS URIs reduced to a redacted form."""

    backup_name: str
    backup_format: str | None
    sas_uri_count: int
    containers: tuple[str, ...]
    #: The SAS URIs as sent: secrets, handed to ``exportfiles`` and never stored or shown.
    sas_uris: tuple[str, ...] = field(default=(), repr=False)


def _object(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        raise errors.missing_property(path)
    if not isinstance(value, dict):
        raise errors.invalid_property(path, "it must be a JSON object.")
    return value


def _redact(uri: str, path: str) -> str:
    """Check a container SAS URI and return it without its query; never echo it."""
    try:
        parts = urlsplit(uri)
        query = parse_qs(parts.query)
    except ValueError as err:
        raise errors.invalid_property(path, "it is not a valid absolute https URI.") from err
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise errors.invalid_property(path, "it must be an absolute https URI.")
    if not query.get("sig"):
        raise errors.invalid_property(
            path, "it must be a container SAS URI (the 'sig' parameter is missing)."
        )
    return f"https://{parts.hostname}{parts.path}"


def backup_and_export_body(raw: bytes, api_version_value: str) -> BackupAndExportBody:
    """Parse and check a backupAndExport body against the contract of ``api_version_value``."""
    try:
        body = json.loads(raw) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise errors.invalid_request_content("the body is not valid JSON.") from err
    if not isinstance(body, dict):
        raise errors.invalid_request_content("the body must be a JSON object.")

    settings = _object(body.get("backupSettings"), "backupSettings")
    name = settings.get("backupName")
    if name is None:
        raise errors.missing_property("backupSettings.backupName")
    if not isinstance(name, str) or not _BACKUP_NAME.match(name):
        raise errors.invalid_property(
            "backupSettings.backupName",
            "it must be lowercase letters, digits and hyphens, starting and ending with a letter "
            "or digit.",
        )
    backup_format = settings.get("backupFormat")
    allowed = backup_formats(api_version_value)
    if backup_format is not None and backup_format not in allowed:
        raise errors.invalid_property(
            "backupSettings.backupFormat",
            f"api-version {api_version_value} accepts {', '.join(allowed)}.",
        )

    target = _object(body.get("targetDetails"), "targetDetails")
    object_type = target.get("objectType")
    if object_type is None:
        raise errors.missing_property("targetDetails.objectType")
    if object_type != FULL_BACKUP_STORE_DETAILS:
        raise errors.invalid_property(
            "targetDetails.objectType",
            f"the only supported value is '{FULL_BACKUP_STORE_DETAILS}'.",
        )
    uris = target.get("sasUriList")
    if uris is None:
        raise errors.missing_property("targetDetails.sasUriList")
    if not isinstance(uris, list) or not uris:
        raise errors.invalid_property(
            "targetDetails.sasUriList", "it must be a non-empty array of container SAS URIs."
        )
    containers: list[str] = []
    for index, uri in enumerate(uris):
        path = f"targetDetails.sasUriList[{index}]"
        if not isinstance(uri, str):
            raise errors.invalid_property(path, "it must be a string.")
        containers.append(_redact(uri, path))
    return BackupAndExportBody(
        name, backup_format, len(uris), tuple(containers), sas_uris=tuple(uris)
    )


def backup_v2_body(raw: bytes) -> dict[str, Any]:
    """Check the optional ``ServerBackupV2`` body of a backupsV2 PUT: none, ``{}`` or an object.

    What the service does with the writable properties (``backupNameV2``, ``backupType``,
    ``completedTime``, ``source``) is not in the spec: the emulator checks their types and that
    ``backupType`` is the enum's "FULL", then ignores them, as it ignores the read-only ones.
    """
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise errors.invalid_request_content("the body is not valid JSON.") from err
    if not isinstance(body, dict):
        raise errors.invalid_request_content("the body must be a JSON object (a ServerBackupV2).")
    properties = body.get("properties")
    if properties is None:
        return body
    if not isinstance(properties, dict):
        raise errors.invalid_property("properties", "it must be a JSON object.")
    for name in ("backupNameV2", "completedTime", "source", "provisioningState"):
        value = properties.get(name)
        if value is not None and not isinstance(value, str):
            raise errors.invalid_property(f"properties.{name}", "it must be a string.")
    backup_type = properties.get("backupType")
    if backup_type is not None and backup_type != "FULL":
        raise errors.invalid_property(
            "properties.backupType", "the only supported value is 'FULL'."
        )
    return body

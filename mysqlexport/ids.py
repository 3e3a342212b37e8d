"""The identity of a flexible server, and the names ARM accepts.

A server is named everywhere by its ARM resource ID. ``ServerId`` parses and renders that ID,
validating each part with the patterns of the API's OpenAPI definition, so a bad ID is refused
before any request is built. ARM treats IDs case-insensitively; ``key`` is the form to compare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from mysqlexport.errors import InvalidRequest

PROVIDER: Final = "Microsoft.DBforMySQL"
RESOURCE_TYPE: Final = "flexibleServers"

SUBSCRIPTION_PATTERN: Final = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
# common-types v5 ResourceGroupNameParameter: 1-90 word characters, '-', '.', '(', ')'.
RESOURCE_GROUP_PATTERN: Final = re.compile(r"^[-\w\._\(\)]{1,90}$")
SERVER_NAME_PATTERN: Final = re.compile(r"^[a-z0-9][-a-z0-9]*(?<!-)$")
SERVER_NAME_MAX: Final = 63
#: ``BackupSettings.backupName`` of backupAndExport (2023-12-30 and later).
BACKUP_NAME_PATTERN: Final = re.compile(r"(^[a-z0-9]$)|(^[a-z0-9][a-z0-9-]*[a-z0-9]$)")
#: The ``backupName`` path parameter of backupsV2 (``LongRunningBackup_Create``, 2024-12-30):
#: ``^[-\w\._]+$``. Read as ASCII: the spec's ``\w`` comes from .NET, where it also takes
#: letters of any script; the app sends only names every reading accepts.
BACKUPS_V2_NAME_PATTERN: Final = re.compile(r"^[-\w\._]+$", re.ASCII)


def validate_subscription(value: str, field: str = "subscriptionId") -> str:
    """Return the subscription id in lower case, or raise ``InvalidRequest`` naming ``field``."""
    if not isinstance(value, str) or not SUBSCRIPTION_PATTERN.fullmatch(value):
        raise InvalidRequest({field: f"{value!r} is not a subscription id (a GUID)"})
    return value.lower()


def validate_resource_group(value: str, field: str = "resourceGroupName") -> str:
    """Check a resource group name: 1-90 characters of letters, digits, ``-._()``."""
    if (
        not isinstance(value, str)
        or not RESOURCE_GROUP_PATTERN.fullmatch(value)
        or value.endswith(".")
    ):
        raise InvalidRequest(
            {field: f"{value!r} is not a resource group name (1-90 of letters, digits, -._())"}
        )
    return value


def validate_server_name(value: str, field: str = "serverName") -> str:
    """Check a flexible server name: lower-case letters, digits and '-', 1-63, no '-' at the end."""
    if (
        not isinstance(value, str)
        or len(value) > SERVER_NAME_MAX
        or not SERVER_NAME_PATTERN.fullmatch(value)
    ):
        why = (
            f"{value!r} is not a flexible server name (1-63 lower-case letters, digits and '-', "
            "starting with a letter or digit and not ending with '-')"
        )
        raise InvalidRequest({field: why})
    return value


def validate_backup_name(value: str, field: str = "backupName", *, backup: bool = False) -> str:
    """Check a backup name against the API's pattern: backupAndExport's (lower-case letters,
    digits, inner '-'), or with ``backup`` backupsV2's (letters, digits, '-', '_', '.')."""
    pattern = BACKUPS_V2_NAME_PATTERN if backup else BACKUP_NAME_PATTERN
    # A name of dots alone fits backupsV2's pattern, but as a path segment it addresses
    # another resource ("backupsV2/.." is the server itself once a URL is normalised).
    dots_only = isinstance(value, str) and set(value) == {"."}
    if not isinstance(value, str) or not pattern.fullmatch(value) or dots_only:
        allowed = (
            "ASCII letters, digits, '-', '_' and '.', not dots alone"
            if backup
            else "lower-case letters, digits and '-', starting and ending with a letter or digit"
        )
        raise InvalidRequest({field: f"{value!r} is not a valid backup name ({allowed})"})
    return value


@dataclass(frozen=True)
class ServerId:
    """A flexible server's ARM identity: subscription, resource group and server name."""

    subscription: str
    resource_group: str
    name: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "subscription", validate_subscription(self.subscription))
        validate_resource_group(self.resource_group)
        validate_server_name(self.name)

    @classmethod
    def parse(cls, resource_id: str, field: str = "id") -> ServerId:
        """Parse ``/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.DBforMySQL/
        flexibleServers/{name}`` (segment names case-insensitive, as ARM treats them)."""
        if not isinstance(resource_id, str):
            raise InvalidRequest({field: "a server resource id must be a string"})
        parts = resource_id.strip().strip("/").split("/")
        expected = ("subscriptions", "resourcegroups", "providers", PROVIDER.lower())
        if (
            len(parts) != 8
            or parts[0].lower() != expected[0]
            or parts[2].lower() != expected[1]
            or parts[4].lower() != expected[2]
            or parts[5].lower() != expected[3]
            or parts[6].lower() != RESOURCE_TYPE.lower()
        ):
            why = (
                f"{resource_id!r} is not a flexible server resource id "
                "(/subscriptions/{id}/resourceGroups/{rg}/providers/Microsoft.DBforMySQL/"
                "flexibleServers/{name})"
            )
            raise InvalidRequest({field: why})
        try:
            return cls(parts[1], parts[3], parts[7])
        except InvalidRequest as err:
            raise InvalidRequest({field: err.message}) from err

    @property
    def resource_id(self) -> str:
        """The canonical ARM resource ID."""
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{PROVIDER}/{RESOURCE_TYPE}/{self.name}"
        )

    @property
    def key(self) -> str:
        """The case-folded ID, for de-duplication and dictionary keys."""
        return self.resource_id.lower()

    def __str__(self) -> str:
        return self.resource_id

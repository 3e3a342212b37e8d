"""Backup names from a template: ``{server}-{utc:yyyyMMddHHmmss}`` and friends.

A fleet run names each server's backup from one template. The expansion is pure (the run's start
time is passed in) so the orchestrator can expand it deterministically, and every expanded name
is checked against the pattern of the API the run calls: backupAndExport's (lower-case letters,
digits, '-') or backupsV2's (ASCII letters, digits, '-', '_', '.').
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from mysqlexport.errors import InvalidRequest
from mysqlexport.ids import ServerId, validate_backup_name

DEFAULT_TEMPLATE: Final = "{server}-{utc:yyyyMMddHHmmss}"
MAX_TEMPLATE_LENGTH: Final = 200

# .NET-style date tokens (as Azure users write them) -> strftime.
_DATE_TOKENS: Final = (
    ("yyyy", "%Y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_DATE_FORMAT = re.compile(r"^(yyyy|MM|dd|HH|mm|ss|-)+$")
_NOT_ALLOWED = re.compile(r"[^a-z0-9-]+")
#: What backupsV2 names may hold besides placeholders (``ids.BACKUPS_V2_NAME_PATTERN``).
_NOT_ALLOWED_V2 = re.compile(r"[^-\w._]+", re.ASCII)
PLACEHOLDERS: Final = ("server", "resourceGroup", "utc:<yyyyMMddHHmmss>")


def _date(fmt: str, when: datetime) -> str:
    out = fmt
    for token, directive in _DATE_TOKENS:
        out = out.replace(token, when.strftime(directive))
    return out


def _slug(value: str) -> str:
    return _NOT_ALLOWED.sub("-", value.lower()).strip("-")


def check_template(template: str, field: str = "backupName", *, backup: bool = False) -> str:
    """Refuse a template that cannot produce valid names, before anything starts (names of
    on-demand backups with ``backup``)."""
    if not isinstance(template, str) or not template:
        raise InvalidRequest({field: "must be a non-empty string"})
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise InvalidRequest({field: f"must be at most {MAX_TEMPLATE_LENGTH} characters"})
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name in ("server", "resourceGroup"):
            continue
        if name.startswith("utc:") and _DATE_FORMAT.fullmatch(name[4:]):
            continue
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise InvalidRequest({field: f"unknown placeholder {{{name}}}; use {known}"})
    literal = _PLACEHOLDER.sub("", template)
    if "{" in literal or "}" in literal:
        raise InvalidRequest({field: "has an unbalanced '{' or '}'"})
    if backup and _NOT_ALLOWED_V2.search(literal):
        raise InvalidRequest(
            {field: "outside placeholders only ASCII letters, digits, '-', '_' and '.' are allowed"}
        )
    if not backup and _NOT_ALLOWED.search(literal):
        raise InvalidRequest(
            {field: "outside placeholders only lower-case letters, digits and '-' are allowed"}
        )
    return template


def expand(
    template: str,
    server: ServerId,
    started: datetime,
    field: str = "backupName",
    *,
    backup: bool = False,
) -> str:
    """The backup name for ``server`` in a run started at ``started`` (validated; a name of an
    on-demand backup with ``backup``)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "server":
            return server.name
        if name == "resourceGroup":
            return _slug(server.resource_group)
        return _date(name[4:], started)

    value = _PLACEHOLDER.sub(fill, template)
    try:
        return validate_backup_name(value, field, backup=backup)
    except InvalidRequest as err:
        raise InvalidRequest(
            {field: f"expands to {value!r} for {server.name}, which the API refuses: {err.message}"}
        ) from err

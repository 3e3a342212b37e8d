"""App settings, read once into one typed, validated object.

On Azure these are Function app settings; locally, environment variables or
``local.settings.json`` Values. A wrong value stops start-up with an error that names the setting,
instead of surfacing later as a confusing ARM failure.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from mysqlexport.errors import SettingsError

DEFAULT_ARM_ENDPOINT: Final = "https://management.azure.com"
DEFAULT_ARM_SCOPE: Final = "https://management.azure.com/.default"
# The newest stable api-version carrying backupAndExport (and the official SDK's default).
DEFAULT_API_VERSION: Final = "2024-12-30"
# The first api-version that has backupAndExport; older ones are refused.
OLDEST_API_VERSION: Final = "2022-09-30"
_API_VERSION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(-preview)?$")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url`` with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


@dataclass(frozen=True)
class Settings:
    """Everything configurable about talking to ARM."""

    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    arm_scope: str = DEFAULT_ARM_SCOPE
    api_version: str = DEFAULT_API_VERSION
    poll_default_seconds: float = 30.0
    poll_max_seconds: float = 300.0
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 60.0
    get_retries: int = 2
    max_concurrency: int = 20
    deadline_minutes: int = 720
    shard_size: int = 500
    #: The most small servers exported back to back in one batch (1 turns batches off).
    batch_max_servers: int = 4
    #: Polls home in on an export's estimated end from the bytes moved (off: Retry-After only).
    poll_homing: bool = True

    @property
    def arm_origin(self) -> tuple[str, str, int]:
        """(scheme, host, port) of the ARM endpoint: the only place a token may go."""
        return origin_of(self.arm_endpoint)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings; raise ``SettingsError`` naming every bad one."""
        env = os.environ if environ is None else environ
        problems: dict[str, str] = {}

        endpoint = env.get("ARM_ENDPOINT", DEFAULT_ARM_ENDPOINT).strip().rstrip("/")
        why = _endpoint_problem(endpoint)
        if why:
            problems["ARM_ENDPOINT"] = why

        scope = env.get("ARM_SCOPE", DEFAULT_ARM_SCOPE).strip()
        if not scope.endswith("/.default") or _endpoint_problem(scope[: -len("/.default")]):
            problems["ARM_SCOPE"] = (
                f"{scope!r} is not an OAuth scope like 'https://management.azure.com/.default'"
            )

        api_version = env.get("MYSQL_API_VERSION", DEFAULT_API_VERSION).strip()
        why = _api_version_problem(api_version)
        if why:
            problems["MYSQL_API_VERSION"] = why

        numbers: dict[str, float] = {}
        for name, default, low, high in (
            ("POLL_DEFAULT_SECONDS", 30.0, 1.0, 3600.0),
            ("POLL_MAX_SECONDS", 300.0, 1.0, 86400.0),
            ("ARM_CONNECT_TIMEOUT_SECONDS", 10.0, 0.1, 300.0),
            ("ARM_READ_TIMEOUT_SECONDS", 60.0, 0.1, 600.0),
            ("ARM_GET_RETRIES", 2.0, 0.0, 10.0),
            ("MAX_CONCURRENCY", 20.0, 1.0, 1000.0),
            ("DEADLINE_MINUTES", 720.0, 1.0, 10080.0),
            ("SHARD_SIZE", 500.0, 10.0, 5000.0),
            ("BATCH_MAX_SERVERS", 4.0, 1.0, 16.0),
        ):
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                numbers[name] = default
                continue
            try:
                value = float(raw)
            except ValueError:
                problems[name] = f"{raw!r} is not a number"
                continue
            if not low <= value <= high:
                problems[name] = f"{raw!r} is out of range ({low:g} to {high:g})"
                continue
            numbers[name] = value
        if (
            "POLL_DEFAULT_SECONDS" in numbers
            and "POLL_MAX_SECONDS" in numbers
            and numbers["POLL_MAX_SECONDS"] < numbers["POLL_DEFAULT_SECONDS"]
        ):
            problems["POLL_MAX_SECONDS"] = "must not be smaller than POLL_DEFAULT_SECONDS"
        integers = ("ARM_GET_RETRIES", "MAX_CONCURRENCY", "DEADLINE_MINUTES", "SHARD_SIZE")
        for name in (*integers, "BATCH_MAX_SERVERS"):
            if name in numbers and not numbers[name].is_integer():
                problems[name] = "must be a whole number"

        homing = env.get("POLL_HOMING", "").strip().lower() or "true"
        if homing not in _SWITCH:
            problems["POLL_HOMING"] = f"{homing!r} is not true or false"

        if problems:
            raise SettingsError(problems)
        return cls(
            arm_endpoint=endpoint,
            arm_scope=scope,
            api_version=api_version,
            poll_default_seconds=numbers["POLL_DEFAULT_SECONDS"],
            poll_max_seconds=numbers["POLL_MAX_SECONDS"],
            connect_timeout_seconds=numbers["ARM_CONNECT_TIMEOUT_SECONDS"],
            read_timeout_seconds=numbers["ARM_READ_TIMEOUT_SECONDS"],
            get_retries=int(numbers["ARM_GET_RETRIES"]),
            max_concurrency=int(numbers["MAX_CONCURRENCY"]),
            deadline_minutes=int(numbers["DEADLINE_MINUTES"]),
            shard_size=int(numbers["SHARD_SIZE"]),
            batch_max_servers=int(numbers["BATCH_MAX_SERVERS"]),
            poll_homing=_SWITCH.get(homing, True),
        )


#: How a yes/no setting may be written.
_SWITCH: Final = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _endpoint_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return f"{url!r} is not a URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{url!r} is not an absolute https URL"
    if parts.query or parts.fragment or parts.username or parts.password:
        return f"{url!r} must be a bare origin (no query, fragment or credentials)"
    if parts.path not in ("", "/"):
        return f"{url!r} must not have a path"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return f"{url!r} uses plain http; only loopback hosts (the emulator) may"
    return None


def _api_version_problem(value: str) -> str | None:
    match = _API_VERSION.match(value)
    if not match:
        return f"{value!r} is not an api-version like 2024-12-30 or 2023-10-01-preview"
    if value[:10] < OLDEST_API_VERSION:
        return f"{value!r} is older than {OLDEST_API_VERSION}, the first with backupAndExport"
    return None

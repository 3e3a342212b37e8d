"""App settings, read once into one typed, validated object.

On Azure these are Function app settings; locally, environment variables or
``local.settings.json`` Values. A wrong value stops start-up with an error that names the setting,
instead of surfacing later as a confusing ARM failure.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from mysqlexport.containers import parse_container_url
from mysqlexport.errors import SettingsError
from mysqlexport.hosts import is_loopback_host, origin_of
from mysqlexport.lro import PollPolicy
from mysqlexport.request import MAX_CONCURRENCY, MAX_DEADLINE_MINUTES

DEFAULT_ARM_ENDPOINT: Final = "https://management.azure.com"
DEFAULT_ARM_SCOPE: Final = "https://management.azure.com/.default"
# The newest stable api-version carrying backupAndExport (and the official SDK's default).
DEFAULT_API_VERSION: Final = "2024-12-30"
# The first api-version that has backupAndExport; older ones are refused.
OLDEST_API_VERSION: Final = "2022-09-30"
_API_VERSION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(-preview)?$")


#: The longest ``HISTORY_RETENTION_DAYS`` may be (ten years).
MAX_RETENTION_DAYS: Final = 3650.0

#: The polling rules' own bounds (``lro.PollPolicy``) are the settings' defaults.
_POLL: Final = PollPolicy()


@dataclass(frozen=True)
class Settings:
    """Everything configurable about talking to ARM and running exports.

    A field's default here is the setting's only default: ``from_env`` uses it for a setting
    that is not set (``_PARSED`` names each field's app setting).
    """

    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    arm_scope: str = DEFAULT_ARM_SCOPE
    api_version: str = DEFAULT_API_VERSION
    poll_default_seconds: float = _POLL.default_seconds
    poll_max_seconds: float = _POLL.max_seconds
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 60.0
    get_retries: int = 2
    max_concurrency: int = 20
    deadline_minutes: int = 720
    shard_size: int = 500
    #: The most small servers exported back to back in one batch (1 turns batches off).
    batch_max_servers: int = 4
    #: Polls home in on an export's estimated end from the bytes moved (off: the waits follow
    #: Retry-After and the whole-percent estimate only).
    poll_homing: bool = True
    #: The Durable SDK's history timestamps parsed with ``fromisoformat`` first
    #: (``orchestrators/replay_speed.py``; read when the orchestrators are imported).
    fast_history_timestamps: bool = True
    #: Days the task hub keeps a finished instance's history (``triggers/retention.py``
    #: purges older ones every night); 0 keeps everything.
    history_retention_days: int = 30
    #: The blob container each run's report files go to (``{runId}/report.json``,
    #: ``servers.csv``, ``report.html``), reached with the app's identity; None writes none.
    report_container_url: str | None = None

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

        values: dict[str, Any] = {
            "arm_endpoint": endpoint,
            "arm_scope": scope,
            "api_version": api_version,
        }
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        for setting, name, parse in _PARSED:
            raw = env.get(setting, "").strip()
            try:
                values[name] = parse(raw, defaults[name]) if raw else defaults[name]
            except ValueError as err:
                problems[setting] = str(err)
        if values.get("poll_max_seconds", math.inf) < values.get("poll_default_seconds", 0.0):
            problems["POLL_MAX_SECONDS"] = "must not be smaller than POLL_DEFAULT_SECONDS"

        if problems:
            raise SettingsError(problems)
        return cls(**values)


def _number(low: float, high: float) -> Callable[[str, Any], float]:
    """A reader of a number from ``low`` to ``high``; a whole one where the default is an int."""

    def parse(raw: str, default: Any) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a number") from None
        if not low <= value <= high:
            raise ValueError(f"{raw!r} is out of range ({low:g} to {high:g})")
        if isinstance(default, int):
            if not value.is_integer():
                raise ValueError("must be a whole number")
            return int(value)
        return value

    return parse


def _container(raw: str, default: Any = None) -> str:
    """A blob container URL without a SAS (``mysqlexport.containers``), normalised."""
    return parse_container_url(raw).url


#: How a yes/no setting may be written.
_SWITCH: Final = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def switch(raw: str, default: Any = None) -> bool:
    """A yes/no setting (``true``/``false``, ``1``/``0``, ``yes``/``no``); ValueError otherwise."""
    try:
        return _SWITCH[raw.strip().lower()]
    except KeyError:
        raise ValueError(f"{raw!r} is not true or false") from None


#: The settings read into a typed field: app setting, the ``Settings`` field it sets, and its
#: reader. One that is not set (or blank) keeps the field's default.
_PARSED: Final = (
    ("POLL_DEFAULT_SECONDS", "poll_default_seconds", _number(1.0, 3600.0)),
    ("POLL_MAX_SECONDS", "poll_max_seconds", _number(1.0, 86400.0)),
    ("ARM_CONNECT_TIMEOUT_SECONDS", "connect_timeout_seconds", _number(0.1, 300.0)),
    ("ARM_READ_TIMEOUT_SECONDS", "read_timeout_seconds", _number(0.1, 600.0)),
    ("ARM_GET_RETRIES", "get_retries", _number(0.0, 10.0)),
    # The app-wide window and deadline may be at most what one request may ask for.
    ("MAX_CONCURRENCY", "max_concurrency", _number(1.0, MAX_CONCURRENCY)),
    ("DEADLINE_MINUTES", "deadline_minutes", _number(1.0, MAX_DEADLINE_MINUTES)),
    ("SHARD_SIZE", "shard_size", _number(10.0, 5000.0)),
    ("BATCH_MAX_SERVERS", "batch_max_servers", _number(1.0, 16.0)),
    ("POLL_HOMING", "poll_homing", switch),
    ("FAST_HISTORY_TIMESTAMPS", "fast_history_timestamps", switch),
    ("HISTORY_RETENTION_DAYS", "history_retention_days", _number(0.0, MAX_RETENTION_DAYS)),
    ("REPORT_CONTAINER_URL", "report_container_url", _container),
)


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

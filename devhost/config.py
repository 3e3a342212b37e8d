"""Host settings read from the app directory: host.json and local.settings.json.

``func start`` reads ``host.json`` for the Durable extension's knobs (hub name, concurrency,
action limit) and the HTTP route prefix, and copies ``local.settings.json`` ``Values`` into the
environment without overriding variables that are already set. ``%NAME%`` references in
bindings (e.g. a timer schedule) are resolved against that environment.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devhost.errors import IndexingError

log = logging.getLogger(__name__)

DEFAULT_HUB_NAME = "TestHubName"
DEFAULT_MAX_ORCHESTRATION_ACTIONS = 100_000
_SETTING_REF = re.compile(r"%([^%]+)%")


def _cpu_count() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class HostConfig:
    """The subset of host.json devhost honours.

    Concurrency defaults follow the Premium/Dedicated plans: ten per CPU core.
    """

    hub_name: str = DEFAULT_HUB_NAME
    max_concurrent_activities: int = 10 * _cpu_count()
    max_concurrent_orchestrations: int = 10 * _cpu_count()
    max_orchestration_actions: int = DEFAULT_MAX_ORCHESTRATION_ACTIONS
    route_prefix: str = "api"

    @classmethod
    def from_app_dir(cls, app_dir: Path, environ: Mapping[str, str] | None = None) -> HostConfig:
        """Read ``app_dir/host.json`` (missing file: all defaults).

        Raises:
            IndexingError: host.json is not valid JSON.
        """
        env = os.environ if environ is None else environ
        path = app_dir / "host.json"
        if not path.is_file():
            return cls()
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as err:
            raise IndexingError(f"{path} is not valid JSON: {err}") from err
        extensions = _object(document.get("extensions"))
        durable = _object(extensions.get("durableTask"))
        http = _object(extensions.get("http"))
        defaults = cls()
        hub = durable.get("hubName")
        prefix = http.get("routePrefix")
        return cls(
            hub_name=resolve_setting(hub, env) if isinstance(hub, str) else defaults.hub_name,
            max_concurrent_activities=_positive(
                durable.get("maxConcurrentActivityFunctions"), defaults.max_concurrent_activities
            ),
            max_concurrent_orchestrations=_positive(
                durable.get("maxConcurrentOrchestratorFunctions"),
                defaults.max_concurrent_orchestrations,
            ),
            max_orchestration_actions=_positive(
                durable.get("maxOrchestrationActions"), defaults.max_orchestration_actions
            ),
            route_prefix=prefix.strip("/") if isinstance(prefix, str) else defaults.route_prefix,
        )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _positive(value: Any, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return default


@contextmanager
def app_settings(values: Mapping[str, str]) -> Iterator[None]:
    """Set app settings in ``os.environ`` for the duration of a block, then restore what was
    there (the way a trial or a benchmark gives the app under devhost its settings)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def load_local_settings(
    app_dir: Path, environ: MutableMapping[str, str] | None = None
) -> dict[str, str]:
    """Copy ``local.settings.json`` ``Values`` into ``environ`` where not already set.

    Returns:
        the settings that were applied.

    Raises:
        IndexingError: the file exists but is not valid JSON.
    """
    env = os.environ if environ is None else environ
    path = app_dir / "local.settings.json"
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as err:
        raise IndexingError(f"{path} is not valid JSON: {err}") from err
    applied: dict[str, str] = {}
    for key, value in _object(document.get("Values")).items():
        if key in env or value is None:
            continue
        env[key] = str(value)
        applied[key] = str(value)
    log.debug("applied %d settings from %s", len(applied), path)
    return applied


def resolve_setting(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace ``%NAME%`` references in ``value`` with app settings.

    Raises:
        IndexingError: a referenced setting is not defined.
    """
    env = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise IndexingError(f"'%{name}%' does not resolve to a value.")
        return env[name]

    return _SETTING_REF.sub(substitute, value)


#: The Functions host's limit on language-worker processes.
MAX_WORKER_PROCESSES = 10


def worker_process_count(environ: Mapping[str, str]) -> int:
    """``FUNCTIONS_WORKER_PROCESS_COUNT`` (1-10), or 0 when unset: devhost then runs the app's
    orchestrators in its own process.

    Raises:
        IndexingError: the setting is not a whole number from 1 to 10.
    """
    text = environ.get("FUNCTIONS_WORKER_PROCESS_COUNT", "").strip()
    if not text:
        return 0
    if not text.isdigit() or not 1 <= int(text) <= MAX_WORKER_PROCESSES:
        raise IndexingError(
            f"FUNCTIONS_WORKER_PROCESS_COUNT must be a whole number from 1 to "
            f"{MAX_WORKER_PROCESSES}, not '{text}'."
        )
    return int(text)

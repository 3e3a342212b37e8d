"""Host settings read from the app directory: host.json and local.settings.json.

``func start`` reads ``host.json`` for the Durable extension's knobs (hub name, concurrency,
action limit), the HTTP route prefix and ``functionTimeout``, and copies ``local.settings.json``
``Values`` into the environment without overriding variables that are already set. ``%NAME%``
references in bindings (e.g. a timer schedule) are resolved against that environment. The two
app settings that shape the language worker (``FUNCTIONS_WORKER_PROCESS_COUNT``,
``PYTHON_THREADPOOL_THREAD_COUNT``) are read here too.
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
#: The host's ``functionTimeout`` when host.json sets none, on every plan but the classic
#: Consumption plan (5 minutes there): ``ScriptJobHostOptionsSetup.DefaultFunctionTimeout`` in
#: azure-functions-host (src/WebJobs.Script/Config/ScriptJobHostOptionsSetup.cs). devhost models
#: the plans the README recommends (Flex Consumption, Premium).
DEFAULT_FUNCTION_TIMEOUT = 30 * 60.0
#: ``ScriptJobHostOptionsSetup.MinFunctionTimeout``.
MIN_FUNCTION_TIMEOUT = 1.0
#: The app setting that overrides host.json's ``functionTimeout`` (``AzureFunctionsJobHost__*``).
FUNCTION_TIMEOUT_SETTING = "AzureFunctionsJobHost__functionTimeout"
_SETTING_REF = re.compile(r"%([^%]+)%")
_TIMESPAN = re.compile(
    r"^(?P<sign>-)?(?:(?P<days>\d+)\.)?(?P<hours>\d{1,2}):(?P<minutes>\d{1,2})"
    r"(?::(?P<seconds>\d{1,2})(?:\.(?P<fraction>\d{1,7}))?)?$"
)


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
    #: Seconds an invocation may run before the host gives up on it; None: unbounded
    #: (``"functionTimeout": "-1"``).
    function_timeout: float | None = DEFAULT_FUNCTION_TIMEOUT

    @classmethod
    def from_app_dir(cls, app_dir: Path, environ: Mapping[str, str] | None = None) -> HostConfig:
        """Read ``app_dir/host.json`` (missing file: all defaults).

        Raises:
            IndexingError: host.json is not valid JSON.
        """
        env = os.environ if environ is None else environ
        path = app_dir / "host.json"
        if not path.is_file():
            return cls(function_timeout=_function_timeout(None, env))
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
            function_timeout=_function_timeout(document.get("functionTimeout"), env),
        )


def _function_timeout(value: Any, environ: Mapping[str, str]) -> float | None:
    """host.json's ``functionTimeout`` (overridden by the app setting), as the host reads it.

    Raises:
        IndexingError: not a TimeSpan, or below the host's minimum of one second.
    """
    value = environ.get(FUNCTION_TIMEOUT_SETTING, value)
    if value is None:
        return DEFAULT_FUNCTION_TIMEOUT
    seconds = parse_timespan(str(value))
    if seconds == -86_400.0:  # "-1" (minus one day): unbounded on every plan but Consumption
        return None
    if seconds < MIN_FUNCTION_TIMEOUT:
        raise IndexingError(
            f"FunctionTimeout must be greater than 00:00:01 (host.json functionTimeout '{value}')."
        )
    return seconds


def parse_timespan(text: str) -> float:
    """Seconds in a .NET TimeSpan text (``[-][d.]hh:mm[:ss[.fffffff]]`` or ``[-]d``), the form of
    host.json's ``functionTimeout``.

    Raises:
        IndexingError: the text is not a TimeSpan.
    """
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return float(int(text) * 86_400)
    match = _TIMESPAN.match(text)
    if match is None or int(match["minutes"]) > 59 or int(match["seconds"] or 0) > 59:
        raise IndexingError(f"'{text}' is not a TimeSpan such as 00:10:00.")
    seconds = (
        int(match["days"] or 0) * 86_400
        + int(match["hours"]) * 3_600
        + int(match["minutes"]) * 60
        + int(match["seconds"] or 0)
        + float(f"0.{match['fraction'] or 0}")
    )
    return -seconds if match["sign"] else seconds


def format_timespan(seconds: float) -> str:
    """``seconds`` as .NET's ``TimeSpan.ToString()`` writes it (``00:05:00``, ``1.02:00:00``,
    ``00:00:01.5000000``), the form the host puts in its timeout message."""
    ticks = round(seconds * 10_000_000)
    days, rest = divmod(ticks, 86_400 * 10_000_000)
    hours, rest = divmod(rest, 3_600 * 10_000_000)
    minutes, rest = divmod(rest, 60 * 10_000_000)
    whole, fraction = divmod(rest, 10_000_000)
    text = f"{hours:02d}:{minutes:02d}:{whole:02d}"
    if days:
        text = f"{days}.{text}"
    if fraction:
        text += f".{fraction:07d}"
    return text


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


def threadpool_thread_count(environ: Mapping[str, str]) -> int | None:
    """``PYTHON_THREADPOOL_THREAD_COUNT`` as the Python worker reads it, or None for Python's own
    ThreadPoolExecutor default, ``min(32, cpu count + 4)`` on the Python versions Azure offers.

    The worker (azure-functions-python-worker, azure_functions_worker/dispatcher.py,
    ``Dispatcher._get_sync_tp_max_workers``) runs every synchronous invocation on one
    ``ThreadPoolExecutor(max_workers=...)`` of this size; a value that is not a whole number of
    at least 1 is logged and ignored (the default applies), as the worker does.
    """
    text = environ.get("PYTHON_THREADPOOL_THREAD_COUNT", "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        log.warning("PYTHON_THREADPOOL_THREAD_COUNT must be an integer, not '%s'", text)
        return None
    if value < 1:
        log.warning(
            "PYTHON_THREADPOOL_THREAD_COUNT must be set to a value between 1 and sys.maxint. "
            "Reverting to default value for max_workers"
        )
        return None
    return value


def default_threadpool_size() -> int:
    """The size of a ``ThreadPoolExecutor(max_workers=None)`` on this machine."""
    return min(32, _cpu_count() + 4)

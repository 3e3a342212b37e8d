"""Find the app's functions the way the Python worker indexes a v2-model app.

The app (``function_app:app`` by default) is imported from the app directory and asked for
``get_functions()``. Each function's bindings decide what it is: an HTTP route, an
orchestrator, an activity, an entity, a timer trigger; ``durableClient`` input bindings get
the client JSON the host would pass. Orchestrators and activities are registered under the
name the Durable extension uses (the binding's ``orchestration``/``activity`` property, else
the function name) and looked up case-insensitively, as the host does.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import logging
import sys
import threading
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any, cast

from devhost.config import resolve_setting
from devhost.cron import Schedule, parse_schedule
from devhost.errors import IndexingError

log = logging.getLogger(__name__)


class FunctionKind(Enum):
    """What a function's trigger makes it."""

    HTTP = "httpTrigger"
    ORCHESTRATOR = "orchestrationTrigger"
    ACTIVITY = "activityTrigger"
    ENTITY = "entityTrigger"
    TIMER = "timerTrigger"
    OTHER = "other"


@dataclass(frozen=True)
class HttpRoute:
    """An HTTP trigger: route template, allowed methods (None: any) and auth level."""

    template: str
    methods: frozenset[str] | None
    auth_level: str


@dataclass(frozen=True)
class TimerTrigger:
    """A timer trigger with its schedule resolved from app settings."""

    schedule_text: str
    schedule: Schedule
    run_on_startup: bool


@dataclass(frozen=True)
class IndexedFunction:
    """One function of the app.

    ``trigger_param`` receives the trigger payload; ``client_params`` receive the durable client
    JSON; ``other_params`` are input bindings devhost does not emulate (they receive None).
    """

    name: str
    kind: FunctionKind
    user_function: Callable[..., Any]
    trigger_param: str
    registered_name: str
    client_params: tuple[str, ...] = ()
    other_params: tuple[str, ...] = ()
    http: HttpRoute | None = None
    timer: TimerTrigger | None = None
    bindings: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)

    @property
    def is_async(self) -> bool:
        """Whether the user function is a coroutine function."""
        return inspect.iscoroutinefunction(self.user_function)


#: ``Exception.Source`` of the exceptions behind an indexing error, as the host flattens them.
_WEBJOBS_HOST = "Microsoft.Azure.WebJobs.Host"
_WEBJOBS_EXTENSIONS = "Microsoft.Azure.WebJobs.Extensions"
#: The type the host generates its function methods on (ScriptHost.GeneratedTypeName).
_GENERATED_TYPE = "Functions"


@dataclass(frozen=True)
class FunctionInError:
    """A function that failed indexing: disabled, with the host's error text."""

    name: str
    kind: FunctionKind
    error: str

    @property
    def message(self) -> str:
        """The line the host logs once started."""
        return f"The '{self.name}' function is in error: {self.error}"


class _BindingError(Exception):
    """A binding that cannot be used; ``source`` is the assembly the host would name."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(message)
        self.source = source


@dataclass(frozen=True)
class AppIndex:
    """The indexed app; ``errors`` are the functions that failed indexing (not served)."""

    app_dir: Path
    functions: tuple[IndexedFunction, ...]
    errors: tuple[FunctionInError, ...] = ()

    def error(self, name: str) -> FunctionInError | None:
        """The indexing error of function ``name`` (case-insensitive), if it failed."""
        return next((e for e in self.errors if e.name.casefold() == name.casefold()), None)

    def has_function(self, name: str) -> bool:
        """Whether the app defines function ``name``, served or in error (case-insensitive)."""
        names = [f.name for f in self.functions] + [e.name for e in self.errors]
        return any(n.casefold() == name.casefold() for n in names)

    @cached_property
    def _orchestrators(self) -> dict[str, IndexedFunction]:
        return {
            f.registered_name.casefold(): f
            for f in self.functions
            if f.kind is FunctionKind.ORCHESTRATOR
        }

    @cached_property
    def _activities(self) -> dict[str, IndexedFunction]:
        return {
            f.registered_name.casefold(): f
            for f in self.functions
            if f.kind is FunctionKind.ACTIVITY
        }

    def orchestrator(self, name: str) -> IndexedFunction | None:
        """Return the orchestrator registered under ``name`` (case-insensitive)."""
        return self._orchestrators.get(name.casefold())

    def activity(self, name: str) -> IndexedFunction | None:
        """Return the activity registered under ``name`` (case-insensitive)."""
        return self._activities.get(name.casefold())

    def names(self, kind: FunctionKind) -> list[str]:
        """Registered names of every function of ``kind``, in app order."""
        return [f.registered_name for f in self.functions if f.kind is kind]

    def of_kind(self, kind: FunctionKind) -> list[IndexedFunction]:
        """Every function of ``kind``, in app order."""
        return [f for f in self.functions if f.kind is kind]


def missing_function_message(name: str, kind: FunctionKind, index: AppIndex) -> str:
    """The host's message for a call to a function that does not exist."""
    label = "activity" if kind is FunctionKind.ACTIVITY else "orchestrator"
    known = index.names(kind)
    message = (
        f"The function '{name}' doesn't exist, is disabled, or is not an {label} function. "
        "Additional info: "
    )
    if known:
        return (
            message
            + f"The following are the known {label} functions: '"
            + "', '".join(known)
            + "'."
        )
    return message + f"No {label} functions are currently registered!"


def load_app(app_dir: Path, spec: str = "function_app:app") -> object:
    """Import ``module:attribute`` from ``app_dir`` and return the app object.

    The module is loaded from its file in ``app_dir`` (whatever else is on ``sys.path``), and
    ``app_dir`` goes first on ``sys.path`` so the app's own modules resolve. If a module of the
    same name from another directory is already imported (two apps in one test session), the
    app is loaded under a private alias instead of replacing it.

    Raises:
        IndexingError: the module or attribute cannot be found or fails to import.
    """
    module_name, _, attribute = spec.partition(":")
    attribute = attribute or "app"
    app_dir = app_dir.resolve()
    if str(app_dir) in sys.path:
        sys.path.remove(str(app_dir))
    sys.path.insert(0, str(app_dir))
    module = _import_from(app_dir, module_name)
    try:
        return cast(object, getattr(module, attribute))
    except AttributeError as err:
        raise IndexingError(f"Module '{module_name}' in {app_dir} has no '{attribute}'.") from err


def _import_from(app_dir: Path, module_name: str) -> types.ModuleType:
    if "." in module_name:
        try:
            return importlib.import_module(module_name)
        except Exception as err:
            raise IndexingError(f"Importing '{module_name}' from {app_dir} failed: {err}") from err
    path = app_dir / f"{module_name}.py"
    package = False
    if not path.is_file():
        path = app_dir / module_name / "__init__.py"
        package = True
        if not path.is_file():
            raise IndexingError(f"Cannot find module '{module_name}' in {app_dir}.")
    existing = sys.modules.get(module_name)
    if existing is None:
        return _load_file(module_name, path, package)
    existing_file = getattr(existing, "__file__", None)
    if existing_file and Path(existing_file).resolve() == path.resolve():
        return existing
    alias = f"{module_name}__devhost_{abs(hash(str(app_dir))):x}"
    if alias in sys.modules:
        return sys.modules[alias]
    return _load_file(alias, path, package)


def _load_file(name: str, path: Path, package: bool) -> types.ModuleType:
    module_spec = importlib.util.spec_from_file_location(
        name, path, submodule_search_locations=[str(path.parent)] if package else None
    )
    if module_spec is None or module_spec.loader is None:
        raise IndexingError(f"Cannot load {path}.")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        raise IndexingError(f"Importing {path} failed: {err}") from err
    return module


def _binding_dicts(function: Any) -> tuple[dict[str, Any], ...]:
    raw = function.get_raw_bindings()
    return tuple(cast(dict[str, Any], json.loads(text)) for text in raw)


_FUNCTIONS_LOCK = threading.Lock()
_FUNCTIONS: dict[int, tuple[object, tuple[Any, ...]]] = {}


def _functions_of(app: object) -> tuple[Any, ...]:
    """``app.get_functions()``, once per app object.

    The worker calls it once per process; a second call on the same app raises a duplicate-name
    error (the app remembers names it validated), so hosts sharing an app share the result.
    """
    with _FUNCTIONS_LOCK:
        cached = _FUNCTIONS.get(id(app))
        if cached is not None and cached[0] is app:
            return cached[1]
        get_functions = getattr(app, "get_functions", None)
        if not callable(get_functions):
            raise IndexingError(f"{app!r} is not a function app (no get_functions()).")
        try:
            functions = tuple(get_functions())
        except ValueError as err:
            raise IndexingError(f"Indexing the app failed: {err}") from err
        _FUNCTIONS[id(app)] = (app, functions)
        return functions


def index_app(app: object, app_dir: Path, environ: Mapping[str, str] | None = None) -> AppIndex:
    """Classify every function of ``app`` by its bindings.

    A function whose binding cannot be used (e.g. an unresolvable ``%SETTING%`` in a schedule)
    is left out and listed in ``errors``, logged with the host's messages.

    Raises:
        IndexingError: ``app`` has no ``get_functions()`` or a function has no trigger.
    """
    indexed: list[IndexedFunction] = []
    errors: list[FunctionInError] = []
    for function in _functions_of(app):
        try:
            indexed.append(_index_function(function, environ))
        except _BindingError as err:
            errors.append(_failed_indexing(function, err))
    for function in indexed:
        if function.kind is FunctionKind.ENTITY:
            log.warning(
                "entity function %s is indexed but durable entities are not supported by "
                "devhost; calls to it will fail",
                function.name,
            )
    for failed in errors:
        log.error(failed.message, extra={"function": failed.name})
    return AppIndex(app_dir=app_dir.resolve(), functions=tuple(indexed), errors=tuple(errors))


def _failed_indexing(function: Any, err: _BindingError) -> FunctionInError:
    """Log the WebJobs SDK's two lines for a function that failed indexing; its error."""
    name = str(function.get_function_name())
    method = f"{_GENERATED_TYPE}.{name}"
    indexing = f"Error indexing method '{method}'"
    log.error("%s: %s", indexing, err, extra={"function": name})
    log.warning("Function '%s' failed indexing and will be disabled.", method)
    flattened = " ".join(
        _flattened(source, text)
        for source, text in (
            (_WEBJOBS_HOST, indexing),
            (err.source, str(err)),
        )
    )
    trigger = next(
        (b for b in _binding_dicts(function) if str(b.get("type", "")).endswith("Trigger")), {}
    )
    try:
        kind = FunctionKind(str(trigger.get("type")))
    except ValueError:
        kind = FunctionKind.OTHER
    return FunctionInError(name=name, kind=kind, error=flattened)


def _flattened(source: str, message: str) -> str:
    """One exception as ``Utility.FlattenException`` writes it."""
    return f"{source}: {message}" + ("" if message.endswith(".") else ".")


def _timer(trigger: Mapping[str, Any], environ: Mapping[str, str] | None) -> TimerTrigger:
    """The timer binding with its schedule resolved and parsed.

    Raises:
        _BindingError: the schedule's setting does not resolve, or it is not a schedule.
    """
    try:
        schedule_text = resolve_setting(str(trigger.get("schedule", "")), environ)
    except IndexingError as err:  # "'%NAME%' does not resolve to a value."
        raise _BindingError(_WEBJOBS_HOST, str(err)) from err
    try:
        schedule = parse_schedule(schedule_text)
    except IndexingError as err:
        raise _BindingError(
            _WEBJOBS_EXTENSIONS,
            f"The schedule expression '{schedule_text}' was not recognized as a valid cron "
            "expression or timespan string.",
        ) from err
    return TimerTrigger(
        schedule_text=schedule_text,
        schedule=schedule,
        run_on_startup=bool(trigger.get("runOnStartup") or False),
    )


def _index_function(function: Any, environ: Mapping[str, str] | None) -> IndexedFunction:
    name = str(function.get_function_name())
    bindings = _binding_dicts(function)
    trigger = next((b for b in bindings if str(b.get("type", "")).endswith("Trigger")), None)
    if trigger is None:
        raise IndexingError(f"Function '{name}' has no trigger binding.")
    trigger_type = str(trigger["type"])
    try:
        kind = FunctionKind(trigger_type)
    except ValueError:
        kind = FunctionKind.OTHER
    client_params = tuple(str(b["name"]) for b in bindings if b.get("type") == "durableClient")
    other_params = tuple(
        str(b["name"])
        for b in bindings
        if b is not trigger
        and b.get("type") != "durableClient"
        and str(b.get("direction", "")).upper() == "IN"
    )
    if other_params:
        log.warning("function %s: input bindings %s are not emulated (None)", name, other_params)
    registered = name
    if kind is FunctionKind.ORCHESTRATOR and trigger.get("orchestration"):
        registered = str(trigger["orchestration"])
    elif kind is FunctionKind.ACTIVITY and trigger.get("activity"):
        registered = str(trigger["activity"])
    http = None
    timer = None
    if kind is FunctionKind.HTTP:
        methods = trigger.get("methods")
        http = HttpRoute(
            template=str(trigger.get("route") or name).strip("/"),
            methods=None if not methods else frozenset(str(m).upper() for m in methods),
            auth_level=str(trigger.get("authLevel") or "function").lower(),
        )
    elif kind is FunctionKind.TIMER:
        timer = _timer(trigger, environ)
    return IndexedFunction(
        name=name,
        kind=kind,
        user_function=function.get_user_function(),
        trigger_param=str(trigger["name"]),
        registered_name=registered,
        client_params=client_params,
        other_params=other_params,
        http=http,
        timer=timer,
        bindings=bindings,
    )

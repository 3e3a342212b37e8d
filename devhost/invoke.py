"""Calling user functions the way the Python worker does, and what an invocation can come to.

Arguments are passed by binding name, plus ``context`` when the function declares it. Async
functions run on one process-wide asyncio loop thread: the SDK's DurableOrchestrationClient
keeps a single module-level aiohttp session (and an asyncio lock created at import) that must
always be used from the same loop, so there is exactly one loop for every host in the process
and it is never closed. (Which thread runs a synchronous function is the worker's business:
``devhost.workers``.)

An invocation's outcome, as the host sees it, is one of ``Returned``, ``Raised`` (user code
raised), ``WorkerExited`` (the language-worker process died with it in flight) or ``TimedOut``
(it exceeded ``functionTimeout``). These are plain values, so they cross a process boundary.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import traceback
import uuid
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions._abc import RetryContext, TraceContext

_loop_lock = threading.Lock()
_loops: list[AsyncLoop] = []


@dataclass(frozen=True)
class Returned:
    """The function returned ``value`` (for an activity: its result as JSON text)."""

    value: Any


@dataclass(frozen=True)
class Raised:
    """User code raised: the exception's type name, ``str()`` and formatted traceback."""

    type_name: str
    message: str
    details: str

    @classmethod
    def of(cls, error: BaseException) -> Raised:
        """The outcome of an invocation that raised ``error``."""
        return cls(type(error).__name__, str(error), "".join(traceback.format_exception(error)))


@dataclass(frozen=True)
class WorkerExited:
    """The language-worker process exited with the invocation in flight (``exit_code`` as .NET
    reports it: 128 + signal for a process killed by a signal)."""

    exit_code: int

    @property
    def message(self) -> str:
        """``WorkerProcessExitException``'s message (azure-functions-host,
        src/WebJobs.Script/Workers/ProcessManagement/WorkerProcess.cs, OnProcessExited; the
        Python worker's ``defaultExecutablePath`` is ``python``)."""
        return f"python exited with code {self.exit_code} (0x{self.exit_code:X})"


@dataclass(frozen=True)
class TimedOut:
    """The invocation ran longer than ``functionTimeout`` (``seconds``) and the host gave up."""

    seconds: float


Outcome = Returned | Raised | WorkerExited | TimedOut


class _TraceContext(TraceContext):
    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class InvocationContext(func.Context):
    """The ``context`` argument: invocation id, function name and directory."""

    def __init__(self, function_name: str, function_directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory

    @property
    def invocation_id(self) -> str:
        """A fresh id per invocation."""
        return self._invocation_id

    @property
    def thread_local_storage(self) -> type[threading.local]:
        """Thread-local storage (unused by devhost)."""
        return threading.local

    @property
    def function_name(self) -> str:
        """The function's name."""
        return self._function_name

    @property
    def function_directory(self) -> str:
        """The app directory."""
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        """An empty trace context."""
        return _TraceContext()

    @property
    def retry_context(self) -> RetryContext:
        """Not available under devhost."""
        raise NotImplementedError("retry_context is not emulated by devhost")


class AsyncLoop:
    """A daemon thread running an asyncio loop forever."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="devhost-asyncio", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> Future[Any]:
        """Schedule ``coroutine`` on the loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        """Run ``coroutine`` on the loop and wait for its result (re-raising its exception)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("AsyncLoop.run() called from the loop thread itself")
        return self.submit(coroutine).result(timeout)


def shared_loop() -> AsyncLoop:
    """Return the process-wide loop, starting it on first use."""
    with _loop_lock:
        if not _loops:
            _loops.append(AsyncLoop())
        return _loops[0]


def prepare_arguments(
    function: Callable[..., Any],
    arguments: Mapping[str, Any],
    *,
    function_name: str,
    function_directory: str,
) -> dict[str, Any]:
    """``arguments`` plus ``context`` when ``function`` declares it, as the worker binds them."""
    kwargs = dict(arguments)
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    if "context" in parameters and "context" not in kwargs:
        kwargs["context"] = InvocationContext(function_name, function_directory)
    return kwargs


def is_async(function: Callable[..., Any]) -> bool:
    """Whether the worker runs ``function`` on its event loop (``async def``) rather than on
    its thread pool (azure_functions_worker/dispatcher.py, ``_handle__invocation_request``)."""
    return inspect.iscoroutinefunction(function)


def call_sync(function: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    """Call a synchronous function; an awaitable it returns is awaited on the shared loop."""
    result = function(**kwargs)
    if inspect.isawaitable(result):
        return shared_loop().run(_await(result))
    return result


def call_function(
    function: Callable[..., Any],
    arguments: Mapping[str, Any],
    *,
    function_name: str,
    function_directory: str,
) -> Any:
    """Call ``function`` with ``arguments`` (plus ``context`` if declared), sync or async, on
    the calling thread (async functions on the shared loop)."""
    kwargs = prepare_arguments(
        function, arguments, function_name=function_name, function_directory=function_directory
    )
    if is_async(function):
        return shared_loop().run(function(**kwargs))
    return call_sync(function, kwargs)


async def _await(awaitable: Any) -> Any:
    return await awaitable

"""The language worker: where the app's code runs, on which threads, and how it fails.

The Functions host is one process (the Durable extension's dispatch, its store, timers, the HTTP
front end) and the Python code runs in language-worker processes beside it
(``FUNCTIONS_WORKER_PROCESS_COUNT``, 1 by default, up to 10). The host keeps its own dispatch
limits (``maxConcurrentOrchestratorFunctions``, ``maxConcurrentActivityFunctions``: devhost's
engine) and spreads invocations over the worker processes round-robin
(azure-functions-host, RpcFunctionInvocationDispatcherLoadBalancer.cs). Inside each worker process
the Python worker runs every synchronous invocation, orchestrator episodes and activities
alike, on one ``ThreadPoolExecutor`` whose size is ``PYTHON_THREADPOOL_THREAD_COUNT``, else
Python's default ``min(32, cores + 4)``; ``async def`` functions run on the worker's event loop
instead (azure-functions-python-worker, azure_functions_worker/dispatcher.py:
``_get_sync_tp_max_workers``, ``_handle__invocation_request``). So a host slot does not mean a
running function: an episode dispatched by the host waits for a pool thread like any activity.

Two implementations of ``LanguageWorkers``:

``InProcessWorker`` (devhost's default, no ``FUNCTIONS_WORKER_PROCESS_COUNT``): devhost's own
process plays the one worker process, so tests can patch the app in place. One pool of the
configured size runs sync episodes, activities and timer triggers; async functions run on the
process-wide loop (``devhost.invoke.shared_loop``).

``ProcessWorkers`` (``FUNCTIONS_WORKER_PROCESS_COUNT`` = N): N spawned processes, each importing
the app once and running its own pool and event loop, each with one duplex pipe to the host
carrying any number of invocations at once (the gRPC channel's role). Orchestrator episodes,
activities and timer triggers all run there; HTTP triggers still run in devhost's process. A
worker that dies fails every invocation in flight on it (GrpcWorkerChannel.TryFailExecutions)
and is replaced; an activity that exceeds ``functionTimeout`` gets the process restarted
(WebScriptHostExceptionHandler.OnTimeoutExceptionAsync -> RestartWorkerWithInvocationIdAsync),
whose other invocations the real host never answers (they time out in their turn): devhost
answers their activities with the timeout at once and sends their episodes again.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost.activity_runner import (
    activity_arguments,
    bind_arguments,
    execute_activity,
    execute_activity_async,
)
from devhost.config import DEFAULT_FUNCTION_TIMEOUT, default_threadpool_size
from devhost.faults import FaultKind
from devhost.indexing import AppIndex, FunctionKind, IndexedFunction, index_app, load_app
from devhost.invoke import (
    Outcome,
    Raised,
    Returned,
    TimedOut,
    WorkerExited,
    call_sync,
    is_async,
    shared_loop,
)

log = logging.getLogger(__name__)

#: The exit code .NET reports for a process killed by SIGKILL (128 + 9), e.g. by the OOM killer.
KILLED_EXIT_CODE = 128 + signal.SIGKILL


class WorkerRaised(Exception):
    """The orchestrator handle raised in a worker process: ``str()`` is its message."""

    def __init__(self, message: str, details: str) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class WorkerStats:
    """A snapshot of the sync pools: threads per process, invocations running on a pool thread,
    and invocations waiting for one (in-process worker only; None where not observable)."""

    processes: int
    threads: int
    running: int | None
    waiting: int | None


class LanguageWorkers(ABC):
    """Where the app's code runs (see the module docstring)."""

    #: Sync pool size in each worker process.
    threads: int

    @abstractmethod
    def invoke(self, name: str, payload: str) -> Any:
        """What orchestrator ``name``'s handle returns for the orchestration ``payload``.

        Raises:
            Exception: whatever the handle raised (``WorkerRaised`` from a worker process), or
                ``WorkerRaised`` worded as the host words a worker that died mid-episode.
            RuntimeError: the workers are stopped.
        """

    @abstractmethod
    def run_activity(
        self,
        function: IndexedFunction,
        input_text: str | None,
        client_binding: str | None,
        *,
        timeout: float | None,
        fault: FaultKind | None = None,
    ) -> Outcome:
        """Run one activity invocation to its outcome (``fault``: WORKER_DIES or TIMES_OUT
        make it end that way after the activity's code ran; others are the engine's)."""

    @abstractmethod
    def run_trigger(
        self, function: IndexedFunction, arguments: Mapping[str, Any], *, timeout: float | None
    ) -> Outcome:
        """Run a timer trigger invocation to its outcome."""

    @abstractmethod
    def stats(self) -> WorkerStats:
        """The pools' current load."""

    @abstractmethod
    def close(self) -> None:
        """Stop; invocations in flight or waiting fail."""


#: The name replay.py knows the worker interface by (it only calls ``invoke``).
OrchestratorWorkers = LanguageWorkers


def _orchestrators(index: AppIndex) -> dict[str, IndexedFunction]:
    return {f.name: f for f in index.of_kind(FunctionKind.ORCHESTRATOR)}


def _effective_timeout(timeout: float | None) -> float:
    return DEFAULT_FUNCTION_TIMEOUT if timeout is None else timeout


class InProcessWorker(LanguageWorkers):
    """devhost's own process as the one language worker: one sync pool of ``threads`` (default
    ``min(32, cores + 4)``) and the process-wide event loop."""

    def __init__(self, index: AppIndex, threads: int | None = None) -> None:
        self.threads = threads or default_threadpool_size()
        self._index = index
        self._app_dir = str(index.app_dir)
        self._orchestrators = _orchestrators(index)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="devhost-worker")
        self._lock = threading.Lock()
        self._waiting = 0
        self._running = 0

    def _submit(self, target: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``target`` on the sync pool, counting it as waiting until a thread takes it."""

        def run() -> Any:
            with self._lock:
                self._waiting -= 1
                self._running += 1
            try:
                return target(*args)
            finally:
                with self._lock:
                    self._running -= 1

        with self._lock:
            self._waiting += 1
        try:
            return self._pool.submit(run)
        except RuntimeError:
            with self._lock:
                self._waiting -= 1
            raise RuntimeError("devhost's language worker is stopped") from None

    def invoke(self, name: str, payload: str) -> Any:
        handle = self._orchestrators[name].user_function
        return self._submit(handle, func.OrchestrationContext(payload)).result()

    def _run(
        self,
        kind: str,
        function: IndexedFunction,
        arguments: Mapping[str, Any],
        timeout: float | None,
    ) -> Outcome:
        future = _start(kind, function, arguments, self._app_dir, self._submit)
        try:
            outcome: Outcome = future.result(timeout)
        except TimeoutError:
            # The host gives up; the thread cannot be stopped (the real host restarts the
            # worker process), so its result is discarded when it comes.
            future.cancel()
            return TimedOut(_effective_timeout(timeout))
        return outcome

    def run_activity(
        self,
        function: IndexedFunction,
        input_text: str | None,
        client_binding: str | None,
        *,
        timeout: float | None,
        fault: FaultKind | None = None,
    ) -> Outcome:
        arguments = activity_arguments(function, input_text, client_binding)
        outcome = self._run("activity", function, arguments, timeout)
        if isinstance(outcome, TimedOut):
            return outcome
        if fault is FaultKind.WORKER_DIES:
            return WorkerExited(KILLED_EXIT_CODE)
        if fault is FaultKind.TIMES_OUT:
            return TimedOut(_effective_timeout(timeout))
        return outcome

    def run_trigger(
        self, function: IndexedFunction, arguments: Mapping[str, Any], *, timeout: float | None
    ) -> Outcome:
        return self._run("trigger", function, arguments, timeout)

    def stats(self) -> WorkerStats:
        with self._lock:
            return WorkerStats(1, self.threads, self._running, self._waiting)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _run_trigger(function: IndexedFunction, arguments: Mapping[str, Any], app_dir: str) -> Outcome:
    try:
        kwargs = bind_arguments(function, arguments, app_dir)
        return Returned(call_sync(function.user_function, kwargs))
    except Exception as err:  # noqa: BLE001 - reported to the host as the invocation's failure
        return Raised.of(err)


async def _run_async_trigger(
    function: IndexedFunction, arguments: Mapping[str, Any], app_dir: str
) -> Outcome:
    try:
        kwargs = bind_arguments(function, arguments, app_dir)
        return Returned(await function.user_function(**kwargs))
    except Exception as err:  # noqa: BLE001 - reported to the host as the invocation's failure
        return Raised.of(err)


#: How an activity or a timer trigger runs on the sync pool, and as a coroutine on the loop.
_RUNNERS: dict[
    str,
    tuple[
        Callable[[IndexedFunction, Mapping[str, Any], str], Outcome],
        Callable[[IndexedFunction, Mapping[str, Any], str], Coroutine[Any, Any, Outcome]],
    ],
] = {
    "activity": (execute_activity, execute_activity_async),
    "trigger": (_run_trigger, _run_async_trigger),
}


def _start(
    kind: str,
    function: IndexedFunction,
    arguments: Mapping[str, Any],
    app_dir: str,
    submit_sync: Callable[..., Future[Any]],
) -> Future[Any]:
    """Start an activity or timer trigger (``kind``) where the worker runs it: an ``async def``
    on the event loop, anything else through ``submit_sync`` on the sync pool."""
    run_sync, run_async = _RUNNERS[kind]
    if is_async(function.user_function):
        return shared_loop().submit(run_async(function, arguments, app_dir))
    return submit_sync(run_sync, function, arguments, app_dir)


# -- the worker process -------------------------------------------------------------------------
def _run_orchestrator(handle: Callable[..., Any], payload: str) -> Outcome:
    try:
        return Returned(handle(func.OrchestrationContext(payload)))
    except Exception as err:  # noqa: BLE001 - relayed to the host side as the SDK raised it
        return Raised.of(err)


class _WorkerProcess:
    """The language-worker side: read invocations off the pipe, run each on the pool or the
    event loop, send each outcome back when it is ready (in any order)."""

    def __init__(self, conn: Connection, app_dir: str, spec: str, threads: int | None) -> None:
        self.conn = conn
        self.app_dir = app_dir
        index = index_app(load_app(Path(app_dir), spec), Path(app_dir))
        self.functions = {f.name: f for f in index.functions}
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="devhost-worker")
        self.send_lock = threading.Lock()

    def serve(self) -> None:
        while True:
            try:
                invocation_id, kind, name, args = self.conn.recv()
            except (EOFError, OSError):
                return
            function = self.functions[name]
            die_after = False
            future: Future[Any]
            if kind == "orchestrator":
                future = self.pool.submit(_run_orchestrator, function.user_function, args[0])
            else:
                if kind == "activity":
                    input_text, client_binding, die_after = args
                    arguments = activity_arguments(function, input_text, client_binding)
                else:
                    (arguments,) = args
                future = _start(kind, function, arguments, self.app_dir, self.pool.submit)
            future.add_done_callback(self._replier(invocation_id, die_after))

    def _replier(self, invocation_id: int, die_after: bool) -> Callable[[Future[Any]], None]:
        def reply(future: Future[Any]) -> None:
            if die_after:  # an injected crash: the code ran, the process dies before answering
                os.kill(os.getpid(), signal.SIGKILL)
            try:
                outcome: Outcome = future.result()
            except BaseException as err:  # noqa: BLE001 - cancelled or escaped: still an answer
                outcome = Raised.of(err)
            try:
                with self.send_lock:
                    self.conn.send((invocation_id, outcome))
            except (OSError, ValueError):
                pass  # the host hung up

        return reply


def _serve(conn: Connection, app_dir: str, spec: str, threads: int | None) -> None:
    """A worker process: import the app, then answer invocations until the host hangs up."""
    _WorkerProcess(conn, app_dir, spec, threads).serve()


# -- the host side of the worker processes ------------------------------------------------------
class _Orphaned:
    """The worker was restarted under the invocation (a timeout elsewhere): never answered."""


_ORPHANED = _Orphaned()
_Answer = Outcome | _Orphaned


class _Channel:
    """One worker process and its pipe: invocations in flight by id, a reader thread."""

    def __init__(
        self,
        app: tuple[str, str, int | None],
        on_exit: Callable[[_Channel], None],
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve, args=(child, *app), name="devhost-worker", daemon=True
        )
        self.process.start()
        child.close()
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.pending: dict[int, Future[_Answer]] = {}
        self.alive = True
        self.restarted_for_timeout = False
        self._on_exit = on_exit
        self._reader = threading.Thread(target=self._read, name="devhost-worker-pipe", daemon=True)
        self._reader.start()

    def submit(self, invocation_id: int, message: tuple[Any, ...]) -> Future[_Answer] | None:
        """Send one invocation; None if this worker is gone (nothing was delivered)."""
        future: Future[_Answer] = Future()
        with self.lock:
            if not self.alive:
                return None
            self.pending[invocation_id] = future
        try:
            with self.send_lock:
                self.conn.send(message)
        except (OSError, ValueError):
            with self.lock:
                self.pending.pop(invocation_id, None)
            return None
        return future

    def _read(self) -> None:
        while True:
            try:
                invocation_id, outcome = self.conn.recv()
            except (EOFError, OSError):
                break
            with self.lock:
                future = self.pending.pop(invocation_id, None)
            if future is not None:
                future.set_result(outcome)
        self._on_exit(self)

    def take_pending(self) -> dict[int, Future[_Answer]]:
        """Mark the worker gone and hand over what was in flight on it."""
        with self.lock:
            self.alive = False
            pending, self.pending = self.pending, {}
        return pending

    def exit_code(self) -> int:
        """The process's exit code as .NET reports it (128 + signal when killed)."""
        self.process.join(timeout=5)
        if self.process.exitcode is None:
            self.process.kill()
            self.process.join(timeout=5)
        code = self.process.exitcode
        if code is None:
            return KILLED_EXIT_CODE
        return 128 - code if code < 0 else code

    def kill(self) -> None:
        self.process.kill()


class ProcessWorkers(LanguageWorkers):
    """``processes`` language-worker processes for one app, each with a sync pool of ``threads``
    (None: Python's default in that process) and an event loop (see the module docstring)."""

    #: How often an episode orphaned by a worker restart is sent again before giving up.
    _RESENDS = 3

    def __init__(
        self, app_dir: Path, spec: str, processes: int, threads: int | None = None
    ) -> None:
        self._app = (str(app_dir), spec, threads)
        self.threads = threads or default_threadpool_size()
        self._lock = threading.Lock()
        self._closed = False
        self._ids = itertools.count(1)
        self._turn = itertools.count()
        self._channels: list[_Channel] = []
        for _ in range(processes):
            self._channels.append(_Channel(self._app, self._exited))

    # -- dispatch -------------------------------------------------------------------------------
    def _send(
        self, kind: str, name: str, args: tuple[Any, ...]
    ) -> tuple[Future[_Answer], _Channel]:
        """Deliver one invocation to the next live worker (round-robin, as the host's load
        balancer picks a channel)."""
        for _ in range(2 + len(self._channels)):
            with self._lock:
                if self._closed:
                    raise RuntimeError("devhost's worker processes are stopped")
                live = [c for c in self._channels if c.alive]
                channel = live[next(self._turn) % len(live)] if live else None
            if channel is None:
                break
            invocation_id = next(self._ids)
            future = channel.submit(invocation_id, (invocation_id, kind, name, args))
            if future is not None:
                return future, channel
        raise RuntimeError("no devhost worker process accepted the invocation")

    def _wait(self, future: Future[_Answer], channel: _Channel, timeout: float | None) -> _Answer:
        try:
            return future.result(timeout)
        except TimeoutError:
            self._restart_for_timeout(channel)
            return TimedOut(_effective_timeout(timeout))

    def invoke(self, name: str, payload: str) -> Any:
        for _ in range(self._RESENDS):
            future, channel = self._send("orchestrator", name, (payload,))
            answer = self._wait(future, channel, None)
            if isinstance(answer, _Orphaned):
                continue  # the real host aborts the episode (it times out) and runs it again
            if isinstance(answer, Returned):
                return answer.value
            if isinstance(answer, Raised):
                raise WorkerRaised(answer.message, answer.details)
            if isinstance(answer, WorkerExited):
                # TaskOrchestrationShim reads the failed invocation's Task.Result, so the
                # orchestration fails with the AggregateException's message.
                message = f"One or more errors occurred. ({answer.message})"
                raise WorkerRaised(message, message)
            raise AssertionError(f"an orchestrator episode cannot end as {answer!r}")
        raise RuntimeError(f"devhost worker processes kept restarting under '{name}'")

    def run_activity(
        self,
        function: IndexedFunction,
        input_text: str | None,
        client_binding: str | None,
        *,
        timeout: float | None,
        fault: FaultKind | None = None,
    ) -> Outcome:
        die_after = fault is FaultKind.WORKER_DIES
        future, channel = self._send(
            "activity", function.name, (input_text, client_binding, die_after)
        )
        answer = self._wait(future, channel, timeout)
        if isinstance(answer, _Orphaned):
            return TimedOut(_effective_timeout(timeout))
        if fault is FaultKind.TIMES_OUT:
            return TimedOut(_effective_timeout(timeout))
        return answer

    def run_trigger(
        self, function: IndexedFunction, arguments: Mapping[str, Any], *, timeout: float | None
    ) -> Outcome:
        future, channel = self._send("trigger", function.name, (dict(arguments),))
        answer = self._wait(future, channel, timeout)
        return TimedOut(_effective_timeout(timeout)) if isinstance(answer, _Orphaned) else answer

    # -- worker lifecycle -----------------------------------------------------------------------
    def _restart_for_timeout(self, channel: _Channel) -> None:
        log.warning(
            "A function timeout has occurred. Restarting worker process %s.", channel.process.pid
        )
        channel.restarted_for_timeout = True
        channel.kill()

    def _exited(self, channel: _Channel) -> None:
        """A worker's pipe closed: fail what was in flight on it and start a replacement."""
        pending = channel.take_pending()
        exit_code = channel.exit_code()
        with self._lock:
            closed = self._closed
            if channel in self._channels:
                self._channels.remove(channel)
        if not closed:
            if not channel.restarted_for_timeout:
                log.error(
                    "Language Worker Process exited. Pid=%s. python exited with code %d",
                    channel.process.pid,
                    exit_code,
                )
            replacement = _Channel(self._app, self._exited)
            with self._lock:
                if self._closed:
                    replacement.kill()
                else:
                    self._channels.append(replacement)
        for future in pending.values():
            if closed:
                future.set_exception(RuntimeError("devhost's worker processes are stopped"))
            elif channel.restarted_for_timeout:
                future.set_result(_ORPHANED)
            else:
                future.set_result(WorkerExited(exit_code))

    def pids(self) -> list[int]:
        """The live worker processes' ids."""
        with self._lock:
            return [c.process.pid for c in self._channels if c.alive and c.process.pid]

    def stats(self) -> WorkerStats:
        with self._lock:
            processes = len(self._channels)
        return WorkerStats(processes, self.threads, None, None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channels = list(self._channels)
        for channel in channels:
            channel.kill()
        for channel in channels:
            channel.process.join(timeout=5)

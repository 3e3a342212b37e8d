"""Orchestrator code in language-worker processes, as the Functions host runs a Python app.

The Functions host is one process (the Durable extension's dispatch, its store, timers, the HTTP
front end) and the Python code runs in language-worker processes beside it
(``FUNCTIONS_WORKER_PROCESS_COUNT``, 1 by default, up to 10), to which the host sends each
orchestrator invocation's JSON payload and from which it gets the orchestrator's state back.
With ``worker_processes`` > 0 devhost does the same for orchestrator episodes: each process
imports the app once and runs the SDK's ``Orchestrator.create`` handle on the payload; the host
side (the replay of actions against the history, the determinism check, the store) stays here.
With 0 (devhost's default) the handle runs in this process, which keeps tests able to patch
the app in place and measures one process's CPU.

Activities, HTTP and timer triggers still run in this process.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost.indexing import FunctionKind, index_app, load_app

#: The worker process's orchestrator handles by name (set by ``_load``).
_HANDLES: dict[str, Any] = {}


class WorkerRaised(Exception):
    """The orchestrator handle raised in a worker: ``str()`` is its message."""

    def __init__(self, message: str, details: str) -> None:
        super().__init__(message)
        self.details = details


def _load(app_dir: str, spec: str) -> None:
    index = index_app(load_app(Path(app_dir), spec), Path(app_dir))
    for function in index.of_kind(FunctionKind.ORCHESTRATOR):
        _HANDLES[function.name] = function.user_function


def _run(name: str, payload: str) -> tuple[bool, Any, str]:
    """(returned, value or message, traceback) of one orchestrator invocation."""
    try:
        return True, _HANDLES[name](func.OrchestrationContext(payload)), ""
    except Exception as err:  # noqa: BLE001 - relayed to the host side as the SDK raised it
        return False, str(err), "".join(traceback.format_exception(err))


def _serve(conn: Connection, app_dir: str, spec: str) -> None:
    """A worker process: import the app, then answer invocations until the host hangs up."""
    _load(app_dir, spec)
    while True:
        try:
            name, payload = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(_run(name, payload))


class _Worker:
    def __init__(self, app_dir: str, spec: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child, app_dir, spec), name="devhost-worker", daemon=True
        )
        self.process.start()
        child.close()

    def close(self) -> None:
        self.conn.close()
        self.process.kill()
        self.process.join(timeout=5)


class OrchestratorWorkers:
    """``processes`` worker processes running one app's orchestrators, each invocation on a free
    one over a pipe of its own (one request, one answer), like the host's gRPC channel to each
    language worker."""

    def __init__(self, app_dir: Path, spec: str, processes: int) -> None:
        self._app = (str(app_dir), spec)
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(processes):
            self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        worker = _Worker(*self._app)
        with self._lock:
            self._all.append(worker)
        return worker

    def invoke(self, name: str, payload: str) -> Any:
        """What the orchestrator ``name`` returns for ``payload``. A worker that dies on the way
        is replaced and the invocation sent once more, to its replacement.

        Raises:
            WorkerRaised: the handle raised (the SDK's out-of-proc error text included).
            RuntimeError: the workers are stopped, or the replacement died too.
        """
        for attempt in range(2):
            worker = self._idle.get()
            if self._closed:
                self._idle.put(worker)  # so every caller still waiting wakes up and stops too
                raise RuntimeError("devhost's worker processes are stopped")
            try:
                worker.conn.send((name, payload))
                returned, value, details = worker.conn.recv()
            except (EOFError, OSError) as err:
                if self._closed:
                    self._idle.put(worker)
                    raise RuntimeError("devhost's worker processes are stopped") from err
                self._retire(worker)
                self._idle.put(self._spawn())
                if attempt:
                    raise RuntimeError(f"devhost worker process exited ({err!r})") from err
                continue
            self._idle.put(worker)
            if not returned:
                raise WorkerRaised(value, details)
            return value
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _retire(self, worker: _Worker) -> None:
        worker.close()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)

    def close(self) -> None:
        """Stop the processes; invocations in flight or waiting for a worker fail."""
        self._closed = True
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            worker.close()

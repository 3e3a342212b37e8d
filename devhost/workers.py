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
import traceback
from concurrent.futures import ProcessPoolExecutor
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


class OrchestratorWorkers:
    """A pool of ``processes`` worker processes running one app's orchestrators."""

    def __init__(self, app_dir: Path, spec: str, processes: int) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load,
            initargs=(str(app_dir), spec),
        )

    def invoke(self, name: str, payload: str) -> Any:
        """What the orchestrator ``name`` returns for ``payload``.

        Raises:
            WorkerRaised: the handle raised (the SDK's out-of-proc error text included).
        """
        returned, value, details = self._pool.submit(_run, name, payload).result()
        if not returned:
            raise WorkerRaised(value, details)
        return value

    def close(self) -> None:
        """Stop the processes (work in flight is abandoned)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

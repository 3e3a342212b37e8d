"""The in-process host: index an app, serve it over HTTP and run its orchestrations.

``DevHost`` composes the pieces (indexing, store, engine, HTTP server) behind a small API for
tests and demos::

    with DevHost(app_dir="tests/devhost/sample_app", clock=VirtualClock()) as host:
        instance_id = host.start_orchestration("sequence", {"n": 3})
        status = host.wait_for(instance_id, timeout=5)

``restart()`` discards the engine and starts a new one on the same store, like a host process
that crashed and came back: everything outstanding resumes from the stored history.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from azure.functions._durable_functions import df_dumps

from devhost.client_binding import DurableEndpoints
from devhost.clock import Clock, WallClock, is_settable
from devhost.config import (
    HostConfig,
    load_local_settings,
    threadpool_thread_count,
    worker_process_count,
)
from devhost.engine import Engine
from devhost.errors import DevHostError
from devhost.faults import HostFaults
from devhost.http import DevHostHTTPServer
from devhost.indexing import AppIndex, index_app, load_app
from devhost.status import OrchestrationStatus
from devhost.store import Store, StoreStats
from devhost.workers import InProcessWorker, LanguageWorkers, ProcessWorkers

log = logging.getLogger(__name__)


class DevHost:
    """A local Durable Functions host for one v2-model Python app.

    Args:
        app_dir: directory holding the app module, host.json and local.settings.json.
        app: ``module:attribute`` of the app object.
        clock: the clock timers use; a settable clock is advanced when the host is idle.
        faults: optional fault injection.
        store: an existing store to resume (default: a new empty one).
        host: interface to bind; port: TCP port (0 picks a free one).
        function_key: if set, FUNCTION/ADMIN routes and webhooks require it.
        hub_name: overrides host.json's hubName.
        timer_triggers: whether timer triggers run at all.
        advance_to_schedules: with a virtual clock, also jump to timer-trigger occurrences when
            idle (off by default so a nightly schedule does not race ahead in every test).
        load_settings: copy local.settings.json Values into os.environ (unset keys only).
        max_concurrent_activities / max_concurrent_orchestrations: override host.json.
        worker_processes: run the app's orchestrators, activities and timer triggers in this
            many language-worker processes, as the Functions host runs a Python app's code beside
            it (``devhost.workers``); default: the app setting ``FUNCTIONS_WORKER_PROCESS_COUNT``,
            else 0 (in this process, one simulated worker).
        threadpool_threads: the size of each worker's one thread pool for sync invocations;
            default: the app setting ``PYTHON_THREADPOOL_THREAD_COUNT``, else Python's default
            ``min(32, cores + 4)``, as the Python worker sizes it.

    ``functionTimeout`` comes from host.json (or the app setting
    ``AzureFunctionsJobHost__functionTimeout``), else the host's 30 minutes.
    """

    def __init__(
        self,
        app_dir: str | os.PathLike[str] = ".",
        app: str = "function_app:app",
        *,
        clock: Clock | None = None,
        faults: HostFaults | None = None,
        store: Store | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        function_key: str | None = None,
        hub_name: str | None = None,
        timer_triggers: bool = True,
        advance_to_schedules: bool = False,
        load_settings: bool = True,
        max_concurrent_activities: int | None = None,
        max_concurrent_orchestrations: int | None = None,
        worker_processes: int | None = None,
        threadpool_threads: int | None = None,
    ) -> None:
        self.app_dir = Path(app_dir).resolve()
        self.app_spec = app
        self.clock: Clock = clock or WallClock()
        self.faults = faults
        self.store = store or Store()
        self._bind = (host, port)
        self._function_key = function_key
        self._timer_triggers = timer_triggers
        self._advance_to_schedules = advance_to_schedules
        if load_settings:
            load_local_settings(self.app_dir)
        config = HostConfig.from_app_dir(self.app_dir)
        overrides: dict[str, Any] = {}
        if hub_name:
            overrides["hub_name"] = hub_name
        if max_concurrent_activities:
            overrides["max_concurrent_activities"] = max_concurrent_activities
        if max_concurrent_orchestrations:
            overrides["max_concurrent_orchestrations"] = max_concurrent_orchestrations
        self.config = replace(config, **overrides)
        self.index: AppIndex = index_app(load_app(self.app_dir, app), self.app_dir)
        if worker_processes is None:
            worker_processes = worker_process_count(os.environ)
        self._worker_processes = worker_processes
        if threadpool_threads is None:
            threadpool_threads = threadpool_thread_count(os.environ)
        self._threadpool_threads = threadpool_threads
        self._workers: LanguageWorkers | None = None
        self._lock = threading.RLock()
        self._engine: Engine | None = None
        self._server: DevHostHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> DevHost:
        """Start the HTTP server and the engine; returns self."""
        with self._lock:
            if self._server is not None:
                return self
            self._server = DevHostHTTPServer(
                self._bind,
                index=self.index,
                engine=lambda: self.engine,
                endpoints_factory=lambda origin: DurableEndpoints(
                    origin, self.config.hub_name, self._function_key
                ),
                route_prefix=self.config.route_prefix,
                function_key=self._function_key,
            )
            self._server.start()
            if self._worker_processes:
                self._workers = ProcessWorkers(
                    self.app_dir, self.app_spec, self._worker_processes, self._threadpool_threads
                )
            else:
                self._workers = InProcessWorker(self.index, self._threadpool_threads)
            self._engine = self._new_engine()
            log.info("devhost serving %s at %s", self.app_dir, self.url)
            return self

    def _new_engine(self) -> Engine:
        engine = Engine(
            index=self.index,
            store=self.store,
            clock=self.clock,
            config=self.config,
            client_binding=self.client_binding,
            faults=self.faults,
            timer_triggers=self._timer_triggers,
            advance_to_schedules=self._advance_to_schedules,
            workers=self._workers,
        )
        engine.start()
        return engine

    def stop(self) -> None:
        """Stop the engine and the HTTP server."""
        with self._lock:
            if self._engine is not None:
                self._engine.stop(abandon=True)
                self._engine = None
            if self._server is not None:
                self._server.stop()
                self._server = None
            if self._workers is not None:
                self._workers.close()
                self._workers = None

    def restart(self, abandon: bool = True) -> None:
        """Replace the engine by a new one on the same store (a host crash and recovery).

        With ``abandon`` (the default) running episodes and activities are not awaited; their
        late results are refused by the store and the work is dispatched again.
        """
        with self._lock:
            if self._engine is not None:
                self._engine.stop(abandon=abandon)
            self._engine = self._new_engine()

    def __enter__(self) -> DevHost:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- accessors ------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The current engine.

        Raises:
            DevHostError: the host is not started.
        """
        if self._engine is None:
            raise DevHostError("DevHost is not started")
        return self._engine

    @property
    def workers(self) -> LanguageWorkers:
        """The language worker(s) running the app's code.

        Raises:
            DevHostError: the host is not started.
        """
        if self._workers is None:
            raise DevHostError("DevHost is not started")
        return self._workers

    @property
    def url(self) -> str:
        """Base URL of the HTTP server, e.g. ``http://127.0.0.1:51234``."""
        if self._server is None:
            raise DevHostError("DevHost is not started")
        return self._server.origin

    @property
    def endpoints(self) -> DurableEndpoints:
        """The durable endpoints (RPC base, webhook base, management URLs)."""
        if self._server is None:
            raise DevHostError("DevHost is not started")
        return self._server.endpoints

    def client_binding(self) -> str:
        """The JSON a ``durableClient`` binding receives (build a DurableOrchestrationClient
        from it to drive the host with the SDK's own client)."""
        return self.endpoints.client_binding_json()

    # -- orchestrations -------------------------------------------------------------------------
    def start_orchestration(
        self, name: str, input: Any = None, instance_id: str | None = None
    ) -> str:
        """Start orchestrator ``name`` as the SDK client's ``start_new`` would; return its id."""
        input_text = None if input is None else json.dumps(df_dumps(input))
        return self.engine.start_orchestration(name, input_text, instance_id)

    def raise_event(self, instance_id: str, name: str, data: Any = None) -> None:
        """Raise an external event carrying ``data`` (as an HTTP client posting JSON would)."""
        self.engine.raise_event(instance_id, name, json.dumps(data))

    def terminate(self, instance_id: str, reason: str = "") -> None:
        """Terminate an instance."""
        self.engine.terminate(instance_id, reason)

    def status(self, instance_id: str, show_history: bool = False) -> OrchestrationStatus | None:
        """The instance's status, or None if it does not exist."""
        instance = self.store.get(instance_id, with_history=show_history)
        if instance is None:
            return None
        return OrchestrationStatus.from_instance(instance, with_history=show_history)

    def wait_for(self, instance_id: str, timeout: float = 10.0) -> OrchestrationStatus:
        """Wait until the instance is Completed, Failed or Terminated and return its status.

        Raises:
            TimeoutError: it did not finish within ``timeout`` seconds of real time.
        """
        instance = self.engine.wait_for(instance_id, timeout)
        return OrchestrationStatus.from_instance(instance)

    def run_until_idle(self, timeout: float = 10.0) -> None:
        """Wait until nothing is runnable (and, with a virtual clock, no timer is pending).

        Raises:
            TimeoutError: still busy after ``timeout`` seconds (e.g. an eternal orchestration).
        """
        self.engine.wait_idle(timeout)

    def hold_clock(self) -> AbstractContextManager[None]:
        """Keep a virtual clock from being advanced while the caller sets something up
        (e.g. starts an orchestration and raises its event before its timeout may fire)."""
        return self.engine.busy()

    def advance_clock(self, seconds: float) -> None:
        """Move a virtual clock forward; due timers and schedules fire.

        Raises:
            DevHostError: the clock is not settable.
        """
        if not is_settable(self.clock):
            raise DevHostError("advance_clock needs a virtual clock (one with set())")
        set_clock = getattr(self.clock, "set")  # noqa: B009 - checked by is_settable
        set_clock(self.clock.now() + seconds)

    def stats(self) -> StoreStats:
        """Counters for benchmarks: episodes, activities, max history length ..."""
        return self.store.stats()

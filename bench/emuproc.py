"""The ARM emulator in a process of its own, on a clock it shares with the host.

Why: the benchmark measures the app's host (devhost running ``function_app.app``), so the
emulator must not share its process, its GIL or its CPU account. The emulator is started with
``multiprocessing`` (spawn) and answers over loopback HTTP as usual; its ground truth
(``/_emulator/counters``, ``/_emulator/exports`` and ``/_emulator/backups``) is read over the
admin routes.

``SharedClock`` is a virtual clock in shared memory: the host's engine moves it (``set``) when
nothing is runnable, and the emulator process reads the same instant, as the in-process
``VirtualClock`` does for tests.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.connection as mpc
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import requests

from armemulator import Emulator, EmulatorConfig, ServerSpec
from armemulator.clock import Clock

_CONTEXT = mp.get_context("spawn")


class SharedClock:
    """A virtual clock (seconds since the epoch) readable and settable from several processes."""

    emits_retry_after_ms = False

    def __init__(self, start: float) -> None:
        self._value = _CONTEXT.Value("d", float(start))

    def now(self) -> float:
        return float(self._value.value)

    def set(self, epoch_seconds: float) -> None:
        self._value.value = float(epoch_seconds)

    def advance(self, seconds: float) -> float:
        with self._value.get_lock():
            self._value.value += seconds
            return float(self._value.value)

    def to_real(self, seconds: float) -> float:
        return seconds

    def __repr__(self) -> str:
        return f"SharedClock(now={self.now()!r})"


@dataclass(frozen=True)
class EmulatorAddress:
    url: str
    token_endpoint: str
    identity_header: str


def _serve(config: EmulatorConfig, conn: mpc.Connection) -> None:
    """Child process: run the emulator until the parent says stop (or goes away)."""
    with Emulator(config) as emu:
        conn.send(EmulatorAddress(emu.url, emu.token_endpoint, emu.identity_header))
        with contextlib.suppress(EOFError):  # the parent went away: stop as well
            conn.recv()


class EmulatorProcess:
    """``with EmulatorProcess(config) as emu:`` - an emulator serving in a child process."""

    def __init__(self, config: EmulatorConfig, ca_bundle: str | None = None) -> None:
        self.config = config
        self.clock: Clock = config.clock
        self._ca_bundle = ca_bundle
        self._conn: mpc.Connection | None = None
        self._process: Any = None
        self.address: EmulatorAddress | None = None
        self._session = requests.Session()

    def start(self) -> EmulatorProcess:
        parent, child = _CONTEXT.Pipe()
        self._process = _CONTEXT.Process(
            target=_serve, args=(self.config, child), name="armemulator", daemon=True
        )
        self._process.start()
        child.close()
        if not parent.poll(60):
            self._process.kill()
            raise RuntimeError("the emulator process did not start within 60 s")
        self.address = parent.recv()
        self._conn = parent
        return self

    def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):  # the child is already gone
                self._conn.send("stop")
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=5)
            self._process = None
        self._session.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self.address is not None, "not started"
        return self.address.url

    @property
    def token_endpoint(self) -> str:
        assert self.address is not None, "not started"
        return self.address.token_endpoint

    @property
    def identity_header(self) -> str:
        assert self.address is not None, "not started"
        return self.address.identity_header

    def _admin(self, route: str) -> dict[str, Any]:
        answer = self._session.get(
            f"{self.url}/_emulator/{route}", timeout=120, verify=self._ca_bundle or True
        )
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def counters(self) -> dict[str, Any]:
        """``Counters.as_dict()`` of the emulator."""
        return self._admin("counters")

    def exports(self) -> list[dict[str, Any]]:
        """Ground truth: ``ExportRecord.as_dict()`` of every accepted export, in order."""
        exports: list[dict[str, Any]] = self._admin("exports")["exports"]
        return exports

    def backups(self) -> list[dict[str, Any]]:
        """Ground truth: ``BackupRecord.as_dict()`` of every on-demand backup accepted by a PUT,
        in order."""
        backups: list[dict[str, Any]] = self._admin("backups")["backups"]
        return backups


def emulator_config(
    fleet: Sequence[ServerSpec], clock: Clock, *, seed: int = 1, **options: Any
) -> EmulatorConfig:
    """The emulator of a benchmark: ``fleet`` on ``clock``, everything else as ARM does it."""
    return EmulatorConfig(clock=clock, fleet=tuple(fleet), seed=seed, **options)

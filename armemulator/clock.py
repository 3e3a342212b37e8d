"""Clocks for the emulator, and how a delay in emulated time is written as a retry header.

Why this module exists: every time the emulator reasons about (export progress, token buckets,
operation timestamps) comes from one clock object, so a test can freeze time and step it, a
benchmark can run a day of exports in minutes, and an interactive session can run in real time.
All emulated time is epoch seconds as ``float``.

* ``WallClock`` - emulated time is real time.
* ``ScaledClock(scale)`` - emulated time runs ``scale`` times faster than real time, starting at the
  real time of construction (or ``start``). ``to_real(seconds)`` converts an emulated delay to the
  real delay a client should sleep.
* ``VirtualClock(start)`` - only moves when ``advance`` or ``set`` is called; thread-safe.

Retry headers (``retry_after_headers``): ARM writes ``Retry-After: <int seconds>``. With a
``WallClock`` or ``VirtualClock`` the emulator does the same, in emulated seconds. With a
``ScaledClock`` it sends ``retry-after-ms`` and ``x-ms-retry-after-ms`` carrying the *real*
milliseconds (rounded up, at least 1) and deliberately no ``Retry-After``: azure-core reads
``Retry-After`` first and ignores the millisecond headers when it is present, so sending both would
make SDK peers sleep emulated seconds in real time and defeat the scaling.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol, runtime_checkable

#: 2025-01-01T00:00:00Z, the default start of a VirtualClock (fixed so runs are reproducible).
DEFAULT_VIRTUAL_START = 1_735_689_600.0


@runtime_checkable
class Clock(Protocol):
    """What the emulator needs from a clock."""

    #: True when retry delays must be sent as real milliseconds (see module docstring).
    emits_retry_after_ms: bool

    def now(self) -> float:
        """Current emulated time, epoch seconds."""
        ...

    def to_real(self, seconds: float) -> float:
        """Real seconds that correspond to ``seconds`` of emulated time."""
        ...


class WallClock:
    """Emulated time is the real wall-clock time."""

    emits_retry_after_ms = False

    def now(self) -> float:
        return time.time()

    def to_real(self, seconds: float) -> float:
        return seconds

    def __repr__(self) -> str:
        return "WallClock()"


class ScaledClock:
    """Emulated time runs ``scale`` times faster than real time."""

    emits_retry_after_ms = True

    def __init__(self, scale: float, start: float | None = None) -> None:
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        self.scale = float(scale)
        self._start = time.time() if start is None else float(start)
        self._origin = time.monotonic()

    def now(self) -> float:
        return self._start + (time.monotonic() - self._origin) * self.scale

    def to_real(self, seconds: float) -> float:
        return seconds / self.scale

    def __repr__(self) -> str:
        return f"ScaledClock(scale={self.scale!r})"


class VirtualClock:
    """A clock that only moves when told to; safe to read and move from any thread."""

    emits_retry_after_ms = False

    def __init__(self, start: float = DEFAULT_VIRTUAL_START) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (must not be negative); returns the new time."""
        if seconds < 0:
            raise ValueError(f"cannot advance a clock backwards ({seconds!r} s)")
        with self._lock:
            self._now += float(seconds)
            return self._now

    def set(self, epoch_seconds: float) -> None:
        """Jump to ``epoch_seconds`` (backwards jumps are allowed, for tests that need them)."""
        with self._lock:
            self._now = float(epoch_seconds)

    def to_real(self, seconds: float) -> float:
        return seconds

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now()!r})"


def clock_kind(clock: Clock) -> str:
    """A short name for reports: "virtual", "scaled", "wall" or the class name."""
    if isinstance(clock, VirtualClock):
        return "virtual"
    if isinstance(clock, ScaledClock):
        return "scaled"
    if isinstance(clock, WallClock):
        return "wall"
    return type(clock).__name__


def retry_after_headers(clock: Clock, emulated_seconds: float) -> dict[str, str]:
    """The header(s) telling a client to wait ``emulated_seconds`` (see module docstring)."""
    if clock.emits_retry_after_ms:
        real_ms = max(1, math.ceil(clock.to_real(emulated_seconds) * 1000.0))
        return {"retry-after-ms": str(real_ms), "x-ms-retry-after-ms": str(real_ms)}
    return {"Retry-After": str(max(1, math.ceil(emulated_seconds)))}

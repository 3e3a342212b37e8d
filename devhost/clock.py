"""Clocks the host schedules against, and the timestamp formats of the protocol.

Durable timers, ``current_utc_datetime`` and timer-trigger schedules all read one clock. A wall
clock makes timers fire in real time; a virtual clock (anything with ``now()`` and ``set()``,
e.g. the ARM emulator's) lets the engine jump straight to the next timer whenever nothing else
can run, so hours of simulated waiting pass in milliseconds.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

#: How the SDK and the host write timestamps inside history events and actions.
EVENT_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@runtime_checkable
class Clock(Protocol):
    """A source of the current time in epoch seconds."""

    def now(self) -> float:
        """Return the current time, in seconds since the Unix epoch."""
        ...


@runtime_checkable
class SettableClock(Protocol):
    """A clock the host may move forward (a virtual clock)."""

    def now(self) -> float:
        """Return the current time, in seconds since the Unix epoch."""
        ...

    def set(self, epoch_seconds: float) -> None:
        """Move the clock to ``epoch_seconds``."""
        ...


class WallClock:
    """The real time; timers fire when their time comes."""

    def now(self) -> float:
        """Return ``time.time()``."""
        return time.time()


class VirtualClock:
    """A thread-safe clock that only moves when someone sets it.

    Args:
        start: initial time in epoch seconds; defaults to the current wall time.
    """

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._now = time.time() if start is None else float(start)

    def now(self) -> float:
        """Return the current virtual time."""
        with self._lock:
            return self._now

    def set(self, epoch_seconds: float) -> None:
        """Move the clock to ``epoch_seconds`` (backwards moves are allowed but unusual)."""
        with self._lock:
            self._now = float(epoch_seconds)

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new time."""
        with self._lock:
            self._now += seconds
            return self._now


def is_settable(clock: object) -> bool:
    """Tell whether the host may advance ``clock`` itself."""
    return isinstance(clock, SettableClock)


def to_datetime(epoch_seconds: float) -> datetime:
    """Convert epoch seconds to an aware UTC datetime."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def format_event_timestamp(epoch_seconds: float) -> str:
    """Format a time the way history events and timer actions carry it."""
    return to_datetime(epoch_seconds).strftime(EVENT_TIMESTAMP_FORMAT)


def format_status_timestamp(epoch_seconds: float) -> str:
    """Format a time the way the host's status payload does (``ToString("s") + "Z"``)."""
    return to_datetime(epoch_seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> float:
    """Parse an ISO-8601 UTC timestamp (``Z`` or offset; up to 7 fractional digits).

    Raises:
        ValueError: ``text`` is not an ISO-8601 timestamp.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    if "." in value:
        head, _, tail = value.partition(".")
        digits = ""
        rest = tail
        while rest and rest[0].isdigit():
            digits += rest[0]
            rest = rest[1:]
        value = f"{head}.{(digits + '000000')[:6]}{rest}"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()

"""Injected faults: what can go wrong on the wire, how often, and the seeded dice that decide.

Why this module exists: a fleet export client must survive the failures ARM actually produces -
500s, 503s with ``Retry-After``, connections dropped without an answer, answers so slow the client
gives up - and, worst of all, a POST whose response is lost after the export was accepted (the
at-least-once hazard). ``Faults`` says how likely each is; ``FaultInjector`` rolls seeded dice per
ARM request (after authentication) and counts what it injected.

Each probability applies independently per request, in this order: connection reset, 500, 503
(at most one of the three); ``slow`` is rolled separately and delays whatever answer follows.
``kinds`` restricts faults to some request kinds (see ``armemulator.kinds``), e.g.
``frozenset({Kind.BACKUP_AND_EXPORT})`` or ``POLLING_KINDS``. With ``fault_after_accept`` the
request is handled first (a backupAndExport IS accepted) and the fault replaces its answer.
``limit`` stops injecting after that many faulted requests (counted from ``set_faults``), so a
test can say "the first POST loses its answer" without depending on the dice.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from armemulator.kinds import Kind


class FaultType(StrEnum):
    """The faults the emulator can inject (also the keys of the fault counters)."""

    ERROR_500 = "error_500"
    ERROR_503 = "error_503"
    CONNECTION_RESET = "connection_reset"
    SLOW = "slow"


@dataclass(frozen=True)
class Faults:
    """Per-request fault probabilities (0..1) and their parameters; all off by default."""

    error_500: float = 0.0
    error_503: float = 0.0
    connection_reset: float = 0.0
    slow: float = 0.0
    #: Real seconds a "slow" answer is delayed by (for client read-timeout tests).
    slow_seconds: float = 5.0
    #: Emulated seconds sent as the retry delay of an injected 503.
    retry_after_seconds: float = 10.0
    #: Only requests of these kinds get faults; None = every ARM request.
    kinds: frozenset[Kind] | None = None
    #: Handle the request first, then replace its answer by the fault.
    fault_after_accept: bool = False
    #: At most this many requests get a fault (None = no limit).
    limit: int | None = None

    def __post_init__(self) -> None:
        for name in ("error_500", "error_503", "connection_reset", "slow"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Faults.{name} must be a probability in [0, 1], got {value!r}")
        if self.error_500 + self.error_503 + self.connection_reset > 1.0:
            raise ValueError("Faults: error_500 + error_503 + connection_reset must not exceed 1")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"Faults.limit must not be negative, got {self.limit!r}")

    @property
    def any(self) -> bool:
        return bool(self.error_500 or self.error_503 or self.connection_reset or self.slow)


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request: an answer-replacing fault (or None) and a real delay."""

    fault: FaultType | None
    delay_seconds: float
    after_accept: bool


class FaultInjector:
    """Seeded, thread-safe dice for ``Faults``, with a count of every fault injected."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self._faults = faults
        self._rng = random.Random(f"faults:{seed}")
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._faulted = 0  # requests faulted since the faults were set (for ``Faults.limit``)

    @property
    def faults(self) -> Faults:
        return self._faults

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            self._faulted = 0

    def decide(self, kind: Kind) -> FaultDecision | None:
        """Roll for one ARM request of ``kind``; None when nothing is injected."""
        faults = self._faults
        if not faults.any or (faults.kinds is not None and kind not in faults.kinds):
            return None
        with self._lock:
            if faults.limit is not None and self._faulted >= faults.limit:
                return None
            roll = self._rng.random()
            slow = self._rng.random() < faults.slow
            fault: FaultType | None = None
            if roll < faults.connection_reset:
                fault = FaultType.CONNECTION_RESET
            elif roll < faults.connection_reset + faults.error_500:
                fault = FaultType.ERROR_500
            elif roll < faults.connection_reset + faults.error_500 + faults.error_503:
                fault = FaultType.ERROR_503
            if fault is not None:
                self._counts[fault] += 1
            if slow:
                self._counts[FaultType.SLOW] += 1
            if fault is not None or slow:
                self._faulted += 1
        if fault is None and not slow:
            return None
        return FaultDecision(fault, faults.slow_seconds if slow else 0.0, faults.fault_after_accept)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {str(k): v for k, v in self._counts.items()}

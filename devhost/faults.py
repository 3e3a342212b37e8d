"""Seeded fault injection for reliability tests.

``activity_crash_after_side_effect`` is the probability that an activity runs to completion
(its side effects happen) but the worker "crashes" before the result is recorded, so the host
delivers the work item again: the at-least-once delivery every activity must tolerate.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass
class HostFaults:
    """Fault probabilities and their seeded random source (thread-safe)."""

    activity_crash_after_side_effect: float = 0.0
    seed: int = 0
    _random: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    crashes: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if not 0.0 <= self.activity_crash_after_side_effect <= 1.0:
            raise ValueError("activity_crash_after_side_effect must be within [0, 1]")
        self._random = random.Random(self.seed)

    def crash_after_activity(self) -> bool:
        """Draw whether this activity's result is lost; counts the crashes."""
        with self._lock:
            crashed = self._random.random() < self.activity_crash_after_side_effect
            if crashed:
                self.crashes += 1
            return crashed

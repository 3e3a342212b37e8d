"""Seeded export durations and the makespan lower bound.

Durations are log-normal with a median of 20 minutes and about 1% of exports over 3 hours:
``mu = ln(1200)``, ``sigma = ln(10800 / 1200) / z(0.99)`` (z = 2.3263), so
``P(d > 3 h) = 1 - Phi(ln 9 / sigma) = 1%``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

MEDIAN_SECONDS = 20 * 60.0
TAIL_SECONDS = 3 * 3600.0
TAIL_SHARE = 0.01
_Z_99 = 2.326347874040841  # Phi^-1(0.99)
MU = math.log(MEDIAN_SECONDS)
SIGMA = math.log(TAIL_SECONDS / MEDIAN_SECONDS) / _Z_99


def lognormal_sampler() -> Callable[[random.Random], float]:
    """``make_fleet``'s ``duration_sampler``: one export duration in seconds per draw."""
    return lambda rng: rng.lognormvariate(MU, SIGMA)


def short_sampler(low: float = 30.0, high: float = 90.0) -> Callable[[random.Random], float]:
    """Short exports for the orchestration-cost scenario (a few polls each)."""
    return lambda rng: rng.uniform(low, high)


def lower_bound(durations: Sequence[float], concurrency: int) -> float:
    """No schedule of ``durations`` on ``concurrency`` slots ends sooner than this."""
    if not durations:
        return 0.0
    return max(*durations, sum(durations) / max(1, concurrency))

"""ARM's request throttling: token buckets per subscription, principal and operation type.

Why this module exists: since 2024 ARM throttles with token buckets (learn.microsoft.com,
"Understand how Azure Resource Manager throttles requests"): per subscription and per security
principal, reads have a bucket of 250 tokens refilled at 25 per second and writes (POST actions
included) 200 tokens refilled at 10 per second. A client that ignores ``Retry-After`` or floods a
subscription must see the same 429s it would see in Azure, so the benchmarks can prove it does not.

Buckets refill on the emulator's clock (emulated seconds) and are created lazily, so a fleet of any
size costs nothing until it is called.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from enum import StrEnum

from armemulator.clock import Clock


class OperationType(StrEnum):
    """ARM's throttling classes used by the emulator (deletes are never issued here)."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class BucketSpec:
    """Capacity (burst) and refill rate per emulated second of one bucket."""

    capacity: float
    refill_per_second: float


@dataclass(frozen=True)
class ThrottleDecision:
    """Outcome of taking one token: allowed or not, tokens left, seconds until the next token."""

    allowed: bool
    remaining: int
    retry_after_seconds: float


class _Bucket:
    __slots__ = ("spec", "tokens", "updated")

    def __init__(self, spec: BucketSpec, now: float) -> None:
        self.spec = spec
        self.tokens = spec.capacity
        self.updated = now

    def take(self, now: float) -> ThrottleDecision:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.spec.capacity, self.tokens + elapsed * self.spec.refill_per_second)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return ThrottleDecision(True, math.floor(self.tokens), 0.0)
        wait = (1.0 - self.tokens) / self.spec.refill_per_second
        return ThrottleDecision(False, 0, max(1.0, float(math.ceil(wait))))


class SubscriptionThrottle:
    """Token buckets keyed by (subscription, principal object id, operation type)."""

    def __init__(
        self,
        clock: Clock,
        reads: BucketSpec,
        writes: BucketSpec,
        *,
        enabled: bool = True,
    ) -> None:
        self._clock = clock
        self._specs = {OperationType.READ: reads, OperationType.WRITE: writes}
        self.enabled = enabled
        self._buckets: dict[tuple[str, str, OperationType], _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, subscription: str, principal: str, op: OperationType) -> ThrottleDecision:
        """Spend one token for a request, or say how long to wait for one."""
        spec = self._specs[op]
        if not self.enabled:
            return ThrottleDecision(True, max(0, int(spec.capacity) - 1), 0.0)
        key = (subscription.lower(), principal.lower(), op)
        now = self._clock.now()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(spec, now)
            return bucket.take(now)

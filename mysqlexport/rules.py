"""The workflow's decisions about failures, as pure functions.

Which submit errors to retry and how long to wait, when polling errors end a server's run, and
when the first failures of a fleet speak for the whole fleet (the circuit breaker). The
orchestrators call these with plain values; tests call them with tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

# ARM codes that are about one resource, not about the service or the identity: a run of these
# says nothing about the rest of the fleet.
PER_RESOURCE_CODES: Final = frozenset(
    {
        "ResourceNotFound",
        "ResourceGroupNotFound",
        "ParentResourceNotFound",
        "InvalidServerState",
        "ServerNotReady",
        "BackupAlreadyRunningForServer",
        "InsufficientStorageContainers",
        "Conflict",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on resubmitting a backupAndExport that did not get accepted."""

    transient_attempts: int = 6
    base_backoff_seconds: float = 15.0
    max_backoff_seconds: float = 600.0
    conflict_wait_seconds: float = 120.0
    poll_error_limit: int = 10
    breaker_sample: int = 5


def backoff(attempt: int, policy: RetryPolicy) -> float:
    """Exponential backoff for attempt 1, 2, ... (no jitter: orchestrators must be deterministic;
    the sliding window already spreads submissions out)."""
    factor = 2.0 ** max(0, attempt - 1)
    return float(min(policy.base_backoff_seconds * factor, policy.max_backoff_seconds))


def submit_retry_delay(error: Mapping[str, Any], attempt: int, policy: RetryPolicy) -> float | None:
    """Seconds to wait before submitting again, or ``None`` to give up now.

    409 (an export already running on the server) is waited out for as long as the deadline
    allows; transient errors (408, 429, 5xx, no answer) are retried a bounded number of times,
    after the server's Retry-After when it gave one.
    """
    retry_after = error.get("retryAfter")
    advised = float(retry_after) if isinstance(retry_after, int | float) else None
    if error.get("status") == 409:
        return max(advised or 0.0, policy.conflict_wait_seconds)
    if not error.get("transient"):
        return None
    if attempt >= policy.transient_attempts:
        return None
    return advised if advised is not None else backoff(attempt, policy)


def poll_retry_delay(
    error: Mapping[str, Any], consecutive_errors: int, policy: RetryPolicy
) -> float | None:
    """Seconds to wait after a failed status read, or ``None`` when the server's run must end.

    A failed read is not a failed export (ARM RPC), so transient errors are retried; permanent
    ones (a refused polling URL, an operation ARM no longer knows) end the run as Failed.
    """
    if not error.get("transient") or consecutive_errors >= policy.poll_error_limit:
        return None
    retry_after = error.get("retryAfter")
    if isinstance(retry_after, int | float):
        return float(retry_after)
    return backoff(consecutive_errors, policy)


def fleet_wide_error(
    first_outcomes: Sequence[Mapping[str, Any] | None], policy: RetryPolicy
) -> Mapping[str, Any] | None:
    """The error that speaks for the whole fleet, or ``None``.

    ``first_outcomes`` are the errors of the first submissions (``None`` for one that was
    accepted). When there are enough of them, all failed permanently with the same ARM code, and
    that code is not about one resource (the feature is paused, the subscription is not
    registered, the identity lacks the role), the rest of the fleet would fail the same way.
    """
    sample = min(policy.breaker_sample, len(first_outcomes))
    if sample < min(2, policy.breaker_sample) or len(first_outcomes) < sample:
        return None
    errors = list(first_outcomes[:sample])
    first = errors[0]
    if first is None or first.get("transient") or first.get("code") in PER_RESOURCE_CODES:
        return None
    if first.get("status") == 409:
        return None
    for other in errors[1:]:
        if other is None or other.get("code") != first.get("code") or other.get("transient"):
            return None
    return first

"""The workflow's decisions about failures, as pure functions.

Which submit errors to retry and how long to wait, when polling errors end a server's run, and
when the first failures of a fleet speak for the whole fleet (the circuit breaker). The
orchestrators call these with plain values; tests call them with tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

THROTTLED: Final = 429

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
        # a server that has used up its own on-demand backups (the emulator's name for it;
        # Microsoft's docs give a limit of 50 per server, the spec no code)
        "OnDemandBackupLimitExceeded",
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


def failure_kind(error: Mapping[str, Any]) -> str:
    """``conflict`` (409), ``throttled`` (429), ``transient`` or ``permanent``."""
    status = error.get("status")
    if status == 409:
        return "conflict"
    if status == THROTTLED:
        return "throttled"
    return "transient" if error.get("transient") else "permanent"


def next_streak(streak: Sequence[Any] | None, error: Mapping[str, Any]) -> list[Any]:
    """``[kind, count]``: how many failures of ``error``'s kind came in a row.

    Retry budgets count consecutive failures of one kind, so that waiting out a 409 or a 429
    (definite answers: "not now") never uses up the budget for errors that say nothing, and a
    transient error after a long wait is not taken for the last of many.
    """
    kind = failure_kind(error)
    if streak and len(streak) == 2 and streak[0] == kind:
        return [kind, int(streak[1]) + 1]
    return [kind, 1]


def submit_retry_delay(error: Mapping[str, Any], attempt: int, policy: RetryPolicy) -> float | None:
    """Seconds to wait before submitting again, or ``None`` to give up now.

    ``attempt`` counts the failures of this kind in a row (``next_streak``).

    409 (an export already running on the server) and 429 (ARM throttling) are waited out for as
    long as the deadline allows; other transient errors (408, 5xx, no answer) are retried a
    bounded number of times, after the server's Retry-After when it gave one.
    """
    advised = _advised(error)
    if error.get("status") == 409:
        return max(advised or 0.0, policy.conflict_wait_seconds)
    if error.get("status") == THROTTLED:
        return throttled_delay(advised, attempt, policy)
    if not error.get("transient"):
        return None
    if attempt >= policy.transient_attempts:
        return None
    return advised if advised is not None else backoff(attempt, policy)


def poll_retry_delay(
    error: Mapping[str, Any], consecutive_errors: int, policy: RetryPolicy
) -> float | None:
    """Seconds to wait after a failed status read, or ``None`` when the server's run must end.

    ``consecutive_errors`` counts the failed reads of this kind in a row (``next_streak``).

    A failed read is not a failed export (ARM RPC), so transient errors are retried; permanent
    ones (a refused polling URL, an operation ARM no longer knows) end the run as Failed.
    Throttling is waited out like a 409 on submit: it says "not now", never "it failed".
    """
    advised = _advised(error)
    if error.get("status") == THROTTLED:
        return throttled_delay(advised, consecutive_errors, policy)
    if not error.get("transient") or consecutive_errors >= policy.poll_error_limit:
        return None
    return advised if advised is not None else backoff(consecutive_errors, policy)


def throttled_delay(advised: float | None, attempt: int, policy: RetryPolicy) -> float:
    """The wait after a 429: at least ARM's Retry-After, and growing with each attempt.

    Retry-After tells one caller when the next token comes; a window of servers throttled at
    the same moment would all come back then and all but one be throttled again. Backing off
    as well lets the subscription's bucket refill for all of them.
    """
    return max(advised or 0.0, backoff(attempt, policy))


def _advised(error: Mapping[str, Any]) -> float | None:
    retry_after = error.get("retryAfter")
    if isinstance(retry_after, bool) or not isinstance(retry_after, int | float):
        return None
    return float(retry_after)


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

"""ARM's long-running-operation rules, as data and pure functions.

The contract (ARM RPC async-api-reference, azure-core ``base_polling.py``): a 202 carries a
``Location`` and optionally an ``Azure-AsyncOperation`` URL; the status resource's ``status`` is
terminal when it is Succeeded, Failed or Canceled (compared case-insensitively, anything else
means still running); the wait before the next poll is the server's ``Retry-After`` (seconds or
an HTTP date), ``retry-after-ms`` or ``x-ms-retry-after-ms``, else our default. Nothing here does
I/O or reads a clock: ``now`` is passed in, so orchestrators can use these rules with their
replay-safe time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Final

TERMINAL_STATES: Final = frozenset({"succeeded", "failed", "canceled"})
FAILED_STATES: Final = frozenset({"failed", "canceled"})
SUCCEEDED_STATES: Final = frozenset({"succeeded"})

# Where to poll, in order of preference (as ARMPolling picks AzureAsyncOperation before Location).
POLLING_URL_HEADERS: Final = ("azure-asyncoperation", "location")

# Sources of a server-advised delay, in the order azure-core reads them, with their unit in seconds.
RETRY_AFTER_HEADERS: Final = (
    ("retry-after", 1.0),
    ("retry-after-ms", 0.001),
    ("x-ms-retry-after-ms", 0.001),
)


def is_terminal(status: str | None) -> bool:
    """True when an operation status means the operation has ended."""
    return status is not None and status.lower() in TERMINAL_STATES


def is_failed(status: str | None) -> bool:
    """True for Failed and Canceled."""
    return status is not None and status.lower() in FAILED_STATES


def is_succeeded(status: str | None) -> bool:
    """True for Succeeded."""
    return status is not None and status.lower() in SUCCEEDED_STATES


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def parse_retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait as the server advised, or ``None`` if it gave no (usable) advice.

    ``Retry-After`` may be delta-seconds or an HTTP date (compared with ``now``, which must be
    timezone-aware); the millisecond headers are used when ``Retry-After`` is absent.
    """
    lowered = _lower_keys(headers)
    for name, unit in RETRY_AFTER_HEADERS:
        raw = lowered.get(name)
        if raw is None or not raw.strip():
            continue
        raw = raw.strip()
        try:
            seconds = float(raw) * unit
        except ValueError:
            if unit != 1.0:
                continue
            try:
                when = parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                continue
            seconds = (when - now).total_seconds()
        if math.isnan(seconds) or math.isinf(seconds):
            continue
        return max(0.0, seconds)
    return None


def polling_urls(headers: Mapping[str, str]) -> dict[str, str]:
    """The polling URLs a 202 carried, keyed by lower-case header name."""
    lowered = _lower_keys(headers)
    return {name: lowered[name] for name in POLLING_URL_HEADERS if lowered.get(name)}


@dataclass(frozen=True)
class PollPolicy:
    """Bounds on how long to wait between polls.

    ``default_seconds`` applies when the service gives no advice and progress gives no estimate;
    ``max_seconds`` caps every wait; ``min_seconds`` keeps an estimate from polling in a tight loop.
    """

    default_seconds: float = 30.0
    max_seconds: float = 300.0
    min_seconds: float = 5.0


def estimate_remaining(
    percent_complete: float | None, elapsed_seconds: float | None
) -> float | None:
    """Seconds left if progress continues at the rate seen so far, or ``None`` if unknown."""
    if percent_complete is None or elapsed_seconds is None:
        return None
    if not 0.0 < percent_complete < 100.0 or elapsed_seconds <= 0.0:
        return None
    return elapsed_seconds * (100.0 - percent_complete) / percent_complete


def next_poll_delay(
    retry_after: float | None,
    percent_complete: float | None,
    elapsed_seconds: float | None,
    policy: PollPolicy,
) -> float:
    """How long to wait before the next poll.

    The server's ``Retry-After`` is the least we wait (polling sooner only earns another
    ``Retry-After``). When progress so far gives an estimate of the time left, the wait stretches
    to that estimate, so a two-hour export is not polled every ten seconds; without either, the
    default applies. Every answer is capped at ``policy.max_seconds``.
    """
    floor = max(retry_after, 0.0) if retry_after is not None else None
    remaining = estimate_remaining(percent_complete, elapsed_seconds)
    if remaining is not None:
        wait = max(remaining, policy.min_seconds, floor or 0.0)
    elif floor is not None:
        wait = floor
    else:
        wait = policy.default_seconds
    return min(wait, policy.max_seconds)

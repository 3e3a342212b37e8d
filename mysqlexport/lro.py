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
    ``max_seconds`` caps a wait we choose ourselves (a server's ``Retry-After`` is never cut
    short); ``min_seconds`` keeps an estimate from polling in a tight loop when the server gives
    no ``Retry-After``.
    """

    default_seconds: float = 30.0
    max_seconds: float = 300.0
    min_seconds: float = 5.0


#: The poll meant to see the end comes after the estimated end by END_MARGIN_SHARE of the time
#: left plus END_MARGIN_STEPS of a Retry-After: early enough to add little latency, late enough
#: that a small error in the estimate does not cost a whole Retry-After.
END_MARGIN_SHARE: Final = 0.05
END_MARGIN_STEPS: Final = 0.05
#: The poll before that comes this many Retry-Afters before the estimated end, so the answer
#: still leaves a Retry-After to wait when the poll itself ran late (a busy host fires timers
#: and runs activities late, and each second late at one Retry-After before the end would be
#: paid again as a whole Retry-After after it).
HOME_STEPS: Final = 2.0


@dataclass(frozen=True)
class ByteProgress:
    """Bytes moved between two polls: a far finer measure of progress than whole percents."""

    size: int  # datasourceSizeInBytes
    transferred: int  # dataTransferredInBytes now
    previous: int  # dataTransferredInBytes at an earlier sample (0: none had bytes yet)
    interval: float  # seconds between the two samples

    def remaining(self) -> float | None:
        """Seconds left at the rate between the two samples, or ``None`` if it cannot tell."""
        moved = self.transferred - self.previous
        if self.size <= 0 or self.interval <= 0.0 or moved <= 0 or self.transferred >= self.size:
            return None
        return (self.size - self.transferred) * self.interval / moved


def estimate_remaining(
    percent_complete: float | None, elapsed_seconds: float | None
) -> float | None:
    """Seconds left if progress continues at the rate seen so far, or ``None`` if unknown."""
    if percent_complete is None or elapsed_seconds is None:
        return None
    if not 0.0 < percent_complete < 100.0 or elapsed_seconds <= 0.0:
        return None
    return elapsed_seconds * (100.0 - percent_complete) / percent_complete


def estimate_uncertainty(percent_complete: float, elapsed_seconds: float) -> float:
    """How much sooner the end may come than ``estimate_remaining`` says.

    ``percentComplete`` is a whole number that lags the true progress by up to one point, so the
    true end lies between the estimates for ``p`` and ``p + 1``:
    ``elapsed * 100 / (p * (p + 1))`` seconds apart (a long export's last point alone is 1% of
    its duration).
    """
    return elapsed_seconds * 100.0 / (percent_complete * (percent_complete + 1.0))


def next_poll_delay(
    retry_after: float | None,
    percent_complete: float | None,
    elapsed_seconds: float | None,
    policy: PollPolicy,
    *,
    progress: ByteProgress | None = None,
    lag: float = 0.0,
) -> float:
    """How long to wait before the next poll.

    Without progress to go by, the server's ``Retry-After`` (else ``policy.default_seconds``).
    With progress, the wait aims at the earliest the export may end (the estimate at the rate so
    far, less its uncertainty) so the poll that sees the end comes within one ``Retry-After`` of
    it, as a client polling on every ``Retry-After`` would, with far fewer polls. An early
    estimate is rough (a Pending phase, whole percents), so a wait never exceeds the time elapsed
    so far: the waits at most double, and the same doubling applies while progress stays at 0.
    A wait we choose is capped at ``policy.max_seconds``; the server's ``Retry-After`` is always
    the least we wait, counted from its answer (polling sooner only earns another).

    With bytes moved between two samples (``progress``) the end is known far more precisely
    than from whole percents, so the polls home in on it: first to ``HOME_STEPS``
    ``Retry-After``s before the estimated end, then to just after it (``END_MARGIN_*``), so the
    export's end is seen within a fraction of a ``Retry-After`` instead of within one, for about
    one more poll. ``lag`` is how long ago the answer was read: every wait counts from then.
    """
    lag = max(0.0, lag)
    step = max(retry_after, 0.0) if retry_after is not None else None
    floor = max(step - lag, 0.0) if step is not None else None  # Retry-After from the answer
    precise = progress.remaining() if progress is not None else None
    if precise is not None:
        step = step if step is not None else policy.min_seconds
        if progress is not None and progress.previous <= 0:
            # the bytes began to move somewhere since the submission (after a Pending phase,
            # say): the rate is unknown, so this sample starts the baseline and the next comes
            # one Retry-After from now
            wait = step
        elif precise > (HOME_STEPS + 1.0) * step:
            wait = precise - HOME_STEPS * step  # a little before the end
            if elapsed_seconds:
                wait = min(wait, elapsed_seconds)
        else:
            wait = precise * (1.0 + END_MARGIN_SHARE) + step * END_MARGIN_STEPS
        wait = min(wait - lag, policy.max_seconds)
        return max(wait, floor) if floor is not None else max(wait, policy.min_seconds)
    remaining = estimate_remaining(percent_complete, elapsed_seconds)
    if remaining is None:
        wait = floor if floor is not None else policy.default_seconds
        if percent_complete == 0.0 and elapsed_seconds:
            wait = max(wait, elapsed_seconds)
    else:
        assert percent_complete is not None and elapsed_seconds is not None
        earliest = remaining - estimate_uncertainty(percent_complete, elapsed_seconds)
        lowest = floor if floor is not None else policy.min_seconds
        wait = max(min(earliest, elapsed_seconds), lowest)
    wait = min(wait, policy.max_seconds)
    return max(wait, floor) if floor is not None else wait

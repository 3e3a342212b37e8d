"""ARM's long-running-operation rules, tested without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mysqlexport import lro

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "terminal", "failed", "succeeded"),
    [
        ("Succeeded", True, False, True),
        ("succeeded", True, False, True),
        ("FAILED", True, True, False),
        ("Canceled", True, True, False),
        ("InProgress", False, False, False),
        ("Pending", False, False, False),
        ("CancelInProgress", False, False, False),
        ("SomethingNew", False, False, False),
        (None, False, False, False),
    ],
)
def test_terminal_states_compare_case_insensitively(
    status: str | None, terminal: bool, failed: bool, succeeded: bool
) -> None:
    assert lro.is_terminal(status) is terminal
    assert lro.is_failed(status) is failed
    assert lro.is_succeeded(status) is succeeded


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "10"}, 10.0),
        ({"retry-after": " 7 "}, 7.0),
        ({"Retry-After": "Thu, 01 Jan 2026 12:00:30 GMT"}, 30.0),
        ({"Retry-After": "Thu, 01 Jan 2026 11:00:00 GMT"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"x-ms-retry-after-ms": "250"}, 0.25),
        ({"Retry-After": "5", "retry-after-ms": "100"}, 5.0),
        ({"Retry-After": "garbage", "retry-after-ms": "100"}, 0.1),
        ({"Retry-After": "-3"}, 0.0),
        ({}, None),
        ({"Retry-After": ""}, None),
    ],
)
def test_retry_after_sources_in_azure_core_order(
    headers: dict[str, str], expected: float | None
) -> None:
    assert lro.parse_retry_after(headers, NOW) == expected


def test_polling_urls_prefer_azure_async_operation() -> None:
    urls = lro.polling_urls({"Location": "https://l", "Azure-AsyncOperation": "https://a"})
    assert list(urls) == ["azure-asyncoperation", "location"]
    assert lro.polling_urls({"Location": "https://l"}) == {"location": "https://l"}


POLICY = lro.PollPolicy(default_seconds=30, max_seconds=300, min_seconds=5)


@pytest.mark.parametrize(
    ("retry_after", "percent", "elapsed", "expected"),
    [
        (10.0, None, None, 10.0),  # the server's advice, when there is no estimate
        # 60 s left by the rate so far, the true end up to 60*100/(50*51) s sooner
        (10.0, 50.0, 60.0, 60.0 - 6000 / 2550),
        (30.0, 99.0, 990.0, 30.0),  # ... but never below Retry-After
        (10.0, 99.0, 990.0, 10.0),  # the last percent: poll on Retry-After until it ends
        (900.0, None, None, 900.0),  # Retry-After is never cut short by the cap ...
        (10.0, 1.0, 400.0, 300.0),  # ... which caps the waits we choose
        (10.0, 1.0, 20.0, 20.0),  # an early estimate is rough: at most double the time so far
        (None, 25.0, 1000.0, 300.0),
        (None, 50.0, 100.0, 100.0 - 10000 / 2550),
        (None, 99.0, 990.0, 5.0),  # the end may be now: never a tight loop
        (None, 99.9, 100.0, 5.0),
        (10.0, 0.0, 10.0, 10.0),  # nothing moved yet: Retry-After ...
        (10.0, 0.0, 80.0, 80.0),  # ... then back off, doubling the time so far
        (None, 0.0, 20.0, 30.0),
        (None, 0.0, 1000.0, 300.0),
        (None, None, None, 30.0),
    ],
)
def test_next_poll_delay(
    retry_after: float | None, percent: float | None, elapsed: float | None, expected: float
) -> None:
    assert lro.next_poll_delay(retry_after, percent, elapsed, POLICY) == pytest.approx(expected)


@pytest.mark.parametrize("duration", [30.0, 170.0, 1200.0, 3 * 3600.0, 9 * 3600.0])
@pytest.mark.parametrize("retry_after", [5.0, 10.0, 30.0])
@pytest.mark.parametrize("pending", [0.0, 5.0])
def test_estimate_polling_sees_the_end_within_one_retry_after_with_few_polls(
    duration: float, retry_after: float, pending: float
) -> None:
    """Polls of an export that is Pending a few seconds, then progresses linearly, reported in
    whole percent: the end is seen at most one Retry-After late, with far fewer polls than one
    per Retry-After. (``elapsed`` counts from the submission, so a long Pending phase makes the
    rate look slower than it is.)"""
    end = pending + duration
    now, polls = lro.next_poll_delay(retry_after, None, None, POLICY), 1
    while now < end:
        percent = float(int(100 * max(0.0, now - pending) / duration))
        now += lro.next_poll_delay(retry_after, percent, now, POLICY)
        polls += 1
    assert now - end <= retry_after + 1e-9
    # one poll per max_seconds, plus a twentieth of polling on every Retry-After, plus a few
    assert polls <= end / POLICY.max_seconds + 0.05 * end / retry_after + 10


@pytest.mark.parametrize(
    ("progress", "elapsed", "expected"),
    [
        # 1000 bytes in 100 s, 1000 left: home in to two Retry-Afters before the end ...
        (lro.ByteProgress(3000, 2000, 1000, 100.0), 500.0, 80.0),
        # ... but an early estimate may at most double the time so far
        (lro.ByteProgress(3000, 2000, 1000, 100.0), 50.0, 50.0),
        # 20 s or 30 s left (within three Retry-Afters): just after the end, 5 % + 0.5 s late
        (lro.ByteProgress(2000, 1800, 800, 100.0), 500.0, 20.0 * 1.05 + 0.5),  # 0.05 x 10 s
        (lro.ByteProgress(2000, 1700, 700, 100.0), 500.0, 30.0 * 1.05 + 0.5),
        # 2 s left: Retry-After still comes first
        (lro.ByteProgress(2000, 1980, 1000, 100.0), 500.0, 10.0),
        # the bytes began to move since the last sample: a clean sample one Retry-After on
        (lro.ByteProgress(2000, 1000, 0, 100.0), 500.0, 10.0),
        # nothing moved since the last sample, or no sizes: the percent rule (Retry-After)
        (lro.ByteProgress(2000, 1000, 1000, 100.0), 500.0, 10.0),
        (lro.ByteProgress(0, 0, 0, 100.0), 500.0, 10.0),
    ],
)
def test_byte_progress_homes_in_on_the_end(
    progress: lro.ByteProgress, elapsed: float, expected: float
) -> None:
    delay = lro.next_poll_delay(10.0, None, elapsed, POLICY, progress=progress)
    assert delay == pytest.approx(expected)


@pytest.mark.parametrize("duration", [30.0, 170.0, 1200.0, 3 * 3600.0, 9 * 3600.0])
@pytest.mark.parametrize("pending", [0.0, 5.0, 120.0])
def test_byte_progress_sees_the_end_about_a_second_late(duration: float, pending: float) -> None:
    """The same linear export, reporting bytes: the poll that sees the end comes within a second
    or two of it (not within a Retry-After), for about as few polls."""
    retry_after, size = 10.0, 50 * 2**30
    end = pending + duration
    now = lro.next_poll_delay(retry_after, None, None, POLICY)
    polls, sampled_at, sampled = 1, 0.0, 0
    while now < end:
        moved = int(size * max(0.0, now - pending) / duration)
        progress = lro.ByteProgress(size, moved, sampled, now - sampled_at)
        sampled_at, sampled = now, moved
        percent = float(int(100 * moved / size))
        now += lro.next_poll_delay(retry_after, percent, now, POLICY, progress=progress)
        polls += 1
    late = now - end
    if duration > 2 * retry_after + pending:
        # the last wait is at most (HOME_STEPS + 1) Retry-Afters long, so it lands at most its
        # margin late: 5 % of 30 s + 0.5 s
        margin = (lro.HOME_STEPS + 1) * retry_after * lro.END_MARGIN_SHARE
        assert late <= margin + lro.END_MARGIN_STEPS * retry_after + 1e-6
    assert late <= retry_after + 1e-9
    assert polls <= end / POLICY.max_seconds + 0.05 * end / retry_after + 12


def test_the_end_counts_from_when_the_bytes_were_read() -> None:
    progress = lro.ByteProgress(2000, 1800, 800, 100.0)  # 20 s left when read, 4 s ago
    assert lro.next_poll_delay(10.0, None, 500.0, POLICY, progress=progress, lag=4.0) == (
        pytest.approx(20.0 * 1.05 + 0.5 - 4.0)
    )
    # Retry-After still holds, counted from the answer: 2 s left, read 4 s ago -> 6 s from now
    near = lro.ByteProgress(2000, 1980, 1000, 100.0)
    assert lro.next_poll_delay(10.0, None, 500.0, POLICY, progress=near, lag=4.0) == 6.0
    # an answer read longer ago than its Retry-After leaves nothing to wait for but the end
    assert lro.next_poll_delay(10.0, None, 500.0, POLICY, progress=progress, lag=25.0) == 0.0


def test_retry_after_counts_from_the_answer_without_progress() -> None:
    assert lro.next_poll_delay(10.0, None, None, POLICY, lag=3.0) == 7.0
    assert lro.next_poll_delay(10.0, None, None, POLICY) == 10.0

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
        (10.0, 50.0, 60.0, 60.0),  # an estimate of 60 s left stretches the wait
        (30.0, 99.0, 990.0, 30.0),  # ... but never below Retry-After
        (900.0, None, None, 300.0),  # capped
        (None, 25.0, 100.0, 300.0),  # 300 s left by the rate so far
        (None, 50.0, 100.0, 100.0),
        (None, 99.0, 990.0, 10.0),
        (None, 99.9, 100.0, 5.0),  # never a tight loop
        (None, 0.0, 100.0, 30.0),  # no progress yet: default
        (None, None, None, 30.0),
    ],
)
def test_next_poll_delay(
    retry_after: float | None, percent: float | None, elapsed: float | None, expected: float
) -> None:
    assert lro.next_poll_delay(retry_after, percent, elapsed, POLICY) == pytest.approx(expected)

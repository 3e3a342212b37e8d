"""Retry, breaker and sharding decisions, and the report's arithmetic, as tables."""

from __future__ import annotations

import random
from typing import Any

import pytest

from mysqlexport import report
from mysqlexport.rules import (
    RetryPolicy,
    fleet_wide_error,
    next_streak,
    poll_retry_delay,
    submit_retry_delay,
)
from orchestrators.planning import plan_batches, plan_shards, probe_indices

POLICY = RetryPolicy(
    transient_attempts=3,
    base_backoff_seconds=10,
    max_backoff_seconds=60,
    conflict_wait_seconds=120,
    poll_error_limit=4,
    breaker_sample=3,
)


def err(code: str, status: int | None = 400, transient: bool = False, **kw: Any) -> dict[str, Any]:
    return {"code": code, "status": status, "transient": transient, **kw}


@pytest.mark.parametrize(
    ("error", "attempt", "expected"),
    [
        (err("TooMany", 429, True, retryAfter=7), 1, 10.0),  # backs off past Retry-After
        (err("TooMany", 429, True, retryAfter=17), 1, 17.0),
        (err("TooMany", 429, True, retryAfter=2), 3, 40.0),
        (err("TooMany", 429, True, retryAfter=2), 9, 60.0),  # throttling never uses attempts up
        (err("InternalServerError", 500, True), 1, 10.0),
        (err("InternalServerError", 500, True), 2, 20.0),
        (err("ConnectionError", None, True), 2, 20.0),
        (err("InternalServerError", 500, True), 3, None),  # attempts used up
        (err("BackupAlreadyRunningForServer", 409), 9, 120.0),  # waited out, any attempt
        (err("BackupAlreadyRunningForServer", 409, retryAfter=300), 1, 300.0),
        (err("ResourceNotFound", 404), 1, None),
        (err("AuthorizationFailed", 403), 1, None),
    ],
)
def test_submit_retry_delay(error: dict[str, Any], attempt: int, expected: float | None) -> None:
    assert submit_retry_delay(error, attempt, POLICY) == expected


def test_poll_errors_are_retried_until_the_limit_unless_permanent() -> None:
    assert poll_retry_delay(err("ServiceUnavailable", 503, True, retryAfter=5), 1, POLICY) == 5.0
    assert poll_retry_delay(err("Timeout", None, True), 3, POLICY) == 40.0
    assert poll_retry_delay(err("Timeout", None, True), 4, POLICY) is None
    assert poll_retry_delay(err("UntrustedUrl", None, False), 1, POLICY) is None


def test_throttled_polls_back_off_and_never_end_the_run() -> None:
    throttled = err("SubscriptionRequestsThrottled", 429, True, retryAfter=3)
    assert poll_retry_delay(throttled, 1, POLICY) == 10.0
    assert poll_retry_delay(throttled, 2, POLICY) == 20.0
    assert poll_retry_delay(throttled, 40, POLICY) == 60.0  # past poll_error_limit
    assert poll_retry_delay({**throttled, "retryAfter": 90}, 1, POLICY) == 90.0


def test_streaks_count_failures_of_one_kind_in_a_row() -> None:
    busy, throttled = err("Busy", 409), err("TooMany", 429, True)
    down, refused = err("Down", 503, True), err("Nope", 403)
    streak = None
    for error, expected in [
        (down, ["transient", 1]),
        (down, ["transient", 2]),
        (busy, ["conflict", 1]),  # a definite answer starts a new count
        (busy, ["conflict", 2]),
        (throttled, ["throttled", 1]),
        (down, ["transient", 1]),
        (err("ConnectionError", None, True), ["transient", 2]),
        (refused, ["permanent", 1]),
    ]:
        streak = next_streak(streak, error)
        assert streak == expected


PAUSED = err("BackupAndExportPaused", 400)


@pytest.mark.parametrize(
    ("outcomes", "trips"),
    [
        ([PAUSED, PAUSED, PAUSED], True),
        ([err("AuthorizationFailed", 403)] * 3, True),
        ([PAUSED, PAUSED, None], False),  # one got through
        ([PAUSED, err("Other", 400), PAUSED], False),  # not the same error
        ([err("ResourceNotFound", 404)] * 3, False),  # about single servers
        ([err("InternalServerError", 500, True)] * 3, False),  # transient
        ([err("BackupAlreadyRunningForServer", 409)] * 3, False),
        ([PAUSED, PAUSED], True),  # a small fleet: every server probed
        ([PAUSED], False),  # one failure proves nothing
    ],
)
def test_breaker_trips_only_on_a_fleet_wide_permanent_error(
    outcomes: list[dict[str, Any] | None], trips: bool
) -> None:
    assert (fleet_wide_error(outcomes, POLICY) is not None) is trips


def _largest_first(count: int, seed: int = 7, sigma: float = 1.2) -> list[float]:
    rng = random.Random(seed)
    return sorted((rng.lognormvariate(3.0, sigma) for _ in range(count)), reverse=True)


@pytest.mark.parametrize(
    ("count", "size", "concurrency"),
    [(1, 500, 50), (10, 500, 50), (1000, 500, 50), (10_000, 100, 50), (1001, 100, 7), (3, 1, 2)],
)
def test_shards_cover_every_server_once_within_the_concurrency(
    count: int, size: int, concurrency: int
) -> None:
    plan = plan_shards(list(_largest_first(count)), size, concurrency)
    covered = sorted(p for positions, _ in plan for p in positions)
    assert covered == list(range(count))
    assert all(len(positions) <= size for positions, _ in plan)
    assert all(positions == sorted(positions) for positions, _ in plan)  # largest first
    assert all(window >= 1 for _, window in plan)
    assert sum(w for _, w in plan) <= max(concurrency, len(plan))


def _predicted_finish(sizes: list[float], positions: list[int], window: int) -> float:
    slots = [0.0] * window
    for p in positions:  # the shard's own window runs them largest first, as dealt
        slots[slots.index(min(slots))] += sizes[p]
    return max(slots)


def test_shards_are_dealt_by_predicted_load() -> None:
    sizes = _largest_first(1000, sigma=0.8)
    plan = plan_shards(list(sizes), 100, 50)
    finishes = [_predicted_finish(sizes, positions, window) for positions, window in plan]
    bound = max(*sizes, sum(sizes) / 50)
    # every shard ends within a few percent of the fleet's lower bound (dealing by rank alone,
    # as before, left some shards 5 % late)
    assert max(finishes) <= 1.03 * bound
    assert min(finishes) >= 0.95 * bound


def test_unknown_sizes_count_as_the_largest_and_equal_sizes_go_round() -> None:
    plan = plan_shards([None, None, 5.0, 1.0], 2, 2)
    assert [positions for positions, _ in plan] == [[0, 2], [1, 3]]
    plan = plan_shards([1.0] * 100, 10, 20)  # 10 shards, window 2 each
    assert plan[0] == ([0, 10, 20, 30, 40, 50, 60, 70, 80, 90], 2)


def test_wide_concurrency_splits_the_fleet_into_more_shards_of_wide_windows() -> None:
    plan = plan_shards([1.0] * 1000, 500, 200)  # 8 windows of 25 fit: 8 shards of 125
    assert [len(p) for p, _ in plan] == [125] * 8 and [w for _, w in plan] == [25] * 8
    plan = plan_shards([1.0] * 1000, 500, 20)  # 20 slots: the size alone decides
    assert [len(p) for p, _ in plan] == [500, 500] and [w for _, w in plan] == [10, 10]
    plan = plan_shards([1.0] * 150, 500, 200)  # never below 100 a shard
    assert len(plan) == 2


def test_probe_takes_the_heads_of_the_first_windows() -> None:
    plan = plan_shards([1.0] * 100, 10, 20)  # 10 shards, window 2 each
    assert probe_indices(plan, 5) == [0, 10, 1, 11, 2]


def test_summary_counts_every_state_and_bytes_of_successes() -> None:
    rows = [
        report.server_row("a", report.SUCCEEDED, data_transferred=100),
        report.server_row("b", report.SUCCEEDED, data_transferred=50),
        report.server_row("c", report.FAILED, data_transferred=10, error={"code": "X"}),
        report.server_row("d", report.SKIPPED),
        report.server_row("e", report.CANCELED),
        report.server_row("f", report.TIMED_OUT),
    ]
    assert report.summarize(rows) == {
        "total": 6,
        "succeeded": 2,
        "failed": 1,
        "skipped": 1,
        "canceled": 1,
        "timedOut": 1,
        "bytes": 150,
    }
    with pytest.raises(ValueError):
        report.server_row("g", "Done")


def test_units_group_small_servers_of_a_narrow_window_into_runs() -> None:
    # like sizes, 2 slots over 80 servers: a slot's load is 40 servers, a run at most 4
    units = plan_batches([1.0] * 80, 2, 4)
    assert units[:2] == [[0], [1]]  # the heads of the window go alone
    assert all(len(u) == 4 for u in units[2:-1]) and units[-1] == [78, 79]
    assert [p for u in units for p in u] == list(range(80))  # every server once, in order
    # a wide window (few servers per slot) keeps every server alone
    assert plan_batches([1.0] * 80, 20, 4) == [[i] for i in range(80)]


def test_runs_stay_within_a_tenth_of_a_slot_and_big_servers_alone() -> None:
    sizes: list[float | None] = [500.0, 400.0, 300.0, 60.0, 30.0, 20.0, 10.0, 10.0, 5.0, 5.0]
    total = sum(s for s in sizes if s is not None)
    units = plan_batches(sizes, 1, 4)
    assert units[0] == [0]
    for unit in units:
        if len(unit) > 1:
            assert sum(sizes[p] or 0.0 for p in unit) <= total / 10
    assert [1] in units and [2] in units  # larger than a tenth: alone
    # unknown sizes (servers named explicitly) count as the largest: never grouped
    assert plan_batches([None, None, None, None], 1, 4) == [[0], [1], [2], [3]]
    assert plan_batches([None] * 100, 2, 4) == [[i] for i in range(100)]
    mixed: list[float | None] = [1.0] * 60
    mixed[30] = None
    units = plan_batches(mixed, 2, 4)
    assert [30] in units and all(30 not in u or len(u) == 1 for u in units)

"""The benchmark code, run at a tiny size: its figures exist and obey what must hold.

``make bench`` measures; this only proves the measuring code works (the emulator in its own
process, the app on devhost, the ground-truth arithmetic, the rows of the table), so a broken
benchmark fails CI instead of printing nonsense later.
"""

from __future__ import annotations

import pytest

from bench.durations import MEDIAN_SECONDS, SIGMA, TAIL_SECONDS, lognormal_sampler, lower_bound
from bench.latency import PARTS, split
from bench.report import build_rows, table
from bench.scenarios import lognormal_fleet, makespan, percentile


def test_durations_have_the_issues_shape() -> None:
    durations = sorted(s.export_seconds or 0.0 for s in lognormal_fleet(4000, seed=5))
    median = durations[len(durations) // 2]
    assert 0.9 * MEDIAN_SECONDS < median < 1.1 * MEDIAN_SECONDS
    over_3h = sum(d > TAIL_SECONDS for d in durations) / len(durations)
    assert 0.005 < over_3h < 0.02  # about 1%
    assert SIGMA > 0 and callable(lognormal_sampler())


def test_lower_bound_and_percentiles() -> None:
    assert lower_bound([10.0, 10.0, 10.0, 10.0], 2) == 20.0  # the sum decides
    assert lower_bound([100.0, 1.0, 1.0], 2) == 100.0  # the longest decides
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert percentile([], 0.95) is None


def test_makespan_scenario_end_to_end_at_a_tiny_size() -> None:
    result = makespan(servers=6, concurrency=2, seed=3)
    assert result["summary"]["succeeded"] == 6
    assert result["exported"] == 6 and result["posts_per_server"] == pytest.approx(1.0)
    # no schedule beats the lower bound, and the caller cannot know before the last export ends
    assert result["makespan"] >= result["lower_bound"] * 0.999
    assert result["makespan"] >= result["last_export_end"] - result["first_submit"]
    assert result["ratio"] < 1.5
    assert 0.0 <= result["latency_p50"] <= result["latency_p95"] <= result["latency_max"]
    assert result["gets_per_server"] >= 1.0
    assert result["episodes"] > 0 and result["max_history_length"] > 0
    assert result["host_cpu_seconds"] > 0

    rows = build_rows({"makespan": result})
    headline = next(r for r in rows if r.metric == "makespan / lower bound")
    assert headline.target == "<= 1.03" and headline.ok is (result["ratio"] <= 1.03)
    assert "makespan / lower bound" in table(rows)


def test_shard_simulation_runs_and_a_single_shard_is_no_worse() -> None:
    from bench.shardsim import fleet as sim_fleet  # noqa: PLC0415 - only this test needs it
    from bench.shardsim import makespan as sim_makespan  # noqa: PLC0415
    from orchestrators.fleet import plan_shards  # noqa: PLC0415

    lengths, predicted = sim_fleet(300, seed=3, noise=0.5)
    bound = lower_bound(lengths, 20)
    one = sim_makespan(lengths, plan_shards(predicted, 300, 20)) / bound
    many = sim_makespan(lengths, plan_shards(predicted, 20, 20)) / bound
    assert 1.0 <= one <= many


def test_latency_split_runs_the_real_app_in_a_worker_process() -> None:
    """The peer arrangement (time-scaled emulator, TLS, the app's orchestrators in a worker
    process) at a tiny size: every polled server's latency splits into parts that add up."""
    parts = split(servers=4, concurrency=2, seed=1, scale=2000.0, workers=1)
    assert 1 <= len(parts["total"]) <= 4
    assert all(len(values) == len(parts["total"]) for values in parts.values())
    for index, total in enumerate(parts["total"]):
        pieces = [parts[part][index] for part in PARTS if part != "total"]
        assert sum(pieces) == pytest.approx(total)
        assert parts["poll timing"][index] >= 0.0  # the poll that saw the end came after it
        assert total >= 0.0

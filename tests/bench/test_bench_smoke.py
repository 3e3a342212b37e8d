"""The benchmark code, run at a tiny size: its figures exist and obey what must hold.

``make bench`` measures; this only proves the measuring code works (the emulator in its own
process, the app on devhost, the ground-truth arithmetic, the rows of the table), so a broken
benchmark fails CI instead of printing nonsense later.
"""

from __future__ import annotations

import pytest

from bench.durations import MEDIAN_SECONDS, SIGMA, TAIL_SECONDS, lognormal_sampler, lower_bound
from bench.latency import PARTS, Timeline, by_part, split
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


#: Event timestamps carry microseconds of the host's real clock; on a clock scaled x2000 one
#: microsecond is 2 ms of emulated time.
TIMESTAMP_RESOLUTION = 2000 * 1e-6


def test_latency_split_runs_the_real_app_in_a_worker_process() -> None:
    """The peer arrangement (time-scaled emulator, TLS, the app's orchestrators in a worker
    process) at a tiny size: every polled server's instants come in causal order, and its latency
    splits into parts that add up. Nothing here depends on how fast the host was: load only
    moves the later instants later (a timer due before the end is ``test_a_timer_due_...``)."""
    timelines = split(servers=4, concurrency=2, seed=1, scale=2000.0, workers=1)
    assert 1 <= len(timelines) <= 4
    parts = by_part(timelines)
    assert all(len(values) == len(timelines) for values in parts.values())
    eps = TIMESTAMP_RESOLUTION
    for timeline in timelines:
        # a timer never fires before it is due, the read comes after it, the completion after
        # the read; and the read that saw the end returned after the end
        assert timeline.due <= timeline.fired + eps
        assert timeline.fired <= timeline.read + eps
        assert timeline.read <= timeline.done + eps
        assert timeline.end <= timeline.read + eps
        shares = timeline.parts()
        assert sum(shares[part] for part in PARTS if part != "total") == pytest.approx(
            shares["total"], abs=4 * eps
        )
        assert all(seconds >= 0.0 for seconds in shares.values())


@pytest.mark.parametrize(
    ("timeline", "expected"),
    [
        # the timer was due after the end: every step in turn
        (Timeline(end=100, due=103, fired=104, read=107, done=108), (3, 1, 3, 1, 8)),
        # due 6 s before the end, fired 2 s before it: the read was under way at the end
        (Timeline(end=100, due=94, fired=98, read=105, done=106), (0, 0, 5, 1, 6)),
        # due before the end, fired after it: the firing holds the time since the end
        (Timeline(end=100, due=90, fired=102, read=104, done=104.5), (0, 2, 2, 0.5, 4.5)),
    ],
)
def test_a_timer_due_before_the_end_spends_no_latency_on_poll_timing(
    timeline: Timeline, expected: tuple[float, ...]
) -> None:
    """On a busy machine the last poll's timer is often due before the end (the wait aimed a
    little early and the host's delay, magnified by the scaled clock, carried the read past
    the end); the latency after the end then falls to the step under way, never below zero."""
    shares = timeline.parts()
    assert tuple(shares[part] for part in PARTS) == pytest.approx(expected)
    assert timeline.early == pytest.approx(max(0.0, timeline.end - timeline.due))

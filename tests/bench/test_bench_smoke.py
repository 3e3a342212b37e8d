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
    from orchestrators.planning import plan_shards  # noqa: PLC0415

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


def _peer_run(seed: int, p95: float, gets: int, makespan: float) -> dict[str, object]:
    """A peer run's figures as ``bench.scenarios`` writes them (10 servers, all exported)."""
    return {
        "servers": 10,
        "concurrency": 2,
        "seed": seed,
        "scale": 250.0,
        "summary": {"total": 10, "succeeded": 10, "failed": 0},
        "exported": 10,
        "posts": 10,
        "gets": gets,
        "posts_per_server": 1.0,
        "gets_per_server": gets / 10,
        "makespan": makespan,
        "latency_p50": p95 / 2,
        "latency_p95": p95,
        "latencies": [p95 / 2] * 9 + [p95],
    }


def test_peer_repetitions_report_the_median_ratio_and_its_range() -> None:
    """Each repetition's p95 ratio is shown, the target is held against their median (one
    unlucky repetition does not decide it), and calls per server count every repetition."""
    results = {
        "peer_scale": 250.0,
        "peer_app-1": _peer_run(2026, 8.0, 120, 100.0),
        "peer_sdk_pool-1": _peer_run(2026, 10.0, 1700, 120.0),
        "peer_app-2": _peer_run(2027, 16.5, 130, 110.0),
        "peer_sdk_pool-2": _peer_run(2027, 10.0, 1700, 120.0),
        "peer_app-3": _peer_run(2028, 9.5, 110, 105.0),
        "peer_sdk_pool-3": _peer_run(2028, 10.0, 1600, 120.0),
        "peer_app-4": _peer_run(2029, 99.0, 100, 100.0),  # its SDK pool run failed: left out
    }
    rows = {row.metric: row for row in build_rows(results)}
    ratio = rows["detection latency p95, app / SDK pool: median (min-max)"]
    assert (ratio.value, ratio.target, ratio.ok) == ("0.950 (0.800-1.650)", "<= 1", True)
    assert (
        rows["repetition 2: detection latency p95, app / SDK pool"].value == "16.5 / 10.0 s = 1.650"
    )
    assert "repetition 4: detection latency p95, app / SDK pool" not in rows
    gets = rows["GETs per server, app / SDK pool"]
    assert gets.value == f"{360 / 5000:.3f}" and gets.ok is True
    assert rows["app (devhost): detection latency p50 / p95"].value == "4.8 / 9.5 s (8.0-16.5)"
    assert "3 repetitions, seeds 2026, 2027, 2028" in next(iter(rows.values())).scenario

    worse = {**results, "peer_app-3": _peer_run(2028, 12.0, 110, 105.0)}
    median = {row.metric: row for row in build_rows(worse)}[ratio.metric]
    assert (median.value, median.ok) == ("1.200 (0.800-1.650)", False)


def test_peer_repetitions_run_the_app_alone_then_the_sdk_on_the_same_fleet() -> None:
    from bench.__main__ import FULL, QUICK, jobs_of  # noqa: PLC0415 - the CLI module

    for plan in (FULL, QUICK):
        batches, _ = jobs_of(plan, ["peers"])
        assert len(batches) == 2 * plan.peer_repeats >= 4
        seeds = []
        for app_batch, sdk_batch in zip(batches[::2], batches[1::2], strict=True):
            assert [job.scenario for job in app_batch] == ["peer_app"]  # alone
            assert sdk_batch[0].scenario == "peer_sdk_pool"
            assert sdk_batch[0].arguments == app_batch[0].arguments  # the same fleet
            seeds.append(app_batch[0].arguments["seed"])
        assert len(set(seeds)) == plan.peer_repeats  # a fleet of its own each time
        assert [job.scenario for job in batches[1]] == ["peer_sdk_pool", "peer_sdk_sequential"]


@pytest.mark.parametrize(
    ("answer", "poll_kind"),
    [("location", "backup_operation_status"), ("created", "get_backup")],
)
def test_backup_scenario_end_to_end_at_a_tiny_size(answer: str, poll_kind: str) -> None:
    """Scenario 5's code on a backup run: every server backed up once, its polls counted by
    their kinds (the operation's Location, or the backup resource itself after a 201), one
    final read of the resource per server, and the bound taken from the emulator's backups."""
    from bench.scenarios import BACKUP_POLLING_KINDS, backup_makespan  # noqa: PLC0415

    result = backup_makespan(servers=4, concurrency=2, seed=3, answer=answer)
    assert result["summary"]["succeeded"] == 4 and result["exported"] == 4
    assert result["posts"] == 4 and result["backups_replaced"] == 0  # one PUT each
    kinds = result["gets_by_kind"]
    assert set(kinds) == set(BACKUP_POLLING_KINDS)
    assert result["gets"] == sum(kinds.values()) and kinds[poll_kind] >= 4
    if answer == "location":
        assert kinds["get_backup"] == 4  # the final read of each backup resource
        assert kinds["backup_async_operation"] == 0
    else:
        assert kinds["backup_operation_status"] == kinds["backup_async_operation"] == 0
    assert result["makespan"] >= result["lower_bound"] * 0.999
    assert result["makespan"] >= result["last_export_end"] - result["first_submit"]
    assert 0.0 <= result["latency_p50"] <= result["latency_p95"] <= result["latency_max"]


def test_backup_rows_hold_the_spec_examples_run_to_scenario_1s_target() -> None:
    """The rows of scenario 5: the runs in the order of the answer modes, the "location" run
    (the spec example's answer) held to makespan / bound <= 1.03, GETs split by kind."""

    def run(answer: str, ratio: float) -> dict[str, object]:
        return {
            "servers": 10, "concurrency": 2, "answer": answer, "ratio": ratio,
            "makespan": 7200.0, "lower_bound": 7000.0, "longest_export": 3600.0,
            "sum_over_concurrency": 7000.0, "last_export_end_ratio": 1.0,
            "summary": {"succeeded": 10}, "exported": 10, "posts_per_server": 1.0,
            "gets_per_server": 13.0, "latency_p50": 5.0, "latency_p95": 9.0,
            "host_cpu_seconds": 1.0, "episodes": 100, "max_history_length": 50,
            "gets_by_kind": {"backup_operation_status": 120, "backup_async_operation": 0,
                             "get_backup": 10},
        }  # fmt: skip

    results = {"backup-created": run("created", 1.2), "backup-location": run("location", 1.02)}
    rows = [row for row in build_rows(results) if row.metric == "makespan / lower bound"]
    assert [row.scenario.split(".")[0] for row in rows] == ["5a", "5b"]
    assert "Location only" in rows[0].scenario and "201" in rows[1].scenario
    assert (rows[0].target, rows[0].ok) == ("<= 1.03", True)
    assert (rows[1].target, rows[1].ok) == ("", None)
    split = next(r for r in build_rows(results) if r.metric.startswith("GETs per server:"))
    assert split.value == "12.00 / 1.00"


def test_the_plans_run_every_backup_answer_that_polls() -> None:
    from bench.__main__ import FULL, QUICK, jobs_of  # noqa: PLC0415 - the CLI module

    for plan in (FULL, QUICK):
        _, virtual = jobs_of(plan, ["backup"])
        answers = [job.arguments["answer"] for job in virtual]
        assert answers == ["location", "async-operation", "created"]
        assert all(job.scenario == "backup_makespan" for job in virtual)
        assert [job.key for job in virtual] == [f"backup-{a}" for a in answers]

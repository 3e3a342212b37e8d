"""``make bench-ablate``'s machinery, at a tiny size: the runs interleave, the verdict follows its
rule, and every "off" run really ran with its optimisation off (no ``export_batch`` with
``BATCH_MAX_SERVERS=1``, no homing in any server's job with ``POLL_HOMING=false``, the SDK's own
timestamp parser in the process that replayed with ``FAST_HISTORY_TIMESTAMPS=false``), judged
from the task hub and the processes, never from timing."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from bench import ablation
from bench.ablation import EARNS, NOISE, TOO_FEW, WORSE, verdict
from bench.jobs import Job
from devhost import DevHost, RuntimeStatus, VirtualClock
from devhost.config import app_settings
from tests.waits import HANG_SECONDS

PROBE_APP = Path(__file__).parent / "parser_probe_app"


@pytest.mark.parametrize(
    ("on", "off", "expected"),
    [
        ([10.0, 11.0, 12.0], [20.0, 21.0, 25.0], EARNS),  # every on run beats every off run
        ([10.0, 11.0, 12.0], [12.0, 21.0, 25.0], NOISE),  # the ranges touch
        ([10.0, 15.0, 12.0], [12.5, 13.0, 14.0], NOISE),  # they overlap
        ([1.5, 1.5, 1.5], [9.6, 9.7, 9.9], EARNS),  # no spread at all
        ([20.0, 21.0, 22.0], [10.0, 11.0, 12.0], WORSE),
        ([10.0, 11.0], [20.0, 21.0], TOO_FEW),  # 2 against 2: 1 in 6 by chance
    ],
)
def test_an_optimisation_earns_its_place_only_beyond_the_spread(
    on: list[float], off: list[float], expected: str
) -> None:
    assert verdict(on, off) == expected


def test_the_runs_interleave_on_the_same_fleet_and_reverse_every_repetition() -> None:
    jobs = ablation.jobs(ablation.FULL, ablation.OPTIMISATIONS)
    by_repetition: dict[str, list[Job]] = {}
    for job in jobs:
        by_repetition.setdefault(job.key.rsplit(":", 1)[1], []).append(job)
    assert list(by_repetition) == ["1", "2", "3"]
    first, second, third = by_repetition.values()
    assert [j.key.split(":")[:2] for j in first] == [j.key.split(":")[:2] for j in reversed(second)]
    assert [j.key.split(":")[:2] for j in first] == [j.key.split(":")[:2] for j in third]
    for index, round_jobs in enumerate(by_repetition.values()):
        # every variant of a scenario in each repetition, all on the repetition's fleet
        assert {j.arguments["seed"] for j in round_jobs} == {ablation.SEED + index}
        variants = Counter(j.key.split(":")[0] for j in round_jobs)
        assert variants == {"cost": 3, "makespan": 2, "peers": 2}
    for job in jobs:
        off = {name: value for name, value in job.settings.items() if value}
        assert set(job.settings) == set(ablation.SETTINGS)  # never inherited from the caller
        if ":on:" in job.key:
            assert off == {}
        else:
            (setting, value), *rest = off.items()
            assert rest == []  # exactly one optimisation off
            optimisation = next(o for o in ablation.OPTIMISATIONS if o.setting == setting)
            assert job.key.split(":")[1] == f"{optimisation.name}-off"
            assert value == optimisation.off


def test_a_run_that_was_not_off_fails_the_checks() -> None:
    ran = {
        "servers": 40,
        "succeeded": 40,
        "job_batch_max_servers": 4,
        "job_poll_homing": True,
        "server_poll_homing": [True],
        "orchestrations": {"export_batch": 10, "export_server": 40},
        "parser_installed": True,
    }
    assert ablation.run_problems("cost:on:1", ran) == []
    assert ablation.run_problems("cost:batches-off:1", ran) == [
        "batches off but 10 export_batch instances"
    ]
    assert ablation.run_problems("cost:parser-off:1", ran) == ["parser off but installed=True"]
    assert ablation.run_problems("makespan:homing-off:1", ran) == [
        "homing off but the servers had [True]"
    ]


def test_the_off_runs_really_run_with_their_optimisation_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m bench --ablate --quick``: every scenario once with each setting (each run in
    a process of its own, as ``make bench-ablate`` runs them), then what each run reports."""
    out = tmp_path / "ablate.json"
    assert ablation.main(["--ablate", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["failures"] == {} and document["checks"] == {}
    results = document["results"]
    assert len(results) == 7

    # batches: on, some servers went in export_batch; off, none did
    assert results["cost:on:1"]["orchestrations"]["export_batch"] > 0
    assert "export_batch" not in results["cost:batches-off:1"]["orchestrations"]
    assert results["cost:batches-off:1"]["job_batch_max_servers"] == 1
    # the parser: the cost scenario replays in the worker's own process, where it is checked
    assert results["cost:on:1"]["worker_processes"] == 0
    assert results["cost:on:1"]["parser_installed"] is True
    assert results["cost:parser-off:1"]["parser_installed"] is False
    assert results["cost:batches-off:1"]["parser_installed"] is True
    # homing: every server's job said so, on the virtual clock and with worker processes
    for group in ("makespan", "peers"):
        assert results[f"{group}:on:1"]["server_poll_homing"] == [True]
        assert results[f"{group}:homing-off:1"]["server_poll_homing"] == [False]
        assert results[f"{group}:homing-off:1"]["job_poll_homing"] is False
    assert results["peers:on:1"]["worker_processes"] == 2
    # every off run left the other optimisations on
    assert results["makespan:homing-off:1"]["orchestrations"]["export_server"] == 6
    assert results["cost:parser-off:1"]["orchestrations"]["export_batch"] > 0

    assert {line["verdict"] for line in document["lines"]} == {TOO_FEW}  # one repetition
    for name in ("batches", "parser", "homing"):
        assert f"  {name}: {TOO_FEW}" in printed
    assert "history events replayed per server" in printed


@pytest.mark.parametrize(("setting", "installed"), [("", True), ("false", False)])
def test_the_parser_setting_reaches_devhosts_worker_processes(
    setting: str, installed: bool
) -> None:
    """The setting is read when the orchestrators are imported: a worker process imports them
    itself, with the environment it was spawned with, as a Functions worker reads its app
    settings."""
    with (
        app_settings({"FAST_HISTORY_TIMESTAMPS": setting}),
        DevHost(
            PROBE_APP, clock=VirtualClock(1_800_000_000), load_settings=False, worker_processes=1
        ) as host,
    ):
        done = host.wait_for(host.start_orchestration("parser_state"), timeout=HANG_SECONDS)
    assert done.runtime_status is RuntimeStatus.COMPLETED
    assert done.output["pid"] != os.getpid()  # it ran in the worker process
    assert done.output["installed"] is installed

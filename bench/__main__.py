"""``make bench`` / ``make bench-quick``: measure the app against the limit and the peers.

    python -m bench            # the sizes of issue 4 (under 10 minutes on 2 cores is the aim)
    python -m bench --quick    # the same code at small sizes, under a minute
    python -m bench --only makespan,cost --jobs 2 --out bench/results.json

Each scenario runs in a fresh process (``bench.worker``) with its emulator in another, so CPU and
memory figures are the host's alone. The scenarios on the time-scaled clock (the peers) run
first (the app alone, then the two SDK peers side by side), because their figures depend on real
time; the virtual-clock scenarios then run ``--jobs`` at a time. App settings in the environment
(``SHARD_SIZE=100 make bench``) reach the app under test. The table goes to stdout and everything
measured to ``bench/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.report import build_rows, table

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "bench" / "results.json"


@dataclass(frozen=True)
class Plan:
    """Sizes of one benchmark run (the same code runs every plan)."""

    makespan: tuple[int, int]  # servers, maxConcurrency
    peers: tuple[int, int]  # servers, concurrency
    peer_scale: float  # emulated seconds per real second
    sequential_budget: float  # real seconds the sequential SDK loop may run
    cost_sizes: tuple[int, ...]
    cost_concurrency: int
    throttling: tuple[int, int]
    seed: int = 2026


FULL = Plan(
    makespan=(1000, 50),
    peers=(200, 20),
    peer_scale=250.0,
    sequential_budget=90.0,
    cost_sizes=(1000, 5000, 10000),
    cost_concurrency=200,
    throttling=(2000, 200),
)
QUICK = Plan(
    makespan=(60, 6),
    peers=(20, 4),
    peer_scale=900.0,
    sequential_budget=6.0,
    cost_sizes=(50, 100, 200),
    cost_concurrency=20,
    throttling=(60, 20),
)
SCENARIO_GROUPS = ("makespan", "peers", "cost", "throttling")
#: App settings the figures depend on; unset means the app's default (SHARD_SIZE 500 ...).
APP_SETTINGS = ("SHARD_SIZE", "POLL_DEFAULT_SECONDS", "POLL_MAX_SECONDS", "MAX_CONCURRENCY")


@dataclass(frozen=True)
class Job:
    key: str
    scenario: str
    arguments: dict[str, Any]


def jobs_of(plan: Plan, only: Sequence[str]) -> tuple[list[Job], list[Job]]:
    """(real-time jobs, virtual-clock jobs) of ``plan``; the virtual jobs in the order that
    packs two workers best by the last full run (throttling 200 s, cost at 10,000 and 5,000
    155 s each, makespan 110 s, cost at 1,000 25 s)."""
    real: list[Job] = []
    if "peers" in only:
        servers, concurrency = plan.peers
        common = {"servers": servers, "seed": plan.seed, "scale": plan.peer_scale}
        real.append(Job("peer_app", "peer_app", {**common, "concurrency": concurrency}))
        real.append(Job("peer_sdk_pool", "peer_sdk_pool", {**common, "concurrency": concurrency}))
        real.append(
            Job(
                "peer_sdk_sequential",
                "peer_sdk_sequential",
                {**common, "budget_seconds": plan.sequential_budget},
            )
        )
    throttling: list[Job] = []
    if "throttling" in only:
        servers, concurrency = plan.throttling
        arguments = {"servers": servers, "concurrency": concurrency, "seed": plan.seed}
        throttling.append(Job("throttling", "throttling", arguments))
    cost: list[Job] = []
    if "cost" in only:
        for size in sorted(plan.cost_sizes, reverse=True):
            arguments = {"servers": size, "concurrency": plan.cost_concurrency, "seed": plan.seed}
            cost.append(Job(f"cost-{size}", "cost", arguments))
    makespan: list[Job] = []
    if "makespan" in only:
        servers, concurrency = plan.makespan
        arguments = {"servers": servers, "concurrency": concurrency, "seed": plan.seed}
        makespan.append(Job("makespan", "makespan", arguments))
    virtual = throttling + cost[:-1] + makespan + cost[-1:]
    return real, virtual


def _revision() -> str | None:
    """The commit measured (``+dirty`` with local changes), when this is a git checkout."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Runner:
    """Runs jobs as ``python -m bench.worker`` processes and collects their JSON."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.results: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}
        self.failures: dict[str, str] = {}

    def _start(self, job: Job) -> tuple[Job, subprocess.Popen[bytes], Path, float]:
        out = self.folder / f"{job.key}.json"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [
            sys.executable, "-m", "bench.worker", job.scenario, json.dumps(job.arguments), str(out)
        ]  # fmt: skip
        _log(f"{job.key}: started {job.arguments}")
        # this interpreter running this package's worker, with JSON arguments built here
        process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE)  # noqa: S603
        return job, process, out, time.monotonic()

    def _finish(self, job: Job, process: subprocess.Popen[bytes], out: Path, began: float) -> None:
        _, stderr = process.communicate()
        self.seconds[job.key] = time.monotonic() - began
        if process.returncode == 0 and out.is_file():
            self.results[job.key] = json.loads(out.read_text(encoding="utf-8"))
            _log(f"{job.key}: done in {self.seconds[job.key]:.0f} s")
        else:
            tail = stderr.decode(errors="replace").strip().splitlines()[-15:]
            self.failures[job.key] = "\n".join(tail)
            _log(f"{job.key}: FAILED (exit {process.returncode})\n" + "\n".join(tail))

    def run_together(self, jobs: Sequence[Job]) -> None:
        started = [self._start(job) for job in jobs]
        for item in started:
            self._finish(*item)

    def run_pooled(self, jobs: Sequence[Job], width: int) -> None:
        queue = list(jobs)
        running: list[tuple[Job, subprocess.Popen[bytes], Path, float]] = []
        while queue or running:
            while queue and len(running) < max(1, width):
                running.append(self._start(queue.pop(0)))
            time.sleep(0.2)
            for item in [r for r in running if r[1].poll() is not None]:
                running.remove(item)
                self._finish(*item)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIO_GROUPS),
        help=f"comma-separated subset of {', '.join(SCENARIO_GROUPS)}",
    )
    parser.add_argument("--jobs", type=int, default=2, help="virtual-clock scenarios at once")
    parser.add_argument(
        "--peer-scale",
        type=float,
        default=None,
        help="emulated seconds per real second in the peers scenario (full: 250, quick: 900); "
        "lower is more faithful to the app's real-time overheads and slower",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(SCENARIO_GROUPS))
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    plan = QUICK if args.quick else FULL
    if args.peer_scale:
        plan = replace(plan, peer_scale=args.peer_scale)
    real, virtual = jobs_of(plan, only)

    revision = _revision()  # before the run: a commit landing meanwhile is not what was measured
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        runner = Runner(Path(folder))
        # The app first, alone: at a time scale of x250 every real millisecond of its durable
        # machinery is 0.25 s of emulated time, so it must not share the CPU. The SDK peers
        # mostly sleep; they run side by side.
        for batch in (
            [j for j in real if j.key == "peer_app"],
            [j for j in real if j.key != "peer_app"],
        ):
            if batch:
                runner.run_together(batch)
        if virtual:
            runner.run_pooled(virtual, args.jobs)
    total = time.monotonic() - started

    results: dict[str, Any] = dict(runner.results)
    if real:
        results["peer_scale"] = plan.peer_scale
    rows = build_rows(results)
    print(table(rows))
    print(f"\ntotal {total:.0f} s on {os.cpu_count()} CPUs ({'quick' if args.quick else 'full'})")
    for key, why in runner.failures.items():
        print(f"\n{key} FAILED:\n{why}")
    document = {
        "plan": {"name": "quick" if args.quick else "full", **asdict(plan)},
        "revision": revision,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "app_settings": {name: os.environ.get(name) for name in APP_SETTINGS},
        "total_seconds": total,
        "seconds": runner.seconds,
        "rows": [row.as_dict() for row in rows],
        "results": results,
        "failures": runner.failures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2), encoding="utf-8")
    print(f"written {args.out}")
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""``make bench`` / ``make bench-quick``: measure the app against the limit and the peers.

    python -m bench            # the sizes of issue 4 (under 10 minutes on 2 cores is the aim)
    python -m bench --quick    # the same code at small sizes, under a minute
    python -m bench --only makespan,cost --jobs 2 --out bench/results.json
    python -m bench --only peers --peer-scale 100 --peer-repeats 5

Each scenario runs in a fresh process (``bench.worker``) with its emulator in another, so CPU and
memory figures are the host's alone. The scenarios on the time-scaled clock (the peers) run
first, because their figures depend on real time: ``peer_repeats`` repetitions, each on a fleet
of its own seed, each the app alone and then the SDK thread pool (with the SDK loop beside it in
the first), so every repetition's ratio compares two runs a minute apart on the same fleet and the
table gives the median and the spread. The virtual-clock scenarios then run ``--jobs`` at a time.
App settings in the environment (``SHARD_SIZE=100 make bench``) reach the app under test. The
table goes to stdout and everything measured to ``bench/results.json``.
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
    peer_repeats: int  # repetitions of the peer scenario, seeds seed, seed + 1, ...
    sequential_budget: float  # real seconds the sequential SDK loop may run
    cost_sizes: tuple[int, ...]
    cost_concurrency: int
    throttling: tuple[int, int]
    seed: int = 2026


FULL = Plan(
    makespan=(1000, 50),
    # x150: at x250 devhost's own ~40 ms of work per poll is 10 emulated seconds and the ratio
    # measures the local host, not the app (docs/performance.md); 50 servers keep three
    # repetitions on the slower clock inside make bench's 10 minutes
    peers=(50, 20),
    peer_scale=150.0,
    peer_repeats=3,
    sequential_budget=30.0,
    cost_sizes=(1000, 10000),
    cost_concurrency=200,
    throttling=(1000, 200),
)
QUICK = Plan(
    makespan=(60, 6),
    peers=(20, 4),
    peer_scale=1200.0,
    peer_repeats=2,
    sequential_budget=6.0,
    cost_sizes=(50, 200),
    cost_concurrency=20,
    throttling=(60, 20),
)
SCENARIO_GROUPS = ("makespan", "peers", "cost", "throttling")
#: App settings the figures depend on; unset means the app's default (SHARD_SIZE 500 ...).
APP_SETTINGS = (
    "SHARD_SIZE",
    "POLL_DEFAULT_SECONDS",
    "POLL_MAX_SECONDS",
    "MAX_CONCURRENCY",
    "PYTHON_THREADPOOL_THREAD_COUNT",
)


@dataclass(frozen=True)
class Job:
    key: str
    scenario: str
    arguments: dict[str, Any]


#: At most this many repetitions of the peer scenario (each costs minutes of real time).
MAX_PEER_REPEATS = 9


def peer_key(peer: str, repetition: int) -> str:
    """The result key of one peer run: ``peer_app-1``, ``peer_sdk_pool-2``, ..."""
    return f"peer_{peer}-{repetition}"


def peer_batches(plan: Plan) -> list[list[Job]]:
    """The real-time jobs, in the batches they run in one after the other: per repetition (a
    fleet of seed ``plan.seed + i``) the app alone, then the SDK thread pool on the same fleet,
    with the SDK loop beside it in the first repetition (the loop waits a Retry-After between
    its requests, so it hardly disturbs the pool; the app must not share the CPU at all)."""
    servers, concurrency = plan.peers
    batches: list[list[Job]] = []
    for index in range(min(plan.peer_repeats, MAX_PEER_REPEATS)):
        repetition = index + 1
        common = {"servers": servers, "seed": plan.seed + index, "scale": plan.peer_scale}
        pooled = {**common, "concurrency": concurrency}
        batches.append([Job(peer_key("app", repetition), "peer_app", pooled)])
        sdk = [Job(peer_key("sdk_pool", repetition), "peer_sdk_pool", pooled)]
        if index == 0:
            budget = {**common, "budget_seconds": plan.sequential_budget}
            sdk.append(Job("peer_sdk_sequential", "peer_sdk_sequential", budget))
        batches.append(sdk)
    return batches


def jobs_of(plan: Plan, only: Sequence[str]) -> tuple[list[list[Job]], list[Job]]:
    """(batches of real-time jobs, virtual-clock jobs) of ``plan``; the virtual jobs in the
    order that packs two workers best by the last full run (throttling then makespan on one,
    about 130 + 130 s; cost at 10,000, 235 s, then the smaller cost sizes on the other)."""
    real = peer_batches(plan) if "peers" in only else []
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
    virtual = throttling + cost[:1] + makespan + cost[1:]
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


#: Real seconds a job may run before it is stopped and counted as failed (the longest, the
#: throttling scenario, takes about 200 s on 2 cores; the peers' own run timeouts are an hour).
JOB_TIMEOUT = 1800.0


@dataclass
class Running:
    """A started job: its process, where its JSON and its stderr go, when it started."""

    job: Job
    process: subprocess.Popen[bytes]
    out: Path
    stderr: Path
    began: float

    def overdue(self) -> bool:
        return time.monotonic() - self.began > JOB_TIMEOUT


class Runner:
    """Runs jobs as ``python -m bench.worker`` processes and collects their JSON."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.results: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}
        self.failures: dict[str, str] = {}
        #: The machine's 1-minute load average when each job started and ended (others' work on
        #: a shared machine shows here, and in the real-time figures).
        self.load: dict[str, tuple[float, float]] = {}

    def _start(self, job: Job) -> Running:
        out = self.folder / f"{job.key}.json"
        stderr = self.folder / f"{job.key}.stderr"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [
            sys.executable, "-m", "bench.worker", job.scenario, json.dumps(job.arguments), str(out)
        ]  # fmt: skip
        self.load[job.key] = (os.getloadavg()[0], 0.0)
        _log(f"{job.key}: started {job.arguments} (load {self.load[job.key][0]:.1f})")
        # stderr to a file: a pipe nobody reads until the end could fill and stall the job
        with stderr.open("wb") as sink:
            # this interpreter running this package's worker, with JSON arguments built here
            process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=sink)  # noqa: S603
        return Running(job, process, out, stderr, time.monotonic())

    def _finish(self, item: Running) -> None:
        job, process = item.job, item.process
        try:
            process.wait(timeout=max(0.0, JOB_TIMEOUT - (time.monotonic() - item.began)))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
            _log(f"{job.key}: stopped after {JOB_TIMEOUT:.0f} s")
        self.seconds[job.key] = time.monotonic() - item.began
        self.load[job.key] = (self.load[job.key][0], os.getloadavg()[0])
        if process.returncode == 0 and item.out.is_file():
            self.results[job.key] = json.loads(item.out.read_text(encoding="utf-8"))
            _log(f"{job.key}: done in {self.seconds[job.key]:.0f} s")
        else:
            lines = item.stderr.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            self.failures[job.key] = "\n".join(lines[-15:])
            _log(f"{job.key}: FAILED (exit {process.returncode})\n" + self.failures[job.key])

    def run_together(self, jobs: Sequence[Job]) -> None:
        started = [self._start(job) for job in jobs]
        for item in started:
            self._finish(item)

    def run_pooled(self, jobs: Sequence[Job], width: int) -> None:
        """Run ``jobs`` ``width`` at a time; every job ends within ``JOB_TIMEOUT``, so the loop
        ends within ``len(jobs) * JOB_TIMEOUT`` (checked every 0.2 s)."""
        queue = list(jobs)
        running: list[Running] = []
        rounds = int(len(jobs) * (JOB_TIMEOUT + 60.0) / 0.2) + 1
        for _ in range(rounds):
            while queue and len(running) < max(1, width):
                running.append(self._start(queue.pop(0)))
            if not running:
                break
            time.sleep(0.2)
            for item in [r for r in running if r.process.poll() is not None or r.overdue()]:
                running.remove(item)
                self._finish(item)
        for item in running:  # not reached (a round takes at least 0.2 s): stop what is left
            self._finish(item)


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
        help="emulated seconds per real second in the peers scenario (full: 250, quick: 1200); "
        "lower is more faithful to the app's real-time overheads and slower",
    )
    parser.add_argument(
        "--peer-repeats",
        type=int,
        default=None,
        help=f"repetitions of the peers scenario, 1-{MAX_PEER_REPEATS} (full: 3, quick: 2)",
    )
    parser.add_argument(
        "--peer-servers",
        type=int,
        default=None,
        help="servers in the peers scenario (full: 100, quick: 20)",
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
    if args.peer_repeats is not None:
        if not 1 <= args.peer_repeats <= MAX_PEER_REPEATS:
            parser.error(f"--peer-repeats must be 1-{MAX_PEER_REPEATS}")
        plan = replace(plan, peer_repeats=args.peer_repeats)
    if args.peer_servers is not None:
        if args.peer_servers < 1:
            parser.error("--peer-servers must be at least 1")
        plan = replace(plan, peers=(args.peer_servers, plan.peers[1]))
    real, virtual = jobs_of(plan, only)

    revision = _revision()  # before the run: a commit landing meanwhile is not what was measured
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        runner = Runner(Path(folder))
        # The app alone in each repetition: at a time scale of x250 every real millisecond of its
        # durable machinery is 0.25 s of emulated time, so it must not share the CPU.
        for batch in real:
            runner.run_together(batch)
        if virtual:
            runner.run_pooled(virtual, args.jobs)
    total = time.monotonic() - started

    results: dict[str, Any] = dict(runner.results)
    if real:
        results["peer_scale"] = plan.peer_scale
        results["peer_repeats"] = len(real) // 2
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
        "load_average": runner.load,
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

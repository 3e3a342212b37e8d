"""Benchmark jobs: each scenario run as ``python -m bench.worker`` in a fresh process.

A job names a scenario of ``bench.scenarios``, its JSON arguments and the app settings it runs
with (``settings``, put in the worker process's environment before anything is imported, so an
import-time setting such as ``FAST_HISTORY_TIMESTAMPS`` applies to the app as it would in a
Functions worker; unset, the job inherits this process's environment). ``Runner`` starts jobs,
bounds each by ``JOB_TIMEOUT``, and collects their JSON, their real seconds and the machine's
load average.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: App settings the figures depend on; unset means the app's default (SHARD_SIZE 500 ...).
APP_SETTINGS = (
    "SHARD_SIZE",
    "POLL_DEFAULT_SECONDS",
    "POLL_MAX_SECONDS",
    "MAX_CONCURRENCY",
    "PYTHON_THREADPOOL_THREAD_COUNT",
    # the optimisations' switches (bench/ablation.py): unset is on
    "BATCH_MAX_SERVERS",
    "POLL_HOMING",
    "FAST_HISTORY_TIMESTAMPS",
)


@dataclass(frozen=True)
class Job:
    key: str
    scenario: str
    arguments: dict[str, Any]
    #: App settings for this job's process (added to the environment it inherits).
    settings: Mapping[str, str] = field(default_factory=dict)


def log(message: str) -> None:
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
        env = {**os.environ, **job.settings, "PYTHONPATH": str(ROOT)}
        command = [
            sys.executable, "-m", "bench.worker", job.scenario, json.dumps(job.arguments), str(out)
        ]  # fmt: skip
        self.load[job.key] = (os.getloadavg()[0], 0.0)
        settings = f" with {dict(job.settings)}" if job.settings else ""
        log(f"{job.key}: started {job.arguments}{settings} (load {self.load[job.key][0]:.1f})")
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
            log(f"{job.key}: stopped after {JOB_TIMEOUT:.0f} s")
        self.seconds[job.key] = time.monotonic() - item.began
        self.load[job.key] = (self.load[job.key][0], os.getloadavg()[0])
        if process.returncode == 0 and item.out.is_file():
            self.results[job.key] = json.loads(item.out.read_text(encoding="utf-8"))
            log(f"{job.key}: done in {self.seconds[job.key]:.0f} s")
        else:
            lines = item.stderr.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            self.failures[job.key] = "\n".join(lines[-15:])
            log(f"{job.key}: FAILED (exit {process.returncode})\n" + self.failures[job.key])

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

"""The four measurements of issue 4, each a function returning plain JSON.

Every scenario builds a seeded fleet with ``armemulator.make_fleet``, runs it against an emulator
in its own process (``bench.emuproc``), and reads what happened from the emulator's ground truth
(``exports()``: when each export was accepted and when it ended, on the emulator's clock) and
counters (every request and answer by kind). Nothing here is pass/fail: ``bench.report`` holds
the figures against the issue's targets.

1. ``makespan``: the app on a virtual clock; makespan from the first accepted submission to the
   run report's ``endTime``, against ``max(longest export, sum of exports / concurrency)``.
2. ``peer_app`` / ``peer_sdk_pool`` / ``peer_sdk_sequential``: the same fleet on the emulator's
   time-scaled clock (``retry-after-ms`` in real time), run by the app on devhost (wall clock),
   by the official SDK in a thread pool, and by the SDK one server after the other.
3. ``cost``: CPU seconds and peak RSS of the process that hosts the app (devhost, the SDK replay,
   the activities), episodes and the largest history, for short exports.
4. ``throttling``: the app with the emulator enforcing ARM's token buckets.
5. ``backup_makespan``: scenario 1 for on-demand backups (``"operation": "backup"``, backupsV2):
   the same log-normal durations as the backups' own, the emulator answering each PUT as the
   spec's example does (202, ``Location`` at an ``operationStatus`` URL), the bound and the
   makespan from its backups (``backups()``: accepted at the PUT, ended at ``ends_at``).
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from armemulator import ScaledClock, ServerSpec, make_fleet
from bench.durations import lognormal_sampler, lower_bound, short_sampler
from bench.emuproc import SharedClock
from bench.peers import real_time_deadline, sdk_sequential, sdk_thread_pool
from bench.stack import (
    SAS,
    SUBSCRIPTION,
    THREADPOOL_SETTING,
    AppRun,
    AppStack,
    app_stack,
    backup_body,
    export_body,
    tls_files,
)
from devhost import StoreStats
from devhost.protocol import EventType
from orchestrators import replay_speed
from orchestrators.timeutil import parse
from workflow import names

#: Virtual clocks start here (2027-01-15T08:00:00Z), so runs are reproducible.
VIRTUAL_START = 1_800_000_000.0
POLLING_KINDS = ("async_operation", "operation_status")
SUBMIT_KIND = "backup_and_export"
#: A backup's GETs: polls of its operation (``Location`` / ``Azure-AsyncOperation``) and reads of
#: the backup resource (the final read, and every poll when a 201 gives no polling URL).
BACKUP_POLLING_KINDS = ("backup_operation_status", "backup_async_operation", "get_backup")
BACKUP_SUBMIT_KIND = "create_backup"
THROTTLED_CODES = frozenset({"SubscriptionRequestsThrottled", "TooManyRequests"})


# --- fleets and ground truth ---------------------------------------------------------------------


def lognormal_fleet(servers: int, seed: int) -> tuple[ServerSpec, ...]:
    """``servers`` Ready servers whose exports take the seeded log-normal durations."""
    return make_fleet(
        servers,
        seed=seed,
        subscription=SUBSCRIPTION,
        duration_sampler=lognormal_sampler(),
        stopped_fraction=0.0,
    )


def short_fleet(servers: int, seed: int) -> tuple[ServerSpec, ...]:
    """``servers`` Ready servers whose exports end before the first poll (1-5 s)."""
    return make_fleet(
        servers,
        seed=seed,
        subscription=SUBSCRIPTION,
        duration_sampler=short_sampler(1.0, 5.0),
        stopped_fraction=0.0,
    )


def backup_fleet(servers: int, seed: int) -> tuple[ServerSpec, ...]:
    """``lognormal_fleet`` whose on-demand backups take what its exports take (the seeded
    log-normal durations), so scenario 5's bound is scenario 1's kind of bound."""
    return tuple(
        replace(spec, backup_seconds=spec.export_seconds) for spec in lognormal_fleet(servers, seed)
    )


def accepted(exports: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Server name -> its accepted export (duplicate answers are not exports)."""
    return {e["server_name"]: e for e in exports if not e.get("duplicate")}


def service_seconds(export: Mapping[str, Any]) -> float:
    """How long the service worked on an export: accepted (Pending) to ended."""
    return float(export["ends_at"]) - float(export["submitted_at"])


def percentile(values: Sequence[float], share: float) -> float | None:
    """Linear-interpolated percentile (``share`` in 0..1), ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_stats(latencies: Sequence[float]) -> dict[str, float | None]:
    return {
        "latency_p50": percentile(latencies, 0.50),
        "latency_p95": percentile(latencies, 0.95),
        "latency_max": max(latencies) if latencies else None,
        "latency_mean": statistics.fmean(latencies) if latencies else None,
    }


def call_counts(
    counters: Mapping[str, Any],
    exported: int,
    polling_kinds: Sequence[str] = POLLING_KINDS,
    submit_kind: str = SUBMIT_KIND,
) -> dict[str, Any]:
    """Submissions (``posts``: the export's POST, or a backup's PUT) and GETs per exported (or
    backed up) server, and every ARM call (token requests excluded)."""
    requests_by_kind: Mapping[str, int] = counters["requests"]
    gets = sum(requests_by_kind.get(kind, 0) for kind in polling_kinds)
    posts = requests_by_kind.get(submit_kind, 0)
    arm_calls = sum(n for kind, n in requests_by_kind.items() if kind != "identity")
    throttled = sum(counters.get("throttled", {}).values())
    return {
        "posts": posts,
        "gets": gets,
        "posts_per_server": posts / exported if exported else None,
        "gets_per_server": gets / exported if exported else None,
        "arm_calls": arm_calls,
        "throttled": throttled,
        "gets_by_kind": {kind: requests_by_kind.get(kind, 0) for kind in polling_kinds},
    }


def store_stats(stats: StoreStats) -> dict[str, int]:
    return {
        "instances": stats.instances,
        "episodes": stats.episodes,
        "activities_run": stats.activities_run,
        "timers_fired": stats.timers_fired,
        "max_history_length": stats.max_history_length,
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def worker_settings() -> dict[str, int]:
    """The language-worker settings the app under test runs with (read inside ``app_stack``)."""
    return {
        "worker_processes": int(os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT") or 0),
        "threadpool_threads": int(os.environ.get(THREADPOOL_SETTING) or 0),
    }


def _app_outcome(
    stack: AppStack, run: AppRun, to_emulated: Any = None, backups: bool = False
) -> dict[str, Any]:
    """Figures every app scenario reports, from the report and the emulator's ground truth
    (its backups instead of its exports when ``backups``: the last one of each server)."""
    if backups:
        truth: Mapping[str, Mapping[str, Any]] = {b["server_name"]: b for b in stack.emu.backups()}
        kinds: dict[str, Any] = {
            "polling_kinds": BACKUP_POLLING_KINDS,
            "submit_kind": BACKUP_SUBMIT_KIND,
        }
    else:
        truth, kinds = accepted(stack.emu.exports()), {}
    counters = stack.emu.counters()
    known = stack.known_at(run)
    if to_emulated is not None:
        known = {name: to_emulated(at) for name, at in known.items()}
    summary = run.report["summary"]
    first_submit = min((float(e["submitted_at"]) for e in truth.values()), default=0.0)
    end = parse(run.report["endTime"]).timestamp()
    if to_emulated is not None:
        end = to_emulated(end)
    latencies = [
        known[name] - float(export["ends_at"]) for name, export in truth.items() if name in known
    ]
    return {
        "summary": {k: v for k, v in summary.items() if isinstance(v, int)},
        **worker_settings(),
        "exported": len(truth),
        "first_submit": first_submit,
        "makespan": end - first_submit if truth else None,
        "last_export_end": max((float(e["ends_at"]) for e in truth.values()), default=None),
        **latency_stats(latencies),
        "latencies": latencies,
        **call_counts(counters, len(truth), **kinds),
        "durations": [service_seconds(e) for e in truth.values()],
        "wall_seconds": run.wall_seconds,
        **store_stats(stack.host.stats()),
    }


# --- what a run really ran with (the ablation's checks, ``bench.ablation``) ----------------------


def replayed_events(history: Sequence[Mapping[str, Any]]) -> int:
    """History events handed to the SDK over every episode of one execution.

    An episode is given the history so far and its new events (``devhost.replay``:
    ``[*instance.history, *new_events]``); the store keeps those new events, the episode's
    OrchestratorStarted and what it consumed, marked ``IsPlayed``, and the actions the episode
    scheduled after them unmarked. So each OrchestratorStarted at position ``i`` followed by
    ``k`` played events stands for an episode that replayed ``i + k`` events.
    """
    total = 0
    for index, event in enumerate(history):
        if event.get("EventType") == int(EventType.ORCHESTRATOR_STARTED):
            end = index
            while end < len(history) and history[end].get("IsPlayed"):
                end += 1
            total += end
    return total


def _input_of(text: str | None) -> Any:
    """An instance's input as a value: a sub-orchestration's input reaches the store as the JSON
    text of the SDK's own JSON text, a started instance's as JSON once."""
    value: Any = None if text is None else json.loads(text)
    return json.loads(value) if isinstance(value, str) else value


def run_facts(stack: AppStack, run: AppRun) -> dict[str, Any]:
    """What ``run`` really ran with, read from the task hub and from this process.

    The optimisations' settings as the trigger put them in the fleet's job, and as every
    ``export_server`` received them; the orchestrations by name (``export_batch`` only when
    batches are on); the history events replayed (``replayed_events`` over the final execution
    of every instance); and, when the orchestrators ran in this process (no worker processes),
    whether the SDK parsed history timestamps with ``orchestrators.replay_speed``'s parser.
    """
    store = stack.host.store
    fleet = store.get(run.run_id, with_history=False)
    job = (_input_of(fleet.input_text) if fleet is not None else None) or {}
    by_name: Counter[str] = Counter()
    homing: set[bool] = set()
    replayed = 0
    for listed in store.query(prefix=run.run_id):
        by_name[listed.name] += 1
        instance = store.get(listed.instance_id)
        replayed += replayed_events(instance.history if instance is not None else [])
        if listed.name == names.EXPORT_SERVER:
            homing.add(bool(_input_of(listed.input_text)["run"]["poll"]["homing"]))
    in_process = not worker_settings()["worker_processes"]
    return {
        "job_batch_max_servers": job.get("batchMaxServers"),
        "job_poll_homing": (job.get("poll") or {}).get("homing"),
        "server_poll_homing": sorted(homing),
        "orchestrations": dict(sorted(by_name.items())),
        "replayed_events": replayed,
        "parser_installed": replay_speed.installed() if in_process else None,
    }


# --- 1. makespan against the lower bound ----------------------------------------------------------


def makespan(servers: int, concurrency: int, seed: int, facts: bool = False) -> dict[str, Any]:
    """The app exports a log-normal fleet on a virtual clock (``facts``: add ``run_facts``)."""
    fleet = lognormal_fleet(servers, seed)
    clock = SharedClock(VIRTUAL_START)
    with app_stack(fleet, emulator_clock=clock, host_clock=clock, seed=seed) as stack:
        cpu = _cpu_seconds()
        run = stack.run(export_body(concurrency), timeout=3600)
        cpu = _cpu_seconds() - cpu
        outcome = _app_outcome(stack, run)
        if facts:
            outcome.update(run_facts(stack, run))
    return {"servers": servers, "seed": seed, **_against_bound(outcome, concurrency, cpu)}


def _against_bound(outcome: dict[str, Any], concurrency: int, cpu: float) -> dict[str, Any]:
    """A makespan run's figures against the lower bound (``outcome``'s ``durations`` spent on
    it), with the host's CPU and the rest of ``outcome``: the keys ``bench.report`` reads for
    scenario 1 and for scenario 5, where an "export" is a backup."""
    durations = outcome.pop("durations")
    bound = lower_bound(durations, concurrency)
    ideal = (outcome["last_export_end"] or 0.0) - outcome["first_submit"]
    return {
        "concurrency": concurrency,
        "lower_bound": bound,
        "longest_export": max(durations, default=0.0),
        "sum_over_concurrency": sum(durations) / concurrency,
        "ratio": outcome["makespan"] / bound if bound and outcome["makespan"] else None,
        "last_export_end_ratio": ideal / bound if bound else None,
        "host_cpu_seconds": cpu,
        **outcome,
    }


# --- 5. makespan against the lower bound, for on-demand backups ----------------------------------


def backup_makespan(
    servers: int, concurrency: int, seed: int, answer: str = "location"
) -> dict[str, Any]:
    """Scenario 1 for a backup run: the app backs up ``backup_fleet`` on a virtual clock, the
    emulator answering each PUT as ``answer`` (``armemulator.BackupAnswer``) says."""
    from armemulator import BackupAnswer  # noqa: PLC0415 - only this scenario names it

    fleet = backup_fleet(servers, seed)
    clock = SharedClock(VIRTUAL_START)
    with app_stack(
        fleet, emulator_clock=clock, host_clock=clock, seed=seed, backup_answer=BackupAnswer(answer)
    ) as stack:
        cpu = _cpu_seconds()
        run = stack.run(backup_body(concurrency), timeout=3600)
        cpu = _cpu_seconds() - cpu
        outcome = _app_outcome(stack, run, backups=True)
        replaced = len(stack.emu.backups()) - outcome["exported"]
    return {
        "servers": servers,
        "seed": seed,
        "answer": answer,
        "backups_replaced": replaced,
        **_against_bound(outcome, concurrency, cpu),
    }


# --- 2. the peers, side by side on a time-scaled clock --------------------------------------------


def scaled_clock(scale: float) -> ScaledClock:
    """An emulator clock running ``scale`` times real time from now."""
    return ScaledClock(scale, start=time.time())


class RealTimeOf:
    """The host's clock for a run against a time-scaled emulator: real seconds, derived from the
    emulator's clock so an instant converts exactly (``emulated``) without wall-clock drift."""

    def __init__(self, scaled: ScaledClock) -> None:
        self._scaled = scaled
        self._start = scaled.now()

    def now(self) -> float:
        return self._start + (self._scaled.now() - self._start) / self._scaled.scale

    def emulated(self, real: float) -> float:
        return self._start + (real - self._start) * self._scaled.scale


def scaled_settings(scale: float) -> dict[str, str]:
    """The app's own waits, scaled like the emulator's clock: the app lives in real time there,
    where Retry-After arrives as real milliseconds, so its defaults must shrink by ``scale``."""
    return {
        "POLL_DEFAULT_SECONDS": f"{max(1.0, 30.0 / scale):g}",
        "POLL_MAX_SECONDS": f"{max(1.0, 300.0 / scale):g}",
    }


#: The peer scenario runs the app as the Functions host runs a Python app: the orchestrator code
#: in language-worker processes beside the host, one per core (``devhost.workers``; Microsoft's
#: Python guidance sets FUNCTIONS_WORKER_PROCESS_COUNT to the core count). The virtual-clock
#: scenarios keep it in the host's process, so their CPU and RSS are one process's.
PEER_WORKER_PROCESSES = 2


@contextmanager
def peer_app_stack(
    servers: int, seed: int, scale: float, workers: int = PEER_WORKER_PROCESSES
) -> Iterator[tuple[AppStack, RealTimeOf]]:
    """The app on devhost against a time-scaled emulator over TLS, and the host's clock."""
    fleet = lognormal_fleet(servers, seed)
    emulated = scaled_clock(scale)
    host_clock = RealTimeOf(emulated)
    settings = {**scaled_settings(scale), "FUNCTIONS_WORKER_PROCESS_COUNT": str(workers or "")}
    with (
        tls_files() as tls,
        app_stack(
            fleet,
            emulator_clock=emulated,
            host_clock=host_clock,
            settings=settings,
            tls=tls,
            seed=seed,
        ) as stack,
    ):
        yield stack, host_clock


def run_watched(stack: AppStack, concurrency: int) -> AppRun:
    """Start the export and follow it. The makespan comes from the report's endTime and
    detection from the store, not from this poll, so the watching client asks once a second:
    it shares the host's process (and its GIL) here, which a user's client never does."""
    return stack.run(export_body(concurrency), timeout=3600, poll=1.0)


def peer_app(
    servers: int, concurrency: int, seed: int, scale: float, facts: bool = False
) -> dict[str, Any]:
    """(a) this app, through devhost on a real-time clock, over TLS like the SDK peers
    (``facts``: add ``run_facts``)."""
    with peer_app_stack(servers, seed, scale) as (stack, host_clock):
        run = run_watched(stack, concurrency)
        outcome = _app_outcome(stack, run, to_emulated=host_clock.emulated)
        if facts:
            outcome.update(run_facts(stack, run))
    outcome.pop("durations")
    return {"peer": "app", "servers": servers, "concurrency": concurrency, "seed": seed,
            "scale": scale, **outcome}  # fmt: skip


def _peer_outcome(
    calls: Sequence[Any], exports: Sequence[Mapping[str, Any]], counters: Mapping[str, Any]
) -> dict[str, Any]:
    truth = accepted(exports)
    latencies = [c.known_at - float(truth[c.server]["ends_at"]) for c in calls if c.server in truth]
    first_submit = min((float(e["submitted_at"]) for e in truth.values()), default=0.0)
    last_known = max((c.known_at for c in calls), default=first_submit)
    return {
        "summary": {
            "total": len(calls),
            "succeeded": sum(1 for c in calls if c.succeeded),
            "failed": sum(1 for c in calls if not c.succeeded),
        },
        "exported": len(truth),
        "makespan": last_known - first_submit,
        **latency_stats(latencies),
        "latencies": latencies,
        **call_counts(counters, len(truth)),
        "service_seconds": sum(service_seconds(e) for e in truth.values()),
    }


def _listed_order(fleet: Sequence[ServerSpec]) -> list[ServerSpec]:
    """The order ARM lists the servers in (what a script iterating the list sees)."""
    return sorted(fleet, key=lambda s: s.resource_id.lower())


def _sdk_environment(emu: Any, ca_bundle: str) -> dict[str, str]:
    """What the SDK peers need: the emulator's managed identity endpoint and its TLS CA."""
    return {
        "IDENTITY_ENDPOINT": emu.token_endpoint,
        "IDENTITY_HEADER": emu.identity_header,
        "REQUESTS_CA_BUNDLE": ca_bundle,
    }


def peer_sdk_pool(servers: int, concurrency: int, seed: int, scale: float) -> dict[str, Any]:
    """(b) the official SDK: ``begin_create(...).result()`` in a ``ThreadPoolExecutor``."""
    from bench.emuproc import EmulatorProcess, emulator_config  # noqa: PLC0415
    from devhost.config import app_settings  # noqa: PLC0415

    fleet = lognormal_fleet(servers, seed)
    clock = scaled_clock(scale)
    with tls_files() as tls:
        config = emulator_config(
            fleet, clock, seed=seed, tls_cert=str(tls.cert), tls_key=str(tls.key)
        )
        with EmulatorProcess(config, str(tls.ca_bundle)) as emu:
            with app_settings(_sdk_environment(emu, str(tls.ca_bundle))):
                started, cpu = time.monotonic(), _cpu_seconds()
                calls = sdk_thread_pool(
                    emu.url,
                    subscription=SUBSCRIPTION,
                    servers=_listed_order(fleet),
                    concurrency=concurrency,
                    clock=clock,
                    sas=SAS,
                )
                wall, cpu = time.monotonic() - started, _cpu_seconds() - cpu
            outcome = _peer_outcome(calls, emu.exports(), emu.counters())
    return {"peer": "sdk_pool", "servers": servers, "concurrency": concurrency, "seed": seed,
            "scale": scale, "wall_seconds": wall, "client_cpu_seconds": cpu,
            **outcome}  # fmt: skip


def peer_sdk_sequential(
    servers: int, seed: int, scale: float, budget_seconds: float
) -> dict[str, Any]:
    """(c) the SDK one server after the other, for at most ``budget_seconds`` of real time.

    When the budget ends before the fleet does, the makespan is extrapolated: the measured
    per-server overhead (time beyond the service's own work) added to the whole fleet's
    service time, and labelled as such.
    """
    from bench.emuproc import EmulatorProcess, emulator_config  # noqa: PLC0415
    from devhost.config import app_settings  # noqa: PLC0415

    fleet = lognormal_fleet(servers, seed)
    order = _listed_order(fleet)
    clock = scaled_clock(scale)
    with tls_files() as tls:
        config = emulator_config(
            fleet, clock, seed=seed, tls_cert=str(tls.cert), tls_key=str(tls.key)
        )
        with EmulatorProcess(config, str(tls.ca_bundle)) as emu:
            with app_settings(_sdk_environment(emu, str(tls.ca_bundle))):
                started = time.monotonic()
                calls = sdk_sequential(
                    emu.url,
                    subscription=SUBSCRIPTION,
                    servers=order,
                    clock=clock,
                    sas=SAS,
                    keep_going=real_time_deadline(budget_seconds),
                )
                wall = time.monotonic() - started
            outcome = _peer_outcome(calls, emu.exports(), emu.counters())
    measured = len(calls)
    result: dict[str, Any] = {
        "peer": "sdk_sequential",
        "servers": servers,
        "seed": seed,
        "scale": scale,
        "concurrency": 1,
        "measured_servers": measured,
        "wall_seconds": wall,
        **outcome,
    }
    if 0 < measured < servers:
        # The fleet's own work is known (seeded); the caller's overhead per server is measured.
        pending = config.pending_seconds  # every export is Pending this long first
        whole = sum((s.export_seconds or 0.0) + pending for s in order)
        overhead = (outcome["makespan"] - outcome["service_seconds"]) / measured
        result["measured_makespan"] = outcome["makespan"]
        result["makespan"] = whole + overhead * servers
        result["extrapolated"] = True
    return result


# --- 3. orchestration cost as the fleet grows -----------------------------------------------------


def cost(servers: int, concurrency: int, seed: int, facts: bool = False) -> dict[str, Any]:
    """CPU and memory of the process hosting the app (run this in a fresh process); with
    ``facts``, ``run_facts`` read after every figure (peak RSS included) is taken."""
    fleet = short_fleet(servers, seed)
    clock = SharedClock(VIRTUAL_START)
    with app_stack(fleet, emulator_clock=clock, host_clock=clock, seed=seed) as stack:
        cpu = _cpu_seconds()
        started = time.monotonic()
        run = stack.run(export_body(concurrency), timeout=7200)
        wall = time.monotonic() - started
        cpu = _cpu_seconds() - cpu
        stats = store_stats(stack.host.stats())
        summary = run.report["summary"]
        settings = worker_settings()
        peak_rss = _peak_rss_mb()
        checked = run_facts(stack, run) if facts else {}
    return {
        "servers": servers,
        "concurrency": concurrency,
        **settings,
        "host_cpu_seconds": cpu,
        "cpu_per_server_ms": 1000.0 * cpu / servers,
        "peak_rss_mb": peak_rss,
        "wall_seconds": wall,
        "succeeded": summary.get("succeeded"),
        **stats,
        **checked,
    }


# --- 4. throttling -------------------------------------------------------------------------------


def throttling(servers: int, concurrency: int, seed: int) -> dict[str, Any]:
    """The app against ARM's per-subscription token buckets (the emulator's default)."""
    fleet = lognormal_fleet(servers, seed)
    clock = SharedClock(VIRTUAL_START)
    with app_stack(fleet, emulator_clock=clock, host_clock=clock, seed=seed) as stack:
        run = stack.run(export_body(concurrency), timeout=3600)
        counters = stack.emu.counters()
        truth = accepted(stack.emu.exports())
    rows = run.report["servers"]
    by_throttling = [
        row
        for row in rows
        if row["status"] != "Succeeded"
        and ((row.get("error") or {}).get("code") in THROTTLED_CODES)
    ]
    counts = call_counts(counters, len(truth))
    return {
        "servers": servers,
        "concurrency": concurrency,
        "summary": {k: v for k, v in run.report["summary"].items() if isinstance(v, int)},
        "failed_by_throttling": len(by_throttling),
        "throttled_share": counts["throttled"] / counts["arm_calls"] if counts["arm_calls"] else 0,
        "throttled_by_kind": counters.get("throttled", {}),
        "wall_seconds": run.wall_seconds,
        **counts,
    }


SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "makespan": makespan,
    "peer_app": peer_app,
    "peer_sdk_pool": peer_sdk_pool,
    "peer_sdk_sequential": peer_sdk_sequential,
    "cost": cost,
    "throttling": throttling,
    "backup_makespan": backup_makespan,
}

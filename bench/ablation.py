"""``make bench-ablate``: what each optimisation buys, measured with it on and with it off.

    python -m bench --ablate                  # the sizes below, 3 repetitions (about 13 minutes)
    python -m bench --ablate --quick          # tiny sizes, one repetition: the machinery only
    python -m bench --ablate --optimisations batches,parser --repeats 5

Three optimisations each have an app setting that turns them off:

* **batches** (``BATCH_MAX_SERVERS=1``, default 4; ``orchestrators/batch.py``): small servers of a
  narrow window exported back to back in one ``export_batch``, so the shard replays one
  completion per batch. Shown by scenario 3 (orchestration cost, short exports).
* **parser** (``FAST_HISTORY_TIMESTAMPS=false``, default on; ``orchestrators/replay_speed.py``):
  the SDK's history timestamps parsed by ``fromisoformat`` instead of dateutil. Scenario 3.
* **homing** (``POLL_HOMING=false``, default true; ``mysqlexport/lro.py``'s ``ByteProgress``):
  polls aimed at the end estimated from the bytes moved. Shown by scenario 1 (detection latency
  on the virtual clock) and scenario 2's app run (the same on the time-scaled clock).

Each run is one ``bench.worker`` process with the three settings in its environment from the
start (the "on" runs set them empty, i.e. the app's defaults; an "off" run turns exactly one
off). The parser is installed when ``orchestrators`` is imported, so a setting applied later (by
``devhost.config.app_settings`` around a ``DevHost`` in a process that has already imported the
orchestrators) would not reach it; in a process's environment it does, in devhost's own process
and in the worker processes it spawns alike.

The runs are interleaved: repetition ``i`` runs every variant of every scenario once on the
fleet of seed ``2026 + i``, the on run and the off runs side by side, in an order that reverses
every repetition (on, off, ... then ..., off, on), so a machine load that comes and goes, or
rises steadily, falls on both alike. Every run reports what it really ran with
(``bench.scenarios.run_facts``: the settings its job carried, its orchestrations by name, whether
the parser was installed); ``checks`` fails the ablation when an "off" run did not run off.

The verdict, per figure (every figure here is better lower): **earns its place** when every run
with the optimisation beats every run without it (the worst "on" value is below the best "off"
value: the difference is larger than the spread of the repetitions, which is the noise); **worse
with it** when the reverse holds; otherwise **below the noise**. With 3 runs each, 3 "on" runs all
below 3 "off" runs happen by chance 1 time in 20 (1 / C(6, 3)) when the optimisation changes
nothing. Fewer than 3 runs a side give no verdict. An optimisation's verdict is that of its
deciding figure (marked ``*``). Results go to ``bench/results-ablate.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.jobs import APP_SETTINGS, ROOT, Job, Runner
from bench.report import Spread

DEFAULT_OUT = ROOT / "bench" / "results-ablate.json"
#: Fewer runs a side than this give no verdict (3 against 3: 1 in 20 by chance).
MIN_RUNS = 3
MAX_REPEATS = 9
SEED = 2026


@dataclass(frozen=True)
class Optimisation:
    """One optimisation: its app setting and the value that turns it off."""

    name: str
    setting: str
    off: str
    default: str
    where: str


BATCHES = Optimisation("batches", "BATCH_MAX_SERVERS", "1", "4", "orchestrators/batch.py")
PARSER = Optimisation(
    "parser", "FAST_HISTORY_TIMESTAMPS", "false", "on", "orchestrators/replay_speed.py"
)
HOMING = Optimisation("homing", "POLL_HOMING", "false", "true", "mysqlexport/lro.py ByteProgress")
OPTIMISATIONS = (BATCHES, PARSER, HOMING)
SETTINGS = tuple(o.setting for o in OPTIMISATIONS)


@dataclass(frozen=True)
class Figure:
    """One figure of a run's result, lower is better."""

    label: str
    read: Callable[[Mapping[str, Any]], float | None]
    digits: int = 1
    unit: str = ""


def _per_server(key: str, factor: float = 1.0) -> Callable[[Mapping[str, Any]], float | None]:
    def read(result: Mapping[str, Any]) -> float | None:
        value = result.get(key)
        return None if value is None else factor * float(value) / int(result["servers"])

    return read


def _key(key: str) -> Callable[[Mapping[str, Any]], float | None]:
    def read(result: Mapping[str, Any]) -> float | None:
        value = result.get(key)
        return None if value is None else float(value)

    return read


CPU_PER_SERVER = Figure("CPU per server", _key("cpu_per_server_ms"), 1, " ms")
WALL_PER_SERVER = Figure("wall time per server", _per_server("wall_seconds", 1000.0), 1, " ms")
REPLAYED = Figure("history events replayed per server", _per_server("replayed_events"), 0)
EPISODES = Figure("episodes per server", _per_server("episodes"), 2)
LARGEST_HISTORY = Figure("largest history", _key("max_history_length"), 0, " events")
LATENCY_P50 = Figure("detection latency p50", _key("latency_p50"), 1, " s")
LATENCY_P95 = Figure("detection latency p95", _key("latency_p95"), 1, " s")
GETS = Figure("GETs per server", _key("gets_per_server"), 2)
MAKESPAN_RATIO = Figure("makespan / lower bound", _key("ratio"), 4)
MAKESPAN_HOURS = Figure("makespan", lambda r: _hours(r.get("makespan")), 3, " h")


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else float(seconds) / 3600.0


@dataclass(frozen=True)
class Ablation:
    """One optimisation in one scenario: the figures shown and the one that decides."""

    optimisation: Optimisation
    group: str
    figures: tuple[Figure, ...]
    #: The figure of ``figures`` whose verdict is the optimisation's (None: supporting only).
    deciding: Figure | None


ABLATIONS = (
    Ablation(BATCHES, "cost",
             (CPU_PER_SERVER, WALL_PER_SERVER, REPLAYED, EPISODES, LARGEST_HISTORY),
             CPU_PER_SERVER),
    Ablation(PARSER, "cost", (CPU_PER_SERVER, WALL_PER_SERVER), CPU_PER_SERVER),
    Ablation(HOMING, "makespan", (LATENCY_P50, LATENCY_P95, GETS, EPISODES, MAKESPAN_RATIO),
             LATENCY_P95),
    Ablation(HOMING, "peers", (LATENCY_P50, LATENCY_P95, GETS, MAKESPAN_HOURS), None),
)  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """Sizes of one ablation run."""

    cost: tuple[int, int]  # servers, maxConcurrency (scenario 3)
    makespan: tuple[int, int]  # servers, maxConcurrency (scenario 1)
    peers: tuple[int, int]  # servers, concurrency (scenario 2, the app's run)
    peer_scale: float
    repeats: int


#: Scenario 3 at 1,000 servers and concurrency 20 runs 2 shards of 500 servers with windows of
#: 10, the shards of ``make bench``'s 10,000 servers at concurrency 200 (20 of them), where
#: batches matter; at 10,000 one run without batches would take over 10 minutes here. Scenario 1
#: at 200 servers (concurrency 10): 200 detection latencies. Scenario 2 as one repetition of
#: ``make bench`` (50 servers, concurrency 20, x150, the same seeds).
FULL = Plan(cost=(1000, 20), makespan=(200, 10), peers=(50, 20), peer_scale=150.0, repeats=3)
#: The machinery at tiny sizes (a batch needs 40 servers a window slot).
QUICK = Plan(cost=(40, 1), makespan=(6, 2), peers=(4, 2), peer_scale=2000.0, repeats=1)
GROUPS = ("cost", "makespan", "peers")


def variants(group: str, chosen: Sequence[Optimisation]) -> list[tuple[str, dict[str, str]]]:
    """(variant, settings) of ``group``: ``on`` (every setting empty: the app's defaults), then
    one ``<name> off`` per chosen optimisation that this group shows."""
    on = dict.fromkeys(SETTINGS, "")
    shown = [a.optimisation for a in ABLATIONS if a.group == group and a.optimisation in chosen]
    unique = list(dict.fromkeys(shown))
    return [("on", on)] + [(f"{o.name} off", {**on, o.setting: o.off}) for o in unique]


def _arguments(plan: Plan, group: str, seed: int) -> tuple[str, dict[str, Any]]:
    if group == "cost":
        servers, concurrency = plan.cost
        return "cost", {"servers": servers, "concurrency": concurrency, "seed": seed}
    if group == "makespan":
        servers, concurrency = plan.makespan
        return "makespan", {"servers": servers, "concurrency": concurrency, "seed": seed}
    servers, concurrency = plan.peers
    arguments = {"servers": servers, "concurrency": concurrency, "seed": seed}
    return "peer_app", {**arguments, "scale": plan.peer_scale}


def job_key(group: str, variant: str, repetition: int) -> str:
    return f"{group}:{variant.replace(' ', '-')}:{repetition}"


def jobs(plan: Plan, chosen: Sequence[Optimisation]) -> list[Job]:
    """Every run, in the order they run: repetition by repetition, each scenario's variants side
    by side, the order reversed in every other repetition."""
    groups = [
        g for g in GROUPS if any(a.group == g and a.optimisation in chosen for a in ABLATIONS)
    ]
    ordered: list[Job] = []
    for index in range(plan.repeats):
        repetition = index + 1
        round_jobs: list[Job] = []
        for group in groups:
            scenario, arguments = _arguments(plan, group, SEED + index)
            arguments["facts"] = True
            for variant, settings in variants(group, chosen):
                key = job_key(group, variant, repetition)
                round_jobs.append(Job(key, scenario, dict(arguments), settings))
        ordered.extend(round_jobs if index % 2 == 0 else reversed(round_jobs))
    return ordered


# --- verdicts ------------------------------------------------------------------------------------

EARNS = "earns its place"
NOISE = "below the noise"
WORSE = "worse with it"
TOO_FEW = "too few runs"


def verdict(on: Sequence[float], off: Sequence[float]) -> str:
    """``EARNS`` when every "on" value is below every "off" value (lower is better), ``WORSE``
    when every one is above, ``NOISE`` when the ranges touch or overlap; ``TOO_FEW`` with fewer
    than ``MIN_RUNS`` values a side."""
    if min(len(on), len(off)) < MIN_RUNS:
        return TOO_FEW
    if max(on) < min(off):
        return EARNS
    if min(on) > max(off):
        return WORSE
    return NOISE


@dataclass(frozen=True)
class Line:
    """One figure of one ablation: its values with the optimisation on and off."""

    optimisation: str
    group: str
    figure: str
    unit: str
    digits: int
    on: tuple[float, ...]
    off: tuple[float, ...]
    deciding: bool

    @property
    def ratio(self) -> float | None:
        """Median off / median on: how many times the figure grows without the optimisation."""
        if not self.on or not self.off or statistics.median(self.on) == 0:
            return None
        return statistics.median(self.off) / statistics.median(self.on)

    @property
    def verdict(self) -> str:
        return verdict(self.on, self.off)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "verdict": self.verdict}


def _values(results: Mapping[str, Any], keys: Sequence[str], figure: Figure) -> tuple[float, ...]:
    found = (figure.read(results[k]) for k in keys if k in results)
    return tuple(v for v in found if v is not None)


def lines(results: Mapping[str, Any], plan: Plan, chosen: Sequence[Optimisation]) -> list[Line]:
    """The table's lines from the runs' results (keyed by ``job_key``)."""
    out: list[Line] = []
    repetitions = range(1, plan.repeats + 1)
    for ablation in ABLATIONS:
        if ablation.optimisation not in chosen:
            continue
        off_variant = f"{ablation.optimisation.name} off"
        on_keys = [job_key(ablation.group, "on", i) for i in repetitions]
        off_keys = [job_key(ablation.group, off_variant, i) for i in repetitions]
        for figure in ablation.figures:
            out.append(
                Line(
                    ablation.optimisation.name,
                    ablation.group,
                    figure.label,
                    figure.unit,
                    figure.digits,
                    _values(results, on_keys, figure),
                    _values(results, off_keys, figure),
                    figure is ablation.deciding,
                )
            )
    return out


def verdicts(table_lines: Sequence[Line]) -> dict[str, str]:
    """Each optimisation's verdict: that of its deciding figure."""
    return {line.optimisation: line.verdict for line in table_lines if line.deciding}


# --- what the runs really ran with ----------------------------------------------------------------


def run_problems(key: str, result: Mapping[str, Any]) -> list[str]:
    """Why run ``key`` did not run as its variant says (empty when it did): every server
    exported, and each optimisation on or off as asked, judged from what the run reports."""
    _group, variant, _ = key.split(":")
    off = {o.name for o in OPTIMISATIONS if variant == f"{o.name}-off"}
    problems: list[str] = []
    succeeded = result.get("summary", {}).get("succeeded", result.get("succeeded"))
    if succeeded != result.get("servers"):
        problems.append(f"{succeeded} of {result.get('servers')} servers succeeded")
    batches = result.get("orchestrations", {}).get("export_batch", 0)
    if "batches" in off and (batches or result.get("job_batch_max_servers") != 1):
        problems.append(f"batches off but {batches} export_batch instances")
    if "batches" not in off and result.get("job_batch_max_servers") == 1:
        problems.append("batches on but the job says BATCH_MAX_SERVERS 1")
    homing = result.get("server_poll_homing")
    if homing != ["homing" not in off] or result.get("job_poll_homing") is not (
        "homing" not in off
    ):
        problems.append(f"homing {'off' if 'homing' in off else 'on'} but the servers had {homing}")
    installed = result.get("parser_installed")
    if installed is not None and installed is ("parser" in off):
        problems.append(f"parser {'off' if 'parser' in off else 'on'} but installed={installed}")
    return problems


def checks(results: Mapping[str, Any]) -> dict[str, list[str]]:
    """``run_problems`` of every run that has any."""
    found = {key: run_problems(key, result) for key, result in results.items()}
    return {key: problems for key, problems in found.items() if problems}


# --- the table -----------------------------------------------------------------------------------


def _scenario_title(group: str, plan: Plan) -> str:
    if group == "cost":
        servers, concurrency = plan.cost
        return f"scenario 3, cost: {servers:,} servers, concurrency {concurrency}, short exports"
    if group == "makespan":
        servers, concurrency = plan.makespan
        return (
            f"scenario 1, makespan: {servers:,} servers, concurrency {concurrency}, virtual clock"
        )
    servers, concurrency = plan.peers
    return (
        f"scenario 2, the app's run: {servers:,} servers, concurrency {concurrency}, "
        f"clock x{plan.peer_scale:g}"
    )


def _spread(values: Sequence[float], line: Line) -> str:
    return Spread(tuple(values)).text(line.digits, line.unit)


def table(table_lines: Sequence[Line], plan: Plan) -> str:
    """The ablation table: per optimisation and scenario, each figure on and off."""
    by_name = {o.name: o for o in OPTIMISATIONS}
    header = ("figure", "on: median (min-max)", "off: median (min-max)", "off/on", "verdict")
    cells = [
        (
            ("* " if line.deciding else "  ") + line.figure,
            _spread(line.on, line),
            _spread(line.off, line),
            "n/a" if line.ratio is None else f"{line.ratio:.2f}",
            line.verdict,
        )
        for line in table_lines
    ]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]

    def render(row: Sequence[str]) -> str:
        return "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))

    out: list[str] = []
    current = None
    for line, row in zip(table_lines, cells, strict=True):
        if (line.optimisation, line.group) != current:
            current = (line.optimisation, line.group)
            optimisation = by_name[line.optimisation]
            out += [
                "",
                f"{line.optimisation} ({optimisation.setting}={optimisation.off} against "
                f"{optimisation.default}) - {_scenario_title(line.group, plan)}, "
                f"{plan.repeats} repetition{'s' if plan.repeats != 1 else ''}",
                render(header).rstrip(),
            ]
        out.append(render(row).rstrip())
    decided = verdicts(table_lines)
    out += ["", "verdicts (the figure marked *):"]
    out += [f"  {name}: {decided[name]}" for name in by_name if name in decided]
    return "\n".join(out).lstrip("\n")


def load_summary(load: Mapping[str, tuple[float, float]]) -> dict[str, float]:
    """The machine's 1-minute load average over the run (at every job's start and end)."""
    values = [value for pair in load.values() for value in pair]
    if not values:
        return {}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


# --- the command ---------------------------------------------------------------------------------


def chosen_optimisations(names: str) -> list[Optimisation]:
    wanted = {name.strip() for name in names.split(",") if name.strip()}
    unknown = wanted - {o.name for o in OPTIMISATIONS}
    if unknown:
        raise ValueError(f"unknown optimisations: {', '.join(sorted(unknown))}")
    return [o for o in OPTIMISATIONS if o.name in wanted]


def run(plan: Plan, chosen: Sequence[Optimisation], folder: Path) -> Runner:
    """Run every job of the ablation one at a time (nothing of ours shares the CPU with a run)."""
    runner = Runner(folder)
    runner.run_pooled(jobs(plan, chosen), 1)
    return runner


def main(
    argv: Sequence[str] | None = None, revision: Callable[[], str | None] = lambda: None
) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench --ablate", description=__doc__)
    parser.add_argument("--ablate", action="store_true", help="(this mode)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repetition")
    parser.add_argument(
        "--optimisations",
        default=",".join(o.name for o in OPTIMISATIONS),
        help="comma-separated subset of batches, parser, homing",
    )
    parser.add_argument("--repeats", type=int, default=None, help=f"1-{MAX_REPEATS} (full: 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    try:
        chosen = chosen_optimisations(args.optimisations)
    except ValueError as err:
        parser.error(str(err))
    plan = QUICK if args.quick else FULL
    if args.repeats is not None:
        if not 1 <= args.repeats <= MAX_REPEATS:
            parser.error(f"--repeats must be 1-{MAX_REPEATS}")
        plan = Plan(plan.cost, plan.makespan, plan.peers, plan.peer_scale, args.repeats)

    measured = revision()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-ablate-") as folder:
        runner = run(plan, chosen, Path(folder))
    total = time.monotonic() - started

    table_lines = lines(runner.results, plan, chosen)
    found = checks(runner.results)
    load = load_summary(runner.load)
    print(table(table_lines, plan))
    print(
        f"\ntotal {total:.0f} s on {os.cpu_count()} CPUs ({'quick' if args.quick else 'full'}); "
        f"load average (1 min) at the runs' starts and ends: median {load.get('median', 0):.1f}, "
        f"{load.get('min', 0):.1f}-{load.get('max', 0):.1f}"
    )
    for key, problems in found.items():
        print(f"\nCHECK FAILED {key}: {'; '.join(problems)}")
    for key, why in runner.failures.items():
        print(f"\n{key} FAILED:\n{why}")
    document = {
        "plan": {"name": "quick" if args.quick else "full", **asdict(plan)},
        "optimisations": [asdict(o) for o in chosen],
        "verdict_rule": "earns its place when max(on) < min(off), worse with it when "
        "min(on) > max(off), else below the noise; lower is better for every figure; "
        f"at least {MIN_RUNS} runs a side",
        "revision": measured,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        # what every run inherits from this environment (the three switches it sets itself)
        "app_settings": {
            name: os.environ.get(name) for name in APP_SETTINGS if name not in SETTINGS
        },
        "order": [job.key for job in jobs(plan, chosen)],
        "total_seconds": total,
        "seconds": runner.seconds,
        "load_average": runner.load,
        "load_summary": load,
        "lines": [line.as_dict() for line in table_lines],
        "verdicts": verdicts(table_lines),
        "checks": found,
        "results": runner.results,
        "failures": runner.failures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2), encoding="utf-8")
    print(f"written {args.out}")
    return 1 if runner.failures or found else 0


if __name__ == "__main__":
    sys.exit(main())

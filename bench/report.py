"""The figures against issue 4's targets: rows for the table and for ``bench/results.json``.

A row is one figure: what was measured, its value, the target when the issue sets one, and
whether the value meets it (``None`` = no target, a figure for context).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

HOUR = 3600.0


@dataclass(frozen=True)
class Row:
    scenario: str
    metric: str
    value: str
    target: str = ""
    ok: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 100):
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def _check(value: float | None, test: Callable[[float], bool]) -> bool | None:
    return None if value is None else bool(test(value))


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def makespan_rows(r: Mapping[str, Any]) -> list[Row]:
    name = f"1. makespan ({r['servers']:,} servers, concurrency {r['concurrency']})"
    summary = r.get("summary", {})
    return [
        Row(name, "makespan / lower bound", _num(r["ratio"], 3), "<= 1.03",
            _check(r["ratio"], lambda v: v <= 1.03)),
        Row(name, "makespan (first submit -> report endTime)",
            f"{_num(r['makespan'] / HOUR)} h"),
        Row(name, "lower bound = max(longest, sum/concurrency)",
            f"{_num(r['lower_bound'] / HOUR)} h = max({_num(r['longest_export'] / HOUR)}, "
            f"{_num(r['sum_over_concurrency'] / HOUR)}) h"),
        Row(name, "last export end / lower bound (ideal detection)",
            _num(r["last_export_end_ratio"], 3)),
        Row(name, "servers succeeded", f"{summary.get('succeeded', 0):,} / {r['servers']:,}", "all",
            summary.get("succeeded") == r["servers"]),
        Row(name, "POSTs / GETs per server",
            f"{_num(r['posts_per_server'])} / {_num(r['gets_per_server'])}"),
        Row(name, "detection latency p50 / p95",
            f"{_num(r['latency_p50'], 1)} / {_num(r['latency_p95'], 1)} s"),
        Row(name, "host CPU, episodes, largest history",
            f"{_num(r['host_cpu_seconds'], 1)} s, {r['episodes']:,}, "
            f"{r['max_history_length']:,} events"),
    ]  # fmt: skip


PEER_LABELS = {"app": "app (devhost)", "sdk_pool": "SDK thread pool", "sdk_sequential": "SDK loop"}


def peer_rows(peers: Mapping[str, Mapping[str, Any]], scale: float) -> list[Row]:
    app, pool, seq = peers.get("app"), peers.get("sdk_pool"), peers.get("sdk_sequential")
    any_peer = app or pool or seq or {}
    name = (
        f"2. peers ({any_peer.get('servers', 0):,} servers, concurrency "
        f"{any_peer.get('concurrency', 0)}, clock x{scale:g})"
    )
    rows: list[Row] = []
    for key, label in PEER_LABELS.items():
        p = peers.get(key)
        if p is None:
            continue
        note = " (extrapolated)" if p.get("extrapolated") else ""
        rows.append(Row(name, f"{label}: makespan", f"{_num(p['makespan'] / HOUR)} h{note}"))
        if p.get("extrapolated"):
            rows.append(
                Row(name, f"{label}: servers measured (the rest extrapolated)",
                    f"{p['measured_servers']} of {p['servers']}")
            )  # fmt: skip
        rows.append(
            Row(name, f"{label}: POSTs / GETs per server",
                f"{_num(p['posts_per_server'])} / {_num(p['gets_per_server'])}")
        )  # fmt: skip
        rows.append(
            Row(name, f"{label}: detection latency p50 / p95",
                f"{_num(p['latency_p50'], 1)} / {_num(p['latency_p95'], 1)} s")
        )  # fmt: skip
        failed = p.get("summary", {}).get("failed", 0)
        if failed:
            rows.append(Row(name, f"{label}: failed exports", str(failed)))
    if app and pool:
        gets = _ratio(app["gets_per_server"], pool["gets_per_server"])
        rows.append(Row(name, "GETs per server, app / SDK pool", _num(gets, 3), "<= 0.5",
                        _check(gets, lambda v: v <= 0.5)))  # fmt: skip
        p95 = _ratio(app["latency_p95"], pool["latency_p95"])
        rows.append(Row(name, "detection latency p95, app / SDK pool", _num(p95, 3), "<= 1",
                        _check(p95, lambda v: v <= 1.0)))  # fmt: skip
        span = _ratio(app["makespan"], pool["makespan"])
        rows.append(Row(name, "makespan, app / SDK pool", _num(span, 3), "<= 1",
                        _check(span, lambda v: v <= 1.0)))  # fmt: skip
        posts = _ratio(app["posts_per_server"], pool["posts_per_server"])
        rows.append(Row(name, "POSTs per server, app / SDK pool", _num(posts, 3)))
    if app and seq:
        for metric, key in (
            ("makespan", "makespan"),
            ("GETs per server", "gets_per_server"),
            ("detection latency p95", "latency_p95"),
        ):
            rows.append(Row(name, f"{metric}, app / SDK loop", _num(_ratio(app[key], seq[key]), 3)))
    return rows


def cost_rows(costs: list[Mapping[str, Any]]) -> list[Row]:
    name = "3. orchestration cost (short exports)"
    rows: list[Row] = []
    ordered = sorted(costs, key=lambda c: c["servers"])
    for c in ordered:
        rows.append(
            Row(name, f"{c['servers']:,} servers: host CPU, peak RSS",
                f"{_num(c['host_cpu_seconds'], 1)} s, {_num(c['peak_rss_mb'], 0)} MB")
        )  # fmt: skip
        rows.append(
            Row(name, f"{c['servers']:,} servers: CPU per server, episodes",
                f"{_num(c['cpu_per_server_ms'], 1)} ms, {c['episodes']:,}")
        )  # fmt: skip
    if ordered:
        largest = ordered[-1]
        rows.append(
            Row(name, f"largest single history at {largest['servers']:,} servers",
                f"{largest['max_history_length']:,} events", "<= 5,000",
                largest["max_history_length"] <= 5000)
        )  # fmt: skip
    if len(ordered) > 1:
        growth = _ratio(ordered[-1]["cpu_per_server_ms"], ordered[0]["cpu_per_server_ms"])
        rows.append(
            Row(name, f"CPU per server, {ordered[-1]['servers']:,} / {ordered[0]['servers']:,}",
                _num(growth, 3), "<= 1.3", _check(growth, lambda v: v <= 1.3))
        )  # fmt: skip
    return rows


def throttling_rows(r: Mapping[str, Any]) -> list[Row]:
    name = f"4. throttling ({r['servers']:,} servers, concurrency {r['concurrency']})"
    share = r["throttled_share"]
    summary = r.get("summary", {})
    return [
        Row(name, "429s / ARM calls", f"{r['throttled']:,} / {r['arm_calls']:,} = {share:.2%}",
            "< 1%", share < 0.01),
        Row(name, "servers failed because of throttling", str(r["failed_by_throttling"]), "0",
            r["failed_by_throttling"] == 0),
        Row(name, "servers succeeded", f"{summary.get('succeeded', 0):,} / {r['servers']:,}"),
    ]  # fmt: skip


def build_rows(results: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    if "makespan" in results:
        rows += makespan_rows(results["makespan"])
    peers = {k: results[f"peer_{k}"] for k in PEER_LABELS if f"peer_{k}" in results}
    if peers:
        rows += peer_rows(peers, float(results.get("peer_scale", 0)))
    costs = [v for k, v in results.items() if k.startswith("cost-")]
    if costs:
        rows += cost_rows(costs)
    if "throttling" in results:
        rows += throttling_rows(results["throttling"])
    return rows


def table(rows: list[Row]) -> str:
    """A plain-text table, grouped by scenario."""
    marks = {True: "ok", False: "MISS", None: ""}
    width_metric = max((len(r.metric) for r in rows), default=10)
    width_value = max((len(r.value) for r in rows), default=10)
    lines: list[str] = []
    current = None
    for r in rows:
        if r.scenario != current:
            current = r.scenario
            lines.append("")
            lines.append(current)
        lines.append(
            f"  {r.metric:<{width_metric}}  {r.value:<{width_value}}  {r.target:<8}  {marks[r.ok]}"
        )
    return "\n".join(lines).lstrip("\n")

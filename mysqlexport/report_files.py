"""The run report as files people keep: ``report.json``, ``servers.csv`` and ``report.html``.

Pure functions of the report (``mysqlexport.report.build_report``'s output, as the API returns
it): no I/O, no clock, the same bytes for the same report. Whoever stores them (an activity, a
local command) calls ``render_files`` and writes each ``RenderedFile`` under its blob name,
``{runId}/{file}``, with its content type.

Nothing secret reaches a file: the report is redacted where its rows are made, and every string
is passed through ``redaction.redact_text`` once more here (a SAS signature, a bearer token or a
JWT that slipped into an error message is masked in all three files).

The page is one self-contained HTML file: its Content-Security-Policy lets it load nothing (no
network, no other file; its one script and one style are allowed by their SHA-256 hashes), so it
opens the same from a blob, a mail attachment or a disk. The rows travel as one compact JSON blob
that the script renders into a sortable, filterable, paged table; the timeline is inline SVG
drawn here, aggregated so that 10,000 servers stay legible and small (``python -m
scripts.report_page`` prints the size and render time at that scale).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import heapq
import html
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from mysqlexport.redaction import redact_text
from mysqlexport.report import CANCELED, FAILED, ROW_STATES, SKIPPED, SUCCEEDED, TIMED_OUT
from mysqlexport.times import iso, parse

# --------------------------------------------------------------------------------------------
# The files


@dataclass(frozen=True)
class ReportFile:
    """One file of a run's report: its name under ``{runId}/`` and its content type."""

    name: str
    content_type: str

    def blob_name(self, run_id: str) -> str:
        """Where the file goes in the report container: ``{runId}/{name}``."""
        return f"{run_id}/{self.name}"


REPORT_JSON: Final = ReportFile("report.json", "application/json; charset=utf-8")
SERVERS_CSV: Final = ReportFile("servers.csv", "text/csv; charset=utf-8")
REPORT_HTML: Final = ReportFile("report.html", "text/html; charset=utf-8")
#: The three files of every run, in the order they are written.
FILES: Final = (REPORT_JSON, SERVERS_CSV, REPORT_HTML)


@dataclass(frozen=True)
class RenderedFile:
    """A file ready to store: blob name, content type, bytes."""

    blob_name: str
    content_type: str
    content: bytes


def render_files(
    report: Mapping[str, Any], *, concurrency: int | None = None
) -> list[RenderedFile]:
    """The three files of ``report``, named ``{runId}/report.json`` etc. (``FILES``' order).

    ``concurrency`` is the run's concurrency limit when the caller knows it (the request's
    ``maxConcurrency`` or the app's default); without it the page reads the request's.
    """
    run_id = str(report.get("runId") or "run")
    contents = {
        REPORT_JSON: render_json(report),
        SERVERS_CSV: render_csv(report),
        REPORT_HTML: render_html(report, concurrency=concurrency),
    }
    return [RenderedFile(f.blob_name(run_id), f.content_type, contents[f]) for f in FILES]


def scrub(value: Any) -> Any:
    """A copy of ``value`` (JSON-like) with every string passed through ``redact_text``;
    key order is kept."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def render_json(report: Mapping[str, Any]) -> bytes:
    """``report.json``: the report as the API returns it (its own key order, which
    ``build_report`` fixes), indented, UTF-8, ending with a newline."""
    return (json.dumps(scrub(report), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


#: ``servers.csv``'s header, one row per server below it.
CSV_COLUMNS: Final = (
    "server",
    "subscription",
    "resourceGroup",
    "status",
    "errorCode",
    "errorMessage",
    "backupName",
    "startTime",
    "endTime",
    "durationSeconds",
    "sizeBytes",
    "transferredBytes",
    "attempts",
    "resourceId",
)
#: A text cell starting with one of these is read as a formula by Excel, LibreOffice and Google
#: Sheets (OWASP, "CSV Injection"): such a cell gets a leading apostrophe.
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_text_cell(value: object) -> str:
    """A text cell that a spreadsheet shows as text, never evaluates."""
    text = "" if value is None else redact_text(str(value))
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def render_csv(report: Mapping[str, Any]) -> bytes:
    """``servers.csv``: ``CSV_COLUMNS``, one row per server (the report's order), RFC 4180
    (CRLF, fields with commas, quotes or line breaks quoted), UTF-8 with a byte-order mark so
    that Excel reads it as UTF-8. Numbers are plain digits; text cells are guarded against
    formula injection (``csv_text_cell``)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    for row in report.get("servers") or ():
        server = ServerName.of(str(row.get("id") or ""))
        error = row.get("error") or {}
        duration = duration_seconds(row)
        writer.writerow(
            [
                csv_text_cell(server.name),
                csv_text_cell(server.subscription),
                csv_text_cell(server.resource_group),
                csv_text_cell(row.get("status")),
                csv_text_cell(error.get("code")),
                csv_text_cell(error.get("message")),
                csv_text_cell(row.get("backupName")),
                csv_text_cell(row.get("startTime")),
                csv_text_cell(row.get("endTime")),
                "" if duration is None else f"{duration:.3f}".rstrip("0").rstrip("."),
                _int_cell(row.get("datasourceSizeInBytes")),
                _int_cell(row.get("dataTransferredInBytes")),
                _int_cell(row.get("attempts")),
                csv_text_cell(row.get("id")),
            ]
        )
    return out.getvalue().encode("utf-8")


def _int_cell(value: object) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


# --------------------------------------------------------------------------------------------
# Facts about rows


@dataclass(frozen=True)
class ServerName:
    """A flexible server's name, subscription and resource group, read from its resource id
    (an id of another shape is its own name)."""

    name: str
    subscription: str
    resource_group: str

    @classmethod
    def of(cls, resource_id: str) -> ServerName:
        """Read ``/subscriptions/{s}/resourceGroups/{g}/providers/.../{name}`` leniently."""
        parts = [p for p in resource_id.split("/") if p]
        lower = [p.lower() for p in parts]

        def after(key: str) -> str:
            index = lower.index(key) if key in lower else -1
            return parts[index + 1] if 0 <= index < len(parts) - 1 else ""

        subscription, group = after("subscriptions"), after("resourcegroups")
        name = parts[-1] if subscription and len(parts) > 4 else resource_id
        return cls(name, subscription, group)


def _epoch(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse(value).timestamp()
    except ValueError:
        return None


def duration_seconds(row: Mapping[str, Any]) -> float | None:
    """Seconds from a row's startTime to its endTime (None unless both are times)."""
    start, end = _epoch(row.get("startTime")), _epoch(row.get("endTime"))
    return None if start is None or end is None or end < start else end - start


def human_bytes(value: int | float | None) -> str:
    """``8.0 GiB``, ``512 B``: binary units, one decimal."""
    if value is None:
        return ""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(size) < 1024 or unit == "PiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def human_duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 20 s``, ``2 h 05 min``, ``3 d 4 h``."""
    if seconds is None:
        return ""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 and whole != seconds else f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


#: States a reader must look at, worst first (the status sort order of the table as well).
STATUS_ORDER: Final = (FAILED, TIMED_OUT, CANCELED, SKIPPED, SUCCEEDED)
#: Not a success and not asked for: what the failure list and ``failures`` hold.
FAILURE_STATES: Final = frozenset({FAILED, TIMED_OUT})
COLOURS: Final = {
    SUCCEEDED: "#2e7d32",
    FAILED: "#c62828",
    TIMED_OUT: "#8e24aa",
    CANCELED: "#ef6c00",
    SKIPPED: "#9e9e9e",
}
assert set(STATUS_ORDER) == set(ROW_STATES) == set(COLOURS)


def failures(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The rows that Failed or TimedOut, in the report's order."""
    return [r for r in report.get("servers") or () if r.get("status") in FAILURE_STATES]


def concurrency_limit(report: Mapping[str, Any], given: int | None = None) -> int | None:
    """The run's concurrency limit: ``given``, else the request's ``maxConcurrency`` (None when
    the request left it to the app's default, which the report does not record)."""
    if given is not None:
        return given
    value = (report.get("request") or {}).get("maxConcurrency")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Bar:
    """One server's time in flight: from its startTime to its endTime, in epoch seconds."""

    start: float
    end: float
    status: str
    label: str


def bars(rows: Iterable[Mapping[str, Any]]) -> list[Bar]:
    """The servers that have both times, sorted by start (a server refused at submission or
    skipped has none and no bar)."""
    found = []
    for row in rows:
        start, end = _epoch(row.get("startTime")), _epoch(row.get("endTime"))
        if start is None or end is None or end < start:
            continue
        name = ServerName.of(str(row.get("id") or "")).name
        found.append(Bar(start, end, str(row.get("status")), name))
    found.sort(key=lambda b: (b.start, b.end, b.label))
    return found


def pack_lanes(items: Sequence[Bar]) -> list[int]:
    """The lane of each bar (``items`` sorted by start): the lowest lane free at its start, so
    the number of lanes is the peak number of servers in flight at once."""
    free: list[int] = []
    busy: list[tuple[float, int]] = []
    lanes: list[int] = []
    opened = 0
    for bar in items:
        while busy and busy[0][0] <= bar.start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            lane = heapq.heappop(free)
        else:
            lane, opened = opened, opened + 1
        lanes.append(lane)
        heapq.heappush(busy, (bar.end, lane))
    return lanes


def peak_in_flight(items: Sequence[Bar]) -> int:
    """The most servers in flight at one instant (an end at t comes before a start at t)."""
    events = sorted([(b.start, 1) for b in items] + [(b.end, -1) for b in items])
    peak = current = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


# --------------------------------------------------------------------------------------------
# The page

#: Above this many bars the timeline merges neighbouring bars of one outcome in a lane (they are
#: under a pixel apart by then) and drops their tooltips: the page stays small at 10,000 servers.
DETAIL_BARS: Final = 1500
#: Failing servers listed by name in the page's failure list; the table's filter shows the rest.
LISTED_FAILURES: Final = 100
#: Up to this many failures the list is open; above it, folded under the counts per code.
OPEN_FAILURES: Final = 20
#: An error message longer than this is cut in the page (the JSON and CSV files keep it whole).
PAGE_MESSAGE_CHARS: Final = 600
_PLOT_W: Final = 960.0
_LEFT: Final = 48.0
_RIGHT: Final = 12.0
_LANES_H: Final = 360.0
_CONC_H: Final = 110.0
_BUCKETS: Final = 480


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _script_json(value: object) -> str:
    """JSON to embed in a ``<script type="application/json">``: nothing in it can end the
    element or open a comment (``<``, ``>``, ``&`` and the JS line separators escaped)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _clock(epoch: float, width: int) -> str:
    """``HH:MM:SS`` (width 8), ``HH:MM`` (5) or ``YYYY-MM-DD HH:MM`` (16), in UTC."""
    text = iso(datetime.fromtimestamp(epoch, UTC)).replace("T", " ")
    return text[:16] if width == 16 else text[11 : 11 + width]


def _table_data(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The rows as the page's script reads them: one array per row, ``[name, group, subscription,
    status, error code, error message, size, start (seconds after t0), duration, attempts]``,
    repeated strings (groups, subscriptions, codes, messages) kept once in ``strings``."""
    strings: list[str] = []
    index: dict[str, int] = {}

    def ref(value: object) -> int | None:
        if value is None or value == "":
            return None
        text = str(value)
        if text not in index:
            index[text] = len(strings)
            strings.append(text)
        return index[text]

    starts = [s for s in (_epoch(r.get("startTime")) for r in rows) if s is not None]
    t0 = int(min(starts)) if starts else 0
    packed = []
    for row in rows:
        server = ServerName.of(str(row.get("id") or ""))
        error = row.get("error") or {}
        status = str(row.get("status"))
        start = _epoch(row.get("startTime"))
        duration = duration_seconds(row)
        message = str(error.get("message") or "")
        if len(message) > PAGE_MESSAGE_CHARS:
            message = message[: PAGE_MESSAGE_CHARS - 1] + "…"
        packed.append(
            [
                server.name,
                ref(server.resource_group),
                ref(server.subscription),
                STATUS_ORDER.index(status) if status in STATUS_ORDER else ref(status),
                ref(error.get("code")),
                ref(message),
                _int_or_none(row.get("datasourceSizeInBytes")),
                None if start is None else round(start - t0),
                None if duration is None else round(duration, 1 if duration < 10 else None),
                _int_or_none(row.get("attempts")),
            ]
        )
    return {"t0": t0, "statuses": list(STATUS_ORDER), "strings": strings, "rows": packed}


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _in_flight(
    items: Sequence[Bar], t0: float, t1: float, buckets: int
) -> tuple[dict[str, list[float]], list[int]]:
    """Per bucket of [t0, t1]: the average number of servers in flight by outcome (exact: each
    bar adds its overlap with the bucket), and the most in flight at any instant in it."""
    width = (t1 - t0) / buckets
    average: dict[str, list[float]] = {}
    for status in {b.status for b in items}:
        part = [0.0] * buckets
        full = [0] * (buckets + 1)
        for bar in (b for b in items if b.status == status):
            i0 = min(buckets - 1, int((bar.start - t0) / width))
            i1 = min(buckets - 1, int((bar.end - t0) / width))
            if i0 == i1:
                part[i0] += (bar.end - bar.start) / width
                continue
            part[i0] += (t0 + (i0 + 1) * width - bar.start) / width
            part[i1] += (bar.end - (t0 + i1 * width)) / width
            full[i0 + 1] += 1
            full[i1] -= 1
        running, values = 0, []
        for i in range(buckets):
            running += full[i]
            values.append(running + part[i])
        average[status] = values
    events = sorted([(b.start, 1) for b in items] + [(b.end, -1) for b in items])
    peaks = [0] * buckets
    current = 0
    pointer = 0
    for i in range(buckets):
        peaks[i] = current
        edge = t0 + (i + 1) * width
        while pointer < len(events) and (events[pointer][0] < edge or i == buckets - 1):
            current += events[pointer][1]
            pointer += 1
            peaks[i] = max(peaks[i], current)
    return average, peaks


@dataclass(frozen=True)
class _Frame:
    """Where the timeline's pieces go: the time span and the two panels' places."""

    t0: float
    span: float
    top: float
    lane_h: float
    rows: int
    conc_top: float

    def x(self, t: float) -> float:
        return _LEFT + (t - self.t0) / self.span * _PLOT_W

    @property
    def base(self) -> float:
        return self.conc_top + _CONC_H


def _bar_rect(x0: float, x1: float, y: float, frame: _Frame, *, status: str, tip: str) -> str:
    gap = 1.0 if frame.lane_h >= 5 else 0.0
    title = f"<title>{_e(tip)}</title></rect>" if tip else "</rect>"
    return (
        f'<rect class="bar" x="{_num(x0)}" y="{_num(y)}" width="{_num(max(1.0, x1 - x0))}" '
        f'height="{_num(max(frame.lane_h - gap, 0.5))}" fill="{COLOURS.get(status, "#555")}" '
        f'data-status="{_e(status)}">{title}'
    )


def _lane_shapes(items: Sequence[Bar], lanes: Sequence[int], frame: _Frame) -> list[str]:
    """One rect per server, or, above ``DETAIL_BARS``, one per run of neighbouring bars of one
    outcome in a lane (under a pixel apart at that scale)."""
    if len(items) <= DETAIL_BARS:
        return [
            _bar_rect(
                frame.x(bar.start),
                frame.x(bar.end),
                frame.top + lane * frame.lane_h,
                frame,
                status=bar.status,
                tip=f"{bar.label}: {bar.status}, {human_duration(bar.end - bar.start)}",
            )
            for bar, lane in zip(items, lanes, strict=True)
        ]
    merged: dict[int, list[tuple[float, float, str]]] = {}
    for bar, lane in zip(items, lanes, strict=True):
        x0, x1 = frame.x(bar.start), max(frame.x(bar.end), frame.x(bar.start) + 1.0)
        runs = merged.setdefault(lane, [])
        if runs and runs[-1][2] == bar.status and x0 <= runs[-1][1] + 1.0:
            runs[-1] = (runs[-1][0], max(runs[-1][1], x1), bar.status)
        else:
            runs.append((x0, x1, bar.status))
    return [
        _bar_rect(x0, x1, frame.top + lane * frame.lane_h, frame, status=status, tip="")
        for lane, runs in sorted(merged.items())
        for x0, x1, status in runs
    ]


def _limit_line(y: float, limit: int, label_dy: float) -> str:
    return (
        f'<line class="limit" x1="{_num(_LEFT)}" x2="{_num(_LEFT + _PLOT_W)}" y1="{_num(y)}" '
        f'y2="{_num(y)}"/><text class="limit-label" x="{_num(_LEFT + _PLOT_W - 4)}" '
        f'y="{_num(y + label_dy)}" text-anchor="end">concurrency limit {limit}</text>'
    )


def _flight_panel(
    items: Sequence[Bar], frame: _Frame, limit: int | None
) -> tuple[list[str], int, bool]:
    """The servers in flight over time, stacked by outcome (worst on top), the peak per pixel
    column as a line, the limit as a dashed line when it is on the scale. Returns the shapes,
    the peak and whether the limit is drawn."""
    average, peaks = _in_flight(items, frame.t0, frame.t0 + frame.span, _BUCKETS)
    peak = max(peaks)
    on_scale = limit is not None and limit <= 3 * max(peak, 1)
    scale_max = 1.1 * max(peak, 1, limit if on_scale and limit is not None else 0)
    bucket_w = _PLOT_W / _BUCKETS

    def point(i: int, count: float) -> str:
        return (
            f"{_num(_LEFT + (i + 0.5) * bucket_w)},{_num(frame.base - count / scale_max * _CONC_H)}"
        )

    parts = []
    below = [0.0] * _BUCKETS
    for status in reversed(STATUS_ORDER):
        values = average.get(status)
        if values is None:
            continue
        above = [b + v for b, v in zip(below, values, strict=True)]
        upper = " ".join(point(i, v) for i, v in enumerate(above))
        lower = " ".join(point(i, below[i]) for i in reversed(range(_BUCKETS)))
        parts.append(
            f'<polygon class="area" fill="{COLOURS[status]}" data-status="{status}" '
            f'points="{upper} {lower}"/>'
        )
        below = above
    parts.append(
        f'<polyline class="peak" points="{" ".join(point(i, p) for i, p in enumerate(peaks))}"/>'
    )
    if on_scale and limit is not None:
        parts.append(_limit_line(frame.base - limit / scale_max * _CONC_H, limit, -3))
    parts.extend(
        f'<text class="axis" x="{_num(_LEFT - 4)}" '
        f'y="{_num(frame.base - count / scale_max * _CONC_H + 4)}" text-anchor="end">{count}</text>'
        for count in sorted({0, peak})
    )
    parts.append(
        f'<text class="axis" x="{_num(_LEFT)}" y="{_num(frame.conc_top - 6)}">servers in flight '
        f"(peak {peak}: the line is the most at any instant, the areas the average by outcome)"
        f'</text><rect class="frame" x="{_num(_LEFT)}" y="{_num(frame.conc_top)}" '
        f'width="{_num(_PLOT_W)}" height="{_num(_CONC_H)}"/>'
    )
    return parts, peak, on_scale


def _time_axis(frame: _Frame) -> list[str]:
    width = 16 if frame.span > 20 * 3600 else 5 if frame.span > 600 else 8
    parts = []
    for i in range(7):
        t = frame.t0 + frame.span * i / 6
        anchor = "start" if i == 0 else "end" if i == 6 else "middle"
        parts.append(
            f'<line class="tick" x1="{_num(frame.x(t))}" x2="{_num(frame.x(t))}" '
            f'y1="{_num(frame.top)}" y2="{_num(frame.base)}"/><text class="axis" '
            f'x="{_num(frame.x(t))}" y="{_num(frame.base + 16)}" text-anchor="{anchor}">'
            f"{_e(_clock(t, width))}</text>"
        )
    return parts


def timeline_svg(items: Sequence[Bar], limit: int | None) -> str:
    """The timeline: one bar per server from its start to its end in lanes (a server takes the
    lowest lane free when it starts, so there are as many lanes as servers were ever in flight
    at once, and the concurrency limit is a line across them), coloured by outcome; below it,
    the servers in flight over time by outcome with the peak and the limit."""
    if not items:
        return '<p class="note">No server has both a start and an end time: nothing to draw.</p>'
    lanes = pack_lanes(items)
    n_lanes = max(lanes) + 1
    t0 = min(b.start for b in items)
    span = max(max(b.end for b in items) - t0, 1.0)
    rows = max(n_lanes, limit) if limit and limit <= n_lanes * 1.5 else n_lanes
    lane_h = min(12.0, _LANES_H / rows)
    top = 20.0
    frame = _Frame(t0, span, top, lane_h, rows, top + rows * lane_h + 34.0)
    height = frame.base + 30.0
    parts = [
        f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 '
        f'{_num(_LEFT + _PLOT_W + _RIGHT)} {_num(height)}" width="100%" role="img" '
        'aria-label="Timeline of the servers and the servers in flight over time">',
        f'<text class="axis" x="{_num(_LEFT)}" y="{_num(top - 6)}">one bar per server, packed '
        f"in lanes: {n_lanes} lanes = the most servers in flight at once</text>",
        *_lane_shapes(items, lanes, frame),
    ]
    if limit and rows >= limit:
        parts.append(_limit_line(top + limit * lane_h, limit, 12 if limit < rows else -3))
    parts.append(
        f'<rect class="frame" x="{_num(_LEFT)}" y="{_num(top)}" width="{_num(_PLOT_W)}" '
        f'height="{_num(rows * lane_h)}"/>'
    )
    flight, _, on_scale = _flight_panel(items, frame, limit)
    parts += [*flight, *_time_axis(frame), "</svg>"]
    mode = (
        f"each of the {len(items)} bars is one server (hover for its name)"
        if len(items) <= DETAIL_BARS
        else f"{len(items):,} servers: above {DETAIL_BARS:,} bars, neighbouring bars of one "
        "outcome in a lane are drawn as one"
    )
    if limit is None:
        limit_text = "the concurrency limit is the app's default (the request named none)"
    elif on_scale:
        limit_text = f"the dashed line is the concurrency limit, {limit}"
    else:
        limit_text = f"the concurrency limit, {limit}, is far above the peak (off the scale)"
    return "".join(parts) + f'<p class="note">Times in UTC; {mode}; {_e(limit_text)}.</p>'


_STYLE: Final = """
:root{--fg:#1d232a;--muted:#5f6b76;--line:#d8dee4;--bg:#fff;--soft:#f4f6f8}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:16px 20px 40px;font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:20px;margin:4px 0 2px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid
var(--line);padding-bottom:4px}
.sub{color:var(--muted);margin:0 0 12px}.note{color:var(--muted);font-size:12px;margin:4px 0}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;
font-size:12px;white-space:nowrap}
.st-Succeeded{background:#2e7d32}.st-Failed{background:#c62828}.st-TimedOut{background:#8e24aa}
.st-Canceled{background:#ef6c00}.st-Skipped{background:#9e9e9e}.st-other{background:#555}
.out-Succeeded{background:#2e7d32}.out-PartiallySucceeded{background:#ef6c00}
.out-Failed{background:#c62828}.out-Canceled{background:#9e9e9e}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:6px 16px;
margin:8px 0}.facts div{background:var(--soft);border-radius:6px;padding:6px 10px}
.facts b{display:block;font-size:12px;color:var(--muted);font-weight:500}
.counts{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}.counts span{font-size:13px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 6px;
border-bottom:1px solid var(--line);vertical-align:top}td.n,th.n{text-align:right;
white-space:nowrap}#rows td:first-child{white-space:nowrap}
th button{font:inherit;font-weight:600;border:0;background:none;padding:0;
cursor:pointer;color:inherit}th[aria-sort=ascending] button::after{content:" \\25B2"}
th[aria-sort=descending] button::after{content:" \\25BC"}
.err{overflow-wrap:anywhere;min-width:14em}
.err code,.fail code{font-weight:600;color:#b71c1c}.err span{color:var(--muted)}
.controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:6px 0}
.controls input,.controls select,.controls button{font:inherit;padding:2px 6px}
ol.fail{padding-left:22px}summary{cursor:pointer;margin:8px 0}
ol.fail li{margin:2px 0}.msg{color:var(--muted)}
svg text{font:11px system-ui,sans-serif;fill:#444}svg .frame{fill:none;stroke:#bbb}
svg .limit{stroke:#000;stroke-dasharray:6 4;stroke-width:1.2}svg .limit-label{font-weight:600;
fill:#000;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg .peak{fill:none;stroke:#222;stroke-width:1}svg .tick{stroke:#eee}
svg .area{opacity:.85}.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
"""

_SCRIPT: Final = """
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var S = D.strings, ST = D.statuses, PAGE = 100;
  var FAIL = {Failed: 1, TimedOut: 1};
  var state = {sort: "status", dir: "asc", filter: "all", q: "", page: 1};
  function str(i) { return i === null ? "" : S[i]; }
  function status(r) { return typeof r[3] === "number" ? ST[r[3]] : String(r[3]); }
  var KEYS = {
    name: function (r) { return r[0].toLowerCase(); },
    group: function (r) { return str(r[1]).toLowerCase(); },
    status: function (r) { return typeof r[3] === "number" ? r[3] : 99; },
    size: function (r) { return r[6]; },
    start: function (r) { return r[7]; },
    duration: function (r) { return r[8]; },
    attempts: function (r) { return r[9]; },
    error: function (r) { return str(r[4]).toLowerCase(); }
  };
  function bytes(v) {
    if (v === null) return "";
    var u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], i = 0;
    while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return i === 0 ? v + " B" : v.toFixed(1) + " " + u[i];
  }
  function dur(s) {
    if (s === null) return "";
    var w = Math.round(s);
    if (w < 60) return (s < 10 && w !== s ? s.toFixed(1) : w) + " s";
    var m = Math.floor(w / 60), sec = w % 60;
    if (m < 60) return m + " min " + (sec < 10 ? "0" : "") + sec + " s";
    var h = Math.floor(m / 60); m = m % 60;
    return h + " h " + (m < 10 ? "0" : "") + m + " min";
  }
  function when(off) {
    if (off === null) return "";
    return new Date((D.t0 + off) * 1000).toISOString().slice(0, 19).replace("T", " ");
  }
  function compare(a, b) {
    var f = KEYS[state.sort] || KEYS.status, x = f(a), y = f(b);
    if (x === null || y === null) { if (x !== y) return x === null ? 1 : -1; }
    else if (x !== y) return (x < y ? -1 : 1) * (state.dir === "desc" ? -1 : 1);
    var n = a[0].toLowerCase(), m = b[0].toLowerCase();
    return n < m ? -1 : n > m ? 1 : 0;
  }
  function keep(r) {
    var s = status(r);
    if (state.filter === "failures" && !FAIL[s]) return false;
    if (state.filter !== "all" && state.filter !== "failures" && s !== state.filter) return false;
    if (!state.q) return true;
    var q = state.q.toLowerCase();
    return (r[0] + " " + str(r[1]) + " " + str(r[4])).toLowerCase().indexOf(q) >= 0;
  }
  function readHash() {
    location.hash.replace(/^#/, "").split("&").forEach(function (pair) {
      var kv = pair.split("="), k = decodeURIComponent(kv[0] || ""),
        v = decodeURIComponent(kv[1] || "");
      if (k === "sort" && KEYS[v]) state.sort = v;
      else if (k === "dir" && (v === "asc" || v === "desc")) state.dir = v;
      else if (k === "filter") state.filter = v || "all";
      else if (k === "q") state.q = v;
      else if (k === "page" && +v >= 1) state.page = Math.floor(+v);
    });
  }
  function writeHash() {
    var h = "#sort=" + state.sort + "&dir=" + state.dir + "&filter=" +
      encodeURIComponent(state.filter) + "&page=" + state.page +
      (state.q ? "&q=" + encodeURIComponent(state.q) : "");
    try { history.replaceState(null, "", h); } catch (e) { /* a sandboxed frame */ }
  }
  function cell(tr, text, cls, title) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    if (title) td.title = title;
    tr.appendChild(td);
    return td;
  }
  var body = document.getElementById("rows");
  function render() {
    var rows = D.rows.filter(keep).sort(compare);
    var pages = Math.max(1, Math.ceil(rows.length / PAGE));
    state.page = Math.min(Math.max(1, state.page), pages);
    var first = (state.page - 1) * PAGE, shown = rows.slice(first, first + PAGE);
    var frag = document.createDocumentFragment();
    shown.forEach(function (r) {
      var tr = document.createElement("tr"), s = status(r);
      tr.setAttribute("data-name", r[0]);
      tr.setAttribute("data-status", s);
      tr.setAttribute("data-size", r[6] === null ? "" : String(r[6]));
      tr.setAttribute("data-duration", r[8] === null ? "" : String(r[8]));
      cell(tr, r[0], "", str(r[2]) ? "subscription " + str(r[2]) : "");
      cell(tr, str(r[1]));
      var st = cell(tr, ""), badge = document.createElement("span");
      badge.className = "badge st-" + (ST.indexOf(s) >= 0 ? s : "other");
      badge.textContent = s;
      st.appendChild(badge);
      cell(tr, bytes(r[6]), "n", r[6] === null ? "" : r[6] + " bytes");
      cell(tr, when(r[7]), "n");
      cell(tr, dur(r[8]), "n");
      cell(tr, r[9] === null ? "" : String(r[9]), "n");
      var err = cell(tr, "", "err");
      if (r[4] !== null) {
        var code = document.createElement("code"), msg = document.createElement("span");
        code.textContent = str(r[4]);
        msg.textContent = r[5] === null ? "" : " " + str(r[5]);
        err.appendChild(code);
        err.appendChild(msg);
      }
      frag.appendChild(tr);
    });
    body.textContent = "";
    body.appendChild(frag);
    document.getElementById("shown").textContent = rows.length === 0 ? "no server matches" :
      "servers " + (first + 1) + "\\u2013" + (first + shown.length) + " of " + rows.length +
      (rows.length !== D.rows.length ? " (of " + D.rows.length + ")" : "");
    document.getElementById("page").textContent = "page " + state.page + " of " + pages;
    document.getElementById("prev").disabled = state.page <= 1;
    document.getElementById("next").disabled = state.page >= pages;
    document.querySelectorAll("th[data-sort]").forEach(function (th) {
      var k = th.getAttribute("data-sort");
      if (k === state.sort) th.setAttribute("aria-sort",
        state.dir === "desc" ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    });
    document.getElementById("filter").value = state.filter;
    document.getElementById("q").value = state.q;
  }
  function update() { render(); writeHash(); }
  document.querySelectorAll("th[data-sort] button").forEach(function (b) {
    b.addEventListener("click", function () {
      var k = b.parentNode.getAttribute("data-sort");
      state.dir = state.sort === k && state.dir === "asc" ? "desc" : "asc";
      state.sort = k; state.page = 1; update();
    });
  });
  document.getElementById("filter").addEventListener("change", function (e) {
    state.filter = e.target.value; state.page = 1; update();
  });
  document.getElementById("q").addEventListener("input", function (e) {
    state.q = e.target.value; state.page = 1; update();
  });
  document.getElementById("prev").addEventListener("click", function () {
    state.page -= 1; update();
  });
  document.getElementById("next").addEventListener("click", function () {
    state.page += 1; update();
  });
  window.addEventListener("hashchange", function () { readHash(); render(); });
  readHash();
  render();
  var root = document.documentElement;
  root.setAttribute("data-rendered-ms", performance.now().toFixed(1));
  window.addEventListener("load", function () {
    root.setAttribute("data-load-ms", performance.now().toFixed(1));
  });
})();
"""

_COLUMNS: Final = (
    ("name", "Server", ""),
    ("group", "Resource group", ""),
    ("status", "Status", ""),
    ("size", "Size", "n"),
    ("start", "Start (UTC)", "n"),
    ("duration", "Duration", "n"),
    ("attempts", "Tries", "n"),
    ("error", "ARM error", ""),
)


def _badge(kind: str, value: str) -> str:
    known = value in ROW_STATES if kind == "st" else True
    return f'<span class="badge {kind}-{_e(value) if known else "other"}">{_e(value)}</span>'


def _fact(label: str, value: str) -> str:
    return f"<div><b>{_e(label)}</b>{value}</div>"


def _pairs(value: Mapping[str, Any]) -> str:
    """A problem or the breaker, ARM's code first."""
    code = value.get("code")
    rest = "; ".join(
        f"{_e(k)}: {_e(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v)}"
        for k, v in value.items()
        if k != "code" and v not in (None, "", [], {})
    )
    return (f"<code>{_e(code)}</code> " if code else "") + rest


def _failure_section(report: Mapping[str, Any]) -> str:
    failed = failures(report)
    if not failed:
        return "<h2>Failures</h2><p>None: no server Failed or TimedOut.</p>"
    by_code = Counter(str((r.get("error") or {}).get("code") or r.get("status")) for r in failed)
    example: dict[str, str] = {}
    for row in failed:
        error = row.get("error") or {}
        example.setdefault(str(error.get("code") or row.get("status")), str(error.get("message")))
    codes = "".join(
        f'<tr><td><code>{_e(code)}</code></td><td class="n">{count}</td>'
        f'<td class="msg">{_e(_cut(example.get(code) or ""))}</td></tr>'
        for code, count in sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    items = []
    for row in failed[:LISTED_FAILURES]:
        server = ServerName.of(str(row.get("id") or ""))
        error = row.get("error") or {}
        items.append(
            f"<li><code>{_e(error.get('code') or row.get('status'))}</code> "
            f"<b>{_e(server.name)}</b> <span class='msg'>({_e(server.resource_group)}, "
            f"{_e(row.get('status'))})</span>: {_e(_cut(str(error.get('message') or '')))}</li>"
        )
    more = (
        f'<p class="note">and {len(failed) - LISTED_FAILURES:,} more: choose "Failed or '
        'TimedOut" in the table of servers.</p>'
        if len(failed) > LISTED_FAILURES
        else ""
    )
    listed = (
        f"the {len(items)} failing servers"
        if len(items) == len(failed)
        else f"the first {len(items)} of {len(failed):,} failing servers"
    )
    return (
        f'<h2 id="failures">Failures ({len(failed):,})</h2>'
        f'<table class="codes"><thead><tr><th>ARM error code</th><th class="n">servers</th>'
        f"<th>for example</th></tr></thead><tbody>{codes}</tbody></table>"
        f"<details{' open' if len(failed) <= OPEN_FAILURES else ''}><summary>{listed}, ARM's "
        f'code first</summary><ol class="fail">{"".join(items)}</ol>{more}</details>'
    )


def _cut(text: str) -> str:
    return text if len(text) <= PAGE_MESSAGE_CHARS else text[: PAGE_MESSAGE_CHARS - 1] + "…"


def render_html(report: Mapping[str, Any], *, concurrency: int | None = None) -> bytes:
    """``report.html``: the run at a glance, one self-contained file (see the module's doc).

    ``concurrency``: the run's concurrency limit, when the caller knows it (else the request's
    ``maxConcurrency``; a request that named none ran at the app's default, which the page says).
    """
    report = scrub(report)
    rows: list[Mapping[str, Any]] = list(report.get("servers") or ())
    summary: Mapping[str, Any] = report.get("summary") or {}
    run_id = str(report.get("runId") or "")
    outcome = str(summary.get("outcome") or "")
    limit = concurrency_limit(report, concurrency)
    items = bars(rows)
    start, end = _epoch(report.get("startTime")), _epoch(report.get("endTime"))
    size = sum(int(r.get("datasourceSizeInBytes") or 0) for r in rows)
    transferred = int(summary.get("bytes") or 0)
    counts = Counter(str(r.get("status")) for r in rows)
    operation = str(summary.get("operation") or "export")
    facts = [
        _fact("Outcome", _badge("out", outcome)),
        _fact("Operation", _e(operation) + (" (dry run)" if report.get("dryRun") else "")),
        _fact("Servers", f"{len(rows):,}"),
        _fact("Started (UTC)", _e(str(report.get("startTime") or "")[:19].replace("T", " "))),
        _fact("Ended (UTC)", _e(str(report.get("endTime") or "")[:19].replace("T", " "))),
        _fact(
            "Duration",
            _e(human_duration(end - start) if start is not None and end is not None else ""),
        ),
        _fact(
            "Bytes exported" if operation == "export" else "Bytes",
            f'<span title="{transferred:,} bytes">{_e(human_bytes(transferred))}</span>',
        ),
        _fact(
            "Data size (all servers)", f'<span title="{size:,} bytes">{human_bytes(size)}</span>'
        ),
        _fact(
            "Concurrency limit / peak",
            f"{_e(limit if limit is not None else 'default')} / {peak_in_flight(items)}",
        ),
    ]
    if report.get("retryOf"):
        facts.append(_fact("Retry of", _e(report.get("retryOf"))))
    chips = "".join(
        f"<span>{_badge('st', state)} {counts.get(state, 0):,}</span>" for state in STATUS_ORDER
    )
    chips += "".join(
        f"<span>{_badge('st', state)} {count:,}</span>"
        for state, count in counts.items()
        if state not in STATUS_ORDER
    )
    problems = report.get("problems") or []
    extra = ""
    if problems:
        extra += f"<h2>Problems of the run ({len(problems)})</h2><ul>" + "".join(
            f"<li>{_pairs(p)}</li>" for p in problems if isinstance(p, Mapping)
        )
        extra += "</ul>"
    breaker = report.get("breaker")
    if isinstance(breaker, Mapping):
        extra += f"<h2>Circuit breaker</h2><p>{_pairs(breaker)}</p>"
    legend = "".join(
        f'<span><i class="st-{state}"></i>{state} ({counts.get(state, 0):,})</span>'
        for state in STATUS_ORDER
    )
    options = [("all", "All servers"), ("failures", "Failed or TimedOut")] + [
        (state, state) for state in STATUS_ORDER
    ]
    heads = "".join(
        f'<th data-sort="{key}"{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>'
        f'<button type="button">{label}</button></th>'
        for key, label, cls in _COLUMNS
    )
    data = _script_json(_table_data(rows))
    csp = (
        f"default-src 'none'; script-src {_csp_hash(_SCRIPT)}; style-src {_csp_hash(_STYLE)}; "
        "img-src 'none'; font-src 'none'; connect-src 'none'; base-uri 'none'; "
        "form-action 'none'"
    )
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(run_id)}: {_e(outcome)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Run {_e(run_id)} {_badge('out', outcome)}</h1>"
        f'<p class="sub">MySQL flexible server fleet {_e(operation)}: '
        f"{len(rows):,} servers, {counts.get(SUCCEEDED, 0):,} succeeded, "
        f"{sum(counts.get(s, 0) for s in FAILURE_STATES):,} failed or timed out.</p>"
        f'<div class="facts">{"".join(facts)}</div><div class="counts">{chips}</div>'
        f"{extra}{_failure_section(report)}"
        "<h2>Timeline</h2>"
        f'<div class="legend">{legend}</div>{timeline_svg(items, limit)}'
        f'<h2 id="servers">Servers ({len(rows):,})</h2>'
        '<div class="controls"><label>Show <select id="filter">'
        + "".join(f'<option value="{v}">{_e(t)}</option>' for v, t in options)
        + '</select></label><label>Find <input id="q" type="search" '
        'placeholder="name, group or error code"></label>'
        '<button id="prev" type="button">&#8249; previous</button><span id="page"></span>'
        '<button id="next" type="button">next &#8250;</button><span id="shown" class="note">'
        "</span></div>"
        f'<table id="servers-table"><thead><tr>{heads}</tr></thead><tbody id="rows"></tbody>'
        "</table><noscript><p>The table needs JavaScript; servers.csv, beside this page, holds "
        "every row.</p></noscript>"
        f'<script type="application/json" id="report-data">{data}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
    return page.encode("utf-8")


RENDERERS: Final[Mapping[ReportFile, Callable[[Mapping[str, Any]], bytes]]] = {
    REPORT_JSON: render_json,
    SERVERS_CSV: render_csv,
    REPORT_HTML: render_html,
}

"""``devhost run``: POST a request to an app route and follow it to the end.

The request JSON goes to ``/api/{route}``. A ``202`` with a ``Location`` header (the
``statusQueryGetUri`` of ``create_check_status_response``) is polled until it answers 200,
with a live display built from the instance's ``customStatus``: every numeric field is shown,
and a ``total``-like field with ``completed``/``done``/``failed``-like fields becomes a
progress bar. The final output is summarized and optionally written to a report file.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

_DONE_WORDS = (
    "canceled",
    "timedout",
    "completed",
    "complete",
    "done",
    "succeeded",
    "failed",
    "skipped",
    "processed",
    "finished",
)
_STATUS_STYLE = {
    "Completed": "green",
    "Failed": "red",
    "Terminated": "yellow",
    "Running": "cyan",
    "Pending": "cyan",
    "ContinuedAsNew": "cyan",
}


@dataclass(frozen=True)
class RunResult:
    """How a run ended."""

    http_status: int
    runtime_status: str | None
    output: Any
    payload: Any

    @property
    def succeeded(self) -> bool:
        """Completed orchestration, or a non-durable 2xx answer."""
        if self.runtime_status is None:
            return 200 <= self.http_status < 300
        return self.runtime_status == "Completed"


def numeric_fields(value: Any, prefix: str = "") -> dict[str, float]:
    """Flatten the numeric leaves of a custom status (nested objects use dotted keys)."""
    found: dict[str, float] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{prefix}{key}"
            if isinstance(item, bool):
                continue
            if isinstance(item, int | float):
                found[name] = float(item)
            elif isinstance(item, Mapping):
                found.update(numeric_fields(item, f"{name}."))
    return found


def _text_fields(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, str) and len(item) <= 80:
                yield str(key), item
    elif isinstance(value, str):
        yield "status", value


def number_text(key: str, value: float) -> str:
    """A custom status number as a person reads it: whole numbers as digits (``10,000``), a
    field named ``...bytes`` in binary units (``8.0 GiB``), anything else as ``%g``."""
    if key.rsplit(".", 1)[-1].lower().endswith("bytes"):
        size = value
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(size) < 1024 or unit == "TiB":
                # a no-break space: the live display wraps between fields, never in one
                return f"{size:,.0f}\u00a0B" if unit == "B" else f"{size:,.1f}\u00a0{unit}"
            size /= 1024
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def progress_of(fields: Mapping[str, float]) -> tuple[float, float] | None:
    """(done, total) when the fields name a total and some completion counts."""
    totals = [v for k, v in fields.items() if k.rsplit(".", 1)[-1].lower().endswith("total")]
    if not totals or totals[0] <= 0:
        return None
    done = sum(
        v
        for k, v in fields.items()
        if any(word in k.rsplit(".", 1)[-1].lower() for word in _DONE_WORDS)
    )
    return min(done, totals[0]), totals[0]


def render_status(payload: Mapping[str, Any], elapsed: float) -> RenderableType:
    """The live display for one status payload."""
    status = str(payload.get("runtimeStatus", "?"))
    custom = payload.get("customStatus")
    lines: list[RenderableType] = [
        Text.assemble(
            ("● ", _STATUS_STYLE.get(status, "white")),
            (status, "bold"),
            f"  {payload.get('name', '')}  {elapsed:5.1f}s",
        )
    ]
    texts = "  ".join(f"{k}: {v}" for k, v in _text_fields(custom))
    if texts:
        lines.append(Text(texts, style="dim"))
    fields = numeric_fields(custom)
    if fields:
        lines.append(Text("  ".join(f"{k}={number_text(k, v)}" for k, v in fields.items())))
        progress = progress_of(fields)
        if progress is not None:
            done, total = progress
            lines.append(
                Group(
                    ProgressBar(total=total, completed=done, width=50),
                    Text(f"{done:,.0f}/{total:,.0f} done"),
                )
            )
    return Group(*lines)


def summarize_output(output: Any) -> Table:
    """A short table describing the final output."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("field")
    table.add_column("value")
    if isinstance(output, Mapping):
        for key, value in output.items():
            table.add_row(str(key), _describe(value))
    else:
        table.add_row("output", _describe(output))
    return table


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"{len(value)} item(s)"
    if isinstance(value, Mapping):
        flat = all(not isinstance(v, Mapping | list) for v in value.values())
        text = json.dumps(value, default=str)
        return text if flat and len(text) <= 200 else f"{len(value)} field(s)"
    text = json.dumps(value)
    return text if len(text) <= 100 else text[:97] + "..."


def run_request(
    base_url: str,
    route: str,
    body: Any,
    *,
    method: str = "POST",
    route_prefix: str = "api",
    function_key: str | None = None,
    poll_interval: float = 0.25,
    timeout: float = 3600.0,
    console: Console | None = None,
    report: Path | None = None,
    progress_route: str | None = None,
) -> RunResult:
    """Send the request, follow the status URL, show progress, write the report.

    ``progress_route`` (e.g. ``exports/{runId}``; any ``{...}`` becomes the instance id) names an
    app route whose JSON answer is displayed instead of the instance's ``customStatus`` while
    the run goes on — for apps whose progress lives in child orchestrations.

    Raises:
        TimeoutError: the orchestration did not finish within ``timeout`` seconds.
        requests.RequestException: the host could not be reached.
    """
    out = console or Console()
    session = requests.Session()
    headers = {"x-functions-key": function_key} if function_key else {}
    prefix = f"/{route_prefix.strip('/')}" if route_prefix.strip("/") else ""
    url = f"{base_url.rstrip('/')}{prefix}/{route.lstrip('/')}"
    response = session.request(method, url, json=body, headers=headers, timeout=60)
    location = response.headers.get("Location")
    payload: Any = _json_or_text(response)
    if response.status_code != 202 or not location:
        out.print(f"{method} {url} -> {response.status_code}")
        if isinstance(payload, str) or payload is None:
            out.print(payload or "")
        else:
            out.print_json(data=payload)
        return RunResult(response.status_code, None, payload, payload)
    started = time.monotonic()
    status_code = 202
    progress_url = None
    if progress_route and isinstance(payload, Mapping) and payload.get("id"):
        path = re.sub(r"\{[^}]*\}", str(payload["id"]), progress_route.lstrip("/"))
        progress_url = f"{base_url.rstrip('/')}{prefix}/{path}"
    with Live(console=out, refresh_per_second=8, transient=False) as live:
        while True:
            poll = session.get(location, headers=headers, timeout=60)
            status_code = poll.status_code
            payload = _json_or_text(poll)
            elapsed = time.monotonic() - started
            if isinstance(payload, Mapping):
                shown = dict(payload)
                output = payload.get("output")
                if isinstance(output, Mapping) and isinstance(output.get("summary"), Mapping):
                    shown["customStatus"] = output["summary"]
                elif progress_url and status_code == 202:
                    progress = _json_or_text(session.get(progress_url, headers=headers, timeout=60))
                    if isinstance(progress, Mapping):
                        shown["customStatus"] = progress
                live.update(render_status(shown, elapsed))
            if status_code != 202:
                break
            if elapsed > timeout:
                raise TimeoutError(f"{location} still running after {timeout} s")
            time.sleep(poll_interval)
    runtime_status = payload.get("runtimeStatus") if isinstance(payload, Mapping) else None
    output = payload.get("output") if isinstance(payload, Mapping) else payload
    instance_id = payload.get("instanceId") if isinstance(payload, Mapping) else ""
    if not out.is_terminal:
        out.line()  # rich ends a live display with a line break only on a terminal
    out.print(f"[bold]{runtime_status or status_code}[/bold]  instance {instance_id}")
    out.print(summarize_output(output))
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(output, indent=2), encoding="utf-8")
        out.print(f"report written to {report}")
    return RunResult(status_code, runtime_status, output, payload)


def _json_or_text(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text

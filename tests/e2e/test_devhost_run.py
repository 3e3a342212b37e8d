"""`python -m devhost run REQUEST.json --report FILE` on this app: route and progress found from
the app, live progress shown, the report written."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from devhost.cli import default_routes
from devhost.runner import run_request
from tests.e2e.conftest import SIG, Stack, discover_body


def test_run_finds_the_routes_follows_the_run_and_writes_the_report(
    stack: Stack, tmp_path: Path
) -> None:
    route, progress = default_routes(stack.host.index, None)
    assert (route, progress) == ("exports", "exports/{runId}")
    screen = io.StringIO()
    report_path = tmp_path / "report.json"
    result = run_request(
        stack.host.url,
        route,
        discover_body(),
        console=Console(file=screen, width=120),
        report=report_path,
        progress_route=progress,
        poll_interval=0.02,
    )
    assert result.succeeded
    report = json.loads(report_path.read_text())
    assert report["summary"]["total"] == len(stack.emu.servers())
    shown = screen.getvalue()
    assert "Completed" in shown and "succeeded" in shown
    assert SIG not in shown + report_path.read_text()

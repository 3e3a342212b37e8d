"""`python -m devhost run REQUEST.json --report FILE` on this app: route and progress found from
the app, live progress shown, a summary with every failed server and ARM's code, the report
written (the page, the CSV or the JSON, by the file's name) and its path printed."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from devhost.cli import default_routes, main, report_bytes
from devhost.runner import number_text, run_request
from mysqlexport.report import build_report, server_row
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


def test_cli_run_summarises_the_run_lists_failures_and_writes_the_page(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(discover_body()), encoding="utf-8")
    page = tmp_path / "out" / "run.html"
    code = main(
        [
            "run",
            str(request),
            "--url",
            stack.host.url,
            "--route",
            "exports",
            "--progress",
            "exports/{runId}",
            "--poll-interval",
            "0.02",
            "--report",
            str(page),
        ]
    )
    shown = capsys.readouterr().out
    assert code == 0
    lines = shown.splitlines()
    # the live display's last line and the verdict are two lines, numbers as people read them
    assert any(line.endswith(" done") for line in lines)
    assert any(line.startswith("Completed  instance exp-") for line in lines)
    assert "e+" not in shown
    summary = next(line for line in lines if line.startswith("  exported: "))
    assert re.fullmatch(r"  exported: \d+\.\d (GiB|TiB) \([\d,]+ bytes\) in .+", summary)
    counts = re.search(r"  servers: (\d+) \((\d+) succeeded, (\d+) failed, (\d+) timed out", shown)
    assert counts is not None
    bad = int(counts[3]) + int(counts[4])
    assert bad >= 2
    heading = lines.index(f"Failed or timed out ({bad}):")
    failures = lines[heading + 1 : heading + 1 + bad]
    assert "  billing-db (ProdGroup) Failed: AuthorizationFailed: The client" in "\n".join(
        line[: len("  billing-db (ProdGroup) Failed: AuthorizationFailed: The client")]
        for line in failures
    )
    assert all(re.match(r"  \S+ \(\w+\) (Failed|TimedOut): \w+: ", line) for line in failures)
    assert f"report written to {page.resolve()}" in shown
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in html
    assert "billing-db" in html and "AuthorizationFailed" in html
    # the limit the run used (the app's MAX_CONCURRENCY), read from the run's input
    assert re.search(r"Concurrency limit / peak</b>20 / \d+<", html)
    assert SIG not in shown + html


def test_cli_report_is_json_or_csv_by_its_name(tmp_path: Path) -> None:
    report = build_report(
        "exp-1",
        "2026-11-27T03:00:00Z",
        "2026-11-27T03:01:00Z",
        [
            server_row(
                "/subscriptions/s/resourceGroups/g/providers/P/flexibleServers/a", "Succeeded"
            )
        ],
    )
    assert json.loads(report_bytes(report, tmp_path / "r.json")) == report
    assert report_bytes(report, tmp_path / "r.csv").decode("utf-8-sig").startswith("server,")
    with pytest.raises(SystemExit, match="not a run report"):
        report_bytes({"some": "output"}, tmp_path / "r.html")
    assert number_text("summary.bytes", 8 * 2**30) == "8.0\u00a0GiB"
    assert number_text("total", 10_000.0) == "10,000"

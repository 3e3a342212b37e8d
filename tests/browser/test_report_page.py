"""report.html in a real browser: headless Chromium loads the page of a run the app made (on
devhost, against the ARM emulator), runs its script, and the DOM it dumps has the table, sorted
and filtered as the URL asks, and the timeline's bars; injected markup stays text."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from mysqlexport.report import build_report, server_row
from mysqlexport.report_files import bars, render_html
from scripts.report_page import run_chromium, synthetic_report
from tests.e2e.conftest import Stack, discover_body

pytestmark = pytest.mark.usefixtures("chromium")


class Dom(HTMLParser):
    """What the dumped DOM holds: the table's rows, the timeline's bars, the limit line."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.bars: list[dict[str, str]] = []
        self.limit_lines = 0
        self.tags: list[str] = []
        self.root: dict[str, str] = {}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        if tag == "html":
            self.root = found
        elif tag == "tr" and "data-status" in found:
            self.rows.append(found)
        elif tag == "rect" and found.get("class") == "bar":
            self.bars.append(found)
        elif tag == "line" and found.get("class") == "limit":
            self.limit_lines += 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def load(page: bytes, tmp_path: Path, fragment: str = "") -> Dom:
    path = tmp_path / "report.html"
    path.write_bytes(page)
    dom = Dom()
    dom.feed(run_chromium(path.as_uri() + fragment, "--dump-dom").stdout)
    assert "data-rendered-ms" in dom.root, "the page's script did not run to its end"
    return dom


def demo_run(stack: Stack) -> dict[str, Any]:
    report = stack.run(discover_body(maxConcurrency=2))
    assert report["summary"]["failed"] and report["summary"]["succeeded"]
    return report


def test_page_of_a_run_shows_every_server_and_a_bar_for_each_that_ran(
    stack: Stack, tmp_path: Path
) -> None:
    report = demo_run(stack)
    dom = load(render_html(report), tmp_path)
    assert sorted(r["data-name"] for r in dom.rows) == sorted(
        s["id"].rsplit("/", 1)[1] for s in report["servers"]
    )
    ran = bars(report["servers"])
    assert ran and len(dom.bars) == len(ran)
    assert {b["data-status"] for b in dom.bars} == {b.status for b in ran}
    assert dom.limit_lines == 2  # across the lanes and across the servers in flight
    assert "concurrency limit 2" in "".join(dom.text)


def test_the_url_sorts_the_table_by_size_and_filters_failures(stack: Stack, tmp_path: Path) -> None:
    report = demo_run(stack)
    page = render_html(report)
    by_size = load(page, tmp_path, "#sort=size&dir=desc")
    sizes = [int(r["data-size"]) for r in by_size.rows if r["data-size"]]
    assert len(sizes) >= 3 and sizes == sorted(sizes, reverse=True)
    assert all(not r["data-size"] for r in by_size.rows[len(sizes) :])  # unknown sizes last
    failures = load(page, tmp_path, "#filter=failures&sort=name")
    expected = sorted(
        s["id"].rsplit("/", 1)[1]
        for s in report["servers"]
        if s["status"] in {"Failed", "TimedOut"}
    )
    assert [r["data-name"] for r in failures.rows] == expected
    by_status = load(page, tmp_path, "#sort=status")
    order = ["Failed", "TimedOut", "Canceled", "Skipped", "Succeeded"]
    ranks = [order.index(r["data-status"]) for r in by_status.rows]
    assert ranks == sorted(ranks)


def test_markup_in_names_and_messages_stays_text(tmp_path: Path) -> None:
    evil = '<img src=x onerror="document.title=1">'
    row = server_row(
        f"/subscriptions/s/resourceGroups/g/providers/Microsoft.DBforMySQL/flexibleServers/{evil}",
        "Failed",
        error={"code": "<b>X</b>", "message": f"</script>{evil}"},
    )
    report = build_report("exp-0", "2026-11-27T03:00:00Z", "2026-11-27T03:01:00Z", [row])
    dom = load(render_html(report), tmp_path)
    assert "img" not in dom.tags
    assert [r["data-name"] for r in dom.rows] == [evil]
    shown = "".join(dom.text)
    assert evil in shown and "<b>X</b>" in shown


def test_ten_thousand_servers_render_a_page_of_the_table_and_the_timeline(tmp_path: Path) -> None:
    report = synthetic_report(10_000, concurrency=20)
    dom = load(render_html(report), tmp_path, "#sort=duration&dir=desc&page=3")
    assert len(dom.rows) == 100
    durations = [float(r["data-duration"]) for r in dom.rows]
    assert durations == sorted(durations, reverse=True)
    assert "servers 201\u2013300 of 10000" in "".join(dom.text)
    assert dom.bars and dom.limit_lines == 2

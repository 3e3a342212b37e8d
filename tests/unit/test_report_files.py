"""The report files (mysqlexport/report_files.py): what report.json, servers.csv and report.html
hold, that nothing in them can run or load anything, and that no secret gets into any of them."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import json
import re
from typing import Any

import pytest

from mysqlexport.report import build_report, server_row
from mysqlexport.report_files import (
    CSV_COLUMNS,
    DETAIL_BARS,
    FILES,
    Bar,
    ServerName,
    bars,
    csv_text_cell,
    human_bytes,
    pack_lanes,
    peak_in_flight,
    render_csv,
    render_files,
    render_html,
    render_json,
)
from scripts.report_page import synthetic_report

SUB = "ffffffff-ffff-ffff-ffff-ffffffffffff"
SIG = "c2VjcmV0LXNpZ25hdHVyZQ"
SAS = f"https://acct.blob.core.windows.net/backups?sv=2022-11-02&sr=c&sp=rcw&sig={SIG}%3D%3D"
EVIL_NAME = "<svg onload=alert(1)>"
EVIL_MESSAGE = '</script><img src=x onerror="alert(2)">, "quoted"\nsecond line'


def sid(name: str, group: str = "rg") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.DBforMySQL/flexibleServers/{name}"


def a_report(**request: Any) -> dict[str, Any]:
    rows = [
        server_row(
            sid("orders-db"),
            "Succeeded",
            backup_name="orders-db-1",
            start_time="2026-11-27T03:00:10Z",
            end_time="2026-11-27T03:05:10Z",
            datasource_size=8 * 2**30,
            data_transferred=8 * 2**30,
            attempts=1,
        ),
        server_row(
            sid("billing-db", "prod"),
            "Failed",
            attempts=1,
            error={
                "code": "AuthorizationFailed",
                "message": f"cannot write to {SAS}",
                "status": 403,
            },
        ),
        server_row(
            sid("inventory-db"),
            "Failed",
            start_time="2026-11-27T03:01:00Z",
            end_time="2026-11-27T03:02:30Z",
            datasource_size=5 * 2**30,
            data_transferred=2**30,
            attempts=1,
            error={"code": '=HYPERLINK("http://x")', "message": EVIL_MESSAGE},
        ),
        server_row(
            sid(EVIL_NAME),
            "TimedOut",
            start_time="2026-11-27T03:02:00Z",
            end_time="2026-11-27T05:02:00Z",
            attempts=1,
            error={"code": "DeadlineExceeded", "message": "-1+1"},
        ),
        server_row(
            sid("stopped-db"),
            "Skipped",
            error={"code": "ServerStateNotAllowed", "message": "Stopped"},
        ),
    ]
    body = {"operation": "export", "maxConcurrency": 2, **request}
    return build_report(
        "exp-0123456789abcdef0123",
        "2026-11-27T03:00:00Z",
        "2026-11-27T05:03:00Z",
        rows,
        request=body,
    )


def test_the_three_files_are_named_by_run_and_typed() -> None:
    files = render_files(a_report())
    assert [(f.blob_name, f.content_type) for f in files] == [
        ("exp-0123456789abcdef0123/report.json", "application/json; charset=utf-8"),
        ("exp-0123456789abcdef0123/servers.csv", "text/csv; charset=utf-8"),
        ("exp-0123456789abcdef0123/report.html", "text/html; charset=utf-8"),
    ]
    assert [f.name for f in FILES] == ["report.json", "servers.csv", "report.html"]


def test_no_file_holds_a_sas_signature_from_an_error_message() -> None:
    report = a_report()
    assert SIG in json.dumps(report)  # the input holds one, as a leak would
    for file in render_files(report):
        text = file.content.decode("utf-8")
        assert SIG not in text, file.blob_name
    assert "sig=REDACTED" in render_json(report).decode()
    assert "sig=REDACTED" in render_csv(report).decode("utf-8-sig")


def test_report_json_is_the_report_as_the_api_returns_it() -> None:
    report = a_report()
    report["servers"][2]["error"]["message"] = "naïve — ünïcode"
    data = render_json(report)
    back = json.loads(data.decode("utf-8"))
    assert list(back) == list(report)
    assert list(back["servers"][0]) == list(report["servers"][0])
    assert back["servers"][2]["error"]["message"] == "naïve — ünïcode"
    assert "naïve".encode() in data  # UTF-8, not \\u escapes
    assert data == render_json(a_report() | {"servers": report["servers"]})


def read_csv(report: dict[str, Any]) -> tuple[bytes, list[dict[str, str]]]:
    data = render_csv(report)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return data, rows


def test_servers_csv_has_a_row_per_server_with_the_spreadsheet_columns() -> None:
    report = a_report()
    data, rows = read_csv(report)
    assert data.startswith("\ufeff".encode())
    assert data.decode("utf-8-sig").split("\r\n")[0] == ",".join(CSV_COLUMNS)
    assert len(rows) == len(report["servers"])
    orders = next(r for r in rows if r["server"] == "orders-db")
    assert orders == {
        "server": "orders-db",
        "subscription": SUB,
        "resourceGroup": "rg",
        "status": "Succeeded",
        "errorCode": "",
        "errorMessage": "",
        "backupName": "orders-db-1",
        "startTime": "2026-11-27T03:00:10Z",
        "endTime": "2026-11-27T03:05:10Z",
        "durationSeconds": "300",
        "sizeBytes": str(8 * 2**30),
        "transferredBytes": str(8 * 2**30),
        "attempts": "1",
        "resourceId": sid("orders-db"),
    }
    billing = next(r for r in rows if r["server"] == "billing-db")
    assert (billing["resourceGroup"], billing["errorCode"], billing["durationSeconds"]) == (
        "prod",
        "AuthorizationFailed",
        "",
    )


def test_servers_csv_quotes_per_rfc_4180_and_defuses_formulas() -> None:
    data, rows = read_csv(a_report())
    inventory = next(r for r in rows if r["server"] == "inventory-db")
    # a comma, quotes and a line break survive the round trip (quoted, quotes doubled)
    assert inventory["errorMessage"] == EVIL_MESSAGE
    assert '""quoted""' in data.decode("utf-8-sig")
    # a cell a spreadsheet would evaluate is text
    assert inventory["errorCode"] == '\'=HYPERLINK("http://x")'
    timed_out = next(r for r in rows if r["status"] == "TimedOut")
    assert timed_out["errorMessage"] == "'-1+1"
    for start in "=+-@\t\r":
        assert csv_text_cell(f"{start}cmd").startswith("'")
    assert csv_text_cell("orders-db") == "orders-db"


def page_of(report: dict[str, Any], **options: Any) -> str:
    return render_html(report, **options).decode("utf-8")


def test_page_loads_nothing_and_allows_only_its_own_script_and_style() -> None:
    page = page_of(synthetic_report(30, concurrency=8))
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    policy = dict(p.strip().split(" ", 1) for p in csp.group(1).split(";"))
    assert policy["default-src"] == "'none'"
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(scripts) == 1 and len(styles) == 1

    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert policy["script-src"] == sha(scripts[0])
    assert policy["style-src"] == sha(styles[0])
    # nothing that would fetch: no src, href, url() or @import anywhere
    for needle in ("src=", "href=", "url(", "@import", "<link", "<iframe", "<object"):
        assert needle not in page, needle


def test_page_escapes_server_names_and_error_messages() -> None:
    page = page_of(a_report())
    assert EVIL_NAME not in page
    assert "<img" not in page
    assert 'onerror="alert' not in page
    assert "&lt;svg onload=alert(1)&gt;" in page  # shown as text in the lists
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert data is not None
    assert "</" not in data.group(1) and "<" not in data.group(1)
    table = json.loads(data.group(1))
    names = [row[0] for row in table["rows"]]
    assert EVIL_NAME in names  # the script puts it in the DOM as text (textContent)
    assert len(table["rows"]) == 5


def test_page_shows_summary_failures_with_the_arm_code_first_and_the_limit() -> None:
    page = page_of(a_report())
    assert "PartiallySucceeded" in page
    assert "8.0 GiB" in page  # bytes exported, human
    assert "Failures (3)" in page
    failures = page[page.index('id="failures"') : page.index("<h2>Timeline")]
    assert re.search(r"<li><code>AuthorizationFailed</code> <b>billing-db</b>", failures)
    assert "DeadlineExceeded" in failures and "ServerStateNotAllowed" not in failures
    assert "concurrency limit 2" in page
    assert page.count('<rect class="bar"') == 3  # the servers with a start and an end


def test_page_says_when_the_request_left_the_limit_to_the_default() -> None:
    report = a_report(maxConcurrency=None)
    assert "default (the request named none)" in page_of(report)
    assert "concurrency limit 5" in page_of(report, concurrency=5)


def test_timeline_lanes_are_the_peak_and_never_overlap() -> None:
    items = [
        Bar(0, 10, "Succeeded", "a"),
        Bar(1, 4, "Failed", "b"),
        Bar(4, 9, "Succeeded", "c"),
        Bar(5, 6, "Succeeded", "d"),
        Bar(10, 12, "Succeeded", "e"),
    ]
    lanes = pack_lanes(items)
    assert max(lanes) + 1 == peak_in_flight(items) == 3
    for lane in set(lanes):
        mine = sorted((b.start, b.end) for b, n in zip(items, lanes, strict=True) if n == lane)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(mine))


def test_ten_thousand_servers_stay_within_a_megabyte_with_merged_bars() -> None:
    report = synthetic_report(10_000, concurrency=20)
    page = page_of(report)
    assert len(page.encode()) < 1_000_000
    drawn = page.count('<rect class="bar"')
    assert 0 < drawn < len(bars(report["servers"])) and len(bars(report["servers"])) > DETAIL_BARS
    assert "lanes: 20 lanes" in page  # the window never ran more than its limit


def test_names_are_read_from_resource_ids_leniently() -> None:
    assert ServerName.of(sid("db1", "g")) == ServerName("db1", SUB, "g")
    assert ServerName.of("not-an-id") == ServerName("not-an-id", "", "")
    assert human_bytes(8 * 2**30) == "8.0 GiB" and human_bytes(512) == "512 B"


@pytest.mark.parametrize("empty", [[], None])
def test_a_run_with_no_servers_renders(empty: Any) -> None:
    report = build_report("exp-0", "2026-11-27T03:00:00Z", "2026-11-27T03:00:01Z", [])
    report["servers"] = empty
    assert b"nothing to draw" in render_html(report)
    assert render_csv(report).decode("utf-8-sig") == ",".join(CSV_COLUMNS) + "\r\n"

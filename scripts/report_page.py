"""The report page at scale: its size, the time to make it, and the time a browser takes with it.

``python -m scripts.report_page --servers 10000`` (``make report-page``) builds a synthetic run
report of that many servers (deterministic: a fixed seed, mixed outcomes, exports scheduled
through a sliding window of ``--concurrency``, as the app runs them), renders ``report.html``
with ``mysqlexport.report_files`` and prints:

* the file's size, and the time ``render_html`` took (the best of three);
* what headless Chromium takes with it (the median of three runs each):
  - ``in page``: ``performance.now()`` that the page's own script writes into the DOM when it
    has rendered the table (``data-rendered-ms``: from navigation start, through parsing the
    HTML, the SVG and the rows' JSON, to the first page of the table built), and at the load
    event (``data-load-ms``);
  - ``browser``: the wall time of ``chromium --headless --dump-dom`` on the page minus the same
    on an empty page (start-up and shut-down of the browser taken out). This includes layout
    of the whole document; ``--dump-dom`` prints the DOM once the page has loaded, so painting
    is not in it.

``python -m scripts.report_page --screenshot docs/report-screenshot.png`` (``make screenshot``)
writes a PNG of the page of a demo-like run (30 servers, concurrency 8, some failures); that
exact command made ``docs/report-screenshot.png``. ``--out FILE`` keeps the HTML.

Chromium is Debian's ``chromium`` (``apt-get install -y chromium``). It runs with the flags that
keep it off the network (no background networking, component updates, sync or QUIC) and a fresh
profile each time; the page itself can load nothing (its Content-Security-Policy).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mysqlexport.report import (
    CANCELED,
    FAILED,
    SKIPPED,
    SUCCEEDED,
    TIMED_OUT,
    ServerRow,
    build_report,
    server_row,
)
from mysqlexport.report_files import render_html
from mysqlexport.times import iso

CHROMIUM = "/usr/bin/chromium"
#: Flags that keep headless Chromium from reaching any network service of its own.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--no-default-browser-check",
)
#: The most a browser run may take before it is stopped (a hang, not a slow machine).
BROWSER_TIMEOUT = 180.0
SUBSCRIPTIONS = ("0b1f6471-1bf0-4dda-aec3-111122223333", "7c9e6679-7425-40de-944b-e07fc1f90ae7")
GROUPS = ("prod-eu", "prod-us", "staging", "analytics", "billing")
KINDS = ("orders", "billing", "inventory", "analytics", "users", "payments", "search", "audit")
#: A small run (a demo's) shows each kind of outcome: these servers' draws are fixed.
DEMO_SERVERS = 40
DEMO_OUTCOMES = {2: 0.021, 9: 0.03, 13: 0.04, 17: 0.01, 21: 0.035, 26: 0.068}
#: (code, message, whether it failed at submission: no times)
FAILURES = (
    (
        "AuthorizationFailed",
        "The client '00000000-0000-0000-0000-00000000a11c' does not have authorization to "
        "perform action 'Microsoft.DBforMySQL/flexibleServers/backupAndExport/action' over "
        "scope '{id}' or the scope is invalid.",
        True,
    ),
    (
        "AggregateException",
        "System.AggregateException: One or more errors occurred. (Mismatch in count of number "
        "of Commited-Blocks from service.)",
        False,
    ),
    ("ServerBusy", "The server {name} is busy with another operation.", True),
    ("InternalServerError", "An unexpected error occured while processing the request.", False),
)


def chromium_command(url: str, profile: Path, *extra: str) -> list[str]:
    """The command line for one headless run on ``url`` with a fresh ``profile`` directory."""
    return [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url]


def run_chromium(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium once (fresh profile, bounded time) and return what it printed."""
    with tempfile.TemporaryDirectory(prefix="report-page-chromium-") as profile:
        return subprocess.run(  # noqa: S603 - a fixed command, no shell
            chromium_command(url, Path(profile), *extra),
            capture_output=True,
            text=True,
            timeout=BROWSER_TIMEOUT,
            check=True,
        )


def chromium_available() -> bool:
    """Whether ``CHROMIUM`` is installed."""
    return Path(CHROMIUM).exists()


def install_chromium() -> str | None:
    """Install Debian's chromium with apt-get when it is missing; None when it is there after,
    else why it could not be installed."""
    if chromium_available():
        return None
    apt = shutil.which("apt-get")
    if apt is None:
        return "no apt-get on this machine to install Debian's chromium"
    try:
        done = subprocess.run(  # noqa: S603 - a fixed command, no shell
            [apt, "install", "-y", "--no-install-recommends", "chromium"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            # a fresh machine may not have the package lists yet
            subprocess.run([apt, "update"], capture_output=True, timeout=600, check=False)  # noqa: S603
            done = subprocess.run(  # noqa: S603 - a fixed command, no shell
                [apt, "install", "-y", "--no-install-recommends", "chromium"],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"apt-get install chromium failed: {err}"
    if chromium_available():
        return None
    return f"apt-get install chromium failed: {done.stderr.strip()[-300:]}"


def synthetic_report(
    servers: int, *, concurrency: int = 20, seed: int = 14, operation: str = "export"
) -> dict[str, Any]:
    """A run report of ``servers`` servers as the app would write it: ~90 % Succeeded, failures
    at submission (no times) and during the export (ARM's codes), some TimedOut, Skipped and
    Canceled; exports start as the sliding window of ``concurrency`` frees a slot."""
    rng = random.Random(seed)  # noqa: S311 - a seeded synthetic run, not a secret
    start = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    slots = [start + timedelta(seconds=rng.uniform(0, 20)) for _ in range(concurrency)]
    rows: list[ServerRow] = []
    for n in range(servers):
        subscription = SUBSCRIPTIONS[n % len(SUBSCRIPTIONS)]
        group = GROUPS[rng.randrange(len(GROUPS))]
        name = f"{KINDS[n % len(KINDS)]}-db-{n:05d}" if servers > DEMO_SERVERS else _demo_name(n)
        server = (
            f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
            f"Microsoft.DBforMySQL/flexibleServers/{name}"
        )
        draw = DEMO_OUTCOMES.get(n, rng.random()) if servers <= DEMO_SERVERS else rng.random()
        size = int(rng.lognormvariate(22.5, 1.1)) // 4096 * 4096
        if draw < 0.02:
            rows.append(
                server_row(
                    server,
                    SKIPPED,
                    error={"code": "ServerStateNotAllowed", "message": "server state is Stopped"},
                )
            )
            continue
        slot = min(range(concurrency), key=lambda i: slots[i])
        begin = slots[slot] + timedelta(seconds=rng.uniform(1, 4))
        duration = timedelta(seconds=60 + size / rng.uniform(40e6, 120e6))
        if draw < 0.055:
            pick = n if servers <= DEMO_SERVERS else rng.randrange(len(FAILURES))
            code, text, at_submit = FAILURES[pick % len(FAILURES)]
            message = text.format(id=server, name=name)
            if at_submit:
                slots[slot] = begin
                rows.append(
                    server_row(
                        server,
                        FAILED,
                        attempts=rng.choice((1, 3)),
                        error={"code": code, "message": message},
                    )
                )
                continue
            part = rng.uniform(0.1, 0.9)
            end = begin + duration * part
            rows.append(
                server_row(
                    server,
                    FAILED,
                    start_time=iso(begin),
                    end_time=iso(end),
                    datasource_size=size,
                    data_transferred=int(size * part),
                    percent_complete=round(part * 100, 1),
                    attempts=1,
                    error={"code": code, "message": message},
                )
            )
        elif draw < 0.065:
            end = begin + timedelta(hours=2)
            rows.append(
                server_row(
                    server,
                    TIMED_OUT,
                    start_time=iso(begin),
                    end_time=iso(end),
                    datasource_size=size,
                    attempts=1,
                    error={"code": "DeadlineExceeded", "message": "still running after 120 min"},
                )
            )
        elif draw < 0.07:
            rows.append(server_row(server, CANCELED, attempts=0))
            continue
        else:
            end = begin + duration
            rows.append(
                server_row(
                    server,
                    SUCCEEDED,
                    backup_name=f"{name}-20261127030000",
                    start_time=iso(begin),
                    end_time=iso(end),
                    percent_complete=100.0,
                    datasource_size=size,
                    data_transferred=size,
                    attempts=1,
                )
            )
        slots[slot] = end
    finish = max(slots) + timedelta(seconds=5)
    request = {
        "servers": [],
        "discover": {"subscriptions": list(SUBSCRIPTIONS), "tags": {"backup": "nightly"}},
        "sasUriCount": 1,
        "backupName": "{server}-{utc:yyyyMMddHHmmss}",
        "backupFormat": None,
        "maxConcurrency": concurrency,
        "deadlineMinutes": 120,
        "dryRun": False,
        "operation": operation,
    }
    return build_report(
        f"exp-{random.Random(seed).getrandbits(80):020x}",  # noqa: S311
        iso(start),
        iso(finish),
        rows,
        request=request,
    )


def _demo_name(n: int) -> str:
    return f"{KINDS[n % len(KINDS)]}-{'eu' if n % 3 else 'us'}-{n // len(KINDS) + 1}"


def best_of(repeats: int, action: Any) -> tuple[float, Any]:
    """The shortest wall time of ``repeats`` calls of ``action`` and its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        began = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - began)
    return best, result


def browser_figures(page: Path, repeats: int = 3) -> dict[str, float]:
    """Median figures of headless Chromium on ``page`` (see the module's doc)."""
    blank = page.with_name("blank.html")
    blank.write_text("<!DOCTYPE html><title>blank</title>", encoding="utf-8")
    walls, blanks, rendered, loaded = [], [], [], []
    for _ in range(repeats):
        began = time.perf_counter()
        run_chromium(blank.as_uri(), "--dump-dom")
        blanks.append(time.perf_counter() - began)
        began = time.perf_counter()
        dom = run_chromium(page.as_uri(), "--dump-dom").stdout
        walls.append(time.perf_counter() - began)
        rendered.append(_attribute_ms(dom, "data-rendered-ms"))
        loaded.append(_attribute_ms(dom, "data-load-ms"))
    return {
        "renderedMs": statistics.median(rendered),
        "loadMs": statistics.median(loaded),
        "browserSeconds": statistics.median(walls) - statistics.median(blanks),
        "blankSeconds": statistics.median(blanks),
    }


def _attribute_ms(dom: str, name: str) -> float:
    tag = dom.find("<html")
    head = dom[tag : dom.find(">", tag) + 1]
    marker = f'{name}="'
    if marker not in head:
        raise RuntimeError(f"the page did not write {name}: its script did not run to its end")
    return float(head.split(marker, 1)[1].split('"', 1)[0])


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 1900) -> None:
    """A PNG of ``page`` as headless Chromium draws it at ``width`` x ``height``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    run_chromium(
        page.as_uri(),
        f"--screenshot={out.resolve()}",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the page's figures, or write a screenshot."""
    parser = argparse.ArgumentParser(prog="python -m scripts.report_page", description=__doc__)
    parser.add_argument("--servers", type=int, default=None, help="servers in the run")
    parser.add_argument("--concurrency", type=int, default=None, help="the run's limit")
    parser.add_argument("--screenshot", type=Path, default=None, metavar="PNG")
    parser.add_argument("--out", type=Path, default=None, help="keep the page here")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium figures")
    args = parser.parse_args(argv)
    shot = args.screenshot is not None
    servers = args.servers or (30 if shot else 10_000)
    concurrency = args.concurrency or (8 if shot else 20)
    report = synthetic_report(servers, concurrency=concurrency)
    seconds, page = best_of(3, lambda: render_html(report))
    with tempfile.TemporaryDirectory(prefix="report-page-") as tmp:
        path = args.out or Path(tmp) / "report.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(page)
        summary = report["summary"]
        counts = {k: summary[k] for k in ("succeeded", "failed", "timedOut", "skipped", "canceled")}
        print(
            f"report.html of {servers:,} servers (concurrency {concurrency}; {json.dumps(counts)})"
        )
        print(f"  size            {len(page):,} bytes ({len(page) / 2**20:.2f} MiB)")
        print(f"  render_html     {seconds * 1000:.0f} ms (best of 3)")
        if args.out:
            print(f"  written to      {args.out}")
        if args.no_browser and not shot:
            return 0
        if not chromium_available():
            print(f"  browser         {CHROMIUM} is missing: apt-get install -y chromium")
            return 1
        if shot:
            screenshot(path, args.screenshot)
            print(f"  screenshot      {args.screenshot}")
            return 0
        figures = browser_figures(path)
        print(
            f"  in page         table rendered at {figures['renderedMs']:.0f} ms, load event at "
            f"{figures['loadMs']:.0f} ms after navigation start (median of 3)"
        )
        print(
            f"  browser         {figures['browserSeconds'] * 1000:.0f} ms for --dump-dom beyond an "
            f"empty page ({figures['blankSeconds'] * 1000:.0f} ms: start-up and exit; median of 3)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

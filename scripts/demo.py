"""`make demo`: a fleet export end to end — the app on the local durable host, ARM emulated.

What runs is the real app (function_app.py) hosted by devhost the way `func start` hosts it, with
the ARM emulator standing in for Azure on a virtual clock that both share: hours of exports pass
in seconds. The demo talks to the app only over its HTTP API, as a script or a Logic App would:

1. a dry run: validateBackup for every server (nothing exported);
2. the export: POST /api/exports, live progress from GET /api/exports/{id}, then the report
   from the status URL (202 while running, 200 with the run report);
3. the same request while the service refuses exports ("paused"): the circuit breaker reports
   ARM's own error after the first few submissions instead of sending one per server;
4. an on-demand backup (backupsV2, generally available) of the same fleet: the same request with
   ``"operation": "backup"`` and no target, through the same machinery.

Each run's report is written to its own file as soon as the run ends, and the message names
the run: reports/demo-1-dry-run.json, demo-report.json (the export, run 2, with its page
demo-report.html, as ``report.html`` is written for every run), demo-3-paused.json and
demo-backup-report.json (run 4). The end of the demo lists them again, each with its run id.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.live import Live
from rich.table import Table

from armemulator import Emulator, EmulatorConfig, VirtualClock, default_fleet, make_fleet
from devhost import DevHost
from devhost.cli import run_summary
from mysqlexport.redaction import install_log_redaction
from mysqlexport.report_files import render_html, render_json
from mysqlexport.sealing import Sealer

ROOT = Path(__file__).resolve().parents[1]
#: Where the runs' reports go.
REPORTS = ROOT / "reports"
SUBSCRIPTION = "ffffffff-ffff-ffff-ffff-ffffffffffff"
# A container SAS as a storage account would issue it. The emulator writes no storage; the
# signature is fake but is handled as the secret it would be (it appears nowhere below).
SAS = (
    "https://demostorage.blob.core.windows.net/mysql-backups"
    "?sv=2022-11-02&sr=c&sp=rcw&se=2030-01-01T00%3A00%3A00Z&sig=ZGVtby1zaWduYXR1cmU%3D"
)
STYLE = {
    "Succeeded": "green",
    "Failed": "red",
    "Skipped": "yellow",
    "TimedOut": "magenta",
    "Canceled": "yellow",
}


def request_body(**extra: Any) -> dict[str, Any]:
    """Export every Ready server of the subscription (the rest are reported Skipped)."""
    body: dict[str, Any] = {
        "discover": {"subscriptions": [SUBSCRIPTION], "states": ["Ready"]},
        "target": {"sasUriList": [SAS]},
        "backupName": "{server}-{utc:yyyyMMddHHmm}",
        "maxConcurrency": 8,
    }
    body.update(extra)
    return body


def progress_table(progress: dict[str, Any], clock: VirtualClock) -> Table:
    """Counts by state and the servers in flight, as GET /api/exports/{id} reports them."""
    summary = progress.get("summary") or {}
    table = Table(
        title=f"run {progress.get('runId')} — {progress.get('runtimeStatus')}, "
        f"phase {progress.get('phase')}, emulated time "
        f"{time.strftime('%H:%M', time.gmtime(clock.now()))}"
    )
    for key in ("total", "running", "succeeded", "failed", "skipped", "timedOut", "canceled"):
        table.add_column(key, justify="right")
    table.add_row(
        *(
            str(summary.get(key, ""))
            for key in (
                "total",
                "running",
                "succeeded",
                "failed",
                "skipped",
                "timedOut",
                "canceled",
            )
        )
    )
    return table


def run(
    session: requests.Session,
    host: DevHost,
    clock: VirtualClock,
    body: dict[str, Any],
    console: Console,
) -> dict[str, Any]:
    """Start a run over HTTP, show live progress, return the report."""
    started = session.post(f"{host.url}/api/exports", json=body, timeout=30)
    if started.status_code != 202:
        console.print(f"[red]refused ({started.status_code})[/red]: {started.text}")
        raise SystemExit(1)
    run_id = started.json()["id"]
    status_url = started.headers["Location"]
    with Live(console=console, refresh_per_second=8) as live:
        while True:
            final = session.get(status_url, timeout=30)
            progress = session.get(f"{host.url}/api/exports/{run_id}", timeout=30).json()
            live.update(progress_table(progress, clock))
            if final.status_code == 200:
                break
            time.sleep(0.1)
    console.print()
    answer = final.json()
    if answer.get("runtimeStatus") != "Completed":
        console.print(f"[red]run ended {answer.get('runtimeStatus')}[/red]: {answer.get('output')}")
        raise SystemExit(1)
    return answer["output"]  # type: ignore[no-any-return]


def backup_table(report: dict[str, Any], title: str) -> Table:
    """One row per server: its on-demand backup (name, completed) or ARM's own error code."""
    table = Table(title=title)
    for column in ("server", "status", "backup", "completed", "ARM error"):
        table.add_column(column, no_wrap=True)
    for row in report["servers"]:
        backup = row.get("backup") or {}
        error = row.get("error") or {}
        table.add_row(
            row["id"].rsplit("/", 1)[1],
            f"[{STYLE.get(row['status'], 'white')}]{row['status']}[/]",
            backup.get("name") or "",
            (backup.get("completedTime") or "")[:19],
            error.get("code", ""),
        )
    return table


def write_report(
    report: dict[str, Any], name: str, what: str, console: Console, written: list[str]
) -> Path:
    """Write ``report`` to reports/``name`` (as ``report.json`` of the run; ``.html``: the page),
    say which run it holds and where, and add that to ``written``."""
    out = REPORTS / name
    out.parent.mkdir(parents=True, exist_ok=True)
    page = out.suffix == ".html"
    out.write_bytes(render_html(report) if page else render_json(report))
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    line = f"{what}, run {report['runId']}: {'page' if page else 'report'} {shown}"
    console.print(line, highlight=False, soft_wrap=True)
    written.append(line)
    return out


def print_summary(report: dict[str, Any], console: Console) -> None:
    """The run in plain lines: outcome, counts, bytes, each failed server with ARM's code."""
    for line in run_summary(report):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def report_table(report: dict[str, Any], title: str) -> Table:
    """One row per server: what happened and, when it failed, ARM's own error code."""
    table = Table(title=title)
    for column in ("server", "status", "size", "tries", "ARM error"):
        table.add_column(column, no_wrap=True)
    for row in report["servers"]:
        size = row.get("dataTransferredInBytes") or row.get("datasourceSizeInBytes")
        error = row.get("error") or {}
        table.add_row(
            row["id"].rsplit("/", 1)[1],
            f"[{STYLE.get(row['status'], 'white')}]{row['status']}[/]",
            f"{size / 2**30:.1f} GiB" if size else "",
            str(row.get("attempts", "")),
            error.get("code", ""),
        )
    return table


def main() -> int:
    """Run the demo; 0 when every run reported every server."""
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    console = Console()
    clock = VirtualClock(start=1_800_000_000)
    fleet = (
        *default_fleet(),
        *make_fleet(
            24, seed=7, subscription=SUBSCRIPTION, stopped_fraction=0.05, fail_fraction=0.05
        ),
    )
    with Emulator(EmulatorConfig(clock=clock, seed=42, fleet=fleet)) as emu:
        os.environ.update(
            {
                "ARM_ENDPOINT": emu.url,
                "IDENTITY_ENDPOINT": emu.token_endpoint,
                "IDENTITY_HEADER": emu.identity_header,
                "SAS_SEALING_KEY": os.environ.get("SAS_SEALING_KEY") or Sealer.new_key(),
                "EXPORT_SCHEDULE": os.environ.get("EXPORT_SCHEDULE", "0 0 2 * * *"),
            }
        )
        with DevHost(ROOT, clock=clock, load_settings=False, timer_triggers=False) as host:
            session = requests.Session()
            console.rule(f"ARM emulator {emu.url} · devhost {host.url} · {len(fleet)} servers")

            written: list[str] = []
            console.rule("1. Dry run: can every server be exported?")
            dry = run(session, host, clock, request_body(dryRun=True), console)
            console.print(report_table(dry, "Dry run (validateBackup, nothing exported)"))
            write_report(dry, "demo-1-dry-run.json", "1. dry run", console, written)

            console.rule("2. Export the fleet")
            report = run(session, host, clock, request_body(), console)
            console.print(report_table(report, f"Run {report['runId']}"))
            print_summary(report, console)
            write_report(report, "demo-report.json", "2. export", console, written)
            page = write_report(report, "demo-report.html", "2. export", console, written)
            console.print(f"open {page.as_uri()}", highlight=False, soft_wrap=True)

            console.rule("3. The same request while the service refuses exports")
            emu.set_paused(
                (400, "FeatureNotAvailable", "On-demand backup and export is temporarily paused.")
            )
            paused = run(session, host, clock, request_body(), console)
            breaker = paused.get("breaker") or {}
            console.print(
                f"circuit breaker: {breaker.get('code')} after {breaker.get('probed')} submissions"
            )
            print_summary(paused, console)
            write_report(
                paused, "demo-3-paused.json", "3. export, service paused", console, written
            )

            console.rule("4. On-demand backups of the same fleet (backupsV2, generally available)")
            emu.set_paused(None)
            body = request_body(operation="backup")
            del body["target"]
            backups = run(session, host, clock, body, console)
            console.print(backup_table(backups, f"Run {backups['runId']} (operation: backup)"))
            print_summary(backups, console)
            write_report(backups, "demo-backup-report.json", "4. backup", console, written)
            console.print(f"ARM requests answered by the emulator: {emu.counters().requests}")
            console.rule("Reports written, one file per run")
            for line in written:
                console.print(f"  {line}", highlight=False, soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

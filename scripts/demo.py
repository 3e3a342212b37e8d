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

The export's target is ``target.containers``: blob containers on Azurite (Microsoft's storage
emulator, started on loopback with OAuth and HTTPS, ``devhost/azurite.py``), named without a SAS.
For each server's export the app mints a user-delegation SAS with its identity (the emulator's
managed-identity endpoint), and the emulated service writes the backup files through it into the
container; the demo lists them with the account key at the end (setup and listing only: the app
never uses the key). The app also writes every run's report files to a ``reports`` container
(``REPORT_CONTAINER_URL``).

Each run's report is written to its own file as soon as the run ends, and the message names
the run: reports/demo-1-dry-run.json, demo-report.json (the export, run 2, with its page
demo-report.html, as ``report.html`` is written for every run), demo-3-paused.json and
demo-backup-report.json (run 4). The end of the demo lists them again, each with its run id,
and the blobs in the two containers.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests
from azure.storage.blob import BlobServiceClient
from rich.console import Console
from rich.live import Live
from rich.table import Table

from armemulator import Emulator, EmulatorConfig, VirtualClock, default_fleet, make_fleet
from devhost import DevHost
from devhost.azurite import Azurite
from devhost.cli import run_summary
from mysqlexport.redaction import install_log_redaction
from mysqlexport.report_files import render_html, render_json
from mysqlexport.sealing import Sealer

ROOT = Path(__file__).resolve().parents[1]
#: Where the runs' reports go.
REPORTS = ROOT / "reports"
SUBSCRIPTION = "ffffffff-ffff-ffff-ffff-ffffffffffff"
#: The containers the demo creates on Azurite: the export's target and the report files'.
BACKUPS, REPORT_FILES = "mysql-backups", "reports"
STYLE = {
    "Succeeded": "green",
    "Failed": "red",
    "Skipped": "yellow",
    "TimedOut": "magenta",
    "Canceled": "yellow",
}


def request_body(containers: list[str], **extra: Any) -> dict[str, Any]:
    """Export every Ready server of the subscription (the rest are reported Skipped) to
    ``containers``, named without a SAS: the app mints one per export."""
    body: dict[str, Any] = {
        "discover": {"subscriptions": [SUBSCRIPTION], "states": ["Ready"]},
        "target": {"containers": containers},
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


def _account(azurite: Azurite) -> BlobServiceClient:
    """Azurite's account with its well-known key: the demo's setup and listing, never the app."""
    key = {"account_name": azurite.account_name, "account_key": azurite.account_key}
    return BlobServiceClient(
        azurite.blob_endpoint, credential=key, connection_verify=str(azurite.ca_bundle)
    )


def create_containers(azurite: Azurite, *names: str) -> list[str]:
    """Create the containers; their URLs (no SAS)."""
    with _account(azurite) as account:
        for name in names:
            account.create_container(name)
    return [azurite.container_url(name) for name in names]


def list_blobs(azurite: Azurite, container: str, prefix: str | None = None) -> list[str]:
    """The names of the blobs in ``container`` (under ``prefix``)."""
    with _account(azurite) as account:
        blobs = account.get_container_client(container).list_blobs(name_starts_with=prefix)
        return sorted(blob.name for blob in blobs)


#: Blob names printed per container; the rest are counted.
SHOWN_BLOBS = 8


def print_blobs(azurite: Azurite, container: str, prefix: str | None, console: Console) -> None:
    names = list_blobs(azurite, container, prefix)
    where = azurite.container_url(container) + (f"/{prefix}" if prefix else "")
    console.print(f"{len(names)} blobs in {where}:", highlight=False, soft_wrap=True)
    for name in names[:SHOWN_BLOBS]:
        console.print(f"  {name}", highlight=False, markup=False, soft_wrap=True)
    if len(names) > SHOWN_BLOBS:
        console.print(f"  ... and {len(names) - SHOWN_BLOBS} more", highlight=False)


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
    console.print("starting Azurite (installed into tools/azurite on first use)")
    with (
        Azurite() as azurite,
        Emulator(
            EmulatorConfig(
                clock=clock, seed=42, fleet=fleet, storage_ca_bundle=str(azurite.ca_bundle)
            )
        ) as emu,
    ):
        containers = create_containers(azurite, BACKUPS, REPORT_FILES)
        os.environ.update(
            {
                "ARM_ENDPOINT": emu.url,
                "IDENTITY_ENDPOINT": emu.token_endpoint,
                "IDENTITY_HEADER": emu.identity_header,
                # the app's storage calls trust Azurite's throwaway CA as the system's
                "REQUESTS_CA_BUNDLE": str(azurite.ca_bundle),
                "REPORT_CONTAINER_URL": containers[1],
                "SAS_SEALING_KEY": os.environ.get("SAS_SEALING_KEY") or Sealer.new_key(),
                "EXPORT_SCHEDULE": os.environ.get("EXPORT_SCHEDULE", "0 0 2 * * *"),
            }
        )
        target = containers[:1]
        with DevHost(ROOT, clock=clock, load_settings=False, timer_triggers=False) as host:
            session = requests.Session()
            console.rule(f"ARM emulator {emu.url} · devhost {host.url} · {len(fleet)} servers")

            written: list[str] = []
            console.rule("1. Dry run: can every server be exported?")
            dry = run(session, host, clock, request_body(target, dryRun=True), console)
            console.print(report_table(dry, "Dry run (validateBackup, nothing exported)"))
            write_report(dry, "demo-1-dry-run.json", "1. dry run", console, written)

            console.rule(f"2. Export the fleet to {target[0]} (a SAS minted per export)")
            report = run(session, host, clock, request_body(target), console)
            console.print(report_table(report, f"Run {report['runId']}"))
            print_summary(report, console)
            write_report(report, "demo-report.json", "2. export", console, written)
            page = write_report(report, "demo-report.html", "2. export", console, written)
            console.print(f"open {page.as_uri()}", highlight=False, soft_wrap=True)

            console.rule("3. The same request while the service refuses exports")
            emu.set_paused(
                (400, "FeatureNotAvailable", "On-demand backup and export is temporarily paused.")
            )
            paused = run(session, host, clock, request_body(target), console)
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
            body = request_body(target, operation="backup")
            del body["target"]
            backups = run(session, host, clock, body, console)
            console.print(backup_table(backups, f"Run {backups['runId']} (operation: backup)"))
            print_summary(backups, console)
            write_report(backups, "demo-backup-report.json", "4. backup", console, written)
            console.print(f"ARM requests answered by the emulator: {emu.counters().requests}")
            console.rule("Reports written, one file per run")
            for line in written:
                console.print(f"  {line}", highlight=False, soft_wrap=True)
            console.rule("In storage (Azurite), listed with the account key")
            console.print(f"the export's page: {page}", highlight=False, soft_wrap=True)
            print_blobs(azurite, BACKUPS, None, console)
            print_blobs(azurite, REPORT_FILES, f"{report['runId']}/", console)
    return 0


if __name__ == "__main__":
    sys.exit(main())

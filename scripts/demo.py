"""`make demo`: one export, end to end, against the ARM emulator — as a user would see it.

Starts the emulator on loopback (time runs 30x faster so a few-minute export takes seconds),
points the app settings and azure-identity's managed identity variables at it, then drives the
real ARM client: list the fleet, validate one server, export it, follow the operation with the
polling rules, read the final result, and show what ARM says for a server that does not exist,
one the identity may not touch and one whose export fails.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from armemulator import Emulator, EmulatorConfig, ScaledClock
from mysqlexport import (
    AcceptedOperation,
    ArmClient,
    ArmError,
    ExportError,
    SecretUri,
    ServerId,
    Settings,
    StillRunning,
)
from mysqlexport.lro import PollPolicy, next_poll_delay
from mysqlexport.redaction import install_log_redaction

SUBSCRIPTION = "ffffffff-ffff-ffff-ffff-ffffffffffff"
TIME_SCALE = 30.0
# A container SAS as the storage account would issue it. The emulator does not write storage;
# the signature is fake but is treated as the secret it would be.
SAS = SecretUri(
    "https://demostorage.blob.core.windows.net/mysql-backups"
    "?sv=2022-11-02&sr=c&sp=rcw&se=2030-01-01T00%3A00%3A00Z&sig=ZGVtby1zaWduYXR1cmU%3D"
)


def export_one(client: ArmClient, server: ServerId, console: Console, clock: ScaledClock) -> None:
    """Validate, submit and follow one export until ARM reports its final result."""
    containers = client.validate_backup(server)
    console.print(f"validateBackup: {server.name} needs {containers} container(s)")
    backup_name = f"{server.name}-demo-{int(clock.now())}"
    submitted = client.submit_export(server, backup_name, [SAS] * max(containers, 1), "Raw")
    if not isinstance(submitted, AcceptedOperation):
        console.print(f"ARM answered at once: {submitted.status}")
        return
    polled = "Azure-AsyncOperation" if submitted.async_operation_url else "Location"
    console.print(f"accepted: polling {polled}")
    policy = PollPolicy(default_seconds=30, max_seconds=300)
    started = clock.now()
    delay = submitted.retry_after
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%  {task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(backup_name, total=100, status="Pending")
        while True:
            # On a time-scaled emulator Retry-After arrives as retry-after-ms in real time.
            wait = next_poll_delay(delay, None, None, policy) if delay is not None else 1.0
            time.sleep(wait)  # a script may sleep; activities never do
            status = client.get_status(submitted.status_url)
            progress.update(task, completed=status.percent_complete or 0, status=status.status)
            if status.is_terminal:
                break
            delay = next_poll_delay(
                status.retry_after, status.percent_complete, clock.now() - started, policy
            )
    try:
        result = client.get_result(submitted.location_url or submitted.status_url)
    except ExportError as err:
        console.print(f"[red]export failed[/red]: {err}")
        return
    if isinstance(result, StillRunning):
        console.print("[yellow]status said done but the result is not ready yet[/yellow]")
        return
    table = Table(title=f"Export of {server.name}")
    for column in ("status", "backup", "started", "ended", "size", "transferred"):
        table.add_column(column)
    table.add_row(
        result.status,
        result.name or backup_name,
        result.start_time or "",
        result.end_time or "",
        f"{(result.datasource_size_bytes or 0) / 2**30:.1f} GiB",
        f"{(result.data_transferred_bytes or 0) / 2**30:.1f} GiB",
    )
    console.print(table)


def main() -> int:
    """Run the demo; exit code 0 when the main export succeeded."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    console = Console()
    clock = ScaledClock(TIME_SCALE)
    with Emulator(EmulatorConfig(clock=clock, seed=42)) as emu:
        os.environ.update(
            {
                "ARM_ENDPOINT": emu.url,
                "IDENTITY_ENDPOINT": emu.token_endpoint,
                "IDENTITY_HEADER": emu.identity_header,
            }
        )
        console.rule(f"ARM emulator at {emu.url} (time x{TIME_SCALE:g})")
        with ArmClient.from_settings(Settings.from_env()) as client:
            fleet = Table(title=f"Flexible servers in subscription {SUBSCRIPTION}")
            for column in ("resource group", "server", "state", "location", "tags"):
                fleet.add_column(column)
            for info in client.list_servers(SUBSCRIPTION):
                tags = ", ".join(f"{k}={v}" for k, v in sorted(info.tags.items()))
                fleet.add_row(
                    info.id.resource_group,
                    info.id.name,
                    info.state or "",
                    info.location or "",
                    tags,
                )
            console.print(fleet)

            main_server = ServerId(SUBSCRIPTION, "TestGroup", "mysqltestserver")
            try:
                export_one(client, main_server, console, clock)
            except ArmError as err:
                console.print(f"[red]{err}[/red]")
                return 1

            console.rule("What ARM says when it refuses")
            for group, name in (
                ("TestGroup", "no-such-server"),
                *(
                    (s.resource_group, s.name)
                    for s in emu.servers()
                    if s.forbidden or s.fail_export
                ),
            ):
                try:
                    export_one(client, ServerId(SUBSCRIPTION, group, name), console, clock)
                except ArmError as err:
                    console.print(f"{name}: [red]{err.code}[/red] {err.message}")
        console.rule("Requests the emulator answered, by kind")
        console.print(emu.counters().requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())

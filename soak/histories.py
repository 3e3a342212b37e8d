"""Recorded orchestration histories: the fixtures of the determinism guard.

After a soak, ``record`` saves the history of the fleet orchestration, of one shard and of a few
``export_server`` instances chosen for the paths they took (probed first, a 409 waited out, a
transient error retried, an export that failed, a refused server, a continue-as-new). The
determinism test (``tests/reliability/test_determinism.py``) replays each through the SDK and
requires the very same actions, so a change that would break in-flight orchestrations fails CI.
When a deliberate change alters what the orchestrators schedule, record them again::

    python -m soak --record-histories tests/reliability/histories

Re-recording is not in itself a breaking release: ``tests/reliability/histories-previous-release/``
keeps the fixtures of the release before, and ``test_release_compatibility.py`` replays them as
the real host judges a replay. At each release, copy the current fixtures there before recording
again (its README.md says how).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import requests

from armemulator import Emulator, EmulatorConfig, ServerSpec, VirtualClock
from devhost import DevHost, Store
from devhost.config import app_settings
from devhost.store import Instance
from mysqlexport.sealing import Sealer
from soak.harness import SoakConfig
from workflow.instance_ids import (
    SCHEDULE_INSTANCE_ID,
    batch_prefix,
    server_prefix,
    shard_prefix,
    target_instance_id,
)

ROOT = Path(__file__).resolve().parents[1]

#: A small soak with every fault, so every path shows up in a few short histories.
RECORDING = SoakConfig(
    servers=48,
    seed=7,
    error_500=0.04,
    error_503=0.04,
    connection_reset=0.03,
    fail_rate=0.1,
    conflicts=0.05,
    stopped_fraction=0.05,
    forbidden_fraction=0.1,
    activity_crash=0.05,
    restarts=2,
    # two slots over 48 servers: a window that narrow groups its small servers into runs
    max_concurrency=2,
    shard_size=48,
    long_exports=1,
    timeout_seconds=120.0,
    # the fixtures are export histories; a backup run would only make the recording longer
    backup_groups=0,
)


def _text(instance: Instance) -> str:
    return json.dumps(instance.history)


def _input(instance: Instance) -> Mapping[str, Any]:
    value: Any = instance.input_text
    while isinstance(value, str):  # stored as JSON text of the SDK's JSON text
        value = json.loads(value)
    return value if isinstance(value, Mapping) else {}


def _error_code(instance: Instance) -> str | None:
    output = instance.output if isinstance(instance.output, Mapping) else {}
    error = output.get("error") or {}
    return str(error.get("code")) if error else None


#: (file name suffix, what it shows, predicate over a completed export_server instance)
SERVER_PATHS: tuple[tuple[str, str, Callable[[Instance], bool]], ...] = (
    (
        "continued-as-new",
        "a long export: this execution started from the state of the previous one",
        lambda i: bool(_input(i).get("state")),
    ),
    (
        "waited-409",
        "a foreign export was running: 409s waited out on durable timers",
        lambda i: "BackupAlreadyRunningForServer" in _text(i),
    ),
    (
        "export-failed",
        "the export ended Failed: the row carries the service's error code",
        lambda i: _error_code(i) == "AggregateException",
    ),
    (
        "refused",
        "the service refused the export (403): reported at once, never retried",
        lambda i: _error_code(i) == "AuthorizationFailed",
    ),
    (
        "transient-retried",
        "a 5xx or a reset on submit or poll, retried",
        lambda i: any(
            code in _text(i) for code in ("ServiceUnavailable", "InternalServerError", "Connection")
        ),
    ),
    (
        "probed",
        "submitted by the fleet's probe: the first outcome came with the input",
        lambda i: bool((_input(i).get("server") or {}).get("firstOutcome")),
    ),
)


def _fixture(instance: Instance, why: str, config: SoakConfig) -> dict[str, Any]:
    return {
        "orchestrator": instance.name,
        "why": why,
        "instanceId": instance.instance_id,
        "parentInstanceId": instance.parent.instance_id if instance.parent else None,
        "status": instance.status.value,
        "output": instance.output,
        "customStatus": instance.custom_status,
        "recordedWith": asdict(config),
        "history": instance.history,
    }


def record(store: Store, run_id: str, folder: Path, config: SoakConfig) -> list[Path]:
    """Write the chosen histories of run ``run_id`` to ``folder`` (replacing older ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    chosen: list[tuple[str, Instance, str]] = []
    fleet = store.get(run_id)
    shard = store.get(f"{shard_prefix(run_id)}0000")
    if fleet is None or shard is None:
        raise ValueError(f"run {run_id} has no fleet or shard 0 in the store")
    chosen.append(("export_fleet", fleet, "the run: resolve, probe, shards, report"))
    chosen.append(("export_shard", shard, "a sliding window over one shard"))
    target = store.get(target_instance_id(run_id))
    if target is not None:
        chosen.append(("export_target", target, "the run's sealed target, kept once"))
    runs = [
        found
        for found in (store.get(i.instance_id) for i in store.query(prefix=batch_prefix(run_id)))
        if found is not None and found.status.value == "Completed"
    ]
    if runs:
        runs.sort(key=lambda i: i.instance_id)
        chosen.append(("export_batch", runs[0], "small servers exported back to back in one slot"))
    servers = [
        found
        for found in (store.get(i.instance_id) for i in store.query(prefix=server_prefix(run_id)))
        if found is not None
    ]
    servers.sort(key=lambda i: i.instance_id)
    taken: set[str] = set()
    for suffix, why, wanted in SERVER_PATHS:
        match = next((i for i in servers if i.instance_id not in taken and wanted(i)), None)
        if match is not None:
            taken.add(match.instance_id)
            chosen.append((f"export_server-{suffix}", match, why))
    scheduled = record_schedule()
    if scheduled is not None:
        chosen.append(
            ("scheduled_run", scheduled, "one scheduled run, through the schedule's instance")
        )
    backup = record_backup()
    if backup is not None:
        chosen.append(("backup_server", backup, "an on-demand backup (backupsV2) to its end"))
    written = []
    for stem, instance, why in chosen:
        path = folder / f"{stem}.json"
        path.write_text(
            json.dumps(_fixture(instance, why, config), indent=1, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        written.append(path)
    return written


def record_schedule() -> Instance | None:
    """One tick of the schedule on devhost against the emulator (virtual clock, about a second):
    the finished ``scheduled_run`` instance, or None if it did not finish in time."""
    sub = "ffffffff-ffff-ffff-ffff-ffffffffffff"
    server = (
        f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.DBforMySQL/"
        "flexibleServers/nightly"
    )
    sas = "https://acct.blob.core.windows.net/backups?sv=2022-11-02&sr=c&sp=rcw&sig=cmVjb3JkaW5n"
    clock = VirtualClock(start=1_800_000_000)
    fleet = [ServerSpec(sub, "rg", "nightly", export_seconds=600)]
    request = {"servers": [server], "target": {"sasUriList": [sas]}}
    with Emulator(EmulatorConfig(clock=clock, fleet=fleet, seed=1)) as emu:
        settings = {
            "ARM_ENDPOINT": emu.url,
            "IDENTITY_ENDPOINT": emu.token_endpoint,
            "IDENTITY_HEADER": emu.identity_header,
            "SAS_SEALING_KEY": Sealer.new_key(),
            "EXPORT_SCHEDULE": "0 0 * * * *",
            "EXPORT_SCHEDULE_REQUEST": json.dumps(request),
        }
        with (
            app_settings(settings),
            DevHost(ROOT, clock=clock, load_settings=False, advance_to_schedules=True) as host,
        ):
            for _ in range(1200):  # bounded: at most a minute
                found = host.store.get(SCHEDULE_INSTANCE_ID)
                if found is not None and found.status.value == "Completed":
                    return found
                time.sleep(0.05)
    return None


def record_backup() -> Instance | None:
    """One backup run of one server on devhost against the emulator (virtual clock, the
    emulator's default answer: 202 with Location on the example's status URL): the finished
    ``backup_server`` instance, or None if it did not finish in time."""
    sub = "ffffffff-ffff-ffff-ffff-ffffffffffff"
    server = (
        f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.DBforMySQL/"
        "flexibleServers/nightly"
    )
    clock = VirtualClock(start=1_800_000_000)
    fleet = [ServerSpec(sub, "rg", "nightly", backup_seconds=300)]
    with Emulator(EmulatorConfig(clock=clock, fleet=fleet, seed=1)) as emu:
        settings = {
            "ARM_ENDPOINT": emu.url,
            "IDENTITY_ENDPOINT": emu.token_endpoint,
            "IDENTITY_HEADER": emu.identity_header,
            "EXPORT_SCHEDULE": "0 0 3 * * *",
        }
        with (
            app_settings(settings),
            DevHost(ROOT, clock=clock, load_settings=False) as host,
        ):
            body = {"operation": "backup", "servers": [server]}
            answer = requests.post(f"{host.url}/api/exports", json=body, timeout=30)
            answer.raise_for_status()
            run_id = answer.json()["id"]
            for _ in range(1200):  # bounded: at most a minute
                found = [
                    host.store.get(i.instance_id)
                    for i in host.store.query(prefix=server_prefix(run_id))
                ]
                done = [i for i in found if i is not None and i.status.value == "Completed"]
                if done:
                    return done[0]
                time.sleep(0.05)
    return None

"""What one server orchestration carries, for 1 and for 64 maximal SAS URIs.

``python -m bench.inputs`` runs a small export on the local durable host against the emulator
(virtual clock, a few seconds) once with one SAS URI of the longest length a request accepts and
once with 64 of them, then prints, from the task hub, the size of every server orchestration's
input, of the largest activity input in its history, and of the run's one sealed copy of the
target (``export_target``). The first two must not grow with the SAS list.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from armemulator import Emulator, EmulatorConfig, ServerSpec, VirtualClock
from devhost import DevHost
from devhost.config import app_settings
from devhost.protocol import EventType
from mysqlexport.request import MAX_SAS_LENGTH, MAX_SAS_URIS
from mysqlexport.sealing import Sealer
from workflow.instance_ids import server_prefix, target_instance_id

ROOT = Path(__file__).resolve().parents[1]
SUBSCRIPTION = "ffffffff-ffff-ffff-ffff-ffffffffffff"
SERVERS = 4


def maximal_sas(count: int) -> list[str]:
    """``count`` container SAS URIs of the longest length a request accepts."""
    head = "https://account{i:02d}.blob.core.windows.net/backups?sv=2022-11-02&sr=c&sp=rcw&sig="
    return [
        (head.format(i=i) + "A" * MAX_SAS_LENGTH)[: MAX_SAS_LENGTH - 3] + "%3D"
        for i in range(count)
    ]


@dataclass(frozen=True)
class Sizes:
    """Bytes of JSON text, per server orchestration (the largest of the run's servers)."""

    sas_count: int
    server_input: int
    largest_activity_input: int
    target_input: int


@contextmanager
def _stack() -> Iterator[tuple[Emulator, DevHost]]:
    clock = VirtualClock(start=1_800_000_000)
    fleet = [ServerSpec(SUBSCRIPTION, "rg", f"db{i}", export_seconds=600) for i in range(SERVERS)]
    with ExitStack() as stack:
        emu = stack.enter_context(Emulator(EmulatorConfig(clock=clock, fleet=fleet, seed=1)))
        settings = {
            "ARM_ENDPOINT": emu.url,
            "IDENTITY_ENDPOINT": emu.token_endpoint,
            "IDENTITY_HEADER": emu.identity_header,
            "SAS_SEALING_KEY": Sealer.new_key(),
            "EXPORT_SCHEDULE": "0 0 3 * * *",
        }
        stack.enter_context(app_settings(settings))
        host = stack.enter_context(
            DevHost(ROOT, clock=clock, load_settings=False, timer_triggers=False)
        )
        yield emu, host


def measure(sas_count: int) -> Sizes:
    """Run one export of ``SERVERS`` servers with ``sas_count`` maximal SAS URIs."""
    with _stack() as (_emu, host), requests.Session() as session:
        body: dict[str, Any] = {
            "discover": {"subscriptions": [SUBSCRIPTION]},
            "target": {"sasUriList": maximal_sas(sas_count)},
        }
        started = session.post(f"{host.url}/api/exports", json=body, timeout=60)
        started.raise_for_status()
        run_id = started.json()["id"]
        host.wait_for(run_id, timeout=600)
        servers = [
            host.store.get(i.instance_id) for i in host.store.query(prefix=server_prefix(run_id))
        ]
        inputs = [len(s.input_text or "") for s in servers if s is not None]
        activities = [
            len(str(e.get("Input") or ""))
            for s in servers
            if s is not None
            for e in s.history
            if e.get("EventType") == int(EventType.TASK_SCHEDULED)
        ]
        target = host.store.get(target_instance_id(run_id))
        return Sizes(
            sas_count,
            max(inputs),
            max(activities, default=0),
            len(target.input_text or "") if target is not None else 0,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table."""
    del argv
    os.environ.setdefault("AZURE_FUNCTIONS_DURABLE_STRICT_TYPING", "0")
    rows = [measure(1), measure(MAX_SAS_URIS)]
    header = ("SAS URIs", "server input", "largest activity input", "target (once per run)")
    print(f"{header[0]:>8} {header[1]:>13} {header[2]:>23} {header[3]:>22}")
    for r in rows:
        print(
            f"{r.sas_count:>8} {r.server_input:>11} B {r.largest_activity_input:>21} B "
            f"{r.target_input:>20} B"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

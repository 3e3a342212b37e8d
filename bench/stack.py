"""The app on the local durable host against the ARM emulator, for measurements.

The arrangement of ``tests/e2e/conftest.py``: a ``DevHost`` running ``function_app.app`` through
the Durable SDK's own replay, talking over loopback HTTP to the emulator (the app's API, the
durable client's RPC, ARM and the managed identity endpoint). Here the emulator runs in its own
process (``bench.emuproc``) so the host's CPU and memory are measured alone. The benchmark drives
the app only through ``POST /api/exports`` and the status URL, as a user or a Logic App would
(``export_body`` for exports, ``backup_body`` for on-demand backups).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from armemulator import ServerSpec
from armemulator.clock import Clock as EmulatorClock
from bench.emuproc import EmulatorProcess, emulator_config
from devhost import DevHost
from devhost.clock import Clock as HostClock
from devhost.config import app_settings
from devhost.tls import TlsFiles, temporary_tls_files
from mysqlexport.ids import ServerId
from mysqlexport.sealing import Sealer
from workflow.instance_ids import server_instance_id

ROOT = Path(__file__).resolve().parents[1]
SUBSCRIPTION = "ffffffff-ffff-ffff-ffff-ffffffffffff"
# A container SAS as a storage account issues it; the signature is fake and never printed.
SAS = (
    "https://benchstore.blob.core.windows.net/mysql-backups"
    "?sv=2022-11-02&sr=c&sp=rcw&se=2030-01-01T00%3A00%3A00Z&sig=YmVuY2gtc2lnbmF0dXJl%3D"
)


THREADPOOL_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
#: The README's setting for Azure: one sync thread per host slot (host.json's 20 activities + 10
#: orchestrators), divided among the worker processes when there are several.
RECOMMENDED_THREADS = 30


def recommended_threadpool(worker_processes: int) -> int:
    """``PYTHON_THREADPOOL_THREAD_COUNT`` as the README recommends it for ``worker_processes``
    language workers (the Python worker runs every sync episode and activity on that one pool
    per process, ``devhost.workers``); the benchmark runs the app so unless the environment
    sets it."""
    return max(1, RECOMMENDED_THREADS // max(1, worker_processes))


def export_body(concurrency: int, **extra: Any) -> dict[str, Any]:
    """Export every Ready server of the benchmark subscription."""
    body: dict[str, Any] = {
        "discover": {"subscriptions": [SUBSCRIPTION]},
        "target": {"sasUriList": [SAS]},
        "backupName": "{server}-bench",
        "maxConcurrency": concurrency,
    }
    body.update(extra)
    return body


def backup_body(concurrency: int, **extra: Any) -> dict[str, Any]:
    """Back up (on-demand, backupsV2) every Ready server of the benchmark subscription."""
    body: dict[str, Any] = {
        "operation": "backup",
        "discover": {"subscriptions": [SUBSCRIPTION]},
        "backupName": "{server}-bench",
        "maxConcurrency": concurrency,
    }
    body.update(extra)
    return body


@contextmanager
def tls_files() -> Iterator[TlsFiles]:
    """A CA and a certificate for 127.0.0.1 in a temporary directory (``devhost.tls``)."""
    with temporary_tls_files(prefix="bench-tls-") as files:
        yield files


@dataclass
class AppRun:
    """One run of the app: its report and how long it took in real time."""

    report: dict[str, Any]
    run_id: str
    wall_seconds: float


@dataclass
class AppStack:
    """One emulator (in its own process) and one devhost running this app."""

    emu: EmulatorProcess
    host: DevHost
    session: requests.Session = field(default_factory=requests.Session)

    def run(self, body: Mapping[str, Any], timeout: float = 1800.0, poll: float = 0.2) -> AppRun:
        """POST the request, follow the status URL until 200, return the report."""
        started_at = time.monotonic()
        answer = self.session.post(f"{self.host.url}/api/exports", json=body, timeout=60)
        if answer.status_code != 202:
            raise RuntimeError(f"the app refused the run ({answer.status_code}): {answer.text}")
        location = answer.headers["Location"]
        deadline = started_at + timeout
        while True:
            status = self.session.get(location, timeout=60)
            if status.status_code == 200:
                final = status.json()
                break
            if status.status_code != 202:
                raise RuntimeError(f"status URL answered {status.status_code}: {status.text}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the run did not finish within {timeout} s")
            time.sleep(poll)
        if final.get("runtimeStatus") != "Completed":
            raise RuntimeError(f"the run ended {final.get('runtimeStatus')}: {final.get('output')}")
        output: dict[str, Any] = final["output"]
        return AppRun(output, str(output["runId"]), time.monotonic() - started_at)

    def known_at(self, run: AppRun) -> dict[str, float]:
        """Server name -> host-clock instant its ``export_server`` (or ``backup_server``)
        orchestration completed (the moment the app knew the outcome)."""
        known: dict[str, float] = {}
        for row in run.report["servers"]:
            server = ServerId.parse(row["id"])
            instance = self.host.store.get(
                server_instance_id(run.run_id, server.key), with_history=False
            )
            if instance is not None and instance.status.is_terminal:
                known[server.name] = instance.last_updated_time
        return known


@contextmanager
def app_stack(
    fleet: Sequence[ServerSpec],
    *,
    emulator_clock: EmulatorClock,
    host_clock: HostClock,
    settings: Mapping[str, str] | None = None,
    tls: TlsFiles | None = None,
    seed: int = 1,
    **emulator_options: Any,
) -> Iterator[AppStack]:
    """Start an emulator process serving ``fleet`` and a devhost running the app against it."""
    with ExitStack() as stack:
        if tls is not None:
            emulator_options.update(tls_cert=str(tls.cert), tls_key=str(tls.key))
        config = emulator_config(fleet, emulator_clock, seed=seed, **emulator_options)
        emu = stack.enter_context(EmulatorProcess(config, str(tls.ca_bundle) if tls else None))
        values = {
            "ARM_ENDPOINT": emu.url,
            "IDENTITY_ENDPOINT": emu.token_endpoint,
            "IDENTITY_HEADER": emu.identity_header,
            "SAS_SEALING_KEY": Sealer.new_key(),
            "EXPORT_SCHEDULE": "0 0 3 * * *",
            "EXPORT_SCHEDULE_REQUEST": "",
            # orchestrators in devhost's own process unless a scenario asks for workers: CPU and
            # RSS are read from this process (getrusage), which a worker's would escape
            "FUNCTIONS_WORKER_PROCESS_COUNT": "",
        }
        if tls is not None:
            values["REQUESTS_CA_BUNDLE"] = str(tls.ca_bundle)
        values.update(settings or {})
        values.setdefault(
            THREADPOOL_SETTING,
            os.environ.get(THREADPOOL_SETTING)
            or str(recommended_threadpool(int(values["FUNCTIONS_WORKER_PROCESS_COUNT"] or 1))),
        )
        stack.enter_context(app_settings(values))
        host = stack.enter_context(
            DevHost(ROOT, clock=host_clock, load_settings=False, timer_triggers=False)
        )
        yield AppStack(emu, host)

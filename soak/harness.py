"""Build the stack, run one fleet export under faults, crash the host mid-run, collect the facts.

One ``VirtualClock`` drives both the emulator and devhost: the host moves it to the next durable
timer whenever nothing is runnable, so hours of exports pass in seconds and the run is
reproducible from its seed (thread interleavings aside, which is exactly what the checks must not
depend on). The app is driven only through its HTTP API, as a user or a Logic App would.

Faults, all seeded:

* emulator: 500s, 503s (with Retry-After) and connection resets on any ARM request; exports that
  end Failed (``fail_rate``); its per-subscription throttling buckets; 409s from foreign exports
  started on some servers just before the run, on the servers the run submits first. Faults
  strike before the request is handled in even phases and after it (the export *was* accepted,
  its answer is lost) in odd phases; a phase ends at each host restart;
* devhost: activity results lost after the activity ran (at-least-once delivery), and full host
  restarts (engine discarded, durable store kept) at evenly spaced points of the run.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import requests

from activities import arm_calls as operations
from armemulator import (
    Counters,
    Emulator,
    EmulatorConfig,
    ExportRecord,
    Faults,
    ServerSpec,
    VirtualClock,
    make_fleet,
)
from devhost import DevHost, HostFaults, RuntimeStatus, Store, StoreStats
from devhost.config import app_settings
from mysqlexport import discovery
from mysqlexport.arm import ArmClient, default_credential
from mysqlexport.sealing import Sealer
from mysqlexport.settings import Settings
from orchestrators.planning import plan_shards, probe_indices
from soak.leaks import Finding, LogScanner, SecretScanner
from workflow.contracts import Scope
from workflow.instance_ids import server_prefix

ROOT = Path(__file__).resolve().parents[1]
SUBSCRIPTION = "ffffffff-ffff-ffff-ffff-ffffffffffff"
API_VERSION = "2024-12-30"
#: The export target. The signature is fake but handled as the secret it would be.
SIGNATURE = "c29hay1zZWNyZXQtc2lnbmF0dXJl"
SAS = (
    "https://soakstorage.blob.core.windows.net/mysql-backups"
    f"?sv=2022-11-02&sr=c&sp=rcw&se=2030-01-01T00%3A00%3A00Z&sig={SIGNATURE}%3D"
)
START = 1_800_000_000.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SoakConfig:
    """One soak, completely described (the same config gives the same faults)."""

    servers: int = 500
    seed: int = 20260501
    error_500: float = 0.025
    error_503: float = 0.025
    connection_reset: float = 0.02
    fail_rate: float = 0.03
    #: Share of the fleet with a foreign export running when the run first submits (409s).
    conflicts: float = 0.01
    stopped_fraction: float = 0.02
    forbidden_fraction: float = 0.01
    activity_crash: float = 0.02
    restarts: int = 4
    max_concurrency: int = 50
    shard_size: int = 100
    throttling: bool = True
    #: ARM's buckets are 250 reads (25/s) and 200 writes (10/s) per subscription and principal;
    #: the soak's subscription is busier (other callers spend most of them), so 429s do happen.
    read_burst: int = 40
    read_refill_per_second: float = 2.0
    write_burst: int = 20
    write_refill_per_second: float = 0.5
    #: Servers whose export takes hours (their orchestration continues as new while polling).
    long_exports: int = 0
    timeout_seconds: float = 540.0


@dataclass
class SoakResult:
    """Everything the run produced and everything the emulator and host observed."""

    config: SoakConfig
    run_id: str
    report: dict[str, Any]
    fleet: list[ServerSpec]
    exports: list[ExportRecord]
    counters: Counters
    host_stats: StoreStats
    crashes: int
    restarts: int
    conflict_servers: list[str]
    virtual_seconds: float
    real_seconds: float
    log_records: int
    findings: list[Finding] = field(default_factory=list)
    scanned_bytes: int = 0
    store: Store | None = None


@contextmanager
def _scanning_logs(scanner: LogScanner) -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.addHandler(scanner)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(scanner)
        root.setLevel(level)


def _fleet(config: SoakConfig) -> list[ServerSpec]:
    fleet = list(
        make_fleet(
            config.servers,
            seed=config.seed,
            subscription=SUBSCRIPTION,
            stopped_fraction=config.stopped_fraction,
            forbidden_fraction=config.forbidden_fraction,
        )
    )
    rng = random.Random(f"long:{config.seed}")
    ready = [i for i, s in enumerate(fleet) if s.state == "Ready" and not s.forbidden]
    for index in rng.sample(ready, min(config.long_exports, len(ready))):
        fleet[index] = replace(fleet[index], export_seconds=rng.uniform(4, 8) * 3600)
    return fleet


def _first_submitted(config: SoakConfig) -> list[str]:
    """The servers the run submits first (the heads of every shard's window), worked out with
    the app's own resolution and shard plan, so a foreign export started on them now is
    certain to meet the run's first submission."""
    body = request_body(config)
    with ArmClient.from_settings() as client:
        scopes = cast("list[Scope]", discovery.scopes(body["discover"]))
        answers = [operations.list_scope(s, client) for s in scopes]
    resolved = discovery.merge(body.get("servers") or [], body["discover"], answers)
    plan = plan_shards(resolved.sizes, config.shard_size, config.max_concurrency)
    return [resolved.servers[i] for i in probe_indices(plan, config.max_concurrency)]


def _start_foreign_exports(emu: Emulator, clock: VirtualClock, servers: list[ServerSpec]) -> None:
    """Someone else's export on each server, so the run's first submission gets a 409."""
    token = emu.issue_token()
    with requests.Session() as session:
        for spec in servers:
            emu.add_server(replace(spec, export_seconds=900.0))
            while True:
                answer = session.post(
                    f"{emu.url}{spec.resource_id}/backupAndExport?api-version={API_VERSION}",
                    json={
                        "backupSettings": {"backupName": f"manual-{spec.name}"},
                        "targetDetails": {
                            "objectType": "FullBackupStoreDetails",
                            "sasUriList": [SAS],
                        },
                    },
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
                if answer.status_code != 429:
                    break
                clock.advance(float(answer.headers.get("Retry-After", "1")))
            if answer.status_code != 202:
                raise RuntimeError(f"foreign export on {spec.name}: HTTP {answer.status_code}")


def _faults(config: SoakConfig, phase: int) -> Faults:
    return Faults(
        error_500=config.error_500,
        error_503=config.error_503,
        connection_reset=config.connection_reset,
        retry_after_seconds=10.0,
        fault_after_accept=phase % 2 == 1,
    )


def request_body(config: SoakConfig) -> dict[str, Any]:
    """Export every Ready server of the subscription (Stopped ones are reported Skipped)."""
    return {
        "discover": {"subscriptions": [SUBSCRIPTION]},
        "target": {"sasUriList": [SAS]},
        "backupName": "{server}-{utc:yyyyMMddHHmm}",
        "maxConcurrency": config.max_concurrency,
    }


def _settled(host: DevHost, run_id: str) -> int:
    done = host.store.query(prefix=server_prefix(run_id), statuses=[RuntimeStatus.COMPLETED])
    return len(done)


def run_soak(config: SoakConfig, *, keep_store: bool = False) -> SoakResult:
    """Run one soak (see the module docstring) and return what happened."""
    began = time.monotonic()
    clock = VirtualClock(start=START)
    fleet = _fleet(config)
    emu = Emulator(
        EmulatorConfig(
            clock=clock,
            fleet=fleet,
            seed=config.seed,
            fail_rate=config.fail_rate,
            throttling=config.throttling,
            read_burst=config.read_burst,
            read_refill_per_second=config.read_refill_per_second,
            write_burst=config.write_burst,
            write_refill_per_second=config.write_refill_per_second,
        )
    ).start()
    try:
        env = {
            "ARM_ENDPOINT": emu.url,
            "IDENTITY_ENDPOINT": emu.token_endpoint,
            "IDENTITY_HEADER": emu.identity_header,
            "SAS_SEALING_KEY": Sealer.new_key(),
            "SHARD_SIZE": str(config.shard_size),
            "MAX_CONCURRENCY": str(config.max_concurrency),
            "EXPORT_SCHEDULE": "0 0 3 * * *",
            "EXPORT_SCHEDULE_REQUEST": "",
        }
        scanner = SecretScanner([("sas-signature", SIGNATURE)])
        logs = LogScanner(scanner)
        with app_settings(env), _scanning_logs(logs):
            by_id = {s.resource_id.lower(): s for s in fleet}
            heads = [by_id[h.lower()] for h in _first_submitted(config)]
            heads = [s for s in heads if not s.forbidden]
            count = min(len(heads), round(config.conflicts * config.servers))
            conflicts = random.Random(f"conflicts:{config.seed}").sample(heads, count)
            _start_foreign_exports(emu, clock, conflicts)
            emu.set_faults(_faults(config, 0))
            result = _drive(
                config=config,
                clock=clock,
                emu=emu,
                fleet=fleet,
                conflicts=conflicts,
                scanner=scanner,
                logs=logs,
                began=began,
            )
        if not keep_store:
            result.store = None
        return result
    finally:
        emu.stop()


def _drive(
    *,
    config: SoakConfig,
    clock: VirtualClock,
    emu: Emulator,
    fleet: list[ServerSpec],
    conflicts: list[ServerSpec],
    scanner: SecretScanner,
    logs: LogScanner,
    began: float,
) -> SoakResult:
    faults = HostFaults(activity_crash_after_side_effect=config.activity_crash, seed=config.seed)
    store = Store()
    emitted: list[tuple[str, str]] = []
    began_virtual = clock.now()
    ready = sum(s.state == "Ready" for s in fleet)
    # Restart points: fractions of the Ready servers settled; 0 means "during the probe".
    points = [i / config.restarts for i in range(config.restarts)] if config.restarts else []
    restarts = 0
    with (
        DevHost(
            ROOT, clock=clock, faults=faults, store=store, load_settings=False, timer_triggers=False
        ) as host,
        requests.Session() as session,
    ):
        started = session.post(f"{host.url}/api/exports", json=request_body(config), timeout=60)
        if started.status_code != 202:
            raise RuntimeError(f"the run was refused: HTTP {started.status_code} {started.text}")
        emitted.append(("start response", started.text))
        run_id = started.json()["id"]
        status_url = started.headers["Location"]
        deadline = time.monotonic() + config.timeout_seconds
        final: requests.Response | None = None
        while time.monotonic() < deadline:
            if points:
                settled = _settled(host, run_id)
                probing = points[0] == 0 and emu.counters().requests.get("backup_and_export")
                if (points[0] > 0 and settled >= points[0] * ready) or probing:
                    points.pop(0)
                    restarts += 1
                    log.info("soak: host restart %d with %d servers settled", restarts, settled)
                    host.restart()
                    emu.set_faults(_faults(config, restarts))
            answer = session.get(status_url, timeout=60)
            if answer.status_code == 200:
                final = answer
                break
            time.sleep(0.05)
        if final is None:
            raise TimeoutError(f"the soak run did not finish in {config.timeout_seconds} s")
        body = final.json()
        if body.get("runtimeStatus") != "Completed":
            raise RuntimeError(f"the run ended {body.get('runtimeStatus')}: {body.get('output')}")
        emitted.append(("final status response", final.text))
        progress = session.get(f"{host.url}/api/exports/{run_id}", timeout=60)
        emitted.append(("progress response", progress.text))
        full = session.get(
            f"{status_url}&showHistory=true&showHistoryOutput=true&showInput=true", timeout=60
        )
        emitted.append(("status with history", full.text))
        token = default_credential().get_token(Settings.from_env().arm_scope).token
        scanner.add("bearer-token", token)
        findings = _scan_store(host.store, scanner, emitted)
        report = body["output"]
        return SoakResult(
            config=config,
            run_id=run_id,
            report=report,
            fleet=emu.servers(),
            exports=emu.exports(),
            counters=emu.counters(),
            host_stats=host.stats(),
            crashes=faults.crashes,
            restarts=restarts,
            conflict_servers=[s.name for s in conflicts],
            virtual_seconds=clock.now() - began_virtual,
            real_seconds=time.monotonic() - began,
            log_records=logs.records,
            findings=findings + sorted(logs.findings, key=lambda f: (f.where, f.kind)),
            scanned_bytes=sum(len(text) for _, text in emitted),
            store=host.store,
        )


def _scan_store(
    store: Store, scanner: SecretScanner, emitted: list[tuple[str, str]]
) -> list[Finding]:
    """Save the durable store as the host would persist it and scan it with the answers."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store.json"
        store.save(path)
        emitted.append(("durable store", path.read_text(encoding="utf-8")))
    findings: list[Finding] = []
    for where, text in emitted:
        findings.extend(scanner.scan(where, text))
    return findings

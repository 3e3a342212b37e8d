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

When the export run has ended, a backup run (``"operation": "backup"``, on-demand backups) goes
over the fleet's first ``backup_groups`` resource groups on the same emulator, host and store,
under the same faults and restarts, with hazards of its own (``soak.backups``): servers at their
on-demand backup limit, foreign backups running at its first submissions, some backups ending
Failed, and another answer to a PUT in each phase (``backup_answers``: the probe's phase gets
the 200, the spec example's 202 with ``Location`` the first third of the servers, and so on).
Its phases lose answers after the PUT as the export run's do, in odd phases.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import requests

from activities import arm_calls as operations
from armemulator import (
    BackupAnswer,
    BackupNaming,
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
from soak import backups
from soak.backups import BackupRun, CounterDelta
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
    #: The backup run covers the fleet's first this many resource groups (of 10); 0: none.
    backup_groups: int = 5
    #: Share of the backups that end Failed (``OnDemandBackupFailed``).
    backup_fail_rate: float = 0.03
    #: Share of the backup run's servers with a foreign backup running at its first PUT (409s).
    backup_conflicts: float = 0.02
    #: Share of the backup run's Ready servers already at their on-demand backup limit (400s).
    backup_limit_share: float = 0.01
    backup_restarts: int = 3
    #: The PUT's answer in each phase of the backup run (``BackupAnswer`` values, cycled).
    backup_answers: tuple[str, ...] = backups.ALL_ANSWERS
    #: The examples' quirks: backups named ``customer_<time>_<guid>_<asked>`` and finished
    #: backups reading ``provisioningState: "Ready"`` (``EmulatorConfig``).
    backup_names: str = BackupNaming.PREFIXED.value
    backup_succeeded_state: str = "Ready"


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
    #: Emulated seconds of the export run; real seconds of the whole soak (both runs).
    virtual_seconds: float
    real_seconds: float
    log_records: int
    findings: list[Finding] = field(default_factory=list)
    scanned_bytes: int = 0
    store: Store | None = None
    #: The backup run after the export run (None when ``backup_groups`` is 0).
    backup: BackupRun | None = None


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
    if config.backup_groups:
        groups = backups.scope_groups(fleet, config.backup_groups)
        fleet = backups.at_the_limit(fleet, groups, config.backup_limit_share, config.seed)
    return fleet


def _first_submitted(config: SoakConfig, body: dict[str, Any]) -> list[str]:
    """The servers the run of ``body`` submits first (the heads of every shard's window),
    worked out with the app's own resolution and shard plan, so a foreign export (or backup)
    started on them now is certain to meet the run's first submission."""
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
            backup_fail_rate=config.backup_fail_rate,
            backup_names=BackupNaming(config.backup_names),
            backup_succeeded_state=config.backup_succeeded_state,
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
            heads = [by_id[h.lower()] for h in _first_submitted(config, request_body(config))]
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


@dataclass
class _Driver:
    """Drives runs of the app through its HTTP API on one host, restarting the host on the
    way, and keeps every answer the app gave for the credentials scan."""

    host: DevHost
    session: requests.Session
    emu: Emulator
    timeout_seconds: float
    emitted: list[tuple[str, str]] = field(default_factory=list)

    def run(
        self,
        body: dict[str, Any],
        *,
        ready: int,
        restarts: int,
        submit_kind: str,
        new_phase: Callable[[int], None],
    ) -> tuple[str, dict[str, Any], int]:
        """Run ``body`` to its report; restart the host ``restarts`` times at evenly spaced
        shares of the ``ready`` servers settled, the first while the run probes (its first
        submission, of ``submit_kind``, has reached the emulator); ``new_phase(n)`` after the
        ``n``-th restart. Returns the run id, its report and the restarts made."""
        host, session = self.host, self.session
        submitted = self.emu.counters().requests.get(submit_kind, 0)
        # Restart points: fractions of the Ready servers settled; 0 means "during the probe".
        points = [i / restarts for i in range(restarts)] if restarts else []
        made = 0
        started = session.post(f"{host.url}/api/exports", json=body, timeout=60)
        if started.status_code != 202:
            raise RuntimeError(f"the run was refused: HTTP {started.status_code} {started.text}")
        self.emitted.append(("start response", started.text))
        run_id = started.json()["id"]
        status_url = started.headers["Location"]
        deadline = time.monotonic() + self.timeout_seconds
        final: requests.Response | None = None
        while time.monotonic() < deadline:
            if points:
                settled = _settled(host, run_id)
                probing = (
                    points[0] == 0 and self.emu.counters().requests.get(submit_kind, 0) > submitted
                )
                if (points[0] > 0 and settled >= points[0] * ready) or probing:
                    points.pop(0)
                    made += 1
                    log.info("soak: host restart %d with %d servers settled", made, settled)
                    host.restart()
                    new_phase(made)
            answer = session.get(status_url, timeout=60)
            if answer.status_code == 200:
                final = answer
                break
            time.sleep(0.05)
        if final is None:
            raise TimeoutError(f"the soak run did not finish in {self.timeout_seconds} s")
        body = final.json()
        if body.get("runtimeStatus") != "Completed":
            raise RuntimeError(f"the run ended {body.get('runtimeStatus')}: {body.get('output')}")
        self.emitted.append(("final status response", final.text))
        progress = session.get(f"{host.url}/api/exports/{run_id}", timeout=60)
        self.emitted.append(("progress response", progress.text))
        full = session.get(
            f"{status_url}&showHistory=true&showHistoryOutput=true&showInput=true", timeout=60
        )
        self.emitted.append(("status with history", full.text))
        return run_id, body["output"], made


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
    began_virtual = clock.now()
    ready = sum(s.state == "Ready" for s in fleet)
    with (
        DevHost(
            ROOT, clock=clock, faults=faults, store=store, load_settings=False, timer_triggers=False
        ) as host,
        requests.Session() as session,
    ):
        driver = _Driver(host, session, emu, config.timeout_seconds)
        run_id, report, restarts = driver.run(
            request_body(config),
            ready=ready,
            restarts=config.restarts,
            submit_kind="backup_and_export",
            new_phase=lambda n: emu.set_faults(_faults(config, n)),
        )
        crashes, counters, host_stats = faults.crashes, emu.counters(), host.stats()
        virtual_seconds = clock.now() - began_virtual
        backup = _backup_run(config, clock, emu, driver, faults) if config.backup_groups else None
        token = default_credential().get_token(Settings.from_env().arm_scope).token
        scanner.add("bearer-token", token)
        findings = _scan_store(host.store, scanner, driver.emitted)
        return SoakResult(
            config=config,
            run_id=run_id,
            report=report,
            fleet=emu.servers(),
            exports=emu.exports(),
            counters=counters,
            host_stats=host_stats,
            crashes=crashes,
            restarts=restarts,
            conflict_servers=[s.name for s in conflicts],
            virtual_seconds=virtual_seconds,
            real_seconds=time.monotonic() - began,
            log_records=logs.records,
            findings=findings + sorted(logs.findings, key=lambda f: (f.where, f.kind)),
            scanned_bytes=sum(len(text) for _, text in driver.emitted),
            store=host.store,
            backup=backup,
        )


def _backup_run(
    config: SoakConfig,
    clock: VirtualClock,
    emu: Emulator,
    driver: _Driver,
    faults: HostFaults,
) -> BackupRun:
    """The backup run over the first ``backup_groups`` resource groups (``soak.backups``)."""
    began, began_virtual = time.monotonic(), clock.now()
    answers = [
        config.backup_answers[n % len(config.backup_answers)]
        for n in range(config.backup_restarts + 1)
    ]

    def new_phase(n: int) -> None:
        emu.set_faults(_faults(config, n))
        emu.set_backup_answer(BackupAnswer(answers[n]))

    emu.set_faults(Faults())  # the preparation reads and writes without faults
    emu.set_backup_answer(BackupAnswer.LOCATION)  # foreign backups that run (a 200's do not)
    groups = backups.scope_groups(emu.servers(), config.backup_groups)
    body = backups.request_body(SUBSCRIPTION, groups, config.max_concurrency)
    scope = backups.in_scope(emu.servers(), groups)
    by_id = {s.resource_id.lower(): s for s in scope}
    at_limit = [s for s in scope if s.on_demand_backups and s.state == "Ready"]
    heads = [by_id[h.lower()] for h in _first_submitted(config, body)]
    heads = [s for s in heads if not s.forbidden and s not in at_limit]
    count = min(len(heads), round(config.backup_conflicts * len(scope)))
    conflicts = random.Random(f"backup-conflicts:{config.seed}").sample(heads, count)
    backups.start_foreign_backups(emu, clock, conflicts, emu.issue_token())
    known = emu.backups()
    first_sequence = known[-1].sequence + 1 if known else 0
    before, runs_before, crashes_before = emu.counters(), driver.host.stats(), faults.crashes
    new_phase(0)
    run_id, report, restarts = driver.run(
        body,
        ready=sum(s.state == "Ready" for s in scope),
        restarts=config.backup_restarts,
        submit_kind="create_backup",
        new_phase=new_phase,
    )
    return BackupRun(
        run_id=run_id,
        report=report,
        groups=groups,
        scope=backups.in_scope(emu.servers(), groups),
        backups=emu.backups(),
        first_sequence=first_sequence,
        counters=CounterDelta.between(before, emu.counters()),
        activity_runs=driver.host.stats().activities_run - runs_before.activities_run,
        crashes=faults.crashes - crashes_before,
        restarts=restarts,
        answers=answers,
        conflict_servers=[s.name for s in conflicts],
        limit_servers=[s.name for s in at_limit],
        virtual_seconds=clock.now() - began_virtual,
        real_seconds=time.monotonic() - began,
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

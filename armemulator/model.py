"""The emulated world: servers, exports, and the ground truth of everything that was accepted.

Why this module exists: the HTTP layer only translates; what exists, what is running and what
happened lives here, as plain state behind one lock, with no HTTP in sight. Every decision that
must be atomic - "is another export running on this server? was this backup name already
exported? then accept" - is one method call under that lock. Time comes only from the clock.

Costs per request are O(1) or O(log n) in the fleet size: servers and operations are in dicts,
listings page through pre-sorted id lists with ``bisect``, and running exports sit in a heap keyed
by their end time, so counting what is running never scans the export history.

Export timeline (all emulated time): accepted at ``submitted_at``; "Pending" until
``started_at = submitted_at + pending_seconds``; "InProgress" until ``ends_at``; then the outcome
decided at accept time ("Succeeded" or "Failed"). The transfer would take ``planned_seconds``; a
failing export stops at a seeded fraction of it. Each export's randomness comes from
``random.Random(f"{seed}:{server}:{n}")``, so outcomes do not depend on how requests interleave.

On-demand backups (backupsV2, ``armemulator.backups``) live here too, per server and behind the
same lock, because whether one may start depends on the server's exports: by default an export
and a backup of one server exclude each other (``EmulatorConfig.backup_conflicts_with_export``).
Running exports and running backups are counted apart (``concurrency``, ``backup_concurrency``).
"""

from __future__ import annotations

import base64
import bisect
import dataclasses
import heapq
import math
import random
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from armemulator.backups import BackupRecord, BackupRequest, existing_backups, plan_backup
from armemulator.clock import Clock
from armemulator.config import EmulatorConfig, Resubmission, parse_scopes
from armemulator.fleet import ServerSpec
from armemulator.records import OperationRecord, identity

#: The error a Failed export reports (verbatim from every example of the API).
EXPORT_ERROR_CODE = "AggregateException"
EXPORT_ERROR_MESSAGE = (
    "System.AggregateException: One or more errors occurred. "
    "(Mismatch in count of number of Commited-Blocks from service.)"
)


class ExportStatus(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class ExportRecord(OperationRecord):
    """Ground truth about one export request that was accepted (or answered as a duplicate);
    ``sequence`` is its position in the ground-truth list (0-based)."""

    backup_name: str
    backup_format: str | None
    api_version: str
    #: Object id of the caller.
    principal: str
    #: How many SAS URIs were supplied, and their redacted form (scheme://host/path only).
    sas_uri_count: int
    containers: tuple[str, ...]
    datasource_size_bytes: int
    submitted_at: float
    started_at: float
    ends_at: float
    #: Emulated seconds the full transfer takes (a failing export stops part way).
    planned_seconds: float
    #: "Succeeded" or "Failed", decided when the export was accepted.
    outcome: str
    error_code: str | None
    #: True when this entry answered a repeat of a completed export's backup name with 200.
    duplicate: bool = False
    #: ``sequence`` of the earlier export of the same backup name on the same server that this
    #: one repeats (accepted again under ``Resubmission.ACCEPT_AGAIN``); None otherwise.
    repeat_of: int | None = None
    #: The failed export's ``error.message``; None = ``EXPORT_ERROR_MESSAGE``.
    error_message: str | None = None
    #: The backup files written through loopback SAS URIs, as URLs without query, in the order
    #: written (``armemulator.exportfiles``); empty when no SAS was on loopback.
    blobs: tuple[str, ...] = ()
    #: Parameters of the signed polling URLs (not secrets; the signature is not stored).
    url_issued_at: int = dataclasses.field(default=0, repr=False)
    url_nonce: str = dataclasses.field(default="", repr=False)

    @property
    def final_fraction(self) -> float:
        """Share of the data transferred when the export ends."""
        span = self.ends_at - self.started_at
        if self.outcome == ExportStatus.SUCCEEDED or self.planned_seconds <= 0:
            return 1.0
        return min(1.0, span / self.planned_seconds)

    def status_at(self, now: float) -> ExportStatus:
        if now >= self.ends_at:
            return ExportStatus(self.outcome)
        if now < self.started_at:
            return ExportStatus.PENDING
        return ExportStatus.IN_PROGRESS

    def is_terminal_at(self, now: float) -> bool:
        return now >= self.ends_at

    def fraction_at(self, now: float) -> float:
        """Share of the datasource transferred at ``now`` (0..1)."""
        if now >= self.ends_at:
            return self.final_fraction
        if now <= self.started_at or self.planned_seconds <= 0:
            return 0.0
        return min(self.final_fraction, (now - self.started_at) / self.planned_seconds)

    def percent_at(self, now: float) -> int:
        """percentComplete: linear in time, at most 99 until the export succeeds."""
        fraction = self.fraction_at(now)
        if now >= self.ends_at:
            return 100 if self.outcome == ExportStatus.SUCCEEDED else math.floor(100 * fraction)
        return min(99, math.floor(100 * fraction))

    def transferred_at(self, now: float) -> int:
        if now >= self.ends_at and self.outcome == ExportStatus.SUCCEEDED:
            return self.datasource_size_bytes
        return math.floor(self.datasource_size_bytes * self.fraction_at(now))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready ground truth (no polling URL parameters)."""
        data = dataclasses.asdict(self)
        data.pop("url_issued_at")
        data.pop("url_nonce")
        data["containers"] = list(self.containers)
        data["blobs"] = list(self.blobs)
        return data


@dataclass(frozen=True)
class ExportRequest:
    """What a validated backupAndExport request asks for (SAS URIs already redacted)."""

    backup_name: str
    backup_format: str | None
    sas_uri_count: int
    containers: tuple[str, ...]
    api_version: str
    principal: str


class SubmitResult(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not_found"
    NOT_READY = "not_ready"
    TOO_FEW_CONTAINERS = "too_few_containers"
    ALREADY_RUNNING = "already_running"
    #: An on-demand backup of the server runs (``EmulatorConfig.backup_conflicts_with_export``).
    BACKUP_RUNNING = "backup_running"
    #: A repeat of an accepted backup name, refused (``Resubmission.REFUSE``).
    REPEAT_REFUSED = "repeat_refused"


@dataclass(frozen=True)
class SubmitOutcome:
    """The answer to a submit: the result, the server, and the export it is about (if any)."""

    result: SubmitResult
    server: ServerSpec | None = None
    record: ExportRecord | None = None


class BackupResult(StrEnum):
    """The answer to a backupsV2 PUT, as the model decides it."""

    #: A new backup was accepted.
    ACCEPTED = "accepted"
    #: The asked name's backup still runs: the same operation is answered again.
    REPEAT_RUNNING = "repeat_running"
    #: The asked name's backup ended Succeeded: 200 with the resource.
    EXISTS = "exists"
    NOT_FOUND = "not_found"
    NOT_READY = "not_ready"
    #: Another backup of the server runs.
    BACKUP_RUNNING = "backup_running"
    #: An export of the server runs (``EmulatorConfig.backup_conflicts_with_export``).
    EXPORT_RUNNING = "export_running"
    #: The server holds ``EmulatorConfig.backup_limit`` on-demand backups.
    LIMIT_REACHED = "limit_reached"


@dataclass(frozen=True)
class BackupOutcome:
    """The answer to a backup submit: the result, the server, and the backup it is about."""

    result: BackupResult
    server: ServerSpec | None = None
    record: BackupRecord | None = None


@dataclass(frozen=True)
class ConcurrencySnapshot:
    running: int
    peak: int
    peak_by_server: dict[str, int]
    accepted: int
    duplicates: int


class _Running:
    """Work that runs until an end time (exports, or backups): how much runs now, at most, in
    all and per server, counted from a heap keyed by end time so no history is ever scanned."""

    __slots__ = ("_by_server", "_heap", "accepted", "duplicates", "peak", "peak_by_server")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._by_server: dict[str, int] = {}
        self.peak = 0
        self.peak_by_server: dict[str, int] = {}
        self.accepted = 0
        self.duplicates = 0

    def start(self, key: str, name: str, ends_at: float, sequence: int, now: float) -> None:
        self.purge(now)
        self.accepted += 1
        if ends_at <= now:  # over at once (a 200 backup): it never runs
            return
        heapq.heappush(self._heap, (ends_at, sequence, key))
        on_server = self._by_server.get(key, 0) + 1
        self._by_server[key] = on_server
        self.peak = max(self.peak, len(self._heap))
        self.peak_by_server[name] = max(self.peak_by_server.get(name, 0), on_server)

    def reschedule(self, sequence: int, ends_at: float, now: float) -> None:
        """Move the running entry ``sequence`` to end at ``ends_at`` (rare: O(n))."""
        for index, (_, seq, key) in enumerate(self._heap):
            if seq == sequence:
                self._heap[index] = (ends_at, seq, key)
                heapq.heapify(self._heap)
                break
        self.purge(now)

    def purge(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, key = heapq.heappop(heap)
            self._by_server[key] -= 1

    def snapshot(self, now: float) -> ConcurrencySnapshot:
        self.purge(now)
        return ConcurrencySnapshot(
            running=len(self._heap),
            peak=self.peak,
            peak_by_server=dict(self.peak_by_server),
            accepted=self.accepted,
            duplicates=self.duplicates,
        )


class _Server:
    __slots__ = (
        "backups",
        "backups_by_asked",
        "backups_made",
        "by_name",
        "current",
        "current_backup",
        "spec",
    )

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.current: ExportRecord | None = None
        self.by_name: dict[str, ExportRecord] = {}
        #: Backup resources by lower-cased name, in ``sequence`` order (a replaced name moves to
        #: the end), and the latest backup of each lower-cased asked name.
        self.backups: dict[str, BackupRecord] = {}
        self.backups_by_asked: dict[str, BackupRecord] = {}
        self.current_backup: BackupRecord | None = None
        self.backups_made = 0

    def export_running(self, now: float) -> bool:
        return self.current is not None and not self.current.is_terminal_at(now)

    def backup_running(self, now: float) -> bool:
        return self.current_backup is not None and not self.current_backup.is_terminal_at(now)

    def keep_backup(self, record: BackupRecord) -> None:
        self.backups.pop(record.name.lower(), None)
        self.backups[record.name.lower()] = record
        self.backups_by_asked[record.asked_name.lower()] = record


def server_key(subscription: str, resource_group: str, name: str) -> str:
    """Case-insensitive identity of a server (its lower-cased resource id)."""
    return (
        f"/subscriptions/{subscription}/resourcegroups/{resource_group}"
        f"/providers/microsoft.dbformysql/flexibleservers/{name}"
    ).lower()


class FleetModel:
    """Servers, exports and operations of one emulator, behind one lock."""

    def __init__(self, config: EmulatorConfig, clock: Clock, fleet: Iterable[ServerSpec]) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._servers: dict[str, _Server] = {}
        self._scopes: dict[str, list[str]] = {}
        self._resource_groups: set[tuple[str, str]] = set()
        self._subscriptions: set[str] = {s.lower() for s in config.unregistered_subscriptions}
        for subscription, group in parse_scopes(config.extra_scopes):
            self._subscriptions.add(subscription)
            if group is not None:
                self._resource_groups.add((subscription, group))
        self._subscriptions.update(s for s, _ in parse_scopes(config.forbidden_scopes))
        self._exports: list[ExportRecord] = []
        self._operations: dict[str, ExportRecord] = {}
        self._server_seq: dict[str, int] = {}
        self._export_runs = _Running()
        self._backups: list[BackupRecord] = []
        self._backup_operations: dict[str, BackupRecord] = {}
        self._backup_sequence = 0
        self._backup_runs = _Running()
        for spec in fleet:
            self._insert(spec, sort=False)
        for keys in self._scopes.values():
            keys.sort()

    # --- fleet ------------------------------------------------------------------------------

    def _insert(self, spec: ServerSpec, *, sort: bool) -> None:
        key = server_key(spec.subscription, spec.resource_group, spec.name)
        existing = self._servers.get(key)
        if existing is not None:
            existing.spec = spec
            return
        server = self._servers[key] = _Server(spec)
        if spec.automatic_backups or spec.on_demand_backups:
            for record in existing_backups(
                self._config,
                spec,
                key=key,
                first_sequence=self._backup_sequence,
                now=self._clock.now(),
            ):
                server.keep_backup(record)
                self._backup_sequence += 1
        self._subscriptions.add(spec.subscription.lower())
        self._resource_groups.add((spec.subscription.lower(), spec.resource_group.lower()))
        for scope in self._scopes_of(spec):
            keys = self._scopes.setdefault(scope, [])
            if sort:
                bisect.insort(keys, key)
            else:
                keys.append(key)

    @staticmethod
    def _scopes_of(spec: ServerSpec) -> tuple[str, str]:
        sub = spec.subscription.lower()
        return sub, f"{sub}/{spec.resource_group.lower()}"

    def add_server(self, spec: ServerSpec) -> None:
        """Add a server, or replace the description of an existing one (its exports remain)."""
        with self._lock:
            self._insert(spec, sort=True)

    def remove_server(self, resource_id: str) -> bool:
        """Remove a server by resource id; its exports stay in the ground truth and pollable."""
        key = resource_id.rstrip("/").lower()
        with self._lock:
            server = self._servers.pop(key, None)
            if server is None:
                return False
            for scope in self._scopes_of(server.spec):
                keys = self._scopes[scope]
                index = bisect.bisect_left(keys, key)
                if index < len(keys) and keys[index] == key:
                    del keys[index]
            return True

    def servers(self) -> list[ServerSpec]:
        with self._lock:
            return [self._servers[k].spec for k in sorted(self._servers)]

    def subscription_exists(self, subscription: str) -> bool:
        """Subscriptions exist once named (by a server, ever, or the config); none goes away."""
        with self._lock:
            return subscription.lower() in self._subscriptions

    def resource_group_exists(self, subscription: str, resource_group: str) -> bool:
        with self._lock:
            return (subscription.lower(), resource_group.lower()) in self._resource_groups

    def find_server(self, subscription: str, resource_group: str, name: str) -> ServerSpec | None:
        with self._lock:
            server = self._servers.get(server_key(subscription, resource_group, name))
            return server.spec if server else None

    def list_servers(
        self, subscription: str, resource_group: str | None, after: str | None, limit: int
    ) -> tuple[list[ServerSpec], str | None]:
        """One page of servers in a stable order, and the key to continue after (or None)."""
        scope = subscription.lower()
        if resource_group is not None:
            scope = f"{scope}/{resource_group.lower()}"
        with self._lock:
            keys = self._scopes.get(scope, [])
            start = bisect.bisect_right(keys, after) if after else 0
            page = keys[start : start + limit]
            specs = [self._servers[k].spec for k in page]
            more = start + limit < len(keys)
        return specs, (page[-1] if more and page else None)

    # --- exports ----------------------------------------------------------------------------

    def submit_export(
        self, subscription: str, resource_group: str, name: str, request: ExportRequest
    ) -> SubmitOutcome:
        """Atomically check the server can export now and accept (or deduplicate) the export.

        A repeat of a backup name this server already accepted is answered as
        ``config.resubmission`` says: 409 while that export runs then 200 with its result (the
        default), accepted again as a second export, or refused.
        """
        key = server_key(subscription, resource_group, name)
        now = self._clock.now()
        with self._lock:
            server = self._servers.get(key)
            if server is None:
                return SubmitOutcome(SubmitResult.NOT_FOUND)
            spec = server.spec
            if spec.state != "Ready":
                return SubmitOutcome(SubmitResult.NOT_READY, spec)
            if request.sas_uri_count < spec.number_of_containers:
                return SubmitOutcome(SubmitResult.TOO_FEW_CONTAINERS, spec)
            previous = server.by_name.get(request.backup_name)
            mode = self._config.resubmission
            if previous is not None and mode is Resubmission.REFUSE:
                return SubmitOutcome(SubmitResult.REPEAT_REFUSED, spec, previous)
            again = previous is not None and mode is Resubmission.ACCEPT_AGAIN
            current = server.current
            running = server.export_running(now)
            if running and not (again and current is previous):
                return SubmitOutcome(SubmitResult.ALREADY_RUNNING, spec, current)
            if previous is not None and not again:
                duplicate = dataclasses.replace(
                    previous,
                    sequence=len(self._exports),
                    submitted_at=now,
                    api_version=request.api_version,
                    principal=request.principal,
                    sas_uri_count=request.sas_uri_count,
                    containers=request.containers,
                    duplicate=True,
                )
                self._exports.append(duplicate)
                self._export_runs.duplicates += 1
                return SubmitOutcome(SubmitResult.DUPLICATE, spec, previous)
            if self._config.backup_conflicts_with_export and server.backup_running(now):
                return SubmitOutcome(SubmitResult.BACKUP_RUNNING, spec)
            record = self._plan(key, spec, request, now)
            if previous is not None:
                record = dataclasses.replace(record, repeat_of=previous.sequence)
            server.current = record
            server.by_name[request.backup_name] = record
            self._exports.append(record)
            self._operations[record.operation_id] = record
            self._export_runs.start(key, spec.name, record.ends_at, record.sequence, now)
            return SubmitOutcome(SubmitResult.ACCEPTED, spec, record)

    def _plan(self, key: str, spec: ServerSpec, request: ExportRequest, now: float) -> ExportRecord:
        config = self._config
        seq = self._server_seq.get(key, 0)
        self._server_seq[key] = seq + 1
        rng = random.Random(f"{config.seed}:{key}:{seq}")
        operation_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        nonce = base64.urlsafe_b64encode(rng.getrandbits(144).to_bytes(18, "big")).decode("ascii")
        jitter = rng.uniform(1.0 - config.duration_jitter, 1.0 + config.duration_jitter)
        fail_roll = rng.random()
        fail_point = rng.uniform(0.1, 0.9)
        if spec.export_seconds is not None:
            planned = max(0.0, spec.export_seconds)
        else:
            planned = spec.datasource_size_bytes / config.throughput_bytes_per_second * jitter
        failed = spec.fail_export or fail_roll < config.fail_rate
        started = now + config.pending_seconds
        ends = started + (planned * fail_point if failed else planned)
        return ExportRecord(
            **identity(spec, len(self._exports), operation_id),
            backup_name=request.backup_name,
            backup_format=request.backup_format,
            api_version=request.api_version,
            principal=request.principal,
            sas_uri_count=request.sas_uri_count,
            containers=request.containers,
            datasource_size_bytes=spec.datasource_size_bytes,
            submitted_at=now,
            started_at=started,
            ends_at=ends,
            planned_seconds=planned,
            outcome=(ExportStatus.FAILED if failed else ExportStatus.SUCCEEDED).value,
            error_code=EXPORT_ERROR_CODE if failed else None,
            url_issued_at=int(now),
            url_nonce=nonce,
        )

    def refuse_export_write(
        self, operation_id: str, code: str, message: str, blobs: tuple[str, ...]
    ) -> ExportRecord | None:
        """An accepted export whose files storage refused (``armemulator.exportfiles``): it
        fails with ``code`` when its transfer starts, nothing transferred. Called before the
        202 is sent, so no client has seen the planned outcome; the ground truth, the running
        set and later answers all see this one. Returns the new record (None if unknown)."""
        now = self._clock.now()
        with self._lock:
            old = self._operations.get(operation_id.lower())
            if old is None:
                return None
            new = dataclasses.replace(
                old,
                ends_at=old.started_at,
                outcome=ExportStatus.FAILED.value,
                error_code=code,
                error_message=message,
                blobs=blobs,
            )
            self._replace(old, new)
            self._export_runs.reschedule(old.sequence, new.ends_at, now)
            return new

    def record_export_blobs(self, operation_id: str, blobs: tuple[str, ...]) -> None:
        """Note the files an accepted export wrote (its outcome stays as planned)."""
        with self._lock:
            old = self._operations.get(operation_id.lower())
            if old is not None:
                self._replace(old, dataclasses.replace(old, blobs=blobs))

    def _replace(self, old: ExportRecord, new: ExportRecord) -> None:
        """Put ``new`` wherever ``old`` is referenced (ground truth, operations, server)."""
        self._exports[old.sequence] = new
        self._operations[old.operation_id] = new
        server = self._servers.get(
            server_key(old.subscription, old.resource_group, old.server_name)
        )
        if server is not None:
            if server.current is old:
                server.current = new
            if server.by_name.get(old.backup_name) is old:
                server.by_name[old.backup_name] = new

    def find_operation(self, operation_id: str) -> ExportRecord | None:
        with self._lock:
            return self._operations.get(operation_id.lower())

    def exports(self) -> list[ExportRecord]:
        with self._lock:
            return list(self._exports)

    # --- on-demand backups -------------------------------------------------------------------

    def submit_backup(
        self, subscription: str, resource_group: str, name: str, request: BackupRequest
    ) -> BackupOutcome:
        """Atomically decide a backupsV2 PUT: answer a known name from its backup, or check the
        server may start one now (Ready, nothing running, under the limit) and accept it.

        A name whose backup runs gets that operation again; one whose backup succeeded gets it
        (200); one whose backup failed or was canceled starts a new backup that replaces it.
        """
        key = server_key(subscription, resource_group, name)
        now = self._clock.now()
        with self._lock:
            server = self._servers.get(key)
            if server is None:
                return BackupOutcome(BackupResult.NOT_FOUND)
            spec = server.spec
            asked = request.asked_name.lower()
            previous = server.backups_by_asked.get(asked) or server.backups.get(asked)
            if previous is not None and (
                not previous.is_terminal_at(now) or previous.outcome == "Succeeded"
            ):
                self._backup_runs.duplicates += 1
                result = (
                    BackupResult.EXISTS
                    if previous.is_terminal_at(now)
                    else BackupResult.REPEAT_RUNNING
                )
                return BackupOutcome(result, spec, previous)
            if spec.state != "Ready":
                return BackupOutcome(BackupResult.NOT_READY, spec)
            if server.backup_running(now):
                return BackupOutcome(BackupResult.BACKUP_RUNNING, spec, server.current_backup)
            if self._config.backup_conflicts_with_export and server.export_running(now):
                return BackupOutcome(BackupResult.EXPORT_RUNNING, spec)
            held = sum(1 for b in server.backups.values() if b.holds_a_slot_at(now))
            if held >= self._config.backup_limit:
                return BackupOutcome(BackupResult.LIMIT_REACHED, spec)
            record = plan_backup(
                self._config,
                spec,
                request,
                key=key,
                nth=server.backups_made,
                sequence=self._backup_sequence,
                now=now,
            )
            if previous is not None:
                record = dataclasses.replace(record, replaces=previous.sequence)
            server.backups_made += 1
            self._backup_sequence += 1
            server.current_backup = record
            server.keep_backup(record)
            self._backups.append(record)
            self._backup_operations[record.operation_id] = record
            self._backup_runs.start(key, spec.name, record.ends_at, record.sequence, now)
            return BackupOutcome(BackupResult.ACCEPTED, spec, record)

    def find_backup(
        self, subscription: str, resource_group: str, name: str, backup_name: str
    ) -> tuple[ServerSpec | None, BackupRecord | None]:
        """The server, and its backup resource named ``backup_name`` if visible now."""
        now = self._clock.now()
        with self._lock:
            server = self._servers.get(server_key(subscription, resource_group, name))
            if server is None:
                return None, None
            record = server.backups.get(backup_name.lower())
            if record is None or not record.visible_at(now):
                return server.spec, None
            return server.spec, record

    def list_backups(
        self, subscription: str, resource_group: str, name: str, after: int | None, limit: int
    ) -> tuple[ServerSpec | None, list[BackupRecord], int | None]:
        """One page of a server's visible backups in creation order, after the backup whose
        ``sequence`` is ``after``, and the sequence to continue after (or None)."""
        now = self._clock.now()
        with self._lock:
            server = self._servers.get(server_key(subscription, resource_group, name))
            if server is None:
                return None, [], None
            page: list[BackupRecord] = []
            more = False
            for record in server.backups.values():
                if (after is not None and record.sequence <= after) or not record.visible_at(now):
                    continue
                if len(page) == limit:
                    more = True
                    break
                page.append(record)
            return server.spec, page, (page[-1].sequence if more and page else None)

    def find_backup_operation(self, operation_id: str) -> BackupRecord | None:
        with self._lock:
            return self._backup_operations.get(operation_id.lower())

    def backups(self) -> list[BackupRecord]:
        """Every backup accepted by a PUT, in order (not the ones the servers started with)."""
        with self._lock:
            return list(self._backups)

    # --- concurrency ------------------------------------------------------------------------

    def concurrency(self) -> ConcurrencySnapshot:
        now = self._clock.now()
        with self._lock:
            return self._export_runs.snapshot(now)

    def backup_concurrency(self) -> ConcurrencySnapshot:
        now = self._clock.now()
        with self._lock:
            return self._backup_runs.snapshot(now)

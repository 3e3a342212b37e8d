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

from armemulator.clock import Clock
from armemulator.config import EmulatorConfig, Resubmission, parse_scopes
from armemulator.fleet import ServerSpec, short_location

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
class ExportRecord:
    """Ground truth about one export request that was accepted (or answered as a duplicate)."""

    #: Position in the ground-truth list (0-based).
    sequence: int
    operation_id: str
    subscription: str
    resource_group: str
    server_name: str
    server_id: str
    #: Short location name, as in the polling URLs.
    location: str
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
    #: A repeat of an accepted backup name, refused (``Resubmission.REFUSE``).
    REPEAT_REFUSED = "repeat_refused"


@dataclass(frozen=True)
class SubmitOutcome:
    """The answer to a submit: the result, the server, and the export it is about (if any)."""

    result: SubmitResult
    server: ServerSpec | None = None
    record: ExportRecord | None = None


@dataclass(frozen=True)
class ConcurrencySnapshot:
    running: int
    peak: int
    peak_by_server: dict[str, int]
    accepted: int
    duplicates: int


class _Server:
    __slots__ = ("by_name", "current", "spec")

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.current: ExportRecord | None = None
        self.by_name: dict[str, ExportRecord] = {}


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
        self._heap: list[tuple[float, int, str]] = []
        self._running = 0
        self._running_by_server: dict[str, int] = {}
        self._peak = 0
        self._peak_by_server: dict[str, int] = {}
        self._accepted = 0
        self._duplicates = 0
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
        self._servers[key] = _Server(spec)
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
            running = current is not None and not current.is_terminal_at(now)
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
                self._duplicates += 1
                return SubmitOutcome(SubmitResult.DUPLICATE, spec, previous)
            record = self._plan(key, spec, request, now)
            if previous is not None:
                record = dataclasses.replace(record, repeat_of=previous.sequence)
            server.current = record
            server.by_name[request.backup_name] = record
            self._exports.append(record)
            self._operations[record.operation_id] = record
            self._accepted += 1
            self._start_running(key, spec.name, record, now)
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
            sequence=len(self._exports),
            operation_id=operation_id,
            subscription=spec.subscription,
            resource_group=spec.resource_group,
            server_name=spec.name,
            server_id=spec.resource_id,
            location=short_location(spec.location),
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

    def find_operation(self, operation_id: str) -> ExportRecord | None:
        with self._lock:
            return self._operations.get(operation_id.lower())

    def exports(self) -> list[ExportRecord]:
        with self._lock:
            return list(self._exports)

    # --- concurrency ------------------------------------------------------------------------

    def _start_running(self, key: str, name: str, record: ExportRecord, now: float) -> None:
        self._purge(now)
        heapq.heappush(self._heap, (record.ends_at, record.sequence, key))
        self._running += 1
        on_server = self._running_by_server.get(key, 0) + 1
        self._running_by_server[key] = on_server
        self._peak = max(self._peak, self._running)
        self._peak_by_server[name] = max(self._peak_by_server.get(name, 0), on_server)

    def _purge(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, key = heapq.heappop(heap)
            self._running -= 1
            self._running_by_server[key] -= 1

    def concurrency(self) -> ConcurrencySnapshot:
        now = self._clock.now()
        with self._lock:
            self._purge(now)
            return ConcurrencySnapshot(
                running=self._running,
                peak=self._peak,
                peak_by_server=dict(self._peak_by_server),
                accepted=self._accepted,
                duplicates=self._duplicates,
            )

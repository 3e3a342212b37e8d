"""The durable state of every orchestration instance, kept apart from the engine that runs it.

Everything the engine needs to resume after a crash lives here: each instance's history, the
events delivered to it but not yet processed, the timers it cancelled. Outstanding activities,
timers and sub-orchestrations are *derived* from that history (``outstanding_work``), so a new
engine started on the same store picks up exactly where the old one stopped. Writes are atomic
under one lock and fenced by an engine generation: once a new engine has opened the store, late
writes from an abandoned one are rejected, like a lease that has moved to another worker.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from devhost.errors import InstanceAlreadyRunningError, InstanceGoneError, InstanceNotFoundError
from devhost.protocol import (
    EventType,
    HistoryEvent,
    completion_id,
    event_type,
    execution_started,
    make_event,
)
from devhost.work import ScheduledWork, WorkKind


class RuntimeStatus(StrEnum):
    """Runtime status of an orchestration instance, as the status API spells it."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    TERMINATED = "Terminated"
    CONTINUED_AS_NEW = "ContinuedAsNew"

    @property
    def is_terminal(self) -> bool:
        """Whether the instance will never run again."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED}
)


@dataclass(frozen=True)
class ParentLink:
    """Where a sub-orchestration reports its completion."""

    instance_id: str
    execution_id: str
    task_id: int
    name: str


@dataclass(frozen=True)
class PendingEvent:
    """An event delivered to an instance and not yet processed by an episode.

    ``execution_id`` is None for events addressed to the instance as a whole (raised events,
    terminate requests), which survive continue-as-new; completions are tied to the execution
    that scheduled the work and are dropped once it has continued as new.
    """

    event: HistoryEvent
    execution_id: str | None


@dataclass
class Instance:
    """One orchestration instance (``history`` is the current execution's)."""

    instance_id: str
    name: str
    status: RuntimeStatus
    execution_id: str
    input_text: str | None
    created_time: float
    last_updated_time: float
    parent: ParentLink | None = None
    output: Any = None
    custom_status: Any = None
    history: list[HistoryEvent] = field(default_factory=list)
    pending: list[PendingEvent] = field(default_factory=list)
    canceled_timers: set[int] = field(default_factory=set)
    completed_ids: set[int] = field(default_factory=set)
    episodes: int = 0

    def snapshot(self, with_history: bool = True) -> Instance:
        """Copy the instance; events are immutable so lists are copied shallowly."""
        return replace(
            self,
            history=list(self.history) if with_history else [],
            pending=list(self.pending),
            canceled_timers=set(self.canceled_timers),
            completed_ids=set(self.completed_ids),
        )


@dataclass(frozen=True)
class ChildStart:
    """A sub-orchestration to create as part of an episode commit."""

    instance_id: str
    name: str
    input_text: str | None
    task_id: int


@dataclass
class EpisodeCommit:
    """Everything one orchestrator episode changes, applied atomically.

    ``consumed`` pending events (from the front) are replaced by ``appended`` history events.
    ``post_events`` are completions the host produces itself (e.g. for an unknown activity
    name) and are delivered to the same execution right after the commit.
    """

    instance_id: str
    execution_id: str
    timestamp: float
    consumed: int
    appended: list[HistoryEvent]
    status: RuntimeStatus
    output: Any = None
    failure_details: str | None = None
    custom_status: Any = None
    set_custom_status: bool = False
    canceled_timers: frozenset[int] = frozenset()
    children: tuple[ChildStart, ...] = ()
    post_events: tuple[HistoryEvent, ...] = ()
    continue_as_new_input: str | None = None
    carry_over: tuple[HistoryEvent, ...] = ()


@dataclass(frozen=True)
class CommitOutcome:
    """Result of ``Store.commit_episode``: whether it applied and which instances to run."""

    accepted: bool
    wake: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreStats:
    """Counters for benchmarks (they survive engine restarts)."""

    instances: int
    episodes: int
    activities_run: int
    activity_crashes: int
    timers_fired: int
    max_history_length: int


def _event_id(event: HistoryEvent) -> int:
    return int(event["EventId"])


def outstanding_work(instance: Instance) -> list[ScheduledWork]:
    """Derive the work the current execution scheduled and has not seen completed.

    Scans the history for TaskScheduled / TimerCreated / SubOrchestrationInstanceCreated events
    without a completion in the history or among the pending events. Cancelled timers are
    reported with ``canceled=True``.
    """
    if instance.status.is_terminal:
        return []
    scheduled: dict[int, ScheduledWork] = {}
    done: set[int] = set()
    for event in instance.history:
        kind = event_type(event)
        if kind is EventType.TASK_SCHEDULED:
            scheduled[_event_id(event)] = ScheduledWork(
                _event_id(event), WorkKind.ACTIVITY, event.get("Name"), event.get("Input")
            )
        elif kind is EventType.TIMER_CREATED:
            task_id = _event_id(event)
            scheduled[task_id] = ScheduledWork(
                task_id,
                WorkKind.TIMER,
                fire_at=event.get("FireAt"),
                canceled=task_id in instance.canceled_timers,
            )
        elif kind is EventType.SUB_ORCHESTRATION_INSTANCE_CREATED:
            scheduled[_event_id(event)] = ScheduledWork(
                _event_id(event),
                WorkKind.SUB_ORCHESTRATION,
                event.get("Name"),
                event.get("Input"),
                instance_id=event.get("InstanceId"),
            )
        else:
            completed = completion_id(event)
            if completed is not None:
                done.add(completed)
    for pending in instance.pending:
        if pending.execution_id in (None, instance.execution_id):
            completed = completion_id(pending.event)
            if completed is not None:
                done.add(completed)
    return [work for task_id, work in sorted(scheduled.items()) if task_id not in done]


class Store:
    """Thread-safe in-memory instance store with optional JSON snapshots."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._instances: dict[str, Instance] = {}
        self._generation = 0
        self._instances_created = 0
        self._episodes = 0
        self._activities_run = 0
        self._activity_crashes = 0
        self._timers_fired = 0
        self._max_history_length = 0

    # -- engine ownership ---------------------------------------------------------------------
    def open_generation(self) -> int:
        """Hand the store to a new engine; writes carrying an older generation are refused."""
        with self._lock:
            self._generation += 1
            return self._generation

    def _fenced(self, generation: int | None) -> bool:
        return generation is not None and generation != self._generation

    # -- reads --------------------------------------------------------------------------------
    def get(self, instance_id: str, with_history: bool = True) -> Instance | None:
        """Return a copy of the instance, or None."""
        with self._lock:
            instance = self._instances.get(instance_id)
            return None if instance is None else instance.snapshot(with_history)

    def instance_ids(self) -> list[str]:
        """Return all instance ids."""
        with self._lock:
            return list(self._instances)

    def query(
        self,
        *,
        created_from: float | None = None,
        created_to: float | None = None,
        statuses: Iterable[RuntimeStatus] | None = None,
        prefix: str | None = None,
    ) -> list[Instance]:
        """Return copies (without history) of the instances matching every given filter."""
        wanted = None if statuses is None else frozenset(statuses)
        with self._lock:
            return [
                instance.snapshot(with_history=False)
                for instance in self._instances.values()
                if _matches(instance, created_from, created_to, wanted, prefix)
            ]

    def query_page(
        self,
        *,
        limit: int,
        start: str | None = None,
        created_from: float | None = None,
        created_to: float | None = None,
        statuses: Iterable[RuntimeStatus] | None = None,
        prefix: str | None = None,
    ) -> tuple[list[Instance], str | None]:
        """One page of a query, in instance id order (the Azure Storage provider's Instances
        table is keyed and scanned by instance id).

        Returns:
            up to ``limit`` matching instances whose id is ``start`` or later, and the id of the
            next match after them (None when there is none).
        """
        wanted = None if statuses is None else frozenset(statuses)
        with self._lock:
            ids = sorted(
                instance_id
                for instance_id, instance in self._instances.items()
                if (start is None or instance_id >= start)
                and _matches(instance, created_from, created_to, wanted, prefix)
            )
            page = [self._instances[i].snapshot(with_history=False) for i in ids[:limit]]
        return page, (ids[limit] if len(ids) > limit else None)

    def has_pending(self, instance_id: str) -> bool:
        """Whether the instance has events waiting for an episode."""
        with self._lock:
            instance = self._instances.get(instance_id)
            return bool(instance and instance.pending and not instance.status.is_terminal)

    def stats(self) -> StoreStats:
        """Return the benchmark counters."""
        with self._lock:
            return StoreStats(
                instances=len(self._instances),
                episodes=self._episodes,
                activities_run=self._activities_run,
                activity_crashes=self._activity_crashes,
                timers_fired=self._timers_fired,
                max_history_length=self._max_history_length,
            )

    # -- client operations --------------------------------------------------------------------
    def create_instance(
        self,
        *,
        instance_id: str,
        name: str,
        input_text: str | None,
        timestamp: float,
        parent: ParentLink | None = None,
    ) -> Instance:
        """Create (or replace a finished) instance with a pending ExecutionStarted.

        Raises:
            InstanceAlreadyRunningError: an instance with that id has not finished.
        """
        with self._lock:
            existing = self._instances.get(instance_id)
            if existing is not None and not existing.status.is_terminal:
                raise InstanceAlreadyRunningError(instance_id, existing.status.value)
            instance = self._new_instance(instance_id, name, input_text, timestamp, parent)
            return instance.snapshot()

    def _new_instance(
        self,
        instance_id: str,
        name: str,
        input_text: str | None,
        timestamp: float,
        parent: ParentLink | None,
    ) -> Instance:
        execution_id = uuid.uuid4().hex
        instance = Instance(
            instance_id=instance_id,
            name=name,
            status=RuntimeStatus.PENDING,
            execution_id=execution_id,
            input_text=input_text,
            created_time=timestamp,
            last_updated_time=timestamp,
            parent=parent,
        )
        instance.pending.append(
            PendingEvent(self._started_event(instance, timestamp), execution_id)
        )
        self._instances[instance_id] = instance
        self._instances_created += 1
        return instance

    @staticmethod
    def _started_event(instance: Instance, timestamp: float) -> HistoryEvent:
        parent = instance.parent
        parent_info = (
            None
            if parent is None
            else {
                "Name": parent.name,
                "Version": "",
                "TaskScheduleId": parent.task_id,
                "OrchestrationInstance": {
                    "InstanceId": parent.instance_id,
                    "ExecutionId": parent.execution_id,
                },
            }
        )
        return execution_started(
            timestamp,
            name=instance.name,
            input_text=instance.input_text,
            instance_id=instance.instance_id,
            execution_id=instance.execution_id,
            parent=parent_info,
        )

    def _require_live(self, instance_id: str) -> Instance:
        instance = self._instances.get(instance_id)
        if instance is None:
            raise InstanceNotFoundError(instance_id)
        if instance.status.is_terminal:
            raise InstanceGoneError(instance_id, instance.status.value)
        return instance

    def raise_event(
        self, instance_id: str, name: str, input_text: str | None, timestamp: float
    ) -> None:
        """Deliver an external event.

        Raises:
            InstanceNotFoundError: no such instance.
            InstanceGoneError: the instance has finished.
        """
        with self._lock:
            instance = self._require_live(instance_id)
            event = make_event(EventType.EVENT_RAISED, timestamp, Name=name, Input=input_text)
            instance.pending.append(PendingEvent(event, None))

    def request_termination(self, instance_id: str, reason: str | None, timestamp: float) -> None:
        """Queue an ExecutionTerminated event.

        Raises:
            InstanceNotFoundError: no such instance.
            InstanceGoneError: the instance has finished.
        """
        with self._lock:
            instance = self._require_live(instance_id)
            event = make_event(EventType.EXECUTION_TERMINATED, timestamp, Input=json.dumps(reason))
            instance.pending.append(PendingEvent(event, None))

    def purge(self, instance_id: str) -> bool:
        """Delete an instance and its history, whatever its status (the Azure Storage provider's
        purge by id does not look at it); return whether it existed. Its sub-orchestrations
        stay: they are instances of their own."""
        with self._lock:
            return self._instances.pop(instance_id, None) is not None

    def purge_where(
        self,
        *,
        created_from: float | None,
        created_to: float | None,
        statuses: Iterable[RuntimeStatus] | None,
    ) -> int:
        """Delete every instance matching the filters; return how many were deleted.

        ``created_from`` and ``created_to`` are inclusive; ``statuses`` None is no status
        condition (every status, running ones too). Which statuses a purge request may name is
        the API's rule (``devhost.management``), not the store's.
        """
        wanted = None if statuses is None else frozenset(statuses)
        with self._lock:
            doomed = [
                instance_id
                for instance_id, instance in self._instances.items()
                if _matches(instance, created_from, created_to, wanted, None)
            ]
            for instance_id in doomed:
                del self._instances[instance_id]
            return len(doomed)

    # -- engine operations --------------------------------------------------------------------
    def add_event(
        self,
        instance_id: str,
        event: HistoryEvent,
        execution_id: str | None,
        generation: int | None = None,
    ) -> bool:
        """Deliver a completion or other event; return False if it was refused.

        Refused: a stale engine generation, an unknown or finished instance, an execution that
        has since continued as new, or a duplicate completion of the same sequence id.
        """
        with self._lock:
            if self._fenced(generation):
                return False
            instance = self._instances.get(instance_id)
            if instance is None or instance.status.is_terminal:
                return False
            if execution_id is not None and execution_id != instance.execution_id:
                return False
            task_id = completion_id(event)
            if task_id is not None:
                if task_id in instance.completed_ids:
                    return False
                instance.completed_ids.add(task_id)
            instance.pending.append(PendingEvent(event, execution_id))
            return True

    def begin_episode(self, instance_id: str) -> Instance | None:
        """Return a copy of the instance with its current pending events, or None if idle.

        Pending completions addressed to an earlier execution are discarded here.
        """
        with self._lock:
            instance = self._instances.get(instance_id)
            if instance is None or instance.status.is_terminal:
                return None
            instance.pending[:] = [
                pending
                for pending in instance.pending
                if pending.execution_id in (None, instance.execution_id)
            ]
            if not instance.pending:
                return None
            return instance.snapshot()

    def commit_episode(self, commit: EpisodeCommit, generation: int | None = None) -> CommitOutcome:
        """Apply an episode's result atomically (see ``EpisodeCommit``)."""
        with self._lock:
            instance = self._instances.get(commit.instance_id)
            if (
                self._fenced(generation)
                or instance is None
                or instance.execution_id != commit.execution_id
                or instance.status.is_terminal
            ):
                return CommitOutcome(accepted=False)
            del instance.pending[: commit.consumed]
            instance.history.extend(commit.appended)
            self._max_history_length = max(self._max_history_length, len(instance.history))
            instance.episodes += 1
            self._episodes += 1
            instance.last_updated_time = commit.timestamp
            if commit.set_custom_status:
                instance.custom_status = commit.custom_status
            instance.canceled_timers |= commit.canceled_timers
            wake: list[str] = []
            for child in commit.children:
                wake.extend(self._start_child(instance, child, commit.timestamp))
            for event in commit.post_events:
                task_id = completion_id(event)
                if task_id is not None:
                    instance.completed_ids.add(task_id)
                instance.pending.append(PendingEvent(event, instance.execution_id))
            status = commit.status
            if status is RuntimeStatus.CONTINUED_AS_NEW:
                self._continue_as_new(instance, commit)
            elif status.is_terminal:
                instance.status = status
                instance.output = commit.output
                instance.pending.clear()
                wake.extend(self._notify_parent(instance, commit))
            else:
                instance.status = status
            if instance.pending:
                wake.append(instance.instance_id)
            return CommitOutcome(accepted=True, wake=tuple(dict.fromkeys(wake)))

    def _continue_as_new(self, instance: Instance, commit: EpisodeCommit) -> None:
        survivors = [pending for pending in instance.pending if pending.execution_id is None]
        instance.execution_id = uuid.uuid4().hex
        # The new execution's ExecutionStarted sets the instance's CreatedTime, as the Azure
        # Storage provider writes it (AzureTableTrackingStore.UpdateStateAsync, Azure/durabletask):
        # status answers, queries and purges by creation time see the latest execution's start.
        instance.created_time = commit.timestamp
        instance.input_text = commit.continue_as_new_input
        instance.history = []
        instance.completed_ids = set()
        instance.canceled_timers = set()
        instance.custom_status = None
        instance.output = None
        instance.status = RuntimeStatus.CONTINUED_AS_NEW
        carried = [PendingEvent(event, None) for event in commit.carry_over]
        started = PendingEvent(
            self._started_event(instance, commit.timestamp), instance.execution_id
        )
        instance.pending = [started, *carried, *survivors]

    def _start_child(self, parent: Instance, child: ChildStart, timestamp: float) -> list[str]:
        existing = self._instances.get(child.instance_id)
        if existing is not None and not existing.status.is_terminal:
            failed = make_event(
                EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                timestamp,
                TaskScheduledId=child.task_id,
                Reason=f"An orchestration with instance ID '{child.instance_id}' already exists.",
                Details=None,
            )
            parent.completed_ids.add(child.task_id)
            parent.pending.append(PendingEvent(failed, parent.execution_id))
            return []
        link = ParentLink(parent.instance_id, parent.execution_id, child.task_id, parent.name)
        self._new_instance(child.instance_id, child.name, child.input_text, timestamp, link)
        return [child.instance_id]

    def _notify_parent(self, instance: Instance, commit: EpisodeCommit) -> list[str]:
        link = instance.parent
        if link is None:
            return []
        if instance.status is RuntimeStatus.COMPLETED:
            event = make_event(
                EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                commit.timestamp,
                TaskScheduledId=link.task_id,
                Result=json.dumps(instance.output),
            )
        else:
            event = make_event(
                EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                commit.timestamp,
                TaskScheduledId=link.task_id,
                Reason=str(instance.output),
                Details=commit.failure_details,
            )
        accepted = self.add_event(link.instance_id, event, link.execution_id)
        return [link.instance_id] if accepted else []

    def deliver_child_result(self, child_id: str, generation: int | None = None) -> str | None:
        """Re-send a finished child's result to its parent (idempotent); return the parent id.

        Used after a restart: the parent may have been waiting when the host stopped.
        """
        with self._lock:
            if self._fenced(generation):
                return None
            child = self._instances.get(child_id)
            if child is None or not child.status.is_terminal or child.parent is None:
                return None
            commit = EpisodeCommit(
                instance_id=child.instance_id,
                execution_id=child.execution_id,
                timestamp=child.last_updated_time,
                consumed=0,
                appended=[],
                status=child.status,
            )
            woken = self._notify_parent(child, commit)
            return woken[0] if woken else None

    def record_activity_run(self, crashed: bool = False) -> None:
        """Count one activity execution (and whether its result was discarded)."""
        with self._lock:
            self._activities_run += 1
            if crashed:
                self._activity_crashes += 1

    def record_timer_fired(self) -> None:
        """Count one fired durable timer."""
        with self._lock:
            self._timers_fired += 1

    # -- snapshots ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the whole store to ``path`` as JSON (atomically replaced)."""
        with self._lock:
            document = {
                "version": 1,
                "counters": {
                    "instances": self._instances_created,
                    "episodes": self._episodes,
                    "activitiesRun": self._activities_run,
                    "activityCrashes": self._activity_crashes,
                    "timersFired": self._timers_fired,
                    "maxHistoryLength": self._max_history_length,
                },
                "instances": [_dump_instance(i) for i in self._instances.values()],
            }
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(json.dumps(document), encoding="utf-8")
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> Store:
        """Read a store written by ``save`` (a missing file gives an empty store)."""
        store = cls()
        if not path.is_file():
            return store
        document = json.loads(path.read_text(encoding="utf-8"))
        counters = document.get("counters", {})
        store._instances_created = int(counters.get("instances", 0))
        store._episodes = int(counters.get("episodes", 0))
        store._activities_run = int(counters.get("activitiesRun", 0))
        store._activity_crashes = int(counters.get("activityCrashes", 0))
        store._timers_fired = int(counters.get("timersFired", 0))
        store._max_history_length = int(counters.get("maxHistoryLength", 0))
        for raw in document.get("instances", []):
            instance = _load_instance(raw)
            store._instances[instance.instance_id] = instance
        return store


def _matches(
    instance: Instance,
    created_from: float | None,
    created_to: float | None,
    statuses: frozenset[RuntimeStatus] | None,
    prefix: str | None,
) -> bool:
    if created_from is not None and instance.created_time < created_from:
        return False
    if created_to is not None and instance.created_time > created_to:
        return False
    if statuses is not None and instance.status not in statuses:
        return False
    return prefix is None or instance.instance_id.startswith(prefix)


def _dump_instance(instance: Instance) -> dict[str, Any]:
    parent = instance.parent
    return {
        "instanceId": instance.instance_id,
        "name": instance.name,
        "status": instance.status.value,
        "executionId": instance.execution_id,
        "input": instance.input_text,
        "createdTime": instance.created_time,
        "lastUpdatedTime": instance.last_updated_time,
        "parent": None
        if parent is None
        else {
            "instanceId": parent.instance_id,
            "executionId": parent.execution_id,
            "taskId": parent.task_id,
            "name": parent.name,
        },
        "output": instance.output,
        "customStatus": instance.custom_status,
        "history": instance.history,
        "pending": [
            {"event": pending.event, "executionId": pending.execution_id}
            for pending in instance.pending
        ],
        "canceledTimers": sorted(instance.canceled_timers),
        "completedIds": sorted(instance.completed_ids),
        "episodes": instance.episodes,
    }


def _load_instance(raw: dict[str, Any]) -> Instance:
    parent_raw = raw.get("parent")
    parent = (
        None
        if parent_raw is None
        else ParentLink(
            parent_raw["instanceId"],
            parent_raw["executionId"],
            int(parent_raw["taskId"]),
            parent_raw["name"],
        )
    )
    return Instance(
        instance_id=raw["instanceId"],
        name=raw["name"],
        status=RuntimeStatus(raw["status"]),
        execution_id=raw["executionId"],
        input_text=raw.get("input"),
        created_time=float(raw["createdTime"]),
        last_updated_time=float(raw["lastUpdatedTime"]),
        parent=parent,
        output=raw.get("output"),
        custom_status=raw.get("customStatus"),
        history=list(raw.get("history", [])),
        pending=[PendingEvent(p["event"], p.get("executionId")) for p in raw.get("pending", [])],
        canceled_timers=set(raw.get("canceledTimers", [])),
        completed_ids=set(raw.get("completedIds", [])),
        episodes=int(raw.get("episodes", 0)),
    )

"""The soak's backup run: on-demand backups (backupsV2) of part of the fleet, after the export run.

Why this module exists: a backup run goes through the same machinery as an export (fleet ->
shards -> ``backup_server``), but what can go wrong differs, so the soak sets up its own
hazards for it, all seeded, on the same emulator, host and durable store:

* its scope: the servers of the fleet's first ``n`` resource groups (discovery by resource
  group, where the export run discovers by subscription);
* servers already holding the most on-demand backups the service keeps
  (``ServerSpec.on_demand_backups`` at ``DEFAULT_BACKUP_LIMIT``): their PUT is refused with 400
  ``OnDemandBackupLimitExceeded``;
* someone else's backup running on the servers the run submits first, so their first PUT meets
  409 ``BackupAlreadyRunningForServer`` and is waited out;
* the emulator's answer to a PUT changes at every host restart (``answers``: 202 with
  ``Location``, 202 with ``Azure-AsyncOperation``, 201 ``Creating``, 200 done), so every way of
  following a backup is crossed with lost answers and restarts.

``CounterDelta`` is what the emulator counted during one run (its counters are cumulative).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from armemulator import (
    DEFAULT_BACKUP_LIMIT,
    BackupAnswer,
    BackupRecord,
    Counters,
    Emulator,
    ServerSpec,
    VirtualClock,
)

#: Every answer mode, in the order the phases of a backup run use them: the probe's phase (the
#: first, cut short by a restart) the 200, then the spec example's 202 with ``Location``, 202
#: with ``Azure-AsyncOperation`` and 201 ``Creating`` for a third of the servers each.
ALL_ANSWERS: tuple[str, ...] = (
    BackupAnswer.COMPLETED.value,
    BackupAnswer.LOCATION.value,
    BackupAnswer.ASYNC_OPERATION.value,
    BackupAnswer.CREATED.value,
)
#: A foreign backup's name; the run's names come from its template, never of this shape.
FOREIGN_PREFIX = "manual-"
#: Emulated seconds a foreign backup runs: long enough to meet the run's first submission.
FOREIGN_SECONDS = 900.0
API_VERSION = "2024-12-30"


def scope_groups(fleet: Iterable[ServerSpec], groups: int) -> list[str]:
    """The first ``groups`` resource groups of the fleet, by name."""
    return sorted({s.resource_group for s in fleet})[:groups]


def in_scope(fleet: Iterable[ServerSpec], groups: Sequence[str]) -> list[ServerSpec]:
    chosen = {g.lower() for g in groups}
    return [s for s in fleet if s.resource_group.lower() in chosen]


def request_body(subscription: str, groups: Sequence[str], max_concurrency: int) -> dict[str, Any]:
    """Back up every Ready server of ``groups`` (Stopped ones are reported Skipped)."""
    return {
        "operation": "backup",
        "discover": {"subscriptions": [subscription], "resourceGroups": list(groups)},
        "backupName": "{server}-{utc:yyyyMMddHHmm}",
        "maxConcurrency": max_concurrency,
    }


def at_the_limit(
    fleet: list[ServerSpec], groups: Sequence[str], share: float, seed: int
) -> list[ServerSpec]:
    """``fleet`` with ``share`` of the Ready servers in ``groups`` (at least one when ``share``
    is positive) already holding ``DEFAULT_BACKUP_LIMIT`` on-demand backups."""
    chosen = {g.lower() for g in groups}
    candidates = [
        i
        for i, s in enumerate(fleet)
        if s.resource_group.lower() in chosen and s.state == "Ready" and not s.forbidden
    ]
    count = min(len(candidates), max(1, round(share * len(candidates)))) if share > 0 else 0
    changed = list(fleet)
    for index in random.Random(f"backup-limit:{seed}").sample(candidates, count):
        changed[index] = replace(fleet[index], on_demand_backups=DEFAULT_BACKUP_LIMIT)
    return changed


def start_foreign_backups(
    emu: Emulator, clock: VirtualClock, servers: Iterable[ServerSpec], token: str
) -> None:
    """Someone else's on-demand backup on each server, so the run's first PUT gets a 409."""
    with requests.Session() as session:
        for spec in servers:
            emu.add_server(replace(spec, backup_seconds=FOREIGN_SECONDS))
            for _ in range(1000):  # bounded: a throttled PUT waits its Retry-After
                answer = session.put(
                    f"{emu.url}{spec.resource_id}/backupsV2/{FOREIGN_PREFIX}{spec.name}"
                    f"?api-version={API_VERSION}",
                    json={},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
                if answer.status_code != 429:
                    break
                clock.advance(float(answer.headers.get("Retry-After", "1")))
            if answer.status_code not in (200, 201, 202):
                raise RuntimeError(f"foreign backup on {spec.name}: HTTP {answer.status_code}")


@dataclass(frozen=True)
class CounterDelta:
    """What the emulator counted between two snapshots (``peak_backups_running`` is the peak
    so far: it includes foreign backups running beside the run)."""

    requests: dict[str, int]
    responses: dict[tuple[str, int], int]
    faults: dict[str, int]
    throttled: dict[str, int]
    backups_accepted: int
    duplicate_backups: int
    peak_backups_running: int
    foreign_host_requests: int

    @classmethod
    def between(cls, before: Counters, after: Counters) -> CounterDelta:
        def minus(a: dict[Any, int], b: dict[Any, int]) -> dict[Any, int]:
            return {k: v - b.get(k, 0) for k, v in a.items() if v - b.get(k, 0)}

        return cls(
            requests=minus(after.requests, before.requests),
            responses=minus(after.responses, before.responses),
            faults=minus(after.faults, before.faults),
            throttled=minus(after.throttled, before.throttled),
            backups_accepted=after.backups_accepted - before.backups_accepted,
            duplicate_backups=after.duplicate_backups - before.duplicate_backups,
            peak_backups_running=after.peak_backups_running,
            foreign_host_requests=after.foreign_host_requests - before.foreign_host_requests,
        )

    def by_status(self, kinds: Iterable[str]) -> Counter[int]:
        wanted = set(kinds)
        out: Counter[int] = Counter()
        for (kind, status), count in self.responses.items():
            if kind in wanted:
                out[status] += count
        return out


@dataclass
class BackupRun:
    """The backup run of a soak and what the emulator and the host observed during it."""

    run_id: str
    report: dict[str, Any]
    groups: list[str]
    #: The servers of the run's resource groups, as the emulator has them at the end.
    scope: list[ServerSpec]
    #: Every backup the emulator accepted by a PUT (foreign ones too), in order.
    backups: list[BackupRecord]
    #: ``BackupRecord.sequence`` of the first backup the run could start: the run's backups
    #: are those from it on, the ones before someone else's.
    first_sequence: int
    counters: CounterDelta
    activity_runs: int
    crashes: int
    restarts: int
    #: The answer mode of each phase (a phase ends at each host restart).
    answers: list[str]
    conflict_servers: list[str] = field(default_factory=list)
    limit_servers: list[str] = field(default_factory=list)
    virtual_seconds: float = 0.0
    real_seconds: float = 0.0

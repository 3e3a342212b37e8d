"""On-demand backups (backupsV2): what one backup is, how it is planned, and how it reads over time.

Why this module exists: an on-demand backup is a second kind of long-running work on a server,
with its own lifecycle (an ARM resource that is created, runs, and stays listable) next to the
export's (an operation whose result is only reachable through its polling URLs). The model
(``model.FleetModel``) decides atomically whether a server may start one; this module holds the
value it records and the pure rules that read it at a moment of emulated time.

Facts from the contract (``shared/reference/arm-backups-v2.md``, the 2024-12-30 OpenAPI document
and its examples): ``ServerBackupV2`` = ``id``, ``name``, ``type``, ``properties.{backupNameV2,
backupType ("FULL"), completedTime, source, provisioningState}``; ``provisioningState`` is one of
Succeeded, Creating, Deleting, Failed, Canceled (the examples show "Ready"); the list example
names an automatic backup ``daily_20210615T160516`` with source "Automatic"; the create example
answers a name of the shape ``customer_20220507t073755_<guid>_<name>``.

The emulator's choices where the spec is silent (each **not in the spec**):

* A backup is "InProgress" from its PUT until ``ends_at`` (no pending phase), then ends with
  the outcome decided when it was accepted. Its resource reads ``provisioningState: "Creating"``
  meanwhile, then ``EmulatorConfig.backup_succeeded_state`` ("Succeeded" or "Ready"), "Failed"
  or "Canceled"; ``completedTime`` appears once it succeeded.
* Visibility follows ARM's resource provider contract (Azure/azure-resource-manager-rpc,
  v1.0 "Asynchronous API Reference", "202 Accepted and Location Headers", rule 7: "If the 202
  was returned in response to resource creation, the resource should *not* be visible until the
  async operation completes"): a backup accepted with a 202 is neither GET-able nor listed until
  it ends; one accepted with a 201 (or 200) is visible at once. Failed and canceled backups stay
  visible with that provisioningState.
* Error codes of a failed or canceled backup: ``OnDemandBackupFailed``, ``OperationCanceled``
  (invented; the spec has no example of a failed backupsV2 operation).
* Each backup's randomness (duration jitter, failure roll, operation id, name guid) comes from
  ``random.Random(f"{seed}:backup:{server}:{n}")``, so it does not depend on request order.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from armemulator.config import BackupAnswer, BackupNaming, EmulatorConfig
from armemulator.fleet import ServerSpec
from armemulator.records import OperationRecord, identity

#: ``properties.source`` of automatic backups (both examples).
AUTOMATIC_SOURCE = "Automatic"
#: The only ``BackupType`` value of the 2024-12-30 enum.
BACKUP_TYPE = "FULL"
#: Terminal outcomes other than success, with the (invented) error each reports.
BACKUP_ERRORS: dict[str, tuple[str, str]] = {
    "Failed": ("OnDemandBackupFailed", "The on-demand backup of server '{server}' failed."),
    "Canceled": ("OperationCanceled", "The on-demand backup of server '{server}' was canceled."),
}
SUCCEEDED = "Succeeded"
IN_PROGRESS = "InProgress"
CREATING = "Creating"

#: Answers that hide a backup until it ends (ARM RPC rule 7 for a 202 to a creation).
_HIDDEN_WHILE_RUNNING = frozenset({BackupAnswer.LOCATION, BackupAnswer.ASYNC_OPERATION})


@dataclass(frozen=True)
class BackupRecord(OperationRecord):
    """Ground truth about one backup: accepted by a PUT, or present when the server was added;
    ``sequence`` orders every backup the model knows (also the list order)."""

    #: The name the PUT asked for.
    asked_name: str
    #: The resource's name (the asked one, or the service's ``customer_...`` name).
    name: str
    #: ``properties.source``.
    source: str
    #: True for the server's automatic backups (never counted against the on-demand limit).
    automatic: bool
    #: True when the backup existed before the emulator served (no operation, no PUT).
    preexisting: bool
    #: api-version of the PUT ("" for pre-existing backups).
    api_version: str
    #: Object id of the caller ("" for pre-existing backups).
    principal: str
    #: How the PUT was answered (``BackupAnswer`` value); a repeat is answered the same way.
    answer: str
    submitted_at: float
    ends_at: float
    #: Emulated seconds the backup takes.
    planned_seconds: float
    #: "Succeeded", "Failed" or "Canceled", decided when the backup was accepted.
    outcome: str
    error_code: str | None
    #: ``sequence`` of the failed or canceled backup of the same asked name this one replaces.
    replaces: int | None = None
    #: Parameters of the signed polling URLs (not secrets; the signature is not stored).
    url_issued_at: int = dataclasses.field(default=0, repr=False)
    url_nonce: str = dataclasses.field(default="", repr=False)

    @property
    def resource_id(self) -> str:
        return f"{self.server_id}/backupsV2/{self.name}"

    def is_terminal_at(self, now: float) -> bool:
        return now >= self.ends_at

    def status_at(self, now: float) -> str:
        """The operation's ``status``: "InProgress", then the outcome."""
        return self.outcome if self.is_terminal_at(now) else IN_PROGRESS

    def provisioning_state_at(self, now: float, succeeded_state: str) -> str:
        if not self.is_terminal_at(now):
            return CREATING
        return succeeded_state if self.outcome == SUCCEEDED else self.outcome

    def percent_at(self, now: float) -> int:
        """percentComplete: linear in time, at most 99 until the backup succeeds."""
        if self.is_terminal_at(now):
            if self.outcome == SUCCEEDED:
                return 100
            span = self.ends_at - self.submitted_at
            return math.floor(100 * span / self.planned_seconds) if self.planned_seconds else 0
        if self.planned_seconds <= 0:
            return 0
        return min(99, max(0, math.floor(100 * (now - self.submitted_at) / self.planned_seconds)))

    def visible_at(self, now: float) -> bool:
        """Whether GET and list show the backup at ``now`` (see the module docstring)."""
        return (
            self.preexisting
            or self.is_terminal_at(now)
            or BackupAnswer(self.answer) not in _HIDDEN_WHILE_RUNNING
        )

    def holds_a_slot_at(self, now: float) -> bool:
        """Counts against the server's on-demand limit: running, or ended Succeeded."""
        if self.automatic:
            return False
        return not self.is_terminal_at(now) or self.outcome == SUCCEEDED

    def error_message(self) -> str | None:
        if self.outcome not in BACKUP_ERRORS:
            return None
        return BACKUP_ERRORS[self.outcome][1].format(server=self.server_name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready ground truth (no polling URL parameters)."""
        data = dataclasses.asdict(self)
        data.pop("url_issued_at")
        data.pop("url_nonce")
        data["resource_id"] = self.resource_id
        return data


@dataclass(frozen=True)
class BackupRequest:
    """What a validated backupsV2 PUT asks for."""

    asked_name: str
    api_version: str
    principal: str
    answer: BackupAnswer


def _stamp(epoch: float, fmt: str) -> str:
    return time.strftime(fmt, time.gmtime(epoch))


def resource_name(naming: BackupNaming, asked: str, at: float, rng: random.Random) -> str:
    """The name a backup asked as ``asked`` gets (see ``BackupNaming``)."""
    if naming is BackupNaming.AS_ASKED:
        return asked
    guid = uuid.UUID(int=rng.getrandbits(128), version=4)
    return f"customer_{_stamp(at, '%Y%m%dt%H%M%S')}_{guid}_{asked}"


def plan_backup(
    config: EmulatorConfig,
    spec: ServerSpec,
    request: BackupRequest,
    *,
    key: str,
    nth: int,
    sequence: int,
    now: float,
) -> BackupRecord:
    """The backup a PUT starts now: its name, operation id, duration and outcome."""
    rng = random.Random(f"{config.seed}:backup:{key}:{nth}")
    operation_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    nonce = base64.urlsafe_b64encode(rng.getrandbits(144).to_bytes(18, "big")).decode("ascii")
    jitter = rng.uniform(1.0 - config.duration_jitter, 1.0 + config.duration_jitter)
    fail_roll = rng.random()
    stop_point = rng.uniform(0.1, 0.9)
    name = resource_name(config.backup_names, request.asked_name, now, rng)
    if request.answer is BackupAnswer.COMPLETED:
        planned = 0.0
    elif spec.backup_seconds is not None:
        planned = max(0.0, spec.backup_seconds)
    else:
        planned = spec.datasource_size_bytes / config.backup_throughput_bytes_per_second * jitter
    outcome = spec.backup_outcome
    if outcome == SUCCEEDED and fail_roll < config.backup_fail_rate:
        outcome = "Failed"
    ends = now + (planned if outcome == SUCCEEDED else planned * stop_point)
    return BackupRecord(
        **identity(spec, sequence, operation_id),
        asked_name=request.asked_name,
        name=name,
        source=config.backup_source,
        automatic=False,
        preexisting=False,
        api_version=request.api_version,
        principal=request.principal,
        answer=request.answer.value,
        submitted_at=now,
        ends_at=ends,
        planned_seconds=planned,
        outcome=outcome,
        error_code=BACKUP_ERRORS[outcome][0] if outcome in BACKUP_ERRORS else None,
        url_issued_at=int(now),
        url_nonce=nonce,
    )


def existing_backups(
    config: EmulatorConfig, spec: ServerSpec, *, key: str, first_sequence: int, now: float
) -> list[BackupRecord]:
    """The backups a server has when it is added: its automatic backups (one a day, the newest
    an hour ago) and its succeeded on-demand backups (one an hour before that), oldest first."""
    rng = random.Random(f"{config.seed}:existing-backups:{key}")
    made: list[tuple[float, str, str, str, bool]] = []
    for day in range(spec.automatic_backups, 0, -1):
        at = now - 3600.0 - (day - 1) * 86400.0
        name = f"daily_{_stamp(at, '%Y%m%dT%H%M%S')}"
        made.append((at, name, name, AUTOMATIC_SOURCE, True))
    for n in range(spec.on_demand_backups):
        at = now - 7200.0 - (spec.on_demand_backups - n) * 3600.0
        asked = f"earlier-{n + 1:03d}"
        name = resource_name(config.backup_names, asked, at, rng)
        made.append((at, asked, name, config.backup_source, False))
    made.sort(key=lambda item: item[0])
    return [
        BackupRecord(
            **identity(spec, first_sequence + i, ""),
            asked_name=asked,
            name=name,
            source=source,
            automatic=automatic,
            preexisting=True,
            api_version="",
            principal="",
            answer=BackupAnswer.COMPLETED.value,
            submitted_at=at - 60.0,
            ends_at=at,
            planned_seconds=60.0,
            outcome=SUCCEEDED,
            error_code=None,
        )
        for i, (at, asked, name, source, automatic) in enumerate(made)
    ]

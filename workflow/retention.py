"""History retention: which finished instances the nightly purge deletes, and which it keeps.

The task hub keeps every instance's history and state until they are purged, and each run leaves
several: the run itself, its ``{runId}:target`` (the sealed SAS list), its shards, batches and
server instances. Every night ``triggers/retention.py`` starts the ``purge_history``
orchestration (``orchestrators/retention.py``); it takes "now" from the host's clock
(``current_utc_datetime``, so devhost's virtual clock governs it as Azure's governs a deployed
app) and has the ``purge_finished`` activity (``activities/retention.py``) delete, with the durable
client's purge by filter, every Completed, Failed or Terminated instance created before the
cutoff: one call, the host deletes every match.

The cutoff is now minus ``HISTORY_RETENTION_DAYS``, held back to just before the oldest run that
has not finished: a run's children are created after it (its target moments before), and a run
still running reads its target and counts its finished children, so nothing created since it
started is purged until it ends. Unfinished instances are never purged: the request names the
finished statuses (without them the Azure Storage provider deletes every status in the range,
running ones too: ``devhost.management`` cites the source).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final, TypedDict

from mysqlexport.times import iso, parse, utc
from workflow.instance_ids import SCHEDULE_INSTANCE_ID, is_run_id

#: The orchestrator and the activity of a purge (each function's name in the host).
PURGE_HISTORY: Final = "purge_history"
PURGE_FINISHED: Final = "purge_finished"
#: The one purge instance: a tick starts it only when the previous purge has ended.
RETENTION_INSTANCE_ID: Final = "history-purge"
#: What a purge deletes (the durable API's runtime status names).
FINISHED_STATUSES: Final = ("Completed", "Failed", "Terminated")
#: What a run still going may be in (``Suspended`` only if someone suspended it by hand).
UNFINISHED_STATUSES: Final = ("Running", "Pending", "ContinuedAsNew", "Suspended")
#: How far before the oldest unfinished run the cutoff stops: the run's target is started just
#: before the run (``triggers.runs.start_run``), two calls of one request.
HOLD_MARGIN: Final = timedelta(hours=1)
#: The purge's lower bound (the API needs one): older than any instance of this app.
EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)


class RunningRun(TypedDict):
    """The oldest run that had not finished when the tick looked."""

    instanceId: str
    createdTime: str


class RetentionJob(TypedDict):
    """The input of ``purge_history``."""

    retentionDays: int
    oldestRunning: RunningRun | None


class PurgeRequest(TypedDict):
    """The input of ``purge_finished``: the newest creation time to purge (inclusive)."""

    createdTimeTo: str


class PurgeAnswer(TypedDict):
    """What ``purge_finished`` returns: the host's count."""

    instancesDeleted: int


class RetentionReport(TypedDict):
    """The output of ``purge_history`` (the status API shows the last night's)."""

    retentionDays: int
    createdTimeTo: str
    heldBy: str | None
    instancesDeleted: int


def is_run(instance_id: str) -> bool:
    """Whether the instance is a run (``exp-…``, ``sched-…``) or the schedule's instance, not one
    of a run's children (whose IDs extend the run's with ``:``)."""
    return instance_id == SCHEDULE_INSTANCE_ID or is_run_id(instance_id)


def oldest_running_run(
    unfinished: Iterable[tuple[str, datetime | None]],
) -> RunningRun | None:
    """The oldest run among ``(instance id, created time)`` of unfinished instances; children and
    other instances do not count (a child outliving its run must not hold history forever)."""
    runs = [(utc(created), i) for i, created in unfinished if created is not None and is_run(i)]
    if not runs:
        return None
    created, instance_id = min(runs)
    return RunningRun(instanceId=instance_id, createdTime=iso(created))


def purge_cutoff(now: datetime, job: RetentionJob) -> tuple[datetime, str | None]:
    """The newest creation time this purge deletes, and the run that held it back (or None)."""
    cutoff = utc(now) - timedelta(days=job["retentionDays"])
    running = job["oldestRunning"]
    if running is not None:
        hold = parse(running["createdTime"]) - HOLD_MARGIN
        if hold < cutoff:
            return hold, running["instanceId"]
    return cutoff, None

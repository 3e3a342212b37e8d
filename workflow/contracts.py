"""The contracts: every value that crosses an orchestration or activity boundary, typed.

A durable function's input and output are JSON, written into the task hub's history and read
back on every replay, so each shape here is a ``TypedDict`` (plain JSON at run time, checked by
mypy strict everywhere it is built or read). One key style throughout: camelCase, as ARM and
the report write it. Nothing here is redundant: every field is read by someone.

Who sends what (``->`` input, ``<-`` output)::

    triggers      -> export_fleet     FleetJob (export_target keeps the target apart: TargetInput)
    export_fleet  -> export_shard     ShardInput                    <- list[ServerRow]
    export_shard  -> export_batch     BatchInput                    <- list[ServerRow]
    export_shard  -> export_server    ServerInput (also batch)      <- ServerRow
                     (backup_server in a backup run)
    export_fleet  <- list_scope       ScopeListing
    export_fleet  <- publish_report   PublishAnswer    (the report logged, counted, written)
    export_fleet  <- check_target     TargetCheckAnswer (a dry run: can the target be used?)
    export_shard  <- validate_server  ValidateAnswer
    fleet, server <- submit_export    SubmitAnswer     (submit_backup in a backup run)
    export_server <- read_status      StatusAnswer     (backup_server too)
    export_server <- read_result      ResultAnswer
    backup_server <- read_backup_result, read_backup   BackupAnswer

Every activity answers; an expected failure is a ``Problem`` carrying ARM's own code (an
exception that crosses into an orchestrator is flattened to a string by the Durable SDK).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NotRequired, TypedDict, cast, final

from mysqlexport.armspec import EXPORT
from mysqlexport.errors import ExportError
from mysqlexport.lro import PollPolicy
from mysqlexport.models import (
    AcceptedOperation,
    BackupResource,
    ErrorDetail,
    ExportResult,
    OperationStatus,
)
from mysqlexport.redaction import redact_text
from mysqlexport.report import ErrorRow, ServerRow
from mysqlexport.request import RunRequest, Target
from mysqlexport.rules import RetryPolicy
from mysqlexport.sealing import Sealer
from mysqlexport.settings import Settings

__all__ = ["ErrorRow", "ServerRow"]

# --- errors -------------------------------------------------------------------------------


class ErrorJson(TypedDict, total=False):
    """An error as data: ARM's own ``code`` and ``message``, and what the rules read."""

    code: str
    message: str
    target: str
    #: The HTTP status, absent when no answer came back.
    status: int
    requestId: str
    #: The server's ``Retry-After``, seconds.
    retryAfter: float
    #: True when trying again may work (a transport failure, a 5xx, a crashed activity).
    transient: bool
    #: One entry per bad field of an invalid input (``InvalidRequest``), as ARM's error nests them.
    details: list[dict[str, str]]
    #: ``storage``: storage's own error while the submit activity minted the export's SAS (a
    #: containers target); ARM was not called. Absent: ARM's answer (or no answer).
    source: str


class Problem(TypedDict):
    """An activity's answer when the thing it did failed as expected (ARM said no)."""

    kind: Literal["error"]
    error: ErrorJson


def problem(err: ExportError) -> Problem:
    """An expected failure, as the activity answers it."""
    error: ErrorJson = err.to_dict()  # type: ignore[assignment]  # ExportError.to_dict's keys
    return {"kind": "error", "error": error}


def activity_crash(err: object) -> ErrorJson:
    """An activity that raised instead of answering (a worker crash, a timeout, a bug): keep the
    message, never a secret. Transient: whatever it was doing may work when tried again."""
    return {"code": "ActivityFailed", "message": redact_text(str(err))[:2000], "transient": True}


def crashed(err: object) -> Problem:
    """``activity_crash`` as the answer the activity would have given."""
    return {"kind": "error", "error": activity_crash(err)}


# --- settings every part of a run shares --------------------------------------------------


class PollSettings(TypedDict):
    """How long ``export_server`` waits between polls when ARM gives no ``Retry-After``."""

    defaultSeconds: float
    maxSeconds: float
    #: Home in on the estimated end from the bytes moved (``POLL_HOMING``).
    homing: bool


class RetrySettings(TypedDict):
    """How often a failed submission is tried again, and how many probes the breaker reads."""

    transientAttempts: int
    breakerSample: int


def poll_policy(settings: PollSettings) -> PollPolicy:
    """The polling rules for ``settings``."""
    return PollPolicy(
        default_seconds=settings["defaultSeconds"], max_seconds=settings["maxSeconds"]
    )


def retry_policy(settings: RetrySettings) -> RetryPolicy:
    """The retry rules for ``settings``."""
    return RetryPolicy(
        transient_attempts=settings["transientAttempts"], breaker_sample=settings["breakerSample"]
    )


class RunSettings(TypedDict):
    """What the fleet tells every shard, batch and server of one run."""

    runId: str
    #: ``export`` (backupAndExport) or ``backup`` (an on-demand backup, backupsV2).
    operation: str
    backupFormat: str | None
    #: How many containers the target has, SAS URIs or container URLs (a dry run compares it
    #: with ``numberOfContainers``).
    sasCount: int
    #: Each server's deadline counts from its own start.
    deadlineMinutes: int
    dryRun: bool
    poll: PollSettings
    retry: RetrySettings


# --- the fleet ----------------------------------------------------------------------------


class FleetJob(TypedDict):
    """The input of ``export_fleet`` (and of ``scheduled_run``, which passes it on).

    Everything an orchestrator would otherwise read from the environment is decided here, once,
    by the trigger that starts the run, so orchestrators stay deterministic. The target is not
    here: it is kept once per run as the input of ``{runId}:target`` (``TargetInput``).
    """

    runId: str
    #: The validated request without its SAS URIs (``RunRequest.public_dict``; its container
    #: URLs, which are no secret, are in it).
    request: dict[str, Any]
    #: The target's size: its SAS URIs or its container URLs (``Target.count``).
    sasCount: int
    maxConcurrency: int
    deadlineMinutes: int
    shardSize: int
    #: The most servers one ``export_batch`` exports back to back (1: no batches).
    batchMaxServers: int
    poll: PollSettings
    retry: RetrySettings
    retryOf: str | None
    #: ``REPORT_CONTAINER_URL`` when the run started: where its report files go (None: none).
    #: Absent from the input of a run started before report files existed.
    reportContainer: NotRequired[str | None]


def fleet_job(
    run_id: str, request: RunRequest, settings: Settings, *, retry_of: str | None = None
) -> FleetJob:
    """The ``export_fleet`` input for ``request``, with the app's settings."""
    policy = RetryPolicy()
    return {
        "runId": run_id,
        "request": request.public_dict(),
        "sasCount": request.target.count,
        "maxConcurrency": request.max_concurrency or settings.max_concurrency,
        "deadlineMinutes": request.deadline_minutes or settings.deadline_minutes,
        "shardSize": settings.shard_size,
        "batchMaxServers": settings.batch_max_servers,
        "poll": {
            "defaultSeconds": settings.poll_default_seconds,
            "maxSeconds": settings.poll_max_seconds,
            "homing": settings.poll_homing,
        },
        "retry": {
            "transientAttempts": policy.transient_attempts,
            "breakerSample": policy.breaker_sample,
        },
        "retryOf": retry_of,
        "reportContainer": settings.report_container_url,
    }


def retry_job(
    run_id: str, original: FleetJob, servers: Sequence[str], report_container: str | None
) -> FleetJob:
    """A new run for ``servers`` with the original run's options (its target is copied apart);
    its report files go where ``REPORT_CONTAINER_URL`` says now."""
    request = dict(original["request"])
    request.update(servers=list(servers), discover=None)
    return {
        **original,
        "runId": run_id,
        "request": request,
        "retryOf": original["runId"],
        "reportContainer": report_container,
    }


def run_settings(job: FleetJob) -> RunSettings:
    """What every part of ``job``'s run is told."""
    return {
        "runId": job["runId"],
        "operation": job["request"].get("operation") or EXPORT,
        "backupFormat": job["request"].get("backupFormat"),
        "sasCount": job["sasCount"],
        "deadlineMinutes": job["deadlineMinutes"],
        "dryRun": bool(job["request"].get("dryRun")),
        "poll": job["poll"],
        "retry": job["retry"],
    }


@final
class SealedTarget(TypedDict):
    """A target given as SAS URIs: the list sealed with ``SAS_SEALING_KEY``."""

    sealedTarget: str


@final
class ContainersTarget(TypedDict):
    """A target given as container URLs: kept as they are (no secret); the submit activity
    mints a SAS for them per export."""

    containers: list[str]


#: The input of a run's ``export_target`` instance, kept once per run: one of the two forms.
TargetInput = SealedTarget | ContainersTarget


def target_input(target: Target, sealer: Callable[[], Sealer]) -> TargetInput:
    """What ``{runId}:target`` keeps for ``target``: its container URLs as they are, or its SAS
    list sealed (``sealer`` is asked for only then: a containers run needs no sealing key)."""
    if target.containers:
        return {"containers": list(target.containers)}
    return {"sealedTarget": sealer().seal(target.sas_uris)}


def kept_target_of(value: object) -> TargetInput | None:
    """The target kept as an ``export_target`` instance's input, as a status query returns it
    (the SDK hands it over as JSON text or as a value), or None when it is not there."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, Mapping):
        return None
    sealed, containers = value.get("sealedTarget"), value.get("containers")
    if isinstance(sealed, str):
        return {"sealedTarget": sealed}
    if isinstance(containers, list) and containers and all(isinstance(c, str) for c in containers):
        return {"containers": list(containers)}
    return None


# --- shards, batches, servers -------------------------------------------------------------


class ServerEntry(TypedDict):
    """One server of a run, as the fleet hands it on."""

    id: str
    backupName: str
    #: Provisioned storage (GB) from discovery, None when named explicitly: predicts the
    #: export's length for planning.
    size: int | None
    #: The probe's submission, when the fleet already submitted this server.
    firstOutcome: NotRequired[SubmitAnswer]


class ShardInput(TypedDict):
    """The input of ``export_shard``: its servers, largest first, and its window."""

    run: RunSettings
    index: int
    window: int
    #: The most servers one of its batches holds (1: none).
    batchMaxServers: int
    servers: list[ServerEntry]
    #: The run was canceled before the shard started: only probed servers are followed.
    canceled: bool


class BatchInput(TypedDict):
    """The input of ``export_batch``: a few small servers exported one after another."""

    run: RunSettings
    servers: list[ServerEntry]


class ServerInput(TypedDict):
    """The input of ``export_server`` (``state`` only after a continue-as-new)."""

    run: RunSettings
    server: ServerEntry
    #: ISO 8601: past it the row is TimedOut.
    deadline: str
    state: NotRequired[ServerState]


class Unanswered(TypedDict):
    """Submissions whose answer was lost (``mysqlexport.submissions.record_unanswered``)."""

    count: int
    attempts: list[int]
    last: str


class ServerState(TypedDict, total=False):
    """What ``export_server`` carries across a continue-as-new.

    ``phase`` says where it is: ``submit`` (until an export is accepted) or ``poll``. Streaks are
    ``[kind, count]`` of the failures in a row (``rules.next_streak``).
    """

    phase: Literal["submit", "poll"]
    #: Submissions sent so far.
    attempts: int
    unanswered: Unanswered
    submitStreak: list[Any]
    #: A submission got an answer that settles whether an export ran (a result or a refusal).
    outcomeKnown: bool
    operation: Operation
    submittedAt: str
    startTime: str
    endTime: str
    percent: float
    size: int
    transferred: int
    #: The first sample that showed bytes moved: the baseline of the transfer rate.
    anchorAt: str
    anchorBytes: int
    pollStreak: list[Any]
    #: The wait before the next poll, when the orchestration continued as new.
    nextDelay: float
    #: A backup run: the backup resource to read (its id, or the URL of the name asked for).
    backupRef: str


# --- activity inputs ----------------------------------------------------------------------


class SubmitRequest(TypedDict):
    """``submit_export``: one POST backupAndExport (the target is read from the run)."""

    runId: str
    id: str
    backupName: str
    backupFormat: str | None
    #: The server's deadline, minutes from its start: a SAS minted for a containers target
    #: lives that long from the submission (and a margin). Absent from the inputs of
    #: submissions scheduled before containers targets existed (whose target is sealed).
    deadlineMinutes: NotRequired[int]


def submit_request(run: RunSettings, entry: ServerEntry) -> SubmitRequest:
    """The ``submit_export`` input for ``entry``."""
    return {
        "runId": run["runId"],
        "id": entry["id"],
        "backupName": entry["backupName"],
        "backupFormat": run["backupFormat"],
        "deadlineMinutes": run["deadlineMinutes"],
    }


class ReadRequest(TypedDict):
    """``read_status`` / ``read_result``: one GET of a URL ARM gave."""

    url: str


class ServerRef(TypedDict):
    """``validate_server``: the server to check, for the run's operation."""

    id: str
    operation: NotRequired[str]


class Scope(TypedDict):
    """``list_scope``: a subscription, or up to 25 of its resource groups."""

    subscription: str
    resourceGroups: list[str]
    tags: dict[str, str]
    states: list[str]


class RelayRequest(TypedDict):
    """``relay_cancel``: the child instances to pass a cancel on to."""

    instances: list[str]


# --- activity answers ---------------------------------------------------------------------


class Operation(TypedDict):
    """An export ARM accepted: where to poll, and when first."""

    locationUrl: str | None
    asyncOperationUrl: str | None
    retryAfter: float | None
    requestId: str | None


def operation(accepted: AcceptedOperation) -> Operation:
    """``accepted`` as JSON."""
    return {
        "locationUrl": accepted.location_url,
        "asyncOperationUrl": accepted.async_operation_url,
        "retryAfter": accepted.retry_after,
        "requestId": accepted.request_id,
    }


class ExportFigures(TypedDict):
    """The figures of an export, from its status or its final result."""

    status: str
    startTime: str | None
    endTime: str | None
    percentComplete: float | None
    datasourceSizeInBytes: int | None
    dataTransferredInBytes: int | None
    error: ErrorJson | None


class ResultJson(ExportFigures):
    """The final ``BackupAndExportResponse``."""

    backupMetadata: str | None
    requestId: str | None


def _error(detail: ErrorDetail | None) -> ErrorJson | None:
    return detail.to_dict() if detail else None  # type: ignore[return-value]  # code, message, target


def _figures(model: ExportResult | OperationStatus) -> ExportFigures:
    return {
        "status": model.status,
        "startTime": model.start_time,
        "endTime": model.end_time,
        "percentComplete": model.percent_complete,
        "datasourceSizeInBytes": model.datasource_size_bytes,
        "dataTransferredInBytes": model.data_transferred_bytes,
        "error": _error(model.error),
    }


def result_json(result: ExportResult) -> ResultJson:
    """``result`` as JSON."""
    return {
        **_figures(result),
        "backupMetadata": result.backup_metadata,
        "requestId": result.request_id,
    }


class Accepted(TypedDict):
    """The POST was accepted (202): poll ``operation``."""

    kind: Literal["accepted"]
    operation: Operation


class Completed(TypedDict):
    """The service answered with the export's final result (it Succeeded, or says how it ended)."""

    kind: Literal["completed"]
    result: ResultJson


class Failed(TypedDict):
    """The export failed: ARM's error, and the final result when one came with it."""

    kind: Literal["failed"]
    result: ResultJson | None
    error: ErrorJson


class Status(ExportFigures):
    """One read of the Azure-AsyncOperation status resource."""

    kind: Literal["status"]
    retryAfter: float | None
    #: The resource the operation made (``OperationStatusResult.resourceId``; a backup's real id).
    resourceId: NotRequired[str | None]


def status_answer(status: OperationStatus) -> Status:
    """``status`` as the ``read_status`` answer."""
    answer = cast(Status, {"kind": "status", **_figures(status), "retryAfter": status.retry_after})
    if status.resource_id:
        answer["resourceId"] = status.resource_id
    return answer


def status_as_result(status: Status) -> ResultJson:
    """A terminal status standing in for the final result that could not be read."""
    figures = {key: value for key, value in status.items() if key not in ("kind", "retryAfter")}
    return cast(ResultJson, {**figures, "backupMetadata": None, "requestId": None})


class Running(TypedDict):
    """The Location URL answered 202: not finished yet."""

    kind: Literal["running"]
    retryAfter: float | None
    #: When the 202 carried a status body (an on-demand backup's may).
    percentComplete: NotRequired[float | None]


class Validated(TypedDict):
    """A dry run's answer for one server: its state, and the containers its export needs
    (None when the server is not Ready, so not asked, and in a backup run)."""

    kind: Literal["validated"]
    state: str | None
    numberOfContainers: int | None
    #: A backup run's dry run: the on-demand backups the server already has.
    onDemandBackups: NotRequired[int]


# --- on-demand backups (backupsV2) ----------------------------------------------------------


class BackupJson(TypedDict):
    """A backup resource (``ServerBackupV2``) as the row needs it."""

    #: The real resource id (the service may name the backup otherwise than asked).
    id: str | None
    name: str | None
    backupType: str | None
    completedTime: str | None
    source: str | None
    #: As ARM wrote it (the spec's examples write ``Ready``).
    provisioningState: str | None
    #: ``provisioningState`` read as an outcome: ``Ready`` is ``Succeeded``.
    state: str | None
    error: ErrorJson | None
    #: The answer's Retry-After (a 201 carries one): when to read the resource again.
    retryAfter: float | None
    #: The operation's ``endTime``, when the answer carried its status.
    endTime: str | None


def backup_json(resource: BackupResource) -> BackupJson:
    """``resource`` as JSON."""
    return {
        "id": resource.id,
        "name": resource.name,
        "backupType": resource.backup_type,
        "completedTime": resource.completed_time,
        "source": resource.source,
        "provisioningState": resource.provisioning_state,
        "state": resource.state,
        "error": _error(resource.error),
        "retryAfter": resource.retry_after,
        "endTime": resource.end_time,
    }


class BackupState(TypedDict):
    """A backup resource read: from the PUT's 200/201, its Location's final answer, or a GET."""

    kind: Literal["backup"]
    backup: BackupJson


class BackupRef(TypedDict):
    """``read_backup``: one GET of a backup resource, by id or URL."""

    ref: str


class ScopeListing(TypedDict):
    """``list_scope``'s answer: matching servers ``[id, storage GB or None]`` in an allowed
    state, Skipped rows for matching servers in another, how many matched, and a problem
    (ARM's own code, and ``scope``) for each listing that failed."""

    servers: list[tuple[str, int | None]]
    skipped: list[ServerRow]
    matched: int
    problems: list[dict[str, Any]]


class RelayAnswer(TypedDict):
    """``relay_cancel``'s answer: events raised, and children already gone."""

    delivered: int
    gone: int


SubmitAnswer = Accepted | Completed | Failed | BackupState | Problem
StatusAnswer = Status | Problem
ResultAnswer = Running | Completed | Failed | Problem
ValidateAnswer = Validated | Problem
#: ``read_backup_result`` (a backup's Location) and ``read_backup`` (its resource).
BackupAnswer = Running | BackupState | Problem


# --- the end of a run ---------------------------------------------------------------------


class PublishRequest(TypedDict):
    """``publish_report``: a finished run's report, to log and count per server and, when
    ``container`` is set, to write as files (``mysqlexport.report_files``)."""

    report: dict[str, Any]
    container: str | None
    #: The run's concurrency limit (the page draws it on the timeline).
    concurrency: int
    #: Log and count the run (the first call only: a retried write must not count it twice).
    record: bool


class Published(TypedDict):
    """The report is logged and counted; ``blobs`` are the files written (none without a
    container)."""

    kind: Literal["published"]
    blobs: list[str]


PublishAnswer = Published | Problem


# --- a dry run's target -------------------------------------------------------------------


class TargetCheck(TypedDict):
    """``check_target``: can the run's target be used? (A dry run of an export, once.)"""

    runId: str
    deadlineMinutes: int


class TargetUsable(TypedDict):
    """The target can be used: a SAS was minted for every container (the identity may get a
    user delegation key on each account), or the sealed SAS list opens."""

    kind: Literal["usable"]
    containers: int


TargetCheckAnswer = TargetUsable | Problem

"""Inputs and answers for driving the orchestrators with ``ScriptedRun``, built from the
contract types (``workflow.contracts``) so mypy checks their shapes too."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from mysqlexport import report
from orchestrators.timeutil import iso
from tests.reliability.replaying import (
    START,
    Answer,
    Call,
    ChildAnswer,
    External,
    Fails,
    Later,
    ScriptedRun,
)
from workflow import names
from workflow.contracts import (
    Accepted,
    BatchInput,
    Completed,
    ErrorJson,
    Failed,
    FleetJob,
    PollSettings,
    Problem,
    Published,
    ResultJson,
    RetrySettings,
    Running,
    RunSettings,
    ServerEntry,
    ServerInput,
    ShardInput,
    Status,
    SubmitAnswer,
    TargetUsable,
    Validated,
)

SUBSCRIPTION = "ffffffff-ffff-ffff-ffff-ffffffffffff"
ASYNC_URL = "https://management.azure.com/op?api-version=x"
LOCATION_URL = "https://management.azure.com/res?api-version=x"
METADATA = '{"dataDirectory": "db1-202701150800"}'
RUN_ID = "exp-0123456789abcdef0123"


def at(seconds: float) -> str:
    """``seconds`` after the scripted run's start, as ARM writes times."""
    return iso(datetime.fromtimestamp(START + seconds, UTC))


#: The scripted run's start: 2027-01-15T08:00:00Z.
STARTED = at(0)


def server_id(name: str, group: str = "rg") -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}"
        f"/providers/Microsoft.DBforMySQL/flexibleServers/{name}"
    )


def poll_settings(homing: bool = True) -> PollSettings:
    return {"defaultSeconds": 30.0, "maxSeconds": 300.0, "homing": homing}


def retry_settings(breaker_sample: int = 5) -> RetrySettings:
    return {"transientAttempts": 6, "breakerSample": breaker_sample}


def run_settings(
    *,
    dry_run: bool = False,
    sas_count: int = 2,
    homing: bool = True,
    deadline_minutes: int = 1440,
    operation: str = "export",
) -> RunSettings:
    return {
        "runId": RUN_ID,
        "operation": operation,
        "backupFormat": None,
        "sasCount": sas_count,
        "deadlineMinutes": deadline_minutes,
        "dryRun": dry_run,
        "poll": poll_settings(homing),
        "retry": retry_settings(),
    }


def entry(name: str, size: int | None = None, first: SubmitAnswer | None = None) -> ServerEntry:
    server: ServerEntry = {
        "id": server_id(name),
        "backupName": f"{name}-202701150800",
        "size": size,
    }
    if first is not None:
        server["firstOutcome"] = first
    return server


def server_input(
    server: ServerEntry, *, deadline_seconds: float = 86_400.0, homing: bool = True
) -> ServerInput:
    return {"run": run_settings(homing=homing), "server": server, "deadline": at(deadline_seconds)}


def shard_input(
    servers: list[ServerEntry],
    *,
    window: int = 2,
    batch_max_servers: int = 4,
    dry_run: bool = False,
    canceled: bool = False,
    sas_count: int = 2,
) -> ShardInput:
    return {
        "run": run_settings(dry_run=dry_run, sas_count=sas_count),
        "index": 0,
        "window": window,
        "batchMaxServers": batch_max_servers,
        "servers": servers,
        "canceled": canceled,
    }


def batch_input(servers: list[ServerEntry]) -> BatchInput:
    return {"run": run_settings(), "servers": servers}


def fleet_job(
    *,
    servers: Sequence[str] = (),
    discover: dict[str, Any] | None = None,
    backup_name: str = "{server}-{utc:yyyyMMddHHmm}",
    max_concurrency: int = 4,
    shard_size: int = 500,
    batch_max_servers: int = 4,
    dry_run: bool = False,
    breaker_sample: int = 5,
) -> FleetJob:
    request = {
        "servers": list(servers),
        "discover": discover,
        "sasUriCount": 2,
        "backupName": backup_name,
        "backupFormat": None,
        "maxConcurrency": max_concurrency,
        "deadlineMinutes": 1440,
        "dryRun": dry_run,
        "operation": "export",
    }
    return {
        "runId": RUN_ID,
        "request": request,
        "sasCount": 2,
        "maxConcurrency": max_concurrency,
        "deadlineMinutes": 1440,
        "shardSize": shard_size,
        "batchMaxServers": batch_max_servers,
        "poll": poll_settings(),
        "retry": retry_settings(breaker_sample),
        "retryOf": None,
    }


# --- ARM's answers, as the activities return them -----------------------------------------


def accepted(*, async_url: bool = True, retry_after: float | None = 10) -> Accepted:
    return {
        "kind": "accepted",
        "operation": {
            "asyncOperationUrl": ASYNC_URL if async_url else None,
            "locationUrl": LOCATION_URL,
            "retryAfter": retry_after,
            "requestId": "req-accepted",
        },
    }


def problem(
    code: str, status: int | None, *, transient: bool = False, retry_after: float | None = None
) -> Problem:
    error: ErrorJson = {"code": code, "message": f"{code} (scripted)", "transient": transient}
    if status is not None:
        error["status"] = status
    if retry_after is not None:
        error["retryAfter"] = retry_after
    return {"kind": "error", "error": error}


BUSY = problem("BackupAlreadyRunningForServer", 409)
UNAVAILABLE = problem("ServiceUnavailable", 503, transient=True, retry_after=10)
THROTTLED = problem("SubscriptionRequestsThrottled", 429, transient=True, retry_after=2)
FORBIDDEN = problem("AuthorizationFailed", 403)


def result(
    state: str = "Succeeded",
    *,
    metadata: str | None = METADATA,
    error: ErrorJson | None = None,
    moved: int = 2048,
) -> ResultJson:
    return {
        "status": state,
        "startTime": STARTED,
        "endTime": STARTED,
        "percentComplete": 100,
        "datasourceSizeInBytes": 2048,
        "dataTransferredInBytes": moved,
        "error": error,
        "backupMetadata": metadata,
        "requestId": "req-result",
    }


def completed(state: str = "Succeeded", *, metadata: str | None = METADATA) -> Completed:
    return {"kind": "completed", "result": result(state, metadata=metadata)}


def failed(code: str = "ExportFailed") -> Failed:
    error: ErrorJson = {"code": code, "message": f"{code} (scripted)"}
    return {
        "kind": "failed",
        "result": result("Failed", metadata=None, error=error),
        "error": error,
    }


def running(retry_after: float | None = 10) -> Running:
    return {"kind": "running", "retryAfter": retry_after}


def status(
    state: str = "InProgress",
    *,
    percent: float | None = None,
    size: int | None = None,
    moved: int | None = None,
    retry_after: float | None = 10,
    error: ErrorJson | None = None,
) -> Status:
    return {
        "kind": "status",
        "status": state,
        "startTime": STARTED,
        "endTime": None,
        "percentComplete": percent,
        "datasourceSizeInBytes": size,
        "dataTransferredInBytes": moved,
        "error": error,
        "retryAfter": retry_after,
    }


def validated(state: str | None = "Ready", containers: int | None = 1) -> Validated:
    return {"kind": "validated", "state": state, "numberOfContainers": containers}


# --- scripts ------------------------------------------------------------------------------


#: ``publish_report``'s answer when the report is logged and no container is set.
PUBLISHED: Published = {"kind": "published", "blobs": []}
#: ``check_target``'s answer (a dry run) when the target can be used.
USABLE: TargetUsable = {"kind": "usable", "containers": 2}


def script(**answers: Sequence[Any]) -> Answer:
    """Activities answered in turn from one list per activity name; a call the script did not
    foresee fails the test. ``publish_report``, the end of every run, answers ``PUBLISHED``
    and ``check_target`` (a dry run's) ``USABLE`` unless the script says otherwise."""
    queues: dict[str, Iterator[Any]] = {name: iter(seq) for name, seq in answers.items()}
    queues.setdefault(names.PUBLISH_REPORT, iter(lambda: PUBLISHED, None))
    queues.setdefault(names.CHECK_TARGET, iter(lambda: USABLE, None))

    def answer(name: str, _payload: Any) -> Any:
        assert name in queues, f"unscripted activity {name}"
        value = next(queues[name], None)
        assert value is not None, f"the script has no more answers for {name}"
        return value

    return answer


def succeeded_row(server: ServerEntry) -> report.ServerRow:
    return report.server_row(
        server["id"],
        report.SUCCEEDED,
        backup_name=server["backupName"],
        attempts=1,
        data_transferred=2048,
    )


def cancel(when: Callable[[ScriptedRun], bool]) -> External:
    """The run's cancel event (as the HTTP API and relay_cancel raise it) once ``when`` holds."""
    return External(names.CANCEL_EVENT, {"requested": True}, when=when)


def scheduled(name: str) -> Callable[[ScriptedRun], bool]:
    """``when``: once the orchestrator has scheduled a call named ``name``."""
    return lambda run: bool(run.called(name))


def children_open(run: ScriptedRun) -> int:
    """The most sub-orchestrations open at once after any episode of ``run``."""
    return max(
        (sum(1 for c in e.open if c.kind == "suborchestration") for e in run.episodes), default=0
    )


def exports(
    seconds: Callable[[str], float] = lambda _id: 0.0,
    fail: Callable[[str], str | None] = lambda _id: None,
) -> ChildAnswer:
    """Children that export every server they are given: ``export_server`` answers its row and
    ``export_batch`` its rows after ``seconds(first server id)``; a server for which ``fail``
    names a reason fails its orchestration (a batch holding it fails as a whole)."""

    def answer(call: Call) -> Any:
        name, job = call.name, call.input
        servers: list[ServerEntry]
        if name == names.EXPORT_SERVER:
            servers = [job["server"]]
        elif name in (names.EXPORT_BATCH, names.EXPORT_SHARD):
            servers = job["servers"]
        else:
            raise AssertionError(f"unscripted sub-orchestration {name}")
        reason = next((r for s in servers if (r := fail(s["id"])) is not None), None)
        rows = [succeeded_row(s) for s in servers]
        value: Any = Fails(reason) if reason else rows[0] if name == names.EXPORT_SERVER else rows
        return Later(seconds(servers[0]["id"]), value)

    return answer


def short(server: str) -> str:
    """A server's name from its resource id."""
    return server.rsplit("/", 1)[1]


def by_name(rows: Sequence[Any]) -> dict[str, Any]:
    """Rows keyed by server name."""
    return {short(row["id"]): row for row in rows}

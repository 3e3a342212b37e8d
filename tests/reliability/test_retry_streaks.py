"""Retry budgets count failures of one kind in a row: waiting out a busy server (409) or ARM
throttling (429) never uses up the few retries allowed for errors that say nothing, so the one
transient error that may hide an accepted export is never taken for the last straw.

Each test drives ``export_server`` through the SDK with a script of ARM answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.reliability.replaying import ScriptedRun
from workflow import names

SERVER = (
    "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/rg"
    "/providers/Microsoft.DBforMySQL/flexibleServers/db1"
)
JOB = {
    "run": {
        "runId": "exp-scripted",
        "operation": "export",
        "backupFormat": None,
        "sasCount": 1,
        "deadlineMinutes": 1440,
        "dryRun": False,
        "poll": {"defaultSeconds": 30.0, "maxSeconds": 300.0, "homing": True},
        "retry": {"transientAttempts": 6, "breakerSample": 5},
    },
    "server": {"id": SERVER, "backupName": "db1-202701150800", "size": None},
    "deadline": "2027-01-16T08:00:00Z",
}
BUSY = {
    "kind": "error",
    "error": {"code": "BackupAlreadyRunningForServer", "status": 409, "transient": False},
}
UNAVAILABLE = {
    "kind": "error",
    "error": {"code": "ServiceUnavailable", "status": 503, "transient": True, "retryAfter": 10},
}
THROTTLED = {
    "kind": "error",
    "error": {
        "code": "SubscriptionRequestsThrottled",
        "status": 429,
        "transient": True,
        "retryAfter": 2,
    },
}
DONE = {
    "status": "Succeeded",
    "startTime": None,
    "endTime": None,
    "percentComplete": 100,
    "datasourceSizeInBytes": 2048,
    "dataTransferredInBytes": 2048,
    "error": None,
    "backupMetadata": None,
    "requestId": None,
}
ACCEPTED = {
    "kind": "accepted",
    "operation": {
        "asyncOperationUrl": "https://management.azure.com/op?api-version=x",
        "locationUrl": "https://management.azure.com/res?api-version=x",
        "retryAfter": 10,
        "requestId": None,
    },
}


def script(**answers: list[Any]) -> Any:
    queues: dict[str, Iterator[Any]] = {name: iter(seq) for name, seq in answers.items()}

    def answer(name: str, _payload: Any) -> Any:
        return next(queues[name])

    return answer


def test_a_transient_error_after_a_long_409_wait_is_retried_not_final() -> None:
    # The 503 stands for a submission the service accepted but whose answer was lost: the next
    # submissions meet our own running export (409), then its final result.
    run = ScriptedRun(
        names.EXPORT_SERVER,
        JOB,
        script(
            submit_export=[BUSY] * 8
            + [UNAVAILABLE, BUSY, BUSY, {"kind": "completed", "result": DONE}]
        ),
    )
    row = run.run().output
    assert row["status"] == "Succeeded", row
    assert row["attempts"] == 12


def test_throttled_polls_do_not_use_up_the_poll_error_budget() -> None:
    status = {**DONE, "kind": "status", "retryAfter": None}
    run = ScriptedRun(
        names.EXPORT_SERVER,
        JOB,
        script(
            submit_export=[ACCEPTED],
            read_status=[THROTTLED] * 9 + [UNAVAILABLE, status],
            read_result=[{"kind": "completed", "result": DONE}],
        ),
    )
    row = run.run().output
    assert row["status"] == "Succeeded", row


def test_six_transient_errors_in_a_row_still_end_the_server() -> None:
    run = ScriptedRun(names.EXPORT_SERVER, JOB, script(submit_export=[UNAVAILABLE] * 6))
    row = run.run().output
    assert row["status"] == "Failed" and row["error"]["code"] == "ServiceUnavailable"
    assert row["attempts"] == 6

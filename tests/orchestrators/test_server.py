"""``export_server`` through its branches: submit -> poll -> final result, each answer of ARM
scripted, every timer fired on a virtual clock, replayed by the SDK episode by episode."""

from __future__ import annotations

from typing import Any

import pytest

from activities.arm_calls import storage_problem
from mysqlexport import report, submissions
from mysqlexport.storage import StorageError
from orchestrators.server import CONTINUE_AS_NEW_POLLS, FINAL_RESULT_UNAVAILABLE
from tests.orchestrators.script import (
    ASYNC_URL,
    BUSY,
    FORBIDDEN,
    LOCATION_URL,
    METADATA,
    UNAVAILABLE,
    accepted,
    at,
    completed,
    entry,
    failed,
    problem,
    result,
    running,
    script,
    server_input,
    status,
)
from tests.reliability.replaying import START, Answer, Raises, ScriptedRun, run_executions
from workflow import names
from workflow.contracts import ErrorJson, ServerInput

DB1 = entry("db1")


def export(job: ServerInput, answer: Answer) -> tuple[dict[str, Any], ScriptedRun]:
    """The row of one execution that ends (not continues as new), and the run."""
    run = ScriptedRun(names.EXPORT_SERVER, job, answer)
    state = run.run()
    assert state.error is None, state.error
    assert run.continued is None, "the execution continued as new"
    row: dict[str, Any] = state.output
    return row, run


def called(run: ScriptedRun) -> list[str]:
    return [name for name, _ in run.activities]


def gaps(run: ScriptedRun) -> list[float]:
    """How long each timer waited, in seconds."""
    return [t.fire_at - t.at for t in run.timers]


# --- submit -> poll -> final result -------------------------------------------------------


def test_accepted_export_is_polled_to_success_and_its_result_read_from_location() -> None:
    job = server_input(DB1)
    row, run = export(
        job,
        script(
            submit_export=[accepted()],
            read_status=[status(percent=50), status("Succeeded", percent=100)],
            read_result=[completed()],
        ),
    )
    assert row["status"] == report.SUCCEEDED
    assert row["backupMetadata"] == METADATA
    assert row["attempts"] == 1 and row["error"] is None and "notes" not in row
    assert called(run) == ["submit_export", "read_status", "read_status", "read_result"]
    assert [p for n, p in run.activities if n == "read_status"] == [{"url": ASYNC_URL}] * 2
    assert run.activities[-1] == ("read_result", {"url": LOCATION_URL})
    assert run.activities[0][1] == {
        "runId": job_run_id(),
        "id": DB1["id"],
        "backupName": DB1["backupName"],
        "backupFormat": None,
        # the deadline a SAS minted for a containers target lives for (from the submission)
        "deadlineMinutes": job["run"]["deadlineMinutes"],
    }
    assert gaps(run)[0] == 10  # the 202's Retry-After


def job_run_id() -> str:
    return server_input(DB1)["run"]["runId"]


def test_location_only_polling_ends_with_the_result_location_answers() -> None:
    row, run = export(
        server_input(DB1),
        script(submit_export=[accepted(async_url=False)], read_result=[running(), completed()]),
    )
    assert row["status"] == report.SUCCEEDED and row["backupMetadata"] == METADATA
    assert called(run) == ["submit_export", "read_result", "read_result"]
    assert {p["url"] for n, p in run.activities if n == "read_result"} == {LOCATION_URL}


def test_location_only_polling_ends_failed_when_location_answers_failed() -> None:
    row, run = export(
        server_input(DB1),
        script(
            submit_export=[accepted(async_url=False)],
            read_result=[running(), failed("StorageAccessDenied")],
        ),
    )
    assert row["status"] == report.FAILED
    assert row["error"]["code"] == "StorageAccessDenied"
    assert called(run) == ["submit_export", "read_result", "read_result"]


@pytest.mark.parametrize("terminal", ["Failed", "Canceled"])
def test_a_failed_or_canceled_status_ends_the_row_without_reading_location(terminal: str) -> None:
    error: ErrorJson = {"code": "OperationEnded", "message": f"the export was {terminal}"}
    row, run = export(
        server_input(DB1),
        script(
            submit_export=[accepted()],
            read_status=[status(percent=40), status(terminal, percent=40, error=error)],
        ),
    )
    assert row["status"] == report.FAILED
    assert row["error"] == {"code": "OperationEnded", "message": f"the export was {terminal}"}
    assert row["percentComplete"] == 40
    assert "read_result" not in called(run)


def test_a_canceled_status_without_an_error_says_the_export_was_canceled() -> None:
    row, _ = export(
        server_input(DB1),
        script(submit_export=[accepted()], read_status=[status("Canceled", error=None)]),
    )
    assert row["status"] == report.FAILED
    assert row["error"]["code"] == "ExportCanceled"


def test_a_failed_status_without_an_error_names_the_status() -> None:
    row, _ = export(
        server_input(DB1),
        script(submit_export=[accepted()], read_status=[status("Failed", error=None)]),
    )
    assert row["status"] == report.FAILED
    assert row["error"]["code"] == "ExportFailed" and "Failed" in row["error"]["message"]


def test_an_unreadable_final_result_keeps_success_with_a_note() -> None:
    row, run = export(
        server_input(DB1),
        script(
            submit_export=[accepted()],
            read_status=[status("Succeeded", percent=100, size=2048, moved=2048)],
            read_result=[problem("ResourceNotFound", 404)],
        ),
    )
    assert row["status"] == report.SUCCEEDED
    assert "backupMetadata" not in row
    assert row["dataTransferredInBytes"] == 2048  # the status stands in for the result
    assert [n["code"] for n in row["notes"]] == [FINAL_RESULT_UNAVAILABLE]
    assert "ResourceNotFound" in row["notes"][0]["message"]
    assert called(run).count("read_result") == 1  # a permanent error is not read again


def test_a_location_that_keeps_answering_202_is_read_a_bounded_number_of_times() -> None:
    row, run = export(
        server_input(DB1),
        script(
            submit_export=[accepted()],
            read_status=[status("Succeeded")],
            read_result=[running(5)] * 10,
        ),
    )
    assert row["status"] == report.SUCCEEDED
    assert [n["code"] for n in row["notes"]] == [FINAL_RESULT_UNAVAILABLE]
    assert "FinalResultNotReady" in row["notes"][0]["message"]
    assert called(run).count("read_result") == 10  # RetryPolicy.poll_error_limit


def test_an_operation_without_location_notes_the_missing_result() -> None:
    job = accepted()
    job["operation"]["locationUrl"] = None
    row, run = export(
        server_input(DB1), script(submit_export=[job], read_status=[status("Succeeded")])
    )
    assert row["status"] == report.SUCCEEDED
    assert "NoLocation" in row["notes"][0]["message"]
    assert "read_result" not in called(run)


# --- submitting -----------------------------------------------------------------------------


def test_a_busy_server_is_waited_out_then_the_export_accepted() -> None:
    row, run = export(
        server_input(DB1),
        script(
            submit_export=[BUSY, BUSY, accepted()],
            read_status=[status("Succeeded")],
            read_result=[completed()],
        ),
    )
    assert row["status"] == report.SUCCEEDED and row["attempts"] == 3
    assert "notes" not in row  # a 409 is an answer: nothing was left unanswered
    assert gaps(run)[:2] == [120, 120]  # RetryPolicy.conflict_wait_seconds


@pytest.mark.parametrize("before", [[], [UNAVAILABLE]], ids=["alone", "after-503"])
def test_a_refusal_on_its_own_merits_fails_with_arms_code_and_no_note(before: list[Any]) -> None:
    row, run = export(server_input(DB1), script(submit_export=[*before, FORBIDDEN]))
    assert row["status"] == report.FAILED
    assert row["error"]["code"] == "AuthorizationFailed" and row["error"]["status"] == 403
    assert "notes" not in row
    assert row["attempts"] == len(before) + 1
    assert called(run) == ["submit_export"] * (len(before) + 1)


def test_an_unknown_refusal_after_an_unanswered_submission_says_the_outcome_is_unknown() -> None:
    row, _ = export(
        server_input(DB1),
        script(submit_export=[UNAVAILABLE, problem("BackupNameAlreadyUsed", 400)]),
    )
    assert row["status"] == report.FAILED
    assert row["error"]["code"] == "BackupNameAlreadyUsed"  # ARM's own code stays the error
    assert [n["code"] for n in row["notes"]] == [submissions.OUTCOME_UNKNOWN]
    assert "submission 1 got no usable answer" in row["notes"][0]["message"]


def test_too_many_transient_errors_end_the_row_with_a_note_on_the_unanswered_ones() -> None:
    row, run = export(server_input(DB1), script(submit_export=[UNAVAILABLE] * 6))
    assert row["status"] == report.FAILED and row["error"]["code"] == "ServiceUnavailable"
    assert [n["code"] for n in row["notes"]] == [submissions.UNANSWERED]
    assert gaps(run) == [10] * 5  # the 503's Retry-After


def test_the_probes_first_outcome_is_followed_without_a_new_submission() -> None:
    row, run = export(
        server_input(entry("db1", first=accepted())),
        script(read_status=[status("Succeeded")], read_result=[completed()]),
    )
    assert row["status"] == report.SUCCEEDED and row["attempts"] == 1
    assert "submit_export" not in called(run)


def test_a_transient_first_outcome_is_submitted_again_after_its_retry_after() -> None:
    row, run = export(
        server_input(entry("db1", first=UNAVAILABLE)),
        script(
            submit_export=[accepted()], read_status=[status("Succeeded")], read_result=[completed()]
        ),
    )
    assert row["status"] == report.SUCCEEDED and row["attempts"] == 2
    assert [n["code"] for n in row["notes"]] == [submissions.UNANSWERED]
    assert gaps(run)[0] == 10 and called(run)[0] == "submit_export"


def test_a_submit_activity_that_raised_is_a_transient_error() -> None:
    row, run = export(
        server_input(DB1),
        script(
            submit_export=[Raises("worker exited"), accepted()],
            read_status=[status("Succeeded")],
            read_result=[completed()],
        ),
    )
    assert row["status"] == report.SUCCEEDED and row["attempts"] == 2
    # the POST may have been sent: the row says which submission it follows
    assert [n["code"] for n in row["notes"]] == [submissions.UNANSWERED]
    assert gaps(run)[0] == 15  # rules.backoff(1): no Retry-After came with a crash


def test_a_status_read_that_raised_is_read_again() -> None:
    row, run = export(
        server_input(DB1),
        script(
            submit_export=[accepted()],
            read_status=[Raises("timeout"), status("Succeeded")],
            read_result=[completed()],
        ),
    )
    assert row["status"] == report.SUCCEEDED
    assert called(run).count("read_status") == 2


def test_a_permanent_poll_error_fails_the_row() -> None:
    row, _ = export(
        server_input(DB1),
        script(submit_export=[accepted()], read_status=[problem("ResourceNotFound", 404)]),
    )
    assert row["status"] == report.FAILED and row["error"]["code"] == "ResourceNotFound"


# --- deadlines ------------------------------------------------------------------------------


def test_the_deadline_while_polling_times_the_row_out_at_the_deadline() -> None:
    row, run = export(
        server_input(DB1, deadline_seconds=100),
        script(
            submit_export=[accepted()],
            read_status=[status(percent=10, retry_after=60), status(percent=20, retry_after=60)],
        ),
    )
    assert row["status"] == report.TIMED_OUT
    assert row["error"]["code"] == "DeadlineExceeded"
    assert row["percentComplete"] == 20
    assert run.timers[-1].fire_at == START + 100  # the last wait is cut at the deadline
    assert called(run).count("read_status") == 2  # nothing is read past it


def test_the_deadline_while_waiting_to_resubmit_times_the_row_out() -> None:
    row, run = export(server_input(DB1, deadline_seconds=100), script(submit_export=[BUSY]))
    assert row["status"] == report.TIMED_OUT
    assert row["error"]["code"] == "BackupAlreadyRunningForServer"
    assert run.timers == []  # the 120 s wait would end past the deadline: not waited


# --- continue-as-new ------------------------------------------------------------------------


def test_polling_continues_as_new_and_the_next_execution_finishes_from_the_state() -> None:
    polls = [status(percent=1, retry_after=30)] * CONTINUE_AS_NEW_POLLS
    answer = script(
        read_status=[*polls, status("Succeeded", percent=100)], read_result=[completed()]
    )
    first = ScriptedRun(names.EXPORT_SERVER, server_input(entry("db1", first=accepted())), answer)
    state, runs = run_executions(first)
    assert len(runs) == 2
    carried = first.continued
    assert "firstOutcome" not in carried["server"]
    assert carried["state"]["phase"] == "poll" and carried["state"]["attempts"] == 1
    assert carried["state"]["nextDelay"] >= 30
    assert called(first).count("read_status") == CONTINUE_AS_NEW_POLLS
    assert called(runs[1]) == ["read_status", "read_result"]  # no new submission
    row = state.output
    assert row["status"] == report.SUCCEEDED and row["attempts"] == 1
    assert row["backupMetadata"] == METADATA
    assert runs[1].timers[0].at == first.now  # the next execution goes on from the same moment


def test_a_long_409_wait_continues_as_new_in_the_submit_phase() -> None:
    answer = script(
        submit_export=[BUSY] * CONTINUE_AS_NEW_POLLS + [accepted()],
        read_status=[status("Succeeded")],
        read_result=[completed()],
    )
    first = ScriptedRun(names.EXPORT_SERVER, server_input(DB1), answer)
    state, runs = run_executions(first)
    assert len(runs) == 2
    assert first.continued["state"]["phase"] == "submit"
    assert first.continued["state"]["attempts"] == CONTINUE_AS_NEW_POLLS
    assert state.output["status"] == report.SUCCEEDED
    assert state.output["attempts"] == CONTINUE_AS_NEW_POLLS + 1


# --- the wait between polls -----------------------------------------------------------------


def byte_polls(count: int) -> list[Any]:
    """A 100 MB export moving 1 MB per answer, with no percent and a Retry-After of 10 s."""
    size = 100 * 2**20
    moving = [status(size=size, moved=(i + 1) * 2**20, retry_after=10) for i in range(count)]
    return [*moving, status("Succeeded", size=size, moved=size)]


def test_without_homing_polls_follow_retry_after() -> None:
    row, run = export(
        server_input(DB1, homing=False),
        script(submit_export=[accepted()], read_status=byte_polls(5), read_result=[completed()]),
    )
    assert row["status"] == report.SUCCEEDED
    assert gaps(run) == [10] * 6


def test_with_homing_polls_aim_at_the_estimated_end() -> None:
    row, run = export(
        server_input(DB1, homing=True),
        script(submit_export=[accepted()], read_status=byte_polls(5), read_result=[completed()]),
    )
    assert row["status"] == report.SUCCEEDED
    assert max(gaps(run)) > 10  # the bytes moved say the end is far: fewer polls


def test_without_homing_the_percent_estimate_still_sets_the_wait() -> None:
    # settings.Settings.poll_homing says "off: Retry-After only"; with percentComplete in the
    # status the wait still follows lro's percent estimate (never under Retry-After).
    row, run = export(
        server_input(DB1, homing=False),
        script(
            submit_export=[accepted()],
            read_status=[status(percent=1, retry_after=10)] * 4 + [status("Succeeded")],
            read_result=[completed()],
        ),
    )
    assert row["status"] == report.SUCCEEDED
    assert min(gaps(run)) >= 10
    assert gaps(run) != [10] * len(run.timers)


def test_the_first_poll_waits_the_default_without_retry_after() -> None:
    row, run = export(
        server_input(DB1),
        script(
            submit_export=[accepted(retry_after=None)],
            read_status=[status("Succeeded")],
            read_result=[completed()],
        ),
    )
    assert row["status"] == report.SUCCEEDED
    assert gaps(run) == [30]  # PollSettings.defaultSeconds
    assert row["startTime"] == result()["startTime"] == at(0)


def test_a_location_that_answers_failed_after_a_succeeded_status_fails_the_row() -> None:
    row, _ = export(
        server_input(DB1),
        script(
            submit_export=[accepted()],
            read_status=[status("Succeeded")],
            read_result=[failed("BackupMetadataMissing")],
        ),
    )
    assert row["status"] == report.FAILED
    assert row["error"]["code"] == "BackupMetadataMissing"


def test_transient_poll_errors_in_a_row_end_the_row_after_the_budget() -> None:
    row, run = export(
        server_input(DB1),
        script(submit_export=[accepted()], read_status=[UNAVAILABLE] * 10),
    )
    assert row["status"] == report.FAILED and row["error"]["code"] == "ServiceUnavailable"
    assert called(run).count("read_status") == 10  # RetryPolicy.poll_error_limit


@pytest.mark.parametrize(
    ("answer", "expected"),
    [(completed(), report.SUCCEEDED), (failed("StorageAccessDenied"), report.FAILED)],
    ids=["completed", "failed"],
)
def test_a_submission_answered_with_the_result_ends_without_polling(
    answer: Any, expected: str
) -> None:
    row, run = export(server_input(entry("db1", first=answer)), script())
    assert row["status"] == expected and run.calls == []
    assert row["attempts"] == 1


# --- a containers target: the SAS minted per submission could not be --------------------------


def _mint_refused(code: str, status: int, **kwargs: Any) -> Any:
    """What ``submit_export`` answers when storage refused the user delegation key."""
    return storage_problem(
        StorageError("getting a user delegation key", code=code, status=status, **kwargs)
    )


def test_a_sas_that_could_not_be_minted_fails_the_row_with_storages_code_and_no_note() -> None:
    refused = _mint_refused("AuthorizationPermissionMismatch", 403, request_id="st-1")
    row, run = export(server_input(DB1), script(submit_export=[refused]))
    assert row["status"] == report.FAILED
    assert row["error"]["code"] == "AuthorizationPermissionMismatch"
    assert row["error"]["requestId"] == "st-1" and "HTTP 403" in row["error"]["message"]
    # ARM was not called: no HTTP status of ARM's, and no note on an export that may have run
    assert "status" not in row["error"] and "notes" not in row
    assert called(run) == ["submit_export"]


def test_a_transient_storage_failure_is_submitted_again_by_arms_rules() -> None:
    busy = _mint_refused("ServerBusy", 503)
    assert busy["error"]["transient"] is True
    row, run = export(
        server_input(DB1),
        script(
            submit_export=[busy, accepted()],
            read_status=[status("Succeeded")],
            read_result=[completed()],
        ),
    )
    assert row["status"] == report.SUCCEEDED and row["attempts"] == 2
    assert called(run)[:2] == ["submit_export", "submit_export"]
    assert gaps(run)[0] == 15  # RetryPolicy.base_backoff_seconds: storage gave no Retry-After

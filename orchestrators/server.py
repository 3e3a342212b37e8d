"""``export_server``: one server's export, from submission to the final result.

Submit (unless the fleet's canary already did), wait out 409s and transient errors on durable
timers, then poll the Azure-AsyncOperation URL (or Location when there is none) with waits from
Retry-After or the progress so far (homing in on the estimated end when bytes are reported). Once
the status says Succeeded, read the final result from Location (final-state-via: location) for
the figures and ``backupMetadata`` it carries, and return exactly one report row. Past the
deadline the row is TimedOut. Every ``CONTINUE_AS_NEW_POLLS`` polls (or submissions, while a 409
is waited out) the orchestration continues as new with its state, so its history stays bounded
however long the export, or the export it waits for, runs.

A submission whose answer was lost may have started an export that the next submission of the
same backup meets in a way ARM does not promise (``mysqlexport.submissions``): the row says what
was followed (``notes``) or that the outcome is unknown (``SubmissionOutcomeUnknown``).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from mysqlexport import lro, report, submissions
from mysqlexport.rules import RetryPolicy, next_streak, poll_retry_delay, submit_retry_delay
from orchestrators.blueprint import bp
from orchestrators.timeutil import CompletionTimes, after, iso, parse, utc
from orchestrators.units import activity_crash
from workflow import names

CONTINUE_AS_NEW_POLLS = 40
#: The row's note when the export Succeeded but its final result could not be read.
FINAL_RESULT_UNAVAILABLE = "FinalResultUnavailable"


def _row(
    job: Mapping[str, Any], state: Mapping[str, Any], status: str, **kw: Any
) -> report.ServerRow:
    return report.server_row(
        job["id"],
        status,
        backup_name=job["backupName"],
        start_time=kw.pop("start_time", state.get("startTime")),
        end_time=kw.pop("end_time", state.get("endTime")),
        percent_complete=kw.pop("percent_complete", state.get("percent")),
        datasource_size=kw.pop("datasource_size", state.get("size")),
        data_transferred=kw.pop("data_transferred", state.get("transferred")),
        attempts=int(state.get("attempts", 0)),
        notes=[*_submission_notes(job, state), *kw.pop("notes", ())],
        **kw,
    )


def _submission_notes(job: Mapping[str, Any], state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the row must say about submissions whose answer was lost, besides its outcome."""
    record = state.get("unanswered")
    if not record:
        return []
    if state.get("phase") == "poll":  # an export was accepted later: this row follows that one
        return [
            submissions.unanswered_note(
                record,
                int(state.get("acceptedAttempt") or state.get("attempts", 0)),
                state.get("operation", {}).get("request_id"),
                job["backupName"],
            )
        ]
    if state.get("outcomeKnown"):  # a 200 result, or a refusal (whose own note, if any, says it)
        return []
    return [submissions.unanswered_only_note(record, job["backupName"])]


def _from_result(
    job: Mapping[str, Any],
    state: Mapping[str, Any],
    result: Mapping[str, Any] | None,
    error: Mapping[str, Any] | None,
    notes: tuple[Mapping[str, Any], ...] = (),
) -> report.ServerRow:
    result = result or {}
    succeeded = lro.is_succeeded(result.get("status")) and error is None
    return _row(
        job,
        state,
        report.SUCCEEDED if succeeded else report.FAILED,
        start_time=result.get("start_time") or state.get("startTime"),
        end_time=result.get("end_time") or state.get("endTime"),
        percent_complete=result.get("percent_complete", state.get("percent")),
        datasource_size=result.get("datasource_size_bytes", state.get("size")),
        data_transferred=result.get("data_transferred_bytes", state.get("transferred")),
        error=None if succeeded else (error or result.get("error") or {"code": "ExportFailed"}),
        backup_metadata=result.get("backup_metadata"),
        notes=notes,
    )


def _refused(
    job: Mapping[str, Any], state: Mapping[str, Any], error: Mapping[str, Any]
) -> report.ServerRow:
    """The row when the app gives up submitting. A refusal on the request's own merits met any
    earlier identical submission too; a refusal the app does not know may be how the service
    answers a repeat of one it accepted, so the row keeps ARM's error and a note says whether an
    export is running or done is unknown."""
    notes: list[dict[str, Any]] = []
    if submissions.is_refusal(error):
        if submissions.is_unknown_refusal(error):
            notes.append(
                submissions.outcome_unknown(
                    error, int(state.get("attempts", 0)), state.get("unanswered"), job["backupName"]
                )
            )
        state = {**state, "outcomeKnown": True}
    return _row(job, state, report.FAILED, error=error, notes=notes)


def _byte_progress(
    state: dict[str, Any], answer: Mapping[str, Any], now: datetime
) -> lro.ByteProgress | None:
    """Bytes moved since the first sample that showed any (a long baseline: the rate is steady
    and the lag of one poll barely shows in it); that first sample is recorded here."""
    size, moved = answer.get("datasource_size_bytes"), answer.get("data_transferred_bytes")
    if not isinstance(size, int) or not isinstance(moved, int):
        return None
    if state.get("anchorAt") is None:
        if moved > 0:
            state["anchorAt"], state["anchorBytes"] = iso(now), moved
        since = (now - parse(state["submittedAt"])).total_seconds()
        return lro.ByteProgress(size, moved, 0, since)  # no rate yet: a clean sample next
    since = (now - parse(state["anchorAt"])).total_seconds()
    return lro.ByteProgress(size, moved, int(state["anchorBytes"]), since)


@bp.orchestration_trigger(context_name="context")
def export_server(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Export one server; the output is its report row."""
    job: dict[str, Any] = context.get_input()
    state: dict[str, Any] = dict(job.get("state") or {"phase": "submit", "attempts": 0})
    policy = RetryPolicy(**job.get("retry", {}))
    poll_policy = lro.PollPolicy(**job.get("poll", {}))
    deadline = parse(job["deadline"])
    payload: dict[str, Any] = {k: job[k] for k in ("id", "backupName", "runId") if k in job}
    payload["backupFormat"] = job.get("backupFormat")

    steps_here = 0  # submissions and polls in this execution (see CONTINUE_AS_NEW_POLLS)
    if state["phase"] == "submit":
        outcome: dict[str, Any] | None = job.get("firstOutcome")
        if outcome is not None:
            state["attempts"] = 1
        while True:
            if outcome is None:
                state["attempts"] += 1
                steps_here += 1
                try:
                    outcome = yield context.call_activity(names.SUBMIT_EXPORT, payload)
                except Exception as err:  # noqa: BLE001 - becomes the server's error row
                    outcome = {"kind": "error", "error": activity_crash(err)}
            assert outcome is not None
            kind = outcome["kind"]
            if kind == "accepted":
                context.set_custom_status(
                    {"id": job["id"], "backupName": job["backupName"], "status": "Accepted"}
                )
                state.update(
                    phase="poll",
                    operation=outcome["operation"],
                    submittedAt=iso(context.current_utc_datetime),
                    startTime=iso(context.current_utc_datetime),
                    polls=0,
                    pollErrors=0,
                    acceptedAttempt=state["attempts"],
                )
                break
            if kind in ("completed", "failed"):  # the service's own word on this backup name
                state["outcomeKnown"] = True
                return _from_result(job, state, outcome.get("result"), outcome.get("error"))
            error = outcome["error"]
            if submissions.may_have_started(error):
                state["unanswered"] = submissions.record_unanswered(
                    state.get("unanswered"), state["attempts"], error
                )
            state["submitStreak"] = next_streak(state.get("submitStreak"), error)
            delay = submit_retry_delay(error, state["submitStreak"][1], policy)
            now = utc(context.current_utc_datetime)
            if delay is None:
                return _refused(job, state, error)
            if after(now, delay) >= deadline:
                return _row(job, state, report.TIMED_OUT, error=error)
            yield context.create_timer(after(now, delay))
            outcome = None
            if steps_here >= CONTINUE_AS_NEW_POLLS:  # a long 409 wait: keep the history short
                context.continue_as_new({**job, "state": state, "firstOutcome": None})
                return None

    operation = state["operation"]
    use_status = bool(operation.get("async_operation_url"))
    poll_url = operation.get("async_operation_url") or operation.get("location_url")
    delay = state.get("nextDelay")
    if delay is None:
        delay = lro.next_poll_delay(operation.get("retry_after"), None, None, poll_policy)
    final: dict[str, Any] | None = None
    completions = CompletionTimes(context.histories)  # when each poll's answer came
    while final is None:
        now = utc(context.current_utc_datetime)
        fire_at = min(after(now, delay), deadline)
        yield context.create_timer(fire_at)
        now = utc(context.current_utc_datetime)
        if now >= deadline:
            return _row(
                job,
                state,
                report.TIMED_OUT,
                error={
                    "code": "DeadlineExceeded",
                    "message": f"the export was still running at the deadline ({iso(deadline)})",
                },
            )
        activity = names.READ_STATUS if use_status else names.READ_RESULT
        read = context.call_activity(activity, {"url": poll_url})
        try:
            answer = yield read
        except Exception as err:  # noqa: BLE001 - counted like a transient read failure
            answer = {"kind": "error", "error": activity_crash(err)}
        state["polls"] = state.get("polls", 0) + 1
        steps_here += 1
        if answer["kind"] == "error":
            state["pollStreak"] = next_streak(state.get("pollStreak"), answer["error"])
            state["pollErrors"] = state["pollStreak"][1]
            wait = poll_retry_delay(answer["error"], state["pollErrors"], policy)
            if wait is None:
                return _row(job, state, report.FAILED, error=answer["error"])
            delay = wait
        else:
            state["pollErrors"] = 0
            state["pollStreak"] = None
            progress = None
            read_at = completions.of(read) or utc(context.current_utc_datetime)
            if answer["kind"] == "status":
                progress = _byte_progress(state, answer, read_at)
                state["percent"] = answer.get("percent_complete")
                state["size"] = answer.get("datasource_size_bytes") or state.get("size")
                state["transferred"] = answer.get("data_transferred_bytes")
                if answer.get("start_time"):
                    state["startTime"] = answer["start_time"]
                context.set_custom_status(
                    {
                        "id": job["id"],
                        "backupName": job["backupName"],
                        "status": answer.get("status"),
                        "percent": state.get("percent"),
                        "transferred": state.get("transferred"),
                    }
                )
                if lro.is_terminal(answer.get("status")):
                    state["endTime"] = answer.get("end_time")
                    final = answer
                    break
                retry_after = answer.get("retry_after")
            elif answer["kind"] == "running":
                retry_after = answer.get("retryAfter")
            else:  # completed or failed: the Location URL answered with the final result
                return _from_result(job, state, answer.get("result"), answer.get("error"))
            elapsed = (now - parse(state["submittedAt"])).total_seconds()
            delay = lro.next_poll_delay(
                retry_after,
                state.get("percent"),
                max(0.0, elapsed),
                poll_policy,
                progress=progress,
                lag=(utc(context.current_utc_datetime) - read_at).total_seconds(),
            )
        if steps_here >= CONTINUE_AS_NEW_POLLS:
            state["nextDelay"] = delay
            context.continue_as_new({**job, "state": state, "firstOutcome": None})
            return None

    # Terminal status seen. Failed or Canceled: the status carries the operation's error and
    # nothing more is read, as azure-core does (LROBasePolling._poll raises OperationFailed
    # before any final GET; azure/core/polling/base_polling.py, azure-core 1.41.0).
    if not lro.is_succeeded(final.get("status")):
        return _from_result(job, state, _status_as_result(final), final.get("error"))
    # Succeeded: backupAndExport's final state is delivered via Location (final-state-via:
    # location); its BackupAndExportResponse carries properties.backupMetadata, which the
    # status resource does not. One more GET, within the poll-error rules.
    answer, problem = yield from _read_final_result(
        context, operation.get("location_url"), policy, deadline
    )
    if answer is not None:
        return _from_result(job, state, answer.get("result"), answer.get("error"))
    unavailable = {
        "code": FINAL_RESULT_UNAVAILABLE,
        "message": "the export Succeeded (its status said so) but its final result could not "
        f"be read from Location ({problem.get('code')}: {problem.get('message') or ''}), so "
        "this row has no backupMetadata",
    }
    return _from_result(job, state, _status_as_result(final), None, notes=(unavailable,))


def _read_final_result(
    context: df.DurableOrchestrationContext,
    location_url: str | None,
    policy: RetryPolicy,
    deadline: datetime,
) -> Generator[Any, Any, tuple[dict[str, Any] | None, dict[str, Any]]]:
    """Read the final result from ``location_url``: ``(answer, {})`` once it answers with one
    (``kind`` completed or failed), ``(None, error)`` when it cannot be read. A 202 (not final
    yet) and transient failures are waited out like failed polls, a bounded number of times and
    never past the deadline."""
    if not location_url:
        return None, {"code": "NoLocation", "message": "the 202 carried no Location URL"}
    streak: list[Any] | None = None
    problem: dict[str, Any] = {}
    reads = max(1, policy.poll_error_limit)
    for read in range(1, reads + 1):
        try:
            answer = yield context.call_activity(names.READ_RESULT, {"url": location_url})
        except Exception as err:  # noqa: BLE001 - counted like a transient read failure
            answer = {"kind": "error", "error": activity_crash(err)}
        if answer["kind"] in ("completed", "failed"):
            return answer, {}
        if answer["kind"] == "running":
            problem = {
                "code": "FinalResultNotReady",
                "message": "Location still answered 202 after the status said Succeeded",
                "transient": True,
                "retryAfter": answer.get("retryAfter"),
            }
        else:
            problem = dict(answer["error"])
        streak = next_streak(streak, problem)
        wait = poll_retry_delay(problem, streak[1], policy)
        now = utc(context.current_utc_datetime)
        if wait is None or read == reads or after(now, wait) >= deadline:
            break
        yield context.create_timer(after(now, wait))
    return None, problem


def _status_as_result(status: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "status": status.get("status"),
        "start_time": status.get("start_time"),
        "end_time": status.get("end_time"),
        "percent_complete": status.get("percent_complete"),
        "datasource_size_bytes": status.get("datasource_size_bytes"),
        "data_transferred_bytes": status.get("data_transferred_bytes"),
        "error": status.get("error"),
    }

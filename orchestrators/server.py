"""``export_server``: one server's export, in three steps: submit -> poll -> final result.

1. **Submit** (unless the fleet's probe already did): POST backupAndExport; 409s and transient
   errors are waited out on durable timers (``rules.submit_retry_delay``) until the deadline.
2. **Poll** the Azure-AsyncOperation URL (or Location when there is none) with waits from
   Retry-After or the progress so far, homing in on the estimated end when bytes are reported
   (``lro.next_poll_delay``).
3. **Final result**: once the status says Succeeded, read the final result from Location
   (final-state-via: location) for the figures and ``backupMetadata`` it carries.

The output is exactly one report row. Past the deadline the row is TimedOut. Every
``CONTINUE_AS_NEW_POLLS`` submissions or polls the orchestration continues as new with its
state (``contracts.ServerState``), so its history stays bounded however long the export, or the
export it waits for, runs.

A submission whose answer was lost may have started an export that the next submission of the
same backup meets in a way ARM does not promise (``mysqlexport.submissions``): the row says what
was followed (``notes``) or that the outcome is unknown (``SubmissionOutcomeUnknown``).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from datetime import datetime
from typing import Any, Final

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from mysqlexport import lro, report, submissions
from mysqlexport.armspec import BACKUP
from mysqlexport.ids import ServerId
from mysqlexport.rules import next_streak, poll_retry_delay, submit_retry_delay
from orchestrators.blueprint import bp
from orchestrators.rows import ORCHESTRATION_FAILED, child_failed_row
from orchestrators.timeutil import CompletionTimes, after, iso, parse, utc
from workflow import names
from workflow.contracts import (
    Completed,
    ErrorJson,
    Failed,
    Operation,
    ReadRequest,
    ResultAnswer,
    ResultJson,
    RunSettings,
    ServerEntry,
    ServerInput,
    ServerState,
    Status,
    StatusAnswer,
    SubmitAnswer,
    crashed,
    poll_policy,
    retry_policy,
    status_as_result,
    submit_request,
)
from workflow.instance_ids import server_instance_id

CONTINUE_AS_NEW_POLLS: Final = 40
#: The row's note when the export Succeeded but its final result could not be read.
FINAL_RESULT_UNAVAILABLE: Final = "FinalResultUnavailable"


class Continued:
    """A step's answer when the orchestration continued as new (its output is not the row)."""


CONTINUED: Final = Continued()
#: What a step ends with: the row, ``CONTINUED``, or None to go on to the next step.
Step = Generator[Any, Any, report.ServerRow | Continued | None]


@bp.orchestration_trigger(context_name="context")
def export_server(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    """Export one server; the output is its report row."""
    return (yield from run_steps(ServerExport(context, context.get_input())))


def run_steps(server: ServerRun) -> Generator[Any, Any, report.ServerRow | None]:
    """submit -> poll -> final result; the row, or None when the orchestration continued as
    new (its output is then the next execution's)."""
    end = yield from server.submit()
    if end is None:
        end = yield from server.poll()
    if end is None:
        end = yield from server.final_result()
    return None if isinstance(end, Continued) else end


def call_export_server(
    context: df.DurableOrchestrationContext, run: RunSettings, entry: ServerEntry
) -> Any:
    """Start the server's orchestration (``export_server``, or ``backup_server`` in a backup
    run) for ``entry``; its deadline counts from now, its own start."""
    deadline = after(context.current_utc_datetime, 60 * run["deadlineMinutes"])
    job: ServerInput = {"run": run, "server": entry, "deadline": iso(deadline)}
    instance = server_instance_id(run["runId"], ServerId.parse(entry["id"]).key)
    name = names.BACKUP_SERVER if run["operation"] == BACKUP else names.EXPORT_SERVER
    return context.call_sub_orchestrator(name, job, instance)


def submit_call(
    context: df.DurableOrchestrationContext, run: RunSettings, entry: ServerEntry
) -> Any:
    """Schedule one submission of ``entry`` (``submit_export``, or ``submit_backup`` in a backup
    run): what the fleet's probe and the server's orchestration both send."""
    activity = names.SUBMIT_BACKUP if run["operation"] == BACKUP else names.SUBMIT_EXPORT
    return context.call_activity(activity, submit_request(run, entry))


def export_server_row(task: Any, entry: ServerEntry) -> report.ServerRow:
    """The row a finished server orchestration stands for; a failed one still yields one row."""
    if task.state is TaskState.FAILED:
        return child_failed_row(entry, ORCHESTRATION_FAILED, task.result)
    row: report.ServerRow = task.result
    return row


class ServerRun:
    """One execution of a server's orchestration: the job, its state, and the steps every
    operation shares (submit until accepted, poll until terminal, on durable timers, within
    the deadline, continuing as new to keep the history short). ``ServerExport`` and
    ``orchestrators.backup.ServerBackup`` say what their operation's answers mean
    (``_settle``, ``_poll_call``, ``_after_poll``) and read the final result."""

    def __init__(self, context: df.DurableOrchestrationContext, job: ServerInput) -> None:
        self.context = context
        self.job = job
        self.entry = job["server"]
        self.state: ServerState = job.get("state") or {"phase": "submit", "attempts": 0}
        self.retry = retry_policy(job["run"]["retry"])
        self.polling = poll_policy(job["run"]["poll"])
        self.deadline = parse(job["deadline"])
        self.steps = 0  # submissions and polls in this execution (see CONTINUE_AS_NEW_POLLS)
        self.finished = False  # the operation ended (terminal): read the final result next

    # --- step 1: submit -------------------------------------------------------------------

    def submit(self) -> Step:
        """Submit until the operation is accepted (None: go on polling), or end with the row."""
        if self.state["phase"] != "submit":
            return None
        outcome: SubmitAnswer | None = self.entry.get("firstOutcome")
        if outcome is not None:
            self.state["attempts"] = 1
        while True:
            if outcome is None:
                outcome = yield from self._send()
            if outcome["kind"] == "accepted":
                self._accepted(outcome["operation"])
                return None
            if outcome["kind"] != "error":  # the service's own word on this backup name
                self.state["outcomeKnown"] = True
                return self._settle(outcome)
            wait = self._submit_wait(outcome["error"])
            if not isinstance(wait, float):
                return wait
            yield self.context.create_timer(after(self._now(), wait))
            outcome = None
            if self.steps >= CONTINUE_AS_NEW_POLLS:  # a long 409 wait: keep the history short
                return self._continue_as_new()

    def _settle(self, outcome: SubmitAnswer) -> report.ServerRow | None:
        """What a submission answered other than accepted or refused means: the row, or None
        to go on (polling, or to the final result when ``finished``)."""
        raise NotImplementedError

    def _send(self) -> Generator[Any, Any, SubmitAnswer]:
        self.state["attempts"] = self.state.get("attempts", 0) + 1
        self.steps += 1
        try:
            answer: SubmitAnswer = yield submit_call(self.context, self.job["run"], self.entry)
        except Exception as err:  # noqa: BLE001 - an activity that raised: a transient error
            return crashed(err)
        return answer

    def _accepted(self, operation: Operation) -> None:
        now = iso(self.context.current_utc_datetime)
        self.state["phase"], self.state["operation"] = "poll", operation
        self.state["submittedAt"] = self.state["startTime"] = now
        self._show("Accepted")

    def _submit_wait(self, error: ErrorJson) -> float | report.ServerRow:
        """Seconds to wait before submitting again, or the row when the app gives up."""
        attempts = self.state.get("attempts", 0)
        if submissions.may_have_started(error):
            self.state["unanswered"] = submissions.record_unanswered(  # type: ignore[typeddict-item]
                self.state.get("unanswered"), attempts, error
            )
        streak = next_streak(self.state.get("submitStreak"), error)
        self.state["submitStreak"] = streak
        delay = submit_retry_delay(error, streak[1], self.retry)
        if delay is None:
            return self._refused(error)
        if after(self._now(), delay) >= self.deadline:
            return self._row(report.TIMED_OUT, error=error)
        return float(delay)

    def _refused(self, error: ErrorJson) -> report.ServerRow:
        """The row when the app gives up submitting. A refusal on the request's own merits met
        any earlier identical submission too; a refusal the app does not know may be how the
        service answers a repeat of one it accepted, so a note says the outcome is unknown."""
        notes: list[dict[str, Any]] = []
        if submissions.is_refusal(error):
            if submissions.is_unknown_refusal(error):
                notes.append(
                    submissions.outcome_unknown(
                        error,
                        self.state.get("attempts", 0),
                        self.state.get("unanswered"),
                        self.entry["backupName"],
                        self.job["run"]["operation"],
                    )
                )
            self.state["outcomeKnown"] = True
        return self._row(report.FAILED, error=error, notes=notes)

    # --- step 2: poll ---------------------------------------------------------------------

    def poll(self) -> Step:
        """Poll until the operation is terminal (None: read the final result), or end with the
        row (Failed, TimedOut, or the result the poll answered with)."""
        if self.finished:
            return None
        delay = self.state.get("nextDelay")
        if delay is None:
            advised = self.state.get("operation", {}).get("retryAfter")
            delay = lro.next_poll_delay(advised, None, None, self.polling)
        completions = CompletionTimes(self.context.histories)  # when each poll's answer came
        while True:
            yield self.context.create_timer(min(after(self._now(), delay), self.deadline))
            polled_at = self._now()
            if polled_at >= self.deadline:
                return self._deadline_row()
            task = self._poll_call()
            answer = yield from self._answer_of(task)
            self.steps += 1
            read_at = completions.of(task) or self._now()
            next_delay = self._after_poll(answer, polled_at, read_at)
            if not isinstance(next_delay, float):
                return next_delay
            delay = next_delay
            if self.steps >= CONTINUE_AS_NEW_POLLS:
                self.state["nextDelay"] = delay
                return self._continue_as_new()

    def _poll_call(self) -> Any:
        """Schedule one poll of the operation; the task."""
        raise NotImplementedError

    def _answer_of(self, task: Any) -> Generator[Any, Any, Any]:
        try:
            answer = yield task
        except Exception as err:  # noqa: BLE001 - counted like a transient read failure
            return crashed(err)
        return answer

    def _after_poll(
        self, answer: Any, polled_at: datetime, read_at: datetime
    ) -> float | report.ServerRow | None:
        """The wait before the next poll; the row when the operation ended; None when it is
        terminal (``finished``). The poll was sent at ``polled_at``, answered at ``read_at``."""
        raise NotImplementedError

    def _poll_failed(self, error: ErrorJson) -> float | report.ServerRow:
        """After a failed poll: the wait before the next, or the Failed row when the failures
        in a row are past the poll-error rules (``rules.poll_retry_delay``)."""
        streak = next_streak(self.state.get("pollStreak"), error)
        self.state["pollStreak"] = streak
        wait = poll_retry_delay(error, streak[1], self.retry)
        return self._row(report.FAILED, error=error) if wait is None else wait

    def _deadline_row(self) -> report.ServerRow:
        return self._row(
            report.TIMED_OUT,
            error={
                "code": "DeadlineExceeded",
                "message": f"the {self._work()} was still running at the deadline "
                f"({iso(self.deadline)})",
            },
        )

    def _read_final(
        self, activity: str, request: Mapping[str, Any], done: tuple[str, ...]
    ) -> Generator[Any, Any, tuple[Any, ErrorJson]]:
        """Read the final result: ``(answer, {})`` once ``activity`` answers with one of the
        ``done`` kinds, ``(None, error)`` when it cannot be read: not-finished-yet answers
        (``running``) and transient failures are waited out like failed polls, a bounded number
        of times and never past the deadline."""
        streak: list[Any] | None = None
        problem: ErrorJson = {}
        reads = max(1, self.retry.poll_error_limit)
        for read in range(1, reads + 1):
            answer = yield from self._answer_of(self.context.call_activity(activity, request))
            if answer["kind"] in done:
                return answer, {}
            problem = answer["error"] if answer["kind"] == "error" else _not_ready(answer)
            streak = next_streak(streak, problem)
            wait = poll_retry_delay(problem, streak[1], self.retry)
            if wait is None or read == reads or after(self._now(), wait) >= self.deadline:
                break
            yield self.context.create_timer(after(self._now(), wait))
        return None, problem

    def final_result(self) -> Generator[Any, Any, report.ServerRow]:
        """The row, once the operation is terminal."""
        raise NotImplementedError

    # --- step 3: the final result ---------------------------------------------------------

    def _row(self, status: str, **fields: Any) -> report.ServerRow:
        """The server's row: ``fields`` over what the state knows, with the notes on
        submissions whose answer was lost."""
        state = self.state
        fields.setdefault("start_time", state.get("startTime"))
        fields.setdefault("end_time", state.get("endTime"))
        fields.setdefault("percent_complete", state.get("percent"))
        fields.setdefault("datasource_size", state.get("size"))
        fields.setdefault("data_transferred", state.get("transferred"))
        notes = [*self._submission_notes(), *fields.pop("notes", ())]
        return report.server_row(
            self.entry["id"],
            status,
            backup_name=self.entry["backupName"],
            attempts=state.get("attempts", 0),
            notes=notes,
            **fields,
        )

    def _submission_notes(self) -> list[dict[str, Any]]:
        """What the row must say about submissions whose answer was lost."""
        record = self.state.get("unanswered")
        if not record:
            return []
        name, operation = self.entry["backupName"], self.job["run"]["operation"]
        if self.state["phase"] == "poll":  # accepted later: the row follows that one
            attempt = self.state["attempts"]
            request_id = self.state.get("operation", {}).get("requestId")
            return [submissions.unanswered_note(record, attempt, request_id, name, operation)]
        if self.state.get("outcomeKnown"):  # a result, or a refusal (whose note says so)
            return []
        return [submissions.unanswered_only_note(record, name, operation)]

    def _continue_as_new(self) -> Continued:
        server = {k: v for k, v in self.entry.items() if k != "firstOutcome"}
        self.context.continue_as_new({**self.job, "server": server, "state": self.state})
        return CONTINUED

    def _show(self, status: str | None) -> None:
        self.context.set_custom_status(
            {
                "id": self.entry["id"],
                "backupName": self.entry["backupName"],
                "status": status,
                "percent": self.state.get("percent"),
                "transferred": self.state.get("transferred"),
            }
        )

    def _work(self) -> str:
        """What this run makes, as a row's message names it."""
        return "on-demand backup" if self.job["run"]["operation"] == BACKUP else "export"

    def _now(self) -> datetime:
        return utc(self.context.current_utc_datetime)


class ServerExport(ServerRun):
    """``export_server``: backupAndExport's answers, and its final result from Location."""

    def __init__(self, context: df.DurableOrchestrationContext, job: ServerInput) -> None:
        super().__init__(context, job)
        self.final: Status | None = None  # the terminal status, once seen

    def _settle(self, outcome: SubmitAnswer) -> report.ServerRow | None:
        """A submission answered with the export's final result (a repeat of one that ran)."""
        if outcome["kind"] == "completed":
            return self._from_result(outcome["result"], None)
        if outcome["kind"] == "failed":
            return self._from_result(outcome["result"], outcome["error"])
        return self._row(report.FAILED, error=unexpected_answer(outcome["kind"]))

    def _poll_call(self) -> Any:
        """Read the Azure-AsyncOperation status, or Location when there is none."""
        operation = self.state["operation"]
        activity = names.READ_STATUS if operation["asyncOperationUrl"] else names.READ_RESULT
        url = operation["asyncOperationUrl"] or operation["locationUrl"] or ""
        request: ReadRequest = {"url": url}
        return self.context.call_activity(activity, request)

    def _after_poll(
        self, answer: StatusAnswer | ResultAnswer, polled_at: datetime, read_at: datetime
    ) -> float | report.ServerRow | None:
        """The wait before the next poll; the row when Location answered with the result; None
        when the status is terminal (``final``)."""
        if answer["kind"] == "error":
            return self._poll_failed(answer["error"])
        self.state.pop("pollStreak", None)
        if answer["kind"] == "completed":  # Location answered with the final result
            return self._from_result(answer["result"], None)
        if answer["kind"] == "failed":
            return self._from_result(answer["result"], answer["error"])
        progress = None
        if answer["kind"] == "status":
            progress = self._record(answer, read_at)
            if lro.is_terminal(answer["status"]):
                self.final = answer
                return None
        elapsed = (polled_at - parse(self.state["submittedAt"])).total_seconds()
        return lro.next_poll_delay(
            answer["retryAfter"],
            self.state.get("percent"),
            max(0.0, elapsed),
            self.polling,
            progress=progress if self.job["run"]["poll"]["homing"] else None,
            lag=(self._now() - read_at).total_seconds(),
        )

    def _record(self, status: Status, read_at: datetime) -> lro.ByteProgress | None:
        """Keep the figures ``status`` carries, show them, and return the bytes moved since the
        first sample that showed any (a long baseline: the rate is steady and the lag of one
        poll barely shows in it); that first sample is recorded here."""
        state = self.state
        for key, value in (
            ("percent", status["percentComplete"]),
            ("size", status["datasourceSizeInBytes"]),
            ("transferred", status["dataTransferredInBytes"]),
            ("startTime", status["startTime"]),
            ("endTime", status["endTime"]),
        ):
            if value is not None:
                state[key] = value  # type: ignore[literal-required]
        self._show(status["status"])
        size, moved = status["datasourceSizeInBytes"], status["dataTransferredInBytes"]
        if size is None or moved is None:
            return None
        if "anchorAt" not in state:
            if moved > 0:
                state["anchorAt"], state["anchorBytes"] = iso(read_at), moved
            since = (read_at - parse(state["submittedAt"])).total_seconds()
            return lro.ByteProgress(size, moved, 0, since)  # no rate yet: a clean sample next
        since = (read_at - parse(state["anchorAt"])).total_seconds()
        return lro.ByteProgress(size, moved, state["anchorBytes"], since)

    def final_result(self) -> Generator[Any, Any, report.ServerRow]:
        """The row from the terminal status: Failed or Canceled carry the operation's error and
        nothing more is read, as azure-core does (``LROBasePolling._poll`` raises
        OperationFailed before any final GET; azure/core/polling/base_polling.py, azure-core
        1.41.0). Succeeded: backupAndExport's final state is delivered via Location
        (final-state-via: location), and its BackupAndExportResponse carries
        ``properties.backupMetadata``, which the status does not: one more GET, within the
        poll-error rules."""
        assert self.final is not None  # poll() returned None: it saw the terminal status
        stand_in = status_as_result(self.final)
        if not lro.is_succeeded(self.final["status"]):
            return self._from_result(stand_in, self.final["error"])
        answer, problem = yield from self._read_location()
        if answer is not None:
            error = answer["error"] if answer["kind"] == "failed" else None
            return self._from_result(answer["result"], error)
        unavailable = {
            "code": FINAL_RESULT_UNAVAILABLE,
            "message": "the export Succeeded (its status said so) but its final result could "
            f"not be read from Location ({problem.get('code')}: {problem.get('message') or ''})"
            ", so this row has no backupMetadata",
        }
        return self._from_result(stand_in, None, notes=(unavailable,))

    def _read_location(self) -> Generator[Any, Any, tuple[Completed | Failed | None, ErrorJson]]:
        """The final result from Location (``_read_final``)."""
        url = self.state["operation"]["locationUrl"]
        if not url:
            return None, {"code": "NoLocation", "message": "the 202 carried no Location URL"}
        request: ReadRequest = {"url": url}
        return (yield from self._read_final(names.READ_RESULT, request, ("completed", "failed")))

    def _from_result(
        self,
        result: ResultJson | None,
        error: Mapping[str, Any] | None,
        notes: tuple[Mapping[str, Any], ...] = (),
    ) -> report.ServerRow:
        """The row from the export's final result (or the status standing in for it)."""
        succeeded = result is not None and lro.is_succeeded(result["status"]) and error is None
        figures: Mapping[str, Any] = result or {}
        failure = None
        if not succeeded:
            failure = error or figures.get("error") or _no_error_given(figures.get("status"))
        return self._row(
            report.SUCCEEDED if succeeded else report.FAILED,
            start_time=figures.get("startTime") or self.state.get("startTime"),
            end_time=figures.get("endTime") or self.state.get("endTime"),
            percent_complete=figures.get("percentComplete", self.state.get("percent")),
            datasource_size=figures.get("datasourceSizeInBytes", self.state.get("size")),
            data_transferred=figures.get("dataTransferredInBytes", self.state.get("transferred")),
            error=failure,
            backup_metadata=figures.get("backupMetadata"),
            notes=notes,
        )


def _no_error_given(status: str | None) -> ErrorJson:
    """The row's error when the export did not succeed and ARM gave no error with it."""
    if (status or "").lower() == "canceled":
        return {
            "code": "ExportCanceled",
            "message": "the backupAndExport operation ended Canceled (not by this run)",
        }
    return {"code": "ExportFailed", "message": f"the export ended {status} with no error"}


def _not_ready(answer: Mapping[str, Any]) -> ErrorJson:
    """The final result's read answered "not finished" after the status said the operation
    had: waited out as transient."""
    problem: ErrorJson = {
        "code": "FinalResultNotReady",
        "message": "the final result was still not ready after the status said the operation "
        "had ended",
        "transient": True,
    }
    if answer.get("retryAfter") is not None:
        problem["retryAfter"] = answer["retryAfter"]
    return problem


def unexpected_answer(kind: str) -> ErrorJson:
    """An activity answered with a kind this operation never gets (a bug, not ARM)."""
    return {"code": "UnexpectedAnswer", "message": f"the submission answered {kind!r}"}

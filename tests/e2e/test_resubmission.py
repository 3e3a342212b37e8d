"""Duplicate exports: a submission whose answer was lost, and how its resubmission is answered.

ARM's contract does not say how the service answers a backup name it already accepted for the
server. The emulator answers it three ways (``Resubmission``); whichever it is, the row must
stay truthful. An answer is lost two ways: the POST went through but its answer did not (a
connection reset after the export was accepted: the orchestrator sees the failure and submits
again), or the submit activity's result is lost after it ran (the host delivers the activity
again: the orchestrator sees only the second answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from armemulator import Emulator, ExportRecord, Faults, Resubmission, ServerSpec
from armemulator.kinds import Kind
from armemulator.representations import backup_metadata, iso
from devhost import HostFaults
from mysqlexport.report import utc_z
from tests.e2e.conftest import SAS, SUB, Stack, StackFactory, server_id

FLEET = (ServerSpec(SUB, "rg", "db1", export_seconds=600),)

#: The first POST is accepted, then its connection is reset: no answer reaches the app.
RESET_AFTER_ACCEPT = Faults(
    connection_reset=1.0,
    kinds=frozenset({Kind.BACKUP_AND_EXPORT}),
    fault_after_accept=True,
    limit=1,
)


@dataclass
class LoseFirstAcceptedSubmit(HostFaults):
    """Lose the result of the activity run that got the first export accepted: the host runs
    that submission again, and the orchestration never sees the first answer."""

    emulator: Emulator | None = None

    def crash_after_activity(self) -> bool:
        if self.crashes == 0 and self.emulator is not None and self.emulator.exports():
            self.crashes += 1
            return True
        return False


def run(make_stack: StackFactory, mode: Resubmission, lose: str) -> tuple[Stack, dict[str, Any]]:
    """One server exported with answers lost the way ``lose`` says; its stack and its row."""
    crash = LoseFirstAcceptedSubmit()
    stack = make_stack(
        fleet=FLEET,
        resubmission=mode,
        faults=RESET_AFTER_ACCEPT if lose == "reset" else Faults(),
        host_options={"faults": crash},
    )
    crash.emulator = stack.emu if lose == "activity" else None
    report = stack.run({"servers": [server_id("db1", "rg")], "target": {"sasUriList": [SAS]}})
    (row,) = report["servers"]
    if lose == "activity":
        assert crash.crashes == 1
    else:
        assert stack.emu.counters().faults == {"connection_reset": 1}
    return stack, row


def accepted(stack: Stack) -> list[ExportRecord]:
    return [e for e in stack.emu.exports() if not e.duplicate]


def test_a_second_202_is_followed_and_the_row_names_the_submission_it_followed(
    make_stack: StackFactory,
) -> None:
    stack, row = run(make_stack, Resubmission.ACCEPT_AGAIN, "reset")

    first, second = accepted(stack)
    assert second.repeat_of == first.sequence  # the service ran the export twice
    assert row["status"] == "Succeeded", row
    assert row["attempts"] == 2
    assert row["startTime"] == utc_z(iso(second.submitted_at))  # the second export's figures
    assert row["backupMetadata"] == backup_metadata(second)
    (note,) = row["notes"]
    assert note["code"] == "SubmissionUnanswered"
    assert "submission 1 got no usable answer" in note["message"]
    assert f"accepted by submission 2 (x-ms-request-id {second.operation_id})" in note["message"]


def test_a_second_202_after_a_lost_activity_result_is_the_export_the_row_reports(
    make_stack: StackFactory,
) -> None:
    stack, row = run(make_stack, Resubmission.ACCEPT_AGAIN, "activity")

    first, second = accepted(stack)
    assert second.repeat_of == first.sequence
    # The orchestration saw one submission (the host ran it twice): the row reports the export
    # it followed, which ran and succeeded; the first is invisible to the app (see README).
    assert row["status"] == "Succeeded", row
    assert row["attempts"] == 1
    assert row["startTime"] == utc_z(iso(second.submitted_at))
    assert row["backupMetadata"] == backup_metadata(second)


def test_an_unknown_refusal_after_a_lost_answer_says_the_outcome_is_unknown(
    make_stack: StackFactory,
) -> None:
    stack, row = run(make_stack, Resubmission.REFUSE, "reset")

    (export,) = accepted(stack)  # the first submission did start an export
    assert export.outcome == "Succeeded"
    assert row["status"] == "Failed"
    assert row["attempts"] == 2
    error = row["error"]
    assert error["code"] == "DuplicateBackupName" and error["status"] == 400  # ARM's own error
    (note,) = row["notes"]
    assert note["code"] == "SubmissionOutcomeUnknown"
    assert "submission 1 got no usable answer" in note["message"]
    assert f"whether an export of backup '{row['backupName']}'" in note["message"]


def test_an_unknown_refusal_after_a_lost_activity_result_says_the_outcome_is_unknown(
    make_stack: StackFactory,
) -> None:
    stack, row = run(make_stack, Resubmission.REFUSE, "activity")

    assert len(accepted(stack)) == 1
    assert row["status"] == "Failed"
    assert row["attempts"] == 1
    assert row["error"]["code"] == "DuplicateBackupName"
    assert [n["code"] for n in row["notes"]] == ["SubmissionOutcomeUnknown"]
    assert "at least once" in row["notes"][0]["message"]


def test_conflict_then_result_reports_the_one_export_with_its_result(
    make_stack: StackFactory,
) -> None:
    for lose in ("reset", "activity"):
        stack, row = run(make_stack, Resubmission.CONFLICT_THEN_RESULT, lose)

        (export,) = accepted(stack)
        assert row["status"] == "Succeeded", (lose, row)
        assert row["backupMetadata"] == backup_metadata(export)
        assert "notes" not in row  # the 200 is the service's word on this backup name
        assert any(e.duplicate for e in stack.emu.exports())  # answered with the result

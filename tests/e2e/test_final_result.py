"""The final result: backupAndExport's final state is delivered via Location (final-state-via:
location), and its ``properties.backupMetadata`` ends up in the server's report row.

The real app runs on devhost against the emulator; the emulator's ground truth says which
export ran, and ``backup_metadata`` is what it answers for that export on Location.
"""

from __future__ import annotations

import json
from typing import Any

from armemulator import Faults, ServerSpec
from armemulator.kinds import Kind
from armemulator.representations import backup_metadata
from tests.e2e.conftest import SAS, SUB, Stack, StackFactory, server_id

FLEET = (
    ServerSpec(SUB, "rg", "good", export_seconds=600),
    ServerSpec(SUB, "rg", "bad", export_seconds=600, fail_export=True),
)


def one_row(stack: Stack, name: str) -> dict[str, Any]:
    report = stack.run({"servers": [server_id(name, "rg")], "target": {"sasUriList": [SAS]}})
    (row,) = report["servers"]
    return row  # type: ignore[no-any-return]


def location_reads(stack: Stack) -> int:
    return stack.emu.counters().requests.get(Kind.OPERATION_STATUS.value, 0)


def test_a_succeeded_row_carries_the_backup_metadata_of_the_final_result(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(fleet=FLEET)

    row = one_row(stack, "good")

    (export,) = stack.emu.exports()
    assert row["status"] == "Succeeded", row
    assert row["backupMetadata"] == backup_metadata(export)
    assert json.loads(row["backupMetadata"])["backupName"] == row["backupName"]
    assert "notes" not in row
    # polled on Azure-AsyncOperation, then one GET of Location for the final result
    assert stack.emu.counters().requests[Kind.ASYNC_OPERATION.value] >= 1
    assert location_reads(stack) == 1


def test_the_location_only_contract_carries_it_too(make_stack: StackFactory) -> None:
    stack = make_stack(fleet=FLEET, async_operation_header=False)

    row = one_row(stack, "good")

    (export,) = stack.emu.exports()
    assert row["status"] == "Succeeded", row
    assert row["backupMetadata"] == backup_metadata(export)
    assert stack.emu.counters().requests.get(Kind.ASYNC_OPERATION.value, 0) == 0


def test_a_failed_export_is_reported_from_its_status_without_reading_location(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(fleet=FLEET)

    row = one_row(stack, "bad")

    assert row["status"] == "Failed" and row["error"]["code"] == "AggregateException"
    assert "backupMetadata" not in row
    assert location_reads(stack) == 0


def test_a_transient_failure_of_the_location_read_is_retried(make_stack: StackFactory) -> None:
    # The first Location GET answers 503 with Retry-After (the client does not retry that
    # itself): the workflow waits and reads again.
    faults = Faults(error_503=1.0, kinds=frozenset({Kind.OPERATION_STATUS}), limit=1)
    stack = make_stack(fleet=FLEET, faults=faults)

    row = one_row(stack, "good")

    (export,) = stack.emu.exports()
    assert row["status"] == "Succeeded", row
    assert row["backupMetadata"] == backup_metadata(export)
    assert location_reads(stack) == 2


def test_an_unreadable_final_result_still_reports_the_export_succeeded(
    make_stack: StackFactory,
) -> None:
    faults = Faults(error_500=1.0, kinds=frozenset({Kind.OPERATION_STATUS}))
    stack = make_stack(fleet=FLEET, faults=faults)

    row = one_row(stack, "good")

    (export,) = stack.emu.exports()
    assert row["status"] == "Succeeded", row
    assert row["error"] is None
    assert row["dataTransferredInBytes"] == export.datasource_size_bytes
    assert "backupMetadata" not in row
    (note,) = row["notes"]
    assert note["code"] == "FinalResultUnavailable"
    assert "InternalServerError" in note["message"]
    # bounded: every read failed, each retried by the client, until the poll-error budget ran out
    assert location_reads(stack) > 1
    assert stack.emu.counters().faults["error_500"] == location_reads(stack)

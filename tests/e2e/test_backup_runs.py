"""Backup runs (``"operation": "backup"``, on-demand backups through backupsV2) end to end: the
app on devhost against the ARM emulator, every row checked against the emulator's ground truth
(``emu.backups()``, its counters).

The emulator's answer modes and rules are described in README "The ARM emulator" and
``armemulator/backups.py``; the app's side in ``orchestrators/backup.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pytest

from armemulator import (
    DEFAULT_BACKUPS_PAUSED_ERROR,
    BackupAnswer,
    BackupNaming,
    BackupRecord,
    Emulator,
    Faults,
    Kind,
    ServerSpec,
)
from orchestrators.backup import BACKUP_UNREADABLE
from orchestrators.server import CONTINUE_AS_NEW_POLLS
from tests.e2e.conftest import SAS, SUB, Stack, StackFactory, server_id

OTHER_SUB = "00000000-aaaa-bbbb-cccc-dddddddddddd"
#: The default fleet's servers whose on-demand backups succeed (``armemulator.default_fleet``).
BACKED_UP_DEFAULTS = ("mysqltestserver", "mysqltestserver1", "orders-db", "analytics-db")


def backup_body(**extra: Any) -> dict[str, Any]:
    """A backup run over the discovered fleet of ``SUB`` (``extra`` overrides)."""
    body: dict[str, Any] = {"operation": "backup", "discover": {"subscriptions": [SUB]}}
    body.update(extra)
    return body


def rows_by_name(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"].rsplit("/", 1)[1]: row for row in report["servers"]}


def made_backups(emu: Emulator) -> dict[str, list[BackupRecord]]:
    """The backups the run's PUTs made (not those a server started with), by server name."""
    made: dict[str, list[BackupRecord]] = {}
    for record in emu.backups():
        if not record.preexisting:
            made.setdefault(record.server_name, []).append(record)
    return made


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def assert_row_is(row: Mapping[str, Any], record: BackupRecord, state: str = "Succeeded") -> None:
    """The row says what the service really made: its real id and name, the time it completed
    and its provisioningState as ARM wrote it (``state``)."""
    assert row["status"] == "Succeeded" and row["error"] is None, row
    assert row["backupName"] == record.asked_name
    backup = row["backup"]
    assert backup["id"] == record.resource_id
    assert backup["name"] == record.name
    assert backup["provisioningState"] == state
    assert backup["backupType"] == "FULL" and backup["source"] == "OnDemand"
    assert backup["completedTime"] is not None
    assert epoch(backup["completedTime"]) == pytest.approx(record.ends_at, abs=1e-3)
    assert row["dataTransferredInBytes"] is None  # a backup moves no bytes of the user's
    assert row["percentComplete"] in (100, None)  # never the last poll's estimate (at most 99)


def assert_no_duplicates(emu: Emulator) -> None:
    """One backup per server at most, and no PUT answered from an existing one."""
    assert all(len(records) == 1 for records in made_backups(emu).values())
    assert emu.counters().duplicate_backups == 0


# --- success in every answer mode --------------------------------------------------------------

#: The requests each answer mode leads the app to read the backup's progress with.
POLLS = {
    BackupAnswer.LOCATION: Kind.BACKUP_OPERATION_STATUS,
    BackupAnswer.ASYNC_OPERATION: Kind.BACKUP_ASYNC_OPERATION,
    BackupAnswer.CREATED: Kind.GET_BACKUP,
    BackupAnswer.COMPLETED: None,
}


@pytest.mark.parametrize("answer", list(BackupAnswer))
def test_every_answer_mode_ends_in_one_true_row_per_server(
    make_stack: StackFactory, answer: BackupAnswer
) -> None:
    stack = make_stack(backup_answer=answer)
    report = stack.run(backup_body())

    rows = rows_by_name(report)
    made = made_backups(stack.emu)
    assert sorted(made) == sorted((*BACKED_UP_DEFAULTS, "inventory-db"))
    for name in BACKED_UP_DEFAULTS:
        (record,) = made[name]
        assert record.answer == answer.value
        assert_row_is(rows[name], record)
    assert rows["inventory-db"]["status"] == "Failed"
    assert rows["billing-db"]["error"]["code"] == "AuthorizationFailed"
    assert rows["mysqltestserver2"]["status"] == "Skipped"
    summary = report["summary"]
    assert summary["operation"] == "backup" and report["request"]["operation"] == "backup"
    assert (summary["total"], summary["succeeded"], summary["bytes"]) == (7, 4, 0)
    counters = stack.emu.counters()
    assert counters.backups_accepted == 5 and counters.exports_accepted == 0
    assert counters.requests.get(Kind.BACKUP_AND_EXPORT.value, 0) == 0
    assert_no_duplicates(stack.emu)
    polled = {k for k in counters.requests if k in {p.value for p in POLLS.values() if p}}
    expected = POLLS[answer]
    # each mode is followed by what it hands out (the resource itself is read once at the end)
    assert polled == ({expected.value} if expected else set()) | {Kind.GET_BACKUP.value}


@pytest.mark.parametrize("answer", list(BackupAnswer))
def test_ready_and_prefixed_names_as_in_the_examples(
    make_stack: StackFactory, answer: BackupAnswer
) -> None:
    fleet = tuple(ServerSpec(SUB, "rg", f"ex{i}", backup_seconds=90 * (i + 1)) for i in range(3))
    stack = make_stack(
        fleet=fleet,
        backup_answer=answer,
        backup_succeeded_state="Ready",
        backup_names=BackupNaming.PREFIXED,
    )
    report = stack.run(backup_body(backupName="nightly-{server}"))

    rows = rows_by_name(report)
    assert report["summary"]["succeeded"] == 3, report["servers"]
    for name, (record,) in made_backups(stack.emu).items():
        assert record.name != record.asked_name == f"nightly-{name}"
        assert_row_is(rows[name], record, state="Ready")  # the real id, not the asked one
        assert not rows[name]["backup"]["id"].endswith(f"/backupsV2/{record.asked_name}")
    assert_no_duplicates(stack.emu)


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", list(BackupAnswer))
@pytest.mark.parametrize(
    ("outcome", "code"), [("Failed", "OnDemandBackupFailed"), ("Canceled", "OperationCanceled")]
)
def test_a_backup_that_fails_is_failed_with_arm_s_code(
    make_stack: StackFactory, answer: BackupAnswer, outcome: str, code: str
) -> None:
    fleet = (
        ServerSpec(SUB, "rg", "fine", backup_seconds=60),
        ServerSpec(SUB, "rg", "broken", backup_seconds=600, backup_outcome=outcome),
    )
    stack = make_stack(fleet=fleet, backup_answer=answer)
    report = stack.run(backup_body())

    rows = rows_by_name(report)
    (record,) = made_backups(stack.emu)["broken"]
    assert record.outcome == outcome and record.error_code == code
    row = rows["broken"]
    assert row["status"] == "Failed" and row["attempts"] == 1, row  # not submitted again
    if answer in (BackupAnswer.LOCATION, BackupAnswer.ASYNC_OPERATION):
        assert row["error"]["code"] == code  # ARM's, from the operation's status
    else:  # only the resource was read, and a ServerBackupV2 carries no error: the app's code
        assert row["error"]["code"] == f"Backup{outcome}"
    if answer is BackupAnswer.ASYNC_OPERATION:
        assert "backup" not in row  # a failed status ends it; nothing more is read (azure-core)
    else:  # the resource as the app last read it
        assert row["backup"]["provisioningState"] == outcome
        assert row["backup"]["id"] == record.resource_id
        assert row["backup"]["completedTime"] is None
    assert_row_is(rows["fine"], made_backups(stack.emu)["fine"][0])
    assert report["summary"]["outcome"] == "PartiallySucceeded"


def test_refused_backups_trip_the_breaker_after_the_first_few(make_stack: StackFactory) -> None:
    fleet = tuple(ServerSpec(SUB, "rg", f"r{i:02d}", backup_seconds=60) for i in range(20))
    stack = make_stack(fleet=fleet, backups_paused=DEFAULT_BACKUPS_PAUSED_ERROR)
    report = stack.run(backup_body())

    code = DEFAULT_BACKUPS_PAUSED_ERROR[1]
    breaker = report["breaker"]
    assert breaker["code"] == code == "OnDemandBackupNotAllowed"
    probed = breaker["probed"]
    summary = report["summary"]
    assert (summary["failed"], summary["skipped"], summary["succeeded"]) == (probed, 20 - probed, 0)
    assert all(r["error"]["code"] == code for r in report["servers"])
    assert {r["attempts"] for r in report["servers"] if r["status"] == "Failed"} == {1}
    assert {r["attempts"] for r in report["servers"] if r["status"] == "Skipped"} == {0}
    assert stack.emu.counters().requests[Kind.CREATE_BACKUP.value] == probed
    assert stack.emu.backups() == []
    assert summary["outcome"] == "Failed"


def test_a_server_at_its_backup_limit_fails_and_is_not_retried(make_stack: StackFactory) -> None:
    fleet = (
        ServerSpec(SUB, "rg", "full", backup_seconds=60, on_demand_backups=3, automatic_backups=2),
        ServerSpec(SUB, "rg", "roomy", backup_seconds=60, on_demand_backups=2),
    )
    stack = make_stack(fleet=fleet, backup_limit=3)
    report = stack.run(backup_body())

    rows = rows_by_name(report)
    row = rows["full"]
    assert row["status"] == "Failed" and row["error"]["code"] == "OnDemandBackupLimitExceeded"
    assert row["error"]["status"] == 400 and row["attempts"] == 1
    assert "backup" not in row
    counters = stack.emu.counters()
    assert counters.requests_by_server[(Kind.CREATE_BACKUP.value, "full")] == 1
    assert counters.responses[(Kind.CREATE_BACKUP.value, 400)] == 1
    assert "full" not in made_backups(stack.emu)
    assert_row_is(rows["roomy"], made_backups(stack.emu)["roomy"][0])  # the limit is per server


def test_servers_at_their_limit_do_not_trip_the_breaker(make_stack: StackFactory) -> None:
    # the five largest are probed (planning.probe_indices) and are all at the limit
    full = tuple(
        ServerSpec(
            SUB, "rg", f"full{i}", datasource_size_bytes=(8 - i) * 2**30, on_demand_backups=2
        )
        for i in range(5)
    )
    roomy = (ServerSpec(SUB, "rg", "roomy", datasource_size_bytes=2**30, backup_seconds=60),)
    stack = make_stack(fleet=full + roomy, backup_limit=2)
    report = stack.run(backup_body())

    rows = rows_by_name(report)
    assert report["breaker"] is None
    assert rows["roomy"]["status"] == "Succeeded"
    assert all(rows[f"full{i}"]["error"]["code"] == "OnDemandBackupLimitExceeded" for i in range(5))
    by_server = stack.emu.counters().requests_by_server
    assert all(by_server[(Kind.CREATE_BACKUP.value, f"full{i}")] == 1 for i in range(5))
    assert sorted(made_backups(stack.emu)) == ["roomy"]


# --- waited out: 409, throttling, faults -------------------------------------------------------


@pytest.mark.parametrize("blocker", ["export", "backup"])
def test_a_running_export_or_backup_409_is_waited_out(
    make_stack: StackFactory, blocker: str
) -> None:
    fleet = (ServerSpec(SUB, "rg", "busy", export_seconds=900, backup_seconds=900),)
    stack = make_stack(fleet=fleet)
    session = stack.session
    headers = {"Authorization": f"Bearer {stack.emu.issue_token()}"}
    server = f"{stack.emu.url}{server_id('busy', 'rg')}"
    if blocker == "export":
        first = session.post(
            f"{server}/backupAndExport?api-version=2024-12-30",
            json={
                "backupSettings": {"backupName": "someone-else"},
                "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": [SAS]},
            },
            headers=headers,
            timeout=10,
        )
        ends_at = stack.emu.exports()[0].ends_at
    else:
        first = session.put(
            f"{server}/backupsV2/someone-else?api-version=2024-12-30", headers=headers, timeout=10
        )
        ends_at = stack.emu.backups()[0].ends_at
    assert first.status_code == 202

    report = stack.run(backup_body())

    row = report["servers"][0]
    mine = [b for b in made_backups(stack.emu)["busy"] if b.asked_name != "someone-else"]
    (record,) = mine
    assert_row_is(row, record)
    assert row["attempts"] >= 2
    assert record.submitted_at >= ends_at  # accepted only once the other one had ended
    assert stack.emu.counters().responses[(Kind.CREATE_BACKUP.value, 409)] == row["attempts"] - 1


def test_throttled_creates_and_polls_are_waited_out(make_stack: StackFactory) -> None:
    # Writes: 5 of burst, one more every 5 s; reads: 20 of burst, one every 10 s. Thirty
    # servers submit and poll together: most calls meet a 429 and wait.
    fleet = tuple(ServerSpec(SUB, "rg", f"w{i:02d}", backup_seconds=300) for i in range(30))
    stack = make_stack(
        fleet=fleet,
        write_burst=5,
        write_refill_per_second=0.2,
        read_burst=20,
        read_refill_per_second=0.1,
    )
    report = stack.run(backup_body(maxConcurrency=30))

    assert report["summary"]["succeeded"] == 30, [r["error"] for r in report["servers"]]
    rows = rows_by_name(report)
    for name, (record,) in made_backups(stack.emu).items():
        assert_row_is(rows[name], record)
    throttled = stack.emu.counters().throttled
    assert throttled.get(Kind.CREATE_BACKUP.value, 0) > 0
    assert sum(n for k, n in throttled.items() if k != Kind.CREATE_BACKUP.value) > 0
    assert_no_duplicates(stack.emu)


@pytest.mark.parametrize("answer", [BackupAnswer.LOCATION, BackupAnswer.CREATED])
def test_transient_faults_are_retried_to_one_backup_each(
    make_stack: StackFactory, answer: BackupAnswer
) -> None:
    fleet = tuple(ServerSpec(SUB, "rg", f"t{i}", backup_seconds=300) for i in range(8))
    stack = make_stack(
        fleet=fleet,
        backup_answer=answer,
        faults=Faults(error_503=0.1, error_500=0.05, connection_reset=0.05),
    )
    report = stack.run(backup_body())

    assert report["summary"]["succeeded"] == 8, report["servers"]
    assert sum(stack.emu.counters().faults.values()) > 0
    rows = rows_by_name(report)
    made = made_backups(stack.emu)
    assert len(made) == 8
    for name, (record,) in made.items():
        assert_row_is(rows[name], record)
    assert_no_duplicates(stack.emu)  # a fault before the handler takes nothing


@pytest.mark.parametrize("answer", list(BackupAnswer))
@pytest.mark.parametrize(
    ("fault", "names"),
    [("connection_reset", BackupNaming.AS_ASKED), ("error_500", BackupNaming.PREFIXED)],
    ids=["reset", "500-prefixed"],
)
def test_a_lost_answer_after_the_put_makes_no_second_backup(
    make_stack: StackFactory, answer: BackupAnswer, fault: str, names: BackupNaming
) -> None:
    fleet = (ServerSpec(SUB, "rg", "lossy", backup_seconds=600),)
    faults = Faults(
        **{fault: 1.0},
        kinds=frozenset({Kind.CREATE_BACKUP}),
        fault_after_accept=True,  # the PUT is handled, then its answer replaced by the fault
        limit=1,
    )
    stack = make_stack(fleet=fleet, backup_answer=answer, backup_names=names, faults=faults)
    report = stack.run(backup_body())

    (row,) = report["servers"]
    (record,) = made_backups(stack.emu)["lossy"]  # accepted once, whatever the answers
    assert stack.emu.counters().faults == {fault: 1}
    assert_row_is(row, record)
    assert row["attempts"] == 2
    # the second PUT of the same name was answered from the first backup (a repeat, not a
    # second backup), and the row says an answer was lost
    assert stack.emu.counters().duplicate_backups == 1
    assert stack.emu.counters().backups_accepted == 1
    assert [n["code"] for n in row["notes"]] == ["SubmissionUnanswered"]


@pytest.mark.parametrize(
    "answer", [BackupAnswer.LOCATION, BackupAnswer.ASYNC_OPERATION, BackupAnswer.CREATED]
)
def test_long_backups_continue_as_new_and_keep_their_history_short(
    make_stack: StackFactory, answer: BackupAnswer
) -> None:
    fleet = (ServerSpec(SUB, "rg", "marathon", backup_seconds=1800),)
    stack = make_stack(
        settings={"POLL_MAX_SECONDS": "20", "POLL_DEFAULT_SECONDS": "10"},
        fleet=fleet,
        backup_answer=answer,
        backup_names=BackupNaming.PREFIXED,  # the real id must survive continue-as-new
    )
    report = stack.run(backup_body())

    (record,) = made_backups(stack.emu)["marathon"]
    assert_row_is(report["servers"][0], record)
    polls = sum(stack.emu.counters().requests.get(kind.value, 0) for kind in POLLS.values() if kind)
    assert polls > 2 * CONTINUE_AS_NEW_POLLS  # several executions' worth of polls ...
    # ... none kept in one history: about 8 events per poll cycle, plus the start.
    assert stack.host.stats().max_history_length <= 8 * CONTINUE_AS_NEW_POLLS + 16


@pytest.mark.parametrize("answer", [BackupAnswer.LOCATION, BackupAnswer.COMPLETED])
def test_a_succeeded_backup_whose_resource_cannot_be_read_says_so(
    make_stack: StackFactory, answer: BackupAnswer
) -> None:
    fleet = (ServerSpec(SUB, "rg", "shy", backup_seconds=60),)
    faults = Faults(error_500=1.0, kinds=frozenset({Kind.GET_BACKUP}))
    stack = make_stack(fleet=fleet, backup_answer=answer, faults=faults)
    report = stack.run(backup_body())

    (row,) = report["servers"]
    (record,) = made_backups(stack.emu)["shy"]
    assert_row_is(row, record)  # from the answer that said it ended (Location's body, the 200)
    assert [n["code"] for n in row["notes"]] == [BACKUP_UNREADABLE]
    assert "InternalServerError" in row["notes"][0]["message"]
    assert stack.emu.counters().faults["error_500"] == stack.emu.counters().requests["get_backup"]


# --- deadline, cancel, retry-failed ------------------------------------------------------------


def test_deadline_turns_a_long_backup_into_timed_out(make_stack: StackFactory) -> None:
    fleet = (ServerSpec(SUB, "rg", "huge", backup_seconds=5 * 3600),)
    stack = make_stack(fleet=fleet)
    report = stack.run(backup_body(deadlineMinutes=15))

    (row,) = report["servers"]
    assert row["status"] == "TimedOut" and row["error"]["code"] == "DeadlineExceeded"
    assert "backup" in row["error"]["message"] and "export" not in row["error"]["message"]
    (record,) = made_backups(stack.emu)["huge"]
    assert not record.is_terminal_at(stack.clock.now())  # still running in the service
    assert report["summary"]["timedOut"] == 1 and report["summary"]["outcome"] == "Failed"


def test_cancel_follows_in_flight_backups_and_cancels_the_rest(make_stack: StackFactory) -> None:
    fleet = tuple(ServerSpec(SUB, "rg", f"c{i}", backup_seconds=1800) for i in range(6))
    stack = make_stack(fleet=fleet)
    with stack.host.hold_clock():
        started = stack.start(backup_body(maxConcurrency=2))
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        stack.wait_until(lambda: stack.emu.counters().backups_running >= 2, "two backups running")
        canceled = stack.api("POST", f"exports/{run_id}/cancel")
        assert canceled.status_code == 202
    report = stack.follow(started.headers["Location"])["output"]

    rows = rows_by_name(report)
    made = made_backups(stack.emu)
    assert len(made) == 2 and stack.emu.counters().requests[Kind.CREATE_BACKUP.value] == 2
    for name, row in rows.items():
        if name in made:
            assert_row_is(row, made[name][0])  # in flight: followed to the end
        else:
            assert row["status"] == "Canceled" and row["error"]["code"] == "RunCanceled"
    assert report["canceled"] is True and report["summary"]["outcome"] == "Canceled"
    assert report["summary"]["operation"] == "backup"


def test_retry_failed_backs_up_the_failed_servers_again(make_stack: StackFactory) -> None:
    fleet = (
        ServerSpec(SUB, "rg", "good", backup_seconds=60),
        ServerSpec(SUB, "rg", "bad", backup_seconds=60, backup_outcome="Failed"),
        ServerSpec(SUB, "rg", "late", backup_seconds=5 * 3600),
    )
    stack = make_stack(fleet=fleet)
    first = stack.run(backup_body(deadlineMinutes=15))
    assert first["summary"]["failed"] == 1 and first["summary"]["timedOut"] == 1

    retry = stack.api("POST", f"exports/{first['runId']}/retry-failed")
    assert retry.status_code == 202, retry.text  # no target to keep or find
    second = stack.follow(retry.headers["Location"])["output"]

    assert sorted(rows_by_name(second)) == ["bad", "late"]
    assert second["retryOf"] == first["runId"]
    assert second["summary"]["operation"] == "backup"
    assert second["request"]["operation"] == "backup"
    made = made_backups(stack.emu)
    assert len(made["good"]) == 1 and len(made["bad"]) == 2
    assert rows_by_name(second)["bad"]["error"]["code"] == "OnDemandBackupFailed"
    clean = stack.run(backup_body(servers=[server_id("good", "rg")], discover=None))
    nothing = stack.api("POST", f"exports/{clean['runId']}/retry-failed")
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "NothingToRetry"


def test_retry_failed_with_a_fixed_name_follows_the_backup_it_timed_out_on(
    make_stack: StackFactory,
) -> None:
    fleet = (ServerSpec(SUB, "rg", "late", backup_seconds=25 * 60),)
    stack = make_stack(fleet=fleet)
    first = stack.run(backup_body(backupName="{server}-manual", deadlineMinutes=15))
    assert first["servers"][0]["status"] == "TimedOut"

    retry = stack.api("POST", f"exports/{first['runId']}/retry-failed")
    assert retry.status_code == 202, retry.text
    second = stack.follow(retry.headers["Location"])["output"]

    # the same name again: ARM answers the backup still running, and the row follows it
    (record,) = made_backups(stack.emu)["late"]
    assert_row_is(second["servers"][0], record)
    assert stack.emu.counters().backups_accepted == 1
    assert stack.emu.counters().duplicate_backups == 1


# --- dry run, discovery ------------------------------------------------------------------------


def test_dry_run_counts_on_demand_backups_and_creates_nothing(make_stack: StackFactory) -> None:
    fleet = (
        ServerSpec(SUB, "rg", "history", automatic_backups=3, on_demand_backups=2),
        ServerSpec(SUB, "rg", "fresh"),
        ServerSpec(SUB, "rg", "asleep", state="Stopped"),
        ServerSpec(SUB, "rg", "secret", forbidden=True),
        ServerSpec(SUB, "rg", "big", number_of_containers=3),  # containers are an export's
    )
    stack = make_stack(fleet=fleet)
    ids = [server_id(s.name, "rg") for s in fleet] + [server_id("ghost", "rg")]
    report = stack.run(backup_body(servers=ids, discover=None, dryRun=True))

    rows = rows_by_name(report)
    assert report["dryRun"] is True and report["summary"]["operation"] == "backup"
    assert rows["history"]["status"] == "Succeeded" and rows["history"]["onDemandBackups"] == 2
    assert rows["fresh"]["status"] == "Succeeded" and rows["fresh"]["onDemandBackups"] == 0
    assert rows["big"]["status"] == "Succeeded" and "numberOfContainers" not in rows["big"]
    assert rows["asleep"]["status"] == "Failed"
    assert rows["asleep"]["error"]["code"] == "ServerNotReady"
    assert rows["secret"]["error"]["code"] == "AuthorizationFailed"
    assert rows["ghost"]["error"]["code"] == "ResourceNotFound"
    counters = stack.emu.counters()
    assert counters.requests.get(Kind.CREATE_BACKUP.value, 0) == 0
    assert counters.requests.get(Kind.VALIDATE_BACKUP.value, 0) == 0
    assert counters.requests[Kind.LIST_BACKUPS.value] == 3  # the Ready servers that may be read
    assert made_backups(stack.emu) == {}


def test_dry_run_finds_an_identity_that_cannot_read_backups(make_stack: StackFactory) -> None:
    export_role = frozenset(
        {
            "Microsoft.DBforMySQL/flexibleServers/read",
            "Microsoft.DBforMySQL/flexibleServers/backupAndExport/action",
            "Microsoft.DBforMySQL/flexibleServers/validateBackup/action",
        }
    )
    fleet = (ServerSpec(SUB, "rg", "one"), ServerSpec(SUB, "rg", "two"))
    stack = make_stack(fleet=fleet, granted_actions=export_role)
    report = stack.run(backup_body(dryRun=True))

    for row in report["servers"]:
        assert row["status"] == "Failed" and row["error"]["code"] == "AuthorizationFailed"
        assert "backupsv2/read" in row["error"]["message"]
    assert stack.emu.counters().requests.get(Kind.CREATE_BACKUP.value, 0) == 0


DISCOVERED = (
    ServerSpec(SUB, "app", "prod-a", tags={"env": "prod"}, backup_seconds=60),
    ServerSpec(SUB, "app", "test-a", tags={"env": "test"}, backup_seconds=60),
    ServerSpec(SUB, "app", "prod-off", tags={"env": "prod"}, state="Stopped"),
    ServerSpec(SUB, "other", "prod-c", tags={"env": "prod"}, backup_seconds=60),
    ServerSpec(OTHER_SUB, "ops", "prod-b", tags={"ENV": "prod"}, backup_seconds=120),
    ServerSpec(OTHER_SUB, "ops", "untagged", backup_seconds=60),
)


@pytest.mark.parametrize(
    ("discover", "found", "skipped"),
    [
        (
            {"subscriptions": [SUB, OTHER_SUB], "tags": {"env": "prod"}},
            ["prod-a", "prod-b", "prod-c"],
            ["prod-off"],
        ),
        ({"subscriptions": [SUB], "resourceGroups": ["app"]}, ["prod-a", "test-a"], ["prod-off"]),
        (
            {"subscriptions": [OTHER_SUB], "states": ["Ready", "Stopped"]},
            ["prod-b", "untagged"],
            [],
        ),
    ],
    ids=["subscriptions-and-tags", "resource-groups", "states"],
)
def test_discovery_backs_up_what_it_finds(
    make_stack: StackFactory, discover: dict[str, Any], found: list[str], skipped: list[str]
) -> None:
    stack = make_stack(fleet=DISCOVERED)
    report = stack.run(backup_body(discover=discover))

    rows = rows_by_name(report)
    assert sorted(rows) == sorted(found + skipped)
    made = made_backups(stack.emu)
    assert sorted(made) == found
    for name, (record,) in made.items():
        assert_row_is(rows[name], record)
    for name in skipped:
        assert rows[name]["status"] == "Skipped"
        assert rows[name]["error"]["code"] == "ServerStateNotAllowed"
    assert report["problems"] == [] and report["summary"]["operation"] == "backup"


# --- the request --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"target": {"sasUriList": [SAS]}}, "target"),
        ({"backupFormat": "CollatedFormat"}, "backupFormat"),
        ({"backupName": "{server} nightly"}, "backupName"),
        ({"backupName": "{server}*"}, "backupName"),
        ({"operation": "snapshot"}, "operation"),
        ({"operation": "Backup"}, "operation"),
    ],
    ids=["target", "backupFormat", "name-space", "name-star", "unknown-op", "op-case"],
)
def test_bad_backup_requests_are_400_naming_the_field_and_nothing_starts(
    stack: Stack, extra: dict[str, Any], field: str
) -> None:
    answer = stack.start(backup_body(**extra))

    assert answer.status_code == 400, answer.text
    assert field in [d["target"] for d in answer.json()["error"]["details"]]
    assert sum(stack.emu.counters().requests.values()) == 0
    assert stack.host.store.query(prefix="") == []


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (BackupAnswer.LOCATION, "InProgress"),  # a 202 whose status body gives a percent
        (BackupAnswer.ASYNC_OPERATION, "InProgress"),  # the status resource's own word
        (BackupAnswer.CREATED, "Creating"),  # the resource's provisioningState, no percent
    ],
)
def test_progress_endpoint_while_a_backup_run_runs(
    make_stack: StackFactory, answer: BackupAnswer, shown: str
) -> None:
    fleet = (ServerSpec(SUB, "rg", "slow", backup_seconds=3600),)
    stack = make_stack(fleet=fleet, backup_answer=answer)
    with stack.host.hold_clock():
        started = stack.start(backup_body())
        run_id = started.json()["id"]

        def running_row() -> bool:
            servers = stack.api("GET", f"exports/{run_id}").json()["servers"]
            if not servers or servers[0].get("status") != shown:
                return False
            return answer is BackupAnswer.CREATED or (servers[0].get("percent") or 0) > 0

        # the clock moves only as far as the budget: the hour-long backup cannot end meanwhile
        stack.step_clock_until(running_row, "a row while the backup runs", step=60, budget=900)
        progress = stack.api("GET", f"exports/{run_id}").json()
    assert progress["runtimeStatus"] == "Running"
    assert progress["summary"]["total"] == 1 and progress["summary"]["running"] == 1
    (running,) = progress["servers"]
    assert running["id"] == server_id("slow", "rg")
    (record,) = made_backups(stack.emu)["slow"]
    assert running["backupName"] == record.asked_name
    if answer is BackupAnswer.CREATED:
        assert running["percent"] is None
    else:  # what ARM reported, never more than the backup has done by then
        assert 0 < running["percent"] <= record.percent_at(stack.clock.now())

    stack.follow(started.headers["Location"])
    done = stack.api("GET", f"exports/{run_id}").json()
    assert done["summary"]["succeeded"] == 1 and done["summary"]["operation"] == "backup"
    assert_row_is(done["servers"][0], record)

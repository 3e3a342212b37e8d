"""What the nightly purge deletes: the cutoff, the run that holds it back, the setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mysqlexport.errors import SettingsError
from mysqlexport.settings import Settings
from mysqlexport.times import iso, parse
from workflow.instance_ids import SCHEDULE_INSTANCE_ID, shard_instance_id, target_instance_id
from workflow.retention import (
    HOLD_MARGIN,
    RetentionJob,
    RunningRun,
    oldest_running_run,
    purge_cutoff,
)

NOW = datetime(2027, 3, 1, 4, 15, tzinfo=UTC)
RUN = "exp-0123456789abcdef0123"
OLDER = "sched-00000000000000000001"


def job(days: int, running: RunningRun | None = None) -> RetentionJob:
    return RetentionJob(retentionDays=days, oldestRunning=running)


def test_the_cutoff_is_now_minus_the_retention() -> None:
    assert purge_cutoff(NOW, job(30)) == (NOW - timedelta(days=30), None)


def test_a_run_still_going_holds_the_cutoff_back_to_just_before_it_began() -> None:
    began = NOW - timedelta(days=40)
    running = RunningRun(instanceId=RUN, createdTime=iso(began))
    assert purge_cutoff(NOW, job(30, running)) == (began - HOLD_MARGIN, RUN)


def test_a_run_younger_than_the_cutoff_changes_nothing() -> None:
    running = RunningRun(instanceId=RUN, createdTime=iso(NOW - timedelta(days=2)))
    assert purge_cutoff(NOW, job(30, running)) == (NOW - timedelta(days=30), None)


def test_naive_times_from_the_sdk_are_utc() -> None:
    naive = datetime(2027, 3, 1, 4, 15)
    assert purge_cutoff(naive, job(1))[0] == NOW - timedelta(days=1)
    assert parse(iso(naive)) == NOW


def test_only_runs_and_the_schedule_hold_history_not_their_children() -> None:
    day = timedelta(days=1)
    unfinished = [
        (shard_instance_id(RUN, 0), NOW - 9 * day),  # a child outliving its run holds nothing
        (target_instance_id(RUN), NOW - 8 * day),
        ("history-purge", NOW - 7 * day),
        (RUN, NOW - 3 * day),
        (SCHEDULE_INSTANCE_ID, NOW - 2 * day),
        (OLDER, None),  # pending, no created time yet
    ]
    assert oldest_running_run(unfinished) == RunningRun(
        instanceId=RUN, createdTime=iso(NOW - 3 * day)
    )
    assert oldest_running_run([(SCHEDULE_INSTANCE_ID, NOW)]) == RunningRun(
        instanceId=SCHEDULE_INSTANCE_ID, createdTime=iso(NOW)
    )
    assert oldest_running_run(unfinished[:3]) is None


@pytest.mark.parametrize(("raw", "days"), [("", 30), ("0", 0), ("7", 7), ("3650", 3650)])
def test_history_retention_days_reads_whole_days(raw: str, days: int) -> None:
    assert Settings.from_env({"HISTORY_RETENTION_DAYS": raw}).history_retention_days == days


@pytest.mark.parametrize("raw", ["-1", "3651", "1.5", "a month"])
def test_history_retention_days_refuses_what_is_not_a_whole_number_of_days(raw: str) -> None:
    with pytest.raises(SettingsError, match="HISTORY_RETENTION_DAYS"):
        Settings.from_env({"HISTORY_RETENTION_DAYS": raw})

"""History retention end to end: the nightly timer purges finished runs older than
``HISTORY_RETENTION_DAYS`` (their children too); recent runs and running ones stay, and so does
what a running run may still need.

The app on devhost against the emulator, on their shared virtual clock, held by the test: it
moves only when the test moves it, to each night's purge (04:15 UTC, ``triggers.retention``), so
what each purge sees is fixed whatever the machine's speed. The purge's own report (the output
of the ``history-purge`` instance) and its log line say how many instances went.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from armemulator import ServerSpec
from devhost.store import RuntimeStatus
from tests.e2e.conftest import SAS, SUB, Stack, StackFactory, server_id
from workflow.instance_ids import target_instance_id
from workflow.retention import HOLD_MARGIN, RETENTION_INSTANCE_ID

HOUR = 3600.0
DAY = 24 * HOUR
#: The stack's clock starts at 2027-01-15T08:00:00Z; the first purge runs the next night.
T0 = 1_800_000_000.0
FIRST_NIGHT = datetime(2027, 1, 16, 4, 15, tzinfo=UTC).timestamp()
SHORT = 600.0


def night(n: int) -> float:
    """The purge's occurrence ``n`` nights after the first (0 is the first)."""
    return FIRST_NIGHT + n * DAY


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


def fleet(*long: str) -> tuple[ServerSpec, ...]:
    names = ("a", "b", "c", "d", "e")
    return tuple(
        ServerSpec(SUB, "TestGroup", n, export_seconds=3 * DAY if n in long else SHORT)
        for n in names
    )


def start(stack: Stack, server: str, at: float) -> str:
    """Start a run exporting ``server`` at ``at`` (the clock held); return its run id."""
    stack.host.advance_clock(at - stack.clock.now())
    body: dict[str, Any] = {
        "servers": [server_id(server)],
        "target": {"sasUriList": [SAS]},
        "deadlineMinutes": 7 * 24 * 60,
    }
    started = stack.start(body)
    assert started.status_code == 202, started.text
    return str(started.json()["id"])


def status(stack: Stack, instance_id: str) -> RuntimeStatus | None:
    found = stack.host.store.get(instance_id, with_history=False)
    return None if found is None else found.status


def finish(stack: Stack, run_id: str) -> None:
    """Move the clock a minute at a time until the run has completed (within two hours)."""
    stack.step_clock_until(
        lambda: status(stack, run_id) is RuntimeStatus.COMPLETED,
        f"run {run_id} completed",
        step=60.0,
        budget=2 * HOUR,
    )


def ids(stack: Stack, run_id: str) -> set[str]:
    """The run's instances: itself, its target and its children."""
    return {i for i in stack.host.store.instance_ids() if i.startswith(run_id)}


def purge_at(stack: Stack, at: float) -> dict[str, Any]:
    """Move the clock to the purge's occurrence ``at``; return that purge's report once done."""
    stack.host.advance_clock(at - stack.clock.now())

    def done() -> bool:
        found = stack.host.store.get(RETENTION_INSTANCE_ID, with_history=False)
        return (
            found is not None
            and found.created_time == at
            and found.status is RuntimeStatus.COMPLETED
        )

    stack.wait_until(done, f"the purge of {iso(at)} completed")
    found = stack.host.store.get(RETENTION_INSTANCE_ID, with_history=False)
    assert found is not None
    return dict(found.output)


def test_finished_runs_past_retention_go_and_running_and_recent_ones_stay(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    stack = make_stack(
        settings={"HISTORY_RETENTION_DAYS": "1"},
        host_options={"timer_triggers": True},
        fleet=fleet("b"),
    )
    with stack.host.hold_clock():
        old = start(stack, "a", T0)
        finish(stack, old)
        running = start(stack, "b", T0 + 3 * HOUR)  # exports for three days
        held = start(stack, "c", T0 + 4 * HOUR)
        finish(stack, held)
        old_ids, held_ids = ids(stack, old), ids(stack, held)
        assert target_instance_id(old) in old_ids and len(old_ids) >= 3

        first = purge_at(stack, night(0))  # everything is younger than a day
        assert first == {
            "retentionDays": 1,
            "createdTimeTo": iso(night(0) - DAY),
            "heldBy": None,
            "instancesDeleted": 0,
        }
        recent = start(stack, "d", T0 + 30 * HOUR)
        finish(stack, recent)
        recent_ids = ids(stack, recent)

        # A day later the first runs are past retention, but the run still going began before
        # the third: the cutoff stops just before it, so only the oldest run goes.
        second = purge_at(stack, night(1))
        assert status(stack, running) is RuntimeStatus.RUNNING
        assert second == {
            "retentionDays": 1,
            "createdTimeTo": iso(T0 + 3 * HOUR - HOLD_MARGIN.total_seconds()),
            "heldBy": running,
            "instancesDeleted": len(old_ids),
        }
        kept = set(stack.host.store.instance_ids())
        assert not kept & old_ids
        assert held_ids | recent_ids | {running, target_instance_id(running)} <= kept
        assert (
            f"history purge: {len(old_ids)} finished instances created up to "
            f"{second['createdTimeTo']} deleted" in caplog.text
        )

        # While it runs, it holds the history back; once it has ended, the next night's purge
        # takes everything finished before the cutoff: the run, its target and children, and
        # the run it held back.
        assert purge_at(stack, night(2))["instancesDeleted"] == 0
        stack.host.advance_clock(T0 + 3 * HOUR + 3 * DAY + HOUR - stack.clock.now())
        finish(stack, running)
        # (the purge's own instance is replaced by the tick that starts the next purge)
        before = {
            i: stack.host.store.get(i, with_history=False)
            for i in stack.host.store.instance_ids()
            if i != RETENTION_INSTANCE_ID
        }
        third = purge_at(stack, night(3))
        cutoff = night(3) - DAY
        assert third["heldBy"] is None and third["createdTimeTo"] == iso(cutoff)
        gone = {
            i
            for i, found in before.items()
            if found is not None and found.created_time <= cutoff and found.status.is_terminal
        }
        assert {running, target_instance_id(running), held, recent} <= gone
        assert third["instancesDeleted"] == len(gone)
        assert set(stack.host.store.instance_ids()) == (set(before) - gone) | {
            RETENTION_INSTANCE_ID
        }


def test_the_default_keeps_thirty_days(make_stack: StackFactory) -> None:
    stack = make_stack(host_options={"timer_triggers": True}, fleet=fleet())
    with stack.host.hold_clock():
        old = start(stack, "a", T0)
        finish(stack, old)
        old_ids = ids(stack, old)
        young = start(stack, "b", T0 + 28 * DAY)
        finish(stack, young)
        young_ids = ids(stack, young)
        assert purge_at(stack, night(28))["instancesDeleted"] == 0  # 28 days and 20 hours old
        purged = purge_at(stack, night(30))
        assert purged["createdTimeTo"] == iso(night(30) - 30 * DAY)
        assert purged["instancesDeleted"] == len(old_ids)
        assert set(stack.host.store.instance_ids()) == young_ids | {RETENTION_INSTANCE_ID}


def test_zero_keeps_everything_and_a_bad_value_purges_nothing(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    stack = make_stack(
        settings={"HISTORY_RETENTION_DAYS": "0"},
        host_options={"timer_triggers": True},
        fleet=fleet(),
    )
    with stack.host.hold_clock():
        old = start(stack, "a", T0)
        finish(stack, old)
        everything = set(stack.host.store.instance_ids())
        stack.host.advance_clock(night(40) - stack.clock.now())
        stack.wait_until(lambda: "history purge off" in caplog.text, "the purge's tick")
        monkeypatch.setenv("HISTORY_RETENTION_DAYS", "-1")  # read at each tick
        stack.host.advance_clock(DAY)
        stack.wait_until(lambda: "history purge not started" in caplog.text, "the next tick")
        assert "HISTORY_RETENTION_DAYS" in caplog.text
    assert set(stack.host.store.instance_ids()) == everything

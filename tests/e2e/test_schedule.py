"""Scheduled runs start on the timer, and never overlap the previous one."""

from __future__ import annotations

import itertools
import json
import logging

import pytest

from armemulator import ServerSpec
from devhost.store import RuntimeStatus
from tests.e2e.conftest import SAS, SUB, StackFactory, server_id


def test_schedule_starts_runs_and_skips_ticks_while_one_is_running(
    make_stack: StackFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    request = {"servers": [server_id("nightly", "rg")], "target": {"sasUriList": [SAS]}}
    stack = make_stack(
        settings={
            "EXPORT_SCHEDULE": "0 */20 * * * *",
            "EXPORT_SCHEDULE_REQUEST": json.dumps(request),
        },
        host_options={"timer_triggers": True, "advance_to_schedules": True},
        fleet=(ServerSpec(SUB, "rg", "nightly", export_seconds=50 * 60),),
    )

    def runs() -> list[str]:
        done = stack.host.store.query(prefix="sched-", statuses=[RuntimeStatus.COMPLETED])
        return [i.instance_id for i in done if ":" not in i.instance_id]

    stack.wait_until(lambda: len(runs()) >= 2, "two scheduled runs completed")
    stack.host.stop()
    exports = stack.emu.exports()
    assert stack.emu.counters().peak_exports_running_by_server["nightly"] == 1
    for earlier, later in itertools.pairwise(exports):
        assert later.submitted_at >= earlier.ends_at  # one after the other, never overlapping
    assert "scheduled export skipped" in caplog.text

"""Crashes: host restarts mid-run, lost activity results, store snapshots."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import devhost_sample_state as sample_state

from devhost import DevHost, HostFaults, RuntimeStatus, Store, VirtualClock, WallClock
from tests.waits import HANG_SECONDS

from .conftest import make_host


def _wait_until(predicate: Callable[[], bool], timeout: float = HANG_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_host_restart_mid_run_resumes_to_the_same_output(host: DevHost) -> None:
    sample_state.gate.clear()
    instance_id = host.start_orchestration("gated_sequence")
    _wait_until(lambda: sample_state.gate_entries == [0])
    host.restart()  # the old engine is abandoned with activity 0 still running
    _wait_until(lambda: sample_state.gate_entries == [0, 0])  # re-dispatched from history
    sample_state.gate.set()
    done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    assert done.runtime_status is RuntimeStatus.COMPLETED
    assert done.output == ["step-0", "step-1", "step-2"]
    assert sorted(sample_state.gate_entries) == [0, 0, 1, 2]
    instance = host.store.get(instance_id)
    assert instance is not None
    completions = [e for e in instance.history if e["EventType"] == 5]
    assert len(completions) == 3  # the abandoned engine's late result was refused


def test_restart_resumes_pending_timers_and_sub_orchestrations(clock: VirtualClock) -> None:
    store = Store()
    host = make_host(clock, store=store)
    try:
        with host.hold_clock():
            timer_id = host.start_orchestration("six_hour_timer")
            parent_id = host.start_orchestration("parent", instance_id="p")
            host.restart()
        assert (
            host.wait_for(timer_id, timeout=HANG_SECONDS).output["end"]
            == "2025-01-01T06:00:00+00:00"
        )
        assert host.wait_for(parent_id, timeout=HANG_SECONDS).output["results"] == [9, 16, 25]
    finally:
        host.stop()


def test_store_snapshot_survives_a_new_host_process(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    first = make_host(WallClock())  # real time: the one-hour timeout cannot interfere
    try:
        instance_id = first.start_orchestration("approval", 1)
        _wait_until(lambda: first.status(instance_id).runtime_status is RuntimeStatus.RUNNING)  # type: ignore[union-attr]
        first.store.save(path)
    finally:
        first.stop()
    second = make_host(WallClock(), store=Store.load(path))
    try:
        second.raise_event(instance_id, "Approval", "later")
        done = second.wait_for(instance_id, timeout=HANG_SECONDS)
    finally:
        second.stop()
    assert done.output == {"approved": "later", "followup": "APPROVED"}


def test_activity_crash_after_side_effect_runs_it_again(clock: VirtualClock) -> None:
    faults = HostFaults(activity_crash_after_side_effect=0.4, seed=3)
    host = make_host(clock, faults=faults)
    try:
        instance_id = host.start_orchestration("side_effect_fan_out", 12)
        done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    finally:
        host.stop()
    assert done.output == 10 * sum(range(12))
    assert faults.crashes > 0
    assert sorted(set(sample_state.side_effects)) == list(range(12))
    assert len(sample_state.side_effects) == 12 + faults.crashes
    stats = host.stats()
    assert stats.activity_crashes == faults.crashes
    assert stats.activities_run == 12 + faults.crashes

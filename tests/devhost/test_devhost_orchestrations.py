"""End to end through the in-process host: the SDK's real replay, on a virtual clock."""

from __future__ import annotations

import time

import devhost_sample_state as sample_state

from devhost import DevHost, RuntimeStatus, VirtualClock, WallClock
from devhost.clock import parse_timestamp
from devhost.config import HostConfig
from devhost.protocol import EventType
from devhost.replay import run_episode
from devhost.store import Store
from tests.waits import HANG_SECONDS

from .conftest import START, make_host


def _wait_until(predicate: object, timeout: float = HANG_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def _history_types(host: DevHost, instance_id: str) -> list[int]:
    instance = host.store.get(instance_id)
    assert instance is not None
    return [int(e["EventType"]) for e in instance.history]


def test_sequence_and_fan_out_fan_in(host: DevHost) -> None:
    sequence = host.start_orchestration("sequence", {"n": 3})
    fan_out = host.start_orchestration("fan_out", {"n": 6})
    done = host.wait_for(sequence, timeout=HANG_SECONDS)
    assert done.runtime_status is RuntimeStatus.COMPLETED
    assert done.output == ["STEP0", "STEP1", "STEP2"]
    assert done.custom_status == {"total": 3, "completed": 2}
    assert done.input == '{"n": 3}'  # stored like the SDK client sends it: a JSON string
    fanned = host.wait_for(fan_out, timeout=HANG_SECONDS)
    assert fanned.output == {"squares": [0, 1, 4, 9, 16, 25], "doubled": 110}


def test_large_fan_out_batches_completions(host: DevHost) -> None:
    instance_id = host.start_orchestration("fan_out", {"n": 200})
    done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    assert done.output["doubled"] == 2 * sum(i * i for i in range(200))
    assert host.stats().episodes < 200  # many completions per episode


def test_sub_orchestrations_with_explicit_and_generated_ids(host: DevHost) -> None:
    parent_id = host.start_orchestration("parent", instance_id="parent-1")
    done = host.wait_for(parent_id, timeout=HANG_SECONDS)
    assert done.runtime_status is RuntimeStatus.COMPLETED
    assert done.output["results"] == [9, 16, 25]
    assert done.output["failure"].startswith("Orchestrator function 'child' failed: child boom")
    parent = host.store.get(parent_id)
    assert parent is not None
    children = {i.instance_id: i.status for i in host.store.query() if i.parent is not None}
    assert children == {
        "parent-1:child-a": RuntimeStatus.COMPLETED,
        f"{parent.execution_id}:1": RuntimeStatus.COMPLETED,
        f"{parent.execution_id}:2": RuntimeStatus.COMPLETED,
        "parent-1:child-a-boom": RuntimeStatus.FAILED,
    }
    child = host.status("parent-1:child-a")
    assert child is not None and child.parent_instance_id == "parent-1"


def test_task_completed_is_stamped_when_the_activity_returns(
    host: DevHost, clock: VirtualClock
) -> None:
    """DTFx builds TaskCompleted after the activity ran, so its Timestamp tells an orchestrator
    when the answer came; the activity here takes 90 s of the virtual clock."""
    sample_state.clock = clock
    instance_id = host.start_orchestration("timed_activity", 90)
    done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    assert done.output == START + 90
    instance = host.store.get(instance_id)
    assert instance is not None
    stamps = {int(e["EventType"]): parse_timestamp(str(e["Timestamp"])) for e in instance.history}
    assert stamps[EventType.TASK_SCHEDULED] == START
    assert stamps[EventType.TASK_COMPLETED] == START + 90


def test_six_hour_timer_passes_without_waiting_in_real_time(
    host: DevHost, clock: VirtualClock
) -> None:
    """The virtual clock jumps to the timer: six hours pass within a wait bounded far below six
    hours (how much below depends on the machine, so no figure is asserted)."""
    assert HANG_SECONDS < 6 * 3600
    instance_id = host.start_orchestration("six_hour_timer")
    done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    assert done.output == {
        "start": "2025-01-01T00:00:00+00:00",
        "end": "2025-01-01T06:00:00+00:00",
    }
    assert clock.now() == START + 6 * 3600


def test_wall_clock_timers_fire_in_real_time() -> None:
    """A timer on the wall clock never fires before its time. (How late it fires depends on the
    machine's load, so only a hang fails the upper side.)"""
    host = make_host(WallClock())
    try:
        started = time.monotonic()
        instance_id = host.start_orchestration("short_timer", 0.3)
        assert host.wait_for(instance_id, timeout=HANG_SECONDS).output == "woke"
        assert time.monotonic() - started >= 0.25  # 0.3 s, less the clocks' granularity
    finally:
        host.stop()


def test_task_any_with_cancelled_timer_never_fires_it(host: DevHost, clock: VirtualClock) -> None:
    with host.hold_clock():
        instance_id = host.start_orchestration("approval", 1)
        _wait_until(lambda: int(EventType.TIMER_CREATED) in _history_types(host, instance_id))
        host.raise_event(instance_id, "Approval", "yes")
        done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    assert done.output == {"approved": "yes", "followup": "APPROVED"}
    host.run_until_idle(timeout=HANG_SECONDS)
    assert clock.now() == START  # the cancelled one-hour timer did not move the clock
    assert host.stats().timers_fired == 0


def test_task_any_times_out_on_the_virtual_clock(host: DevHost, clock: VirtualClock) -> None:
    instance_id = host.start_orchestration("approval", 2)
    done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    assert done.output == {"approved": None, "timedOut": True}
    assert clock.now() == START + 7200


def test_continue_as_new_keeps_history_bounded(host: DevHost) -> None:
    instance_id = host.start_orchestration("eternal", {"i": 0, "limit": 25})
    done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    assert done.output == {"total": sum(i * i for i in range(25)), "iterations": 25}
    assert done.instance_id == instance_id
    assert host.stats().max_history_length <= 10


def test_continue_as_new_carries_unprocessed_events_over(host: DevHost) -> None:
    store = Store()
    instance = store.create_instance(
        instance_id="c1",
        name="collector",
        input_text='"{\\"items\\": [], \\"want\\": 3}"',
        timestamp=START,
    )
    for value in ("a", "b", "c"):
        store.raise_event("c1", "Item", f'"{value}"', START)
    instance = store.get("c1")
    assert instance is not None
    result = run_episode(instance, host.index, START, HostConfig())
    assert result.commit.status is RuntimeStatus.CONTINUED_AS_NEW
    assert [e["Input"] for e in result.commit.carry_over] == ['"b"', '"c"']
    store.commit_episode(result.commit)
    resumed = store.get("c1")
    assert resumed is not None
    assert [int(p.event["EventType"]) for p in resumed.pending] == [
        int(EventType.EXECUTION_STARTED),
        int(EventType.EVENT_RAISED),
        int(EventType.EVENT_RAISED),
    ]
    assert resumed.history == []


def test_collector_receives_every_event_across_continue_as_new(host: DevHost) -> None:
    instance_id = host.start_orchestration("collector", {"items": [], "want": 3})
    for value in (1, 2, 3):
        host.raise_event(instance_id, "Item", value)
    assert host.wait_for(instance_id, timeout=HANG_SECONDS).output == [1, 2, 3]


def test_external_events_are_buffered_until_awaited(host: DevHost) -> None:
    instance_id = host.start_orchestration("external_events")
    host.raise_event(instance_id, "Second", {"n": 2})
    host.raise_event(instance_id, "First", {"n": 1})
    assert host.wait_for(instance_id, timeout=HANG_SECONDS).output == [{"n": 1}, {"n": 2}]


def test_custom_status_is_visible_and_limited_to_16_kb(host: DevHost) -> None:
    small = host.start_orchestration("custom_status", 100)
    done = host.wait_for(small, timeout=HANG_SECONDS)
    assert done.runtime_status is RuntimeStatus.COMPLETED
    assert done.custom_status == {"stage": "big", "blob": "x" * 100}
    big = host.start_orchestration("custom_status", 9000)
    failed = host.wait_for(big, timeout=HANG_SECONDS)
    assert failed.runtime_status is RuntimeStatus.FAILED
    assert failed.output == (
        "Orchestrator function 'custom_status' failed: The UTF-16 size of the JSON-serialized "
        "payload must not exceed 16 KB. The current payload size is 17 KB."
    )
    assert failed.custom_status == {"stage": "small"}


def test_wrong_activity_name_fails_the_orchestration_like_the_host(host: DevHost) -> None:
    instance_id = host.start_orchestration("wrong_activity")
    done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    assert done.runtime_status is RuntimeStatus.FAILED
    assert done.output.startswith(
        "Orchestrator function 'wrong_activity' failed: The function 'does_not_exist' doesn't "
        "exist, is disabled, or is not an activity function. Additional info: The following "
        "are the known activity functions: 'echo_upper', 'square'"
    )


def test_code_change_between_episodes_is_non_deterministic(host: DevHost) -> None:
    instance_id = host.start_orchestration("versioned")
    host.run_until_idle(timeout=HANG_SECONDS)
    assert host.status(instance_id).runtime_status is RuntimeStatus.RUNNING  # type: ignore[union-attr]
    sample_state.switches["orchestrator_version"] = 2
    host.raise_event(instance_id, "Continue")
    done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    assert done.runtime_status is RuntimeStatus.FAILED
    assert done.output.startswith(
        "Non-Deterministic workflow detected: A previous execution of this orchestration "
        "scheduled an activity task with sequence number 0 named 'echo_upper', but the current "
        "orchestration replay instead scheduled an activity task named 'square'"
    )


def test_activity_retry_waits_on_durable_timers(host: DevHost, clock: VirtualClock) -> None:
    instance_id = host.start_orchestration("retrying", {"key": "k1", "attempts": 3})
    assert host.wait_for(instance_id, timeout=HANG_SECONDS).output == "k1 ok after 3"
    assert sample_state.flaky_calls["k1"] == 3
    assert clock.now() == START + 120
    exhausted = host.start_orchestration("retrying", {"key": "k2", "attempts": 2})
    error = host.wait_for(exhausted, timeout=HANG_SECONDS).output["error"]
    assert error.startswith("Activity function 'flaky' failed: RuntimeError: flaky failure 2")


def test_concurrent_retries_keep_sequence_ids_in_step_with_the_sdk(host: DevHost) -> None:
    instance_id = host.start_orchestration("retrying_pair")
    assert host.wait_for(instance_id, timeout=HANG_SECONDS).output == [
        "p1 ok after 3",
        "p2 ok after 3",
    ]
    assert host.stats().timers_fired == 4


def test_timers_longer_than_six_days_are_chained(host: DevHost, clock: VirtualClock) -> None:
    instance_id = host.start_orchestration("long_timer")
    assert host.wait_for(instance_id, timeout=HANG_SECONDS).output == 8 * 86400
    assert host.stats().timers_fired == 2  # 3 days, then the remaining 5
    assert clock.now() == START + 8 * 86400


def test_sub_orchestration_retry_reuses_the_explicit_child_id(
    host: DevHost, clock: VirtualClock
) -> None:
    instance_id = host.start_orchestration("retrying_parent", instance_id="rp")
    assert host.wait_for(instance_id, timeout=HANG_SECONDS).output == "sub ok after 3"
    child = host.status("rp:child")
    assert child is not None and child.runtime_status is RuntimeStatus.COMPLETED
    assert clock.now() == START + 10


def test_terminate_and_status_history(host: DevHost) -> None:
    with host.hold_clock():
        instance_id = host.start_orchestration("approval", 1)
        _wait_until(lambda: host.status(instance_id).runtime_status is RuntimeStatus.RUNNING)  # type: ignore[union-attr]
        host.terminate(instance_id, "not needed")
        done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    assert done.runtime_status is RuntimeStatus.TERMINATED
    assert done.output == "not needed"
    status = host.status(instance_id, show_history=True)
    assert status is not None and status.history is not None
    kinds = [event["EventType"] for event in status.history]
    assert kinds[0] == "ExecutionStarted"
    assert "TimerCreated" in kinds and "ExecutionTerminated" in kinds


def test_action_limit_fails_the_instance(host: DevHost) -> None:
    store = Store()
    store.create_instance(
        instance_id="f1", name="fan_out", input_text='"{\\"n\\": 5}"', timestamp=START
    )
    instance = store.get("f1")
    assert instance is not None
    result = run_episode(instance, host.index, START, HostConfig(max_orchestration_actions=3))
    assert result.commit.status is RuntimeStatus.FAILED
    assert result.commit.output == (
        "Orchestrator function 'fan_out' failed: Maximum amount of orchestration actions (3) has "
        "been reached. This value can be configured in host.json file as MaxOrchestrationActions."
    )

"""Orchestrators and activities of the sample app (one blueprint)."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import devhost_sample_state as state

bp = df.Blueprint()


# -- activities ---------------------------------------------------------------------------------
@bp.activity_trigger(input_name="text")
def echo_upper(text: str) -> str:
    return text.upper()


@bp.activity_trigger(input_name="value")
def square(value: int) -> int:
    return value * value


@bp.activity_trigger(input_name="value")
async def async_double(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


@bp.activity_trigger(input_name="key")
def flaky(key: str) -> str:
    with state.lock:
        state.flaky_calls[key] = state.flaky_calls.get(key, 0) + 1
        calls = state.flaky_calls[key]
    if calls < 3:
        raise RuntimeError(f"flaky failure {calls} for {key}")
    return f"{key} ok after {calls}"


@bp.activity_trigger(input_name="value")
def record_side_effect(value: int) -> int:
    with state.lock:
        state.side_effects.append(value)
    return value * 10


@bp.activity_trigger(input_name="value")
def gated_step(value: int) -> str:
    with state.lock:
        state.gate_entries.append(value)
    if not state.gate.wait(timeout=300):  # only a hung test leaves it closed this long
        raise TimeoutError("gate never opened")
    return f"step-{value}"


@bp.activity_trigger(input_name="seconds")
def takes_time(seconds: float) -> float:
    """Moves the test's virtual clock on while it runs, as a slow activity would."""
    state.clock.set(state.clock.now() + seconds)
    return float(state.clock.now())


# -- orchestrators ------------------------------------------------------------------------------
@bp.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext) -> Any:
    n = (context.get_input() or {}).get("n", 3)
    results = []
    for i in range(n):
        context.set_custom_status({"total": n, "completed": i})
        results.append((yield context.call_activity("echo_upper", f"step{i}")))
    return results


@bp.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Any:
    n = context.get_input()["n"]
    squares = yield context.task_all([context.call_activity(square, i) for i in range(n)])
    doubled = yield context.call_activity("async_double", sum(squares))
    return {"squares": squares, "doubled": doubled}


@bp.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext) -> Any:
    value = context.get_input()
    if value == "boom":
        raise ValueError("child boom")
    return (yield context.call_activity("square", value))


@bp.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext) -> Any:
    explicit_id = f"{context.instance_id}:child-a"
    first = yield context.call_sub_orchestrator("child", 3, instance_id=explicit_id)
    second, third = yield context.task_all(
        [context.call_sub_orchestrator("child", 4), context.call_sub_orchestrator("child", 5)]
    )
    try:
        yield context.call_sub_orchestrator("child", "boom", instance_id=f"{explicit_id}-boom")
        failure = None
    except Exception as err:  # noqa: BLE001 - the SDK raises plain Exception
        failure = str(err)
    return {"results": [first, second, third], "failure": failure, "explicit": explicit_id}


@bp.orchestration_trigger(context_name="context")
def six_hour_timer(context: df.DurableOrchestrationContext) -> Any:
    start = context.current_utc_datetime
    yield context.create_timer(start + timedelta(hours=6))
    return {"start": start.isoformat(), "end": context.current_utc_datetime.isoformat()}


@bp.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext) -> Any:
    hours = context.get_input() or 1
    event = context.wait_for_external_event("Approval")
    timeout = context.create_timer(context.current_utc_datetime + timedelta(hours=hours))
    winner = yield context.task_any([event, timeout])
    if winner == event:
        timeout.cancel()
        followup = yield context.call_activity("echo_upper", "approved")
        return {"approved": event.result, "followup": followup}
    return {"approved": None, "timedOut": True}


@bp.orchestration_trigger(context_name="context")
def external_events(context: df.DurableOrchestrationContext) -> Any:
    first = yield context.wait_for_external_event("First")
    second = yield context.wait_for_external_event("Second")
    return [first, second]


@bp.orchestration_trigger(context_name="context")
def eternal(context: df.DurableOrchestrationContext) -> Any:
    progress = context.get_input()
    value = yield context.call_activity("square", progress["i"])
    total = progress.get("total", 0) + value
    if progress["i"] + 1 < progress["limit"]:
        context.continue_as_new(
            {"i": progress["i"] + 1, "limit": progress["limit"], "total": total}
        )
        return None
    return {"total": total, "iterations": progress["limit"]}


@bp.orchestration_trigger(context_name="context")
def collector(context: df.DurableOrchestrationContext) -> Any:
    progress = context.get_input()
    item = yield context.wait_for_external_event("Item")
    items = [*progress["items"], item]
    if len(items) < progress["want"]:
        context.continue_as_new({"items": items, "want": progress["want"]})
        return None
    return items


@bp.orchestration_trigger(context_name="context")
def custom_status(context: df.DurableOrchestrationContext) -> Any:
    size = context.get_input()
    context.set_custom_status({"stage": "small"})
    yield context.call_activity("echo_upper", "one")
    context.set_custom_status({"stage": "big", "blob": "x" * size})
    yield context.call_activity("echo_upper", "two")
    return "done"


@bp.orchestration_trigger(context_name="context")
def wrong_activity(context: df.DurableOrchestrationContext) -> Any:
    return (yield context.call_activity("does_not_exist", 1))


@bp.orchestration_trigger(context_name="context")
def versioned(context: df.DurableOrchestrationContext) -> Any:
    first_step = "echo_upper" if state.switches["orchestrator_version"] == 1 else "square"
    first = yield context.call_activity(first_step, "a" if first_step == "echo_upper" else 2)
    yield context.wait_for_external_event("Continue")
    second = yield context.call_activity("echo_upper", "b")
    return [first, second]


@bp.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext) -> Any:
    settings = context.get_input()
    options = df.RetryOptions(
        first_retry_interval_in_milliseconds=60_000,
        max_number_of_attempts=settings["attempts"],
    )
    try:
        return (yield context.call_activity_with_retry("flaky", options, settings["key"]))
    except Exception as err:  # noqa: BLE001 - the SDK raises plain Exception
        return {"error": str(err).split("\n")[0]}


@bp.orchestration_trigger(context_name="context")
def gated_sequence(context: df.DurableOrchestrationContext) -> Any:
    results = []
    for i in range(3):
        results.append((yield context.call_activity("gated_step", i)))
    return results


@bp.orchestration_trigger(context_name="context")
def side_effect_fan_out(context: df.DurableOrchestrationContext) -> Any:
    n = context.get_input()
    values = yield context.task_all(
        [context.call_activity("record_side_effect", i) for i in range(n)]
    )
    return sum(values)


@bp.orchestration_trigger(context_name="context")
def progress(context: df.DurableOrchestrationContext) -> Any:
    count = context.get_input()["count"]
    squares = []
    for i in range(count):
        context.set_custom_status({"total": count, "completed": i, "phase": "squaring"})
        squares.append((yield context.call_activity("square", i)))
    context.set_custom_status({"total": count, "completed": count, "phase": "done"})
    return {"count": count, "squares": squares}


@bp.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext) -> Any:
    return (yield context.call_activity("flaky", context.get_input()))


@bp.orchestration_trigger(context_name="context")
def retrying_parent(context: df.DurableOrchestrationContext) -> Any:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=5_000, max_number_of_attempts=3)
    return (
        yield context.call_sub_orchestrator_with_retry(
            "flaky_child", options, "sub", instance_id=f"{context.instance_id}:child"
        )
    )


@bp.orchestration_trigger(context_name="context")
def short_timer(context: df.DurableOrchestrationContext) -> Any:
    seconds = context.get_input()
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=seconds))
    return "woke"


@bp.orchestration_trigger(context_name="context")
def retrying_pair(context: df.DurableOrchestrationContext) -> Any:
    options = df.RetryOptions(first_retry_interval_in_milliseconds=1_000, max_number_of_attempts=3)
    return (
        yield context.task_all(
            [
                context.call_activity_with_retry("flaky", options, "p1"),
                context.call_activity_with_retry("flaky", options, "p2"),
            ]
        )
    )


@bp.orchestration_trigger(context_name="context")
def long_timer(context: df.DurableOrchestrationContext) -> Any:
    start = context.current_utc_datetime
    yield context.create_timer(start + timedelta(days=8))
    return (context.current_utc_datetime - start).total_seconds()


@bp.orchestration_trigger(context_name="context")
def timed_activity(context: df.DurableOrchestrationContext) -> Any:
    return (yield context.call_activity("takes_time", context.get_input()))


@bp.orchestration_trigger(context_name="context")
def which_process(context: df.DurableOrchestrationContext) -> Any:
    yield context.call_activity("square", 2)
    return os.getpid()  # not replay-safe on purpose: tells where the orchestrator code runs

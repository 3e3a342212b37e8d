"""A small app for devhost's worker tests: where code runs (process, thread), an activity that
holds a pool thread until released, and activities that use the durable client."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import devhost_worker_state as state

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _here() -> dict[str, Any]:
    return {"pid": os.getpid(), "thread": threading.current_thread().name}


# -- activities -----------------------------------------------------------------------------------
@app.activity_trigger(input_name="key")
def hold(key: str) -> str:
    """Occupies a pool thread until the test releases the gate (bounded by a hang)."""
    with state.lock:
        state.held.append(key)
    if not state.release.wait(timeout=600):
        raise TimeoutError("the test never released the gate")
    return key


@app.activity_trigger(input_name="path")
def hold_file(path: str) -> str:
    """Like ``hold`` across processes: marks ``path``.entered, waits for ``path``.release."""
    Path(path + ".entered").touch()
    deadline = time.monotonic() + 600
    while not Path(path + ".release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never released the gate")
        time.sleep(0.01)
    return path


@app.activity_trigger(input_name="value")
def where(value: Any) -> dict[str, Any]:
    with state.lock:
        state.side_effects.append(f"where:{value}")
    return {**_here(), "value": value}


@app.activity_trigger(input_name="value")
async def where_async(value: Any) -> dict[str, Any]:
    return {**_here(), "value": value}


@app.activity_trigger(input_name="target")
@app.durable_client_input(client_name="client")
async def notify(target: dict[str, Any], client: df.DurableOrchestrationClient) -> str:
    """Raises an event on another instance through the durable client binding."""
    await client.raise_event(target["instance_id"], target["event"], target["data"])
    return f"raised {target['event']} on {target['instance_id']}"


@app.activity_trigger(input_name="instance_id")
@app.durable_client_input(client_name="client")
async def input_of(instance_id: str, client: df.DurableOrchestrationClient) -> Any:
    """Reads another instance's input through the durable client binding."""
    status = await client.get_status(instance_id, show_input=True)
    return {"status": status.runtime_status.value, "input": status.input_}


# -- orchestrators --------------------------------------------------------------------------------
@app.orchestration_trigger(context_name="context")
def holder(context: df.DurableOrchestrationContext) -> Any:
    return (yield context.call_activity("hold", context.get_input()))


@app.orchestration_trigger(context_name="context")
def holders(context: df.DurableOrchestrationContext) -> Any:
    keys = context.get_input()
    return (yield context.task_all([context.call_activity("hold", key) for key in keys]))


@app.orchestration_trigger(context_name="context")
def marked(context: df.DurableOrchestrationContext) -> Any:
    """Records each time its code runs, so a test sees whether an episode got a pool thread."""
    with state.lock:
        state.episodes.append(context.instance_id)
    return (yield context.call_activity("where", "marked"))


@app.orchestration_trigger(context_name="context")
def placement(context: df.DurableOrchestrationContext) -> Any:
    sync = yield context.call_activity("where", 1)
    coroutine = yield context.call_activity("where_async", 2)
    return {"sync": sync, "async": coroutine}


@app.orchestration_trigger(context_name="context")
def attempts(context: df.DurableOrchestrationContext) -> Any:
    """Calls ``where`` once per input item and reports each result or failure message."""
    results = []
    for value in context.get_input():
        try:
            results.append({"ok": (yield context.call_activity("where", value))["value"]})
        except Exception as err:  # noqa: BLE001 - the SDK raises plain Exception
            results.append({"error": str(err)})
    return results


@app.orchestration_trigger(context_name="context")
def listener(context: df.DurableOrchestrationContext) -> Any:
    return (yield context.wait_for_external_event("Ping"))


@app.orchestration_trigger(context_name="context")
def relay(context: df.DurableOrchestrationContext) -> Any:
    """Reads the listener's input and raises an event to it, both from activities."""
    target = context.get_input()
    seen = yield context.call_activity("input_of", target)
    sent = yield context.call_activity(
        "notify", {"instance_id": target, "event": "Ping", "data": {"seen": seen["input"]}}
    )
    return {"seen": seen, "sent": sent}

"""An activity may carry a durableClient input binding (the host supports one on any function)
and be ``async def``: devhost passes it the client JSON as it does HTTP and timer triggers, and
runs it on the worker's event loop."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from devhost import DevHost, RuntimeStatus, VirtualClock

from .conftest import START
from .worker_app_support import HANG_SECONDS, WORKER_APP, worker_state


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    worker_state.reset()
    yield
    worker_state.release.set()


@pytest.mark.parametrize("worker_processes", [0, 1], ids=["in-process", "worker-process"])
def test_an_activity_reads_an_instance_input_and_raises_an_event_through_the_client(
    worker_processes: int,
) -> None:
    with DevHost(
        WORKER_APP,
        clock=VirtualClock(START),
        worker_processes=worker_processes,
        threadpool_threads=1,
    ) as host:
        listener = host.start_orchestration("listener", {"secret": "s-1"}, instance_id="listen-1")
        relay = host.start_orchestration("relay", listener)
        relayed = host.wait_for(relay, timeout=HANG_SECONDS)
        heard = host.wait_for(listener, timeout=HANG_SECONDS)
    assert relayed.runtime_status is RuntimeStatus.COMPLETED, relayed.output
    # the SDK's start_new posts df_dumps(input) as a JSON string, so the status API gives the
    # input back as that string: a reader json.loads it (as on the real host)
    assert relayed.output["seen"] == {"status": "Running", "input": '{"secret": "s-1"}'}
    assert relayed.output["sent"] == "raised Ping on listen-1"
    assert heard.runtime_status is RuntimeStatus.COMPLETED
    # likewise raise_event posts json.dumps(data): the waiting orchestrator receives JSON text
    assert json.loads(heard.output) == {"seen": '{"secret": "s-1"}'}


def test_the_client_activity_is_indexed_with_its_binding() -> None:
    with DevHost(WORKER_APP, clock=VirtualClock(START)) as host:
        notify = host.index.activity("notify")
        assert notify is not None
        assert notify.client_params == ("client",)
        assert notify.is_async

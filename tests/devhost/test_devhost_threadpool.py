"""One thread pool per language worker: orchestrator episodes and activities compete for it.

The Python worker runs every synchronous invocation on one ThreadPoolExecutor of
PYTHON_THREADPOOL_THREAD_COUNT threads and ``async def`` functions on its event loop; the host's
maxConcurrent* limits only decide what is dispatched to the worker.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devhost import DevHost, RuntimeStatus, VirtualClock
from devhost.config import (
    app_settings,
    default_threadpool_size,
    threadpool_thread_count,
)

from .conftest import START
from .worker_app_support import HANG_SECONDS, WORKER_APP, wait_until, worker_state


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    worker_state.reset()
    yield
    worker_state.release.set()


def _host(threads: int | None = None) -> DevHost:
    return DevHost(WORKER_APP, clock=VirtualClock(START), threadpool_threads=threads)


def test_a_held_activity_holds_up_episodes_when_the_pool_has_one_thread() -> None:
    with _host(threads=1) as host:
        holding = host.start_orchestration("holder", "a")
        wait_until(lambda: worker_state.held == ["a"])  # the pool's only thread is taken
        waiting = host.start_orchestration("marked")
        # The host dispatched the episode (maxConcurrentOrchestratorFunctions is 4) and the
        # worker queued it behind the activity: its orchestrator code has not run.
        wait_until(lambda: host.workers.stats().waiting == 1)
        assert worker_state.episodes == []
        status = host.status(waiting)
        assert status is not None and status.runtime_status is RuntimeStatus.PENDING
        worker_state.release.set()
        assert (
            host.wait_for(waiting, timeout=HANG_SECONDS).runtime_status is RuntimeStatus.COMPLETED
        )
        assert host.wait_for(holding, timeout=HANG_SECONDS).output == "a"
    assert worker_state.episodes[0] == waiting


def test_a_second_thread_lets_episodes_pass_a_held_activity() -> None:
    with _host(threads=2) as host:
        holding = host.start_orchestration("holder", "a")
        wait_until(lambda: worker_state.held == ["a"])
        done = host.wait_for(host.start_orchestration("marked"), timeout=HANG_SECONDS)
        assert done.runtime_status is RuntimeStatus.COMPLETED
        still = host.status(holding)
        assert still is not None and still.runtime_status is RuntimeStatus.RUNNING
        worker_state.release.set()
        assert host.wait_for(holding, timeout=HANG_SECONDS).output == "a"


def test_an_activity_waits_for_the_pool_like_an_episode() -> None:
    with _host(threads=2) as host:
        first = host.start_orchestration("holder", "a")
        wait_until(lambda: worker_state.held == ["a"])
        fan_out = host.start_orchestration("holders", ["b", "c"])
        # the episode ran on the second thread; of its two activities one now holds that
        # thread and the other waits in the worker's queue, though the host dispatched both
        wait_until(lambda: len(worker_state.held) == 2 and host.workers.stats().waiting == 1)
        assert host.workers.stats().running == 2
        worker_state.release.set()
        assert host.wait_for(first, timeout=HANG_SECONDS).output == "a"
        assert host.wait_for(fan_out, timeout=HANG_SECONDS).output == ["b", "c"]


def test_sync_code_runs_on_the_pool_and_async_code_on_the_event_loop() -> None:
    with _host(threads=1) as host:
        done = host.wait_for(host.start_orchestration("placement"), timeout=HANG_SECONDS)
    assert done.output["sync"]["thread"].startswith("devhost-worker")
    assert done.output["async"]["thread"] == "devhost-asyncio"
    assert done.output["sync"]["pid"] == done.output["async"]["pid"] == os.getpid()


def test_pool_size_comes_from_the_app_setting() -> None:
    with app_settings({"PYTHON_THREADPOOL_THREAD_COUNT": "3"}), _host() as host:
        assert host.workers.stats().threads == 3
    with app_settings({"PYTHON_THREADPOOL_THREAD_COUNT": ""}), _host() as host:
        assert host.workers.stats().threads == default_threadpool_size()


@pytest.mark.parametrize(
    ("value", "expected"), [("", None), ("1", 1), (" 40 ", 40), ("0", None), ("x", None)]
)
def test_threadpool_setting_is_read_as_the_worker_reads_it(
    value: str, expected: int | None
) -> None:
    assert threadpool_thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": value}) == expected

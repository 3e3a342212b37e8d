"""Orchestrator code in worker processes (``FUNCTIONS_WORKER_PROCESS_COUNT``), as the Functions
host runs a Python app: the same results and the same failures as in the host's own process."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from devhost import DevHost, RuntimeStatus, VirtualClock
from devhost.config import worker_process_count
from devhost.errors import IndexingError
from devhost.workers import OrchestratorWorkers

from .conftest import SAMPLE_APP, START

#: A spawned worker imports the app before its first episode.
STARTUP = 60.0


@pytest.fixture
def worker_host() -> Iterator[DevHost]:
    with DevHost(SAMPLE_APP, clock=VirtualClock(START), worker_processes=1) as running:
        yield running


def test_orchestrators_run_in_a_worker_process(worker_host: DevHost) -> None:
    in_worker = worker_host.wait_for(
        worker_host.start_orchestration("which_process"), timeout=STARTUP
    )
    assert in_worker.runtime_status is RuntimeStatus.COMPLETED
    assert in_worker.output != os.getpid()
    with DevHost(SAMPLE_APP, clock=VirtualClock(START)) as in_process:
        here = in_process.wait_for(in_process.start_orchestration("which_process"), timeout=5)
    assert here.output == os.getpid()


def test_a_worker_gives_the_same_results_and_failures(worker_host: DevHost) -> None:
    parent_id = worker_host.start_orchestration("parent", instance_id="parent-1")
    sequence_id = worker_host.start_orchestration("sequence", {"n": 3})
    done = worker_host.wait_for(parent_id, timeout=STARTUP)
    assert done.runtime_status is RuntimeStatus.COMPLETED
    assert done.output["results"] == [9, 16, 25]
    assert done.output["failure"].startswith("Orchestrator function 'child' failed: child boom")
    boom = worker_host.status("parent-1:child-a-boom")
    assert boom is not None and boom.runtime_status is RuntimeStatus.FAILED
    assert boom.output.startswith("Orchestrator function 'child' failed: child boom")
    sequence = worker_host.wait_for(sequence_id, timeout=STARTUP)
    assert sequence.output == ["STEP0", "STEP1", "STEP2"]


@pytest.mark.parametrize(("value", "expected"), [("", 0), ("1", 1), (" 4 ", 4), ("10", 10)])
def test_worker_process_count_setting(value: str, expected: int) -> None:
    assert worker_process_count({"FUNCTIONS_WORKER_PROCESS_COUNT": value}) == expected
    assert worker_process_count({}) == 0


@pytest.mark.parametrize("value", ["0", "11", "two", "-1"])
def test_worker_process_count_must_be_1_to_10(value: str) -> None:
    with pytest.raises(IndexingError, match="FUNCTIONS_WORKER_PROCESS_COUNT"):
        worker_process_count({"FUNCTIONS_WORKER_PROCESS_COUNT": value})


def test_workers_outlive_a_host_crash_and_come_back_after_a_stop(worker_host: DevHost) -> None:
    def worker_pid() -> int:
        done = worker_host.wait_for(
            worker_host.start_orchestration("which_process"), timeout=STARTUP
        )
        assert done.runtime_status is RuntimeStatus.COMPLETED
        return int(done.output)

    first = worker_pid()
    worker_host.restart()  # the engine crashes and recovers; the language worker stays
    assert worker_pid() == first
    worker_host.stop()
    worker_host.start()
    assert worker_pid() not in (first, os.getpid())


def test_a_worker_that_dies_is_replaced(worker_host: DevHost) -> None:
    first = worker_host.wait_for(worker_host.start_orchestration("which_process"), timeout=STARTUP)
    os.kill(int(first.output), signal.SIGKILL)
    again = worker_host.wait_for(worker_host.start_orchestration("which_process"), timeout=STARTUP)
    assert again.runtime_status is RuntimeStatus.COMPLETED
    assert again.output not in (first.output, os.getpid())


def test_stopped_workers_refuse_at_once_instead_of_waiting() -> None:
    workers = OrchestratorWorkers(SAMPLE_APP, "function_app:app", 1)
    workers.close()
    for _ in range(2):  # the refused caller hands the (dead) worker on, so the next is refused too
        with pytest.raises(RuntimeError, match="stopped"):
            workers.invoke("sequence", "{}")

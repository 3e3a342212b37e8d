"""The app's code in language-worker processes (``FUNCTIONS_WORKER_PROCESS_COUNT``), as the
Functions host runs a Python app: the same results and the same failures as in the host's own
process, invocations spread over the processes, and a process that dies fails what it ran."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devhost import DevHost, HostFaults, RuntimeStatus, VirtualClock
from devhost.config import worker_process_count
from devhost.errors import IndexingError
from devhost.faults import FaultKind
from devhost.indexing import index_app, load_app
from devhost.invoke import Returned, TimedOut, WorkerExited
from devhost.workers import ProcessWorkers

from .conftest import SAMPLE_APP, START
from .worker_app_support import HANG_SECONDS, WORKER_APP, wait_until

#: A spawned worker imports the app before its first episode: only a hang takes this long.
STARTUP = HANG_SECONDS


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
        here = in_process.wait_for(in_process.start_orchestration("which_process"), timeout=STARTUP)
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
    workers = worker_host.workers
    assert isinstance(workers, ProcessWorkers)
    # the host notices the exit and starts a replacement before it sends anything more
    wait_until(lambda: int(first.output) not in workers.pids() and len(workers.pids()) == 1)
    again = worker_host.wait_for(worker_host.start_orchestration("which_process"), timeout=STARTUP)
    assert again.runtime_status is RuntimeStatus.COMPLETED
    assert again.output not in (first.output, os.getpid())


def test_stopped_workers_refuse_at_once_instead_of_waiting() -> None:
    workers = ProcessWorkers(SAMPLE_APP, "function_app:app", 1)
    workers.close()
    for _ in range(2):  # the refused caller hands the (dead) worker on, so the next is refused too
        with pytest.raises(RuntimeError, match="stopped"):
            workers.invoke("sequence", "{}")


def test_activities_run_in_the_worker_processes_sync_and_async() -> None:
    with DevHost(WORKER_APP, clock=VirtualClock(START), worker_processes=1) as host:
        done = host.wait_for(host.start_orchestration("placement"), timeout=STARTUP)
        (pid,) = host.workers.pids()  # type: ignore[attr-defined]
    assert done.output["sync"]["pid"] == done.output["async"]["pid"] == pid != os.getpid()
    assert done.output["sync"]["thread"].startswith("devhost-worker")
    assert done.output["async"]["thread"] == "devhost-asyncio"


def test_invocations_are_spread_over_the_processes_round_robin() -> None:
    index = index_app(load_app(WORKER_APP), WORKER_APP)
    where = index.activity("where")
    assert where is not None
    workers = ProcessWorkers(WORKER_APP, "function_app:app", 2, threads=1)
    try:
        outcomes = [workers.run_activity(where, "1", None, timeout=STARTUP) for _ in range(4)]
        pids = sorted(workers.pids())
    finally:
        workers.close()
    answered = [json.loads(o.value)["pid"] for o in outcomes if isinstance(o, Returned)]
    assert sorted(answered) == sorted(pids * 2)


def test_a_worker_that_dies_mid_activity_fails_every_invocation_on_it(tmp_path: Path) -> None:
    index = index_app(load_app(WORKER_APP), WORKER_APP)
    hold = index.activity("hold_file")
    where = index.activity("where")
    assert hold is not None and where is not None
    gate = str(tmp_path / "gate")
    workers = ProcessWorkers(WORKER_APP, "function_app:app", 1, threads=2)
    try:
        first = json.loads(_value(workers.run_activity(where, "0", None, timeout=STARTUP)))
        with ThreadPoolExecutor(1) as caller:
            held = caller.submit(
                workers.run_activity, hold, json.dumps(gate), None, timeout=STARTUP
            )
            wait_until(lambda: Path(gate + ".entered").exists())  # in flight on the worker
            died = workers.run_activity(
                where, "1", None, timeout=STARTUP, fault=FaultKind.WORKER_DIES
            )
            assert died == WorkerExited(137)
            assert held.result(timeout=STARTUP) == WorkerExited(137)
        again = json.loads(_value(workers.run_activity(where, "2", None, timeout=STARTUP)))
    finally:
        workers.close()
    assert again["pid"] != first["pid"]  # a replacement process answered


def test_an_injected_worker_death_in_a_worker_process_fails_the_task() -> None:
    faults = HostFaults(worker_dies={"where": 1})
    with DevHost(WORKER_APP, clock=VirtualClock(START), worker_processes=1, faults=faults) as host:
        done = host.wait_for(host.start_orchestration("attempts", [1, 2]), timeout=STARTUP)
    assert done.output[0]["error"].startswith(
        "Activity function 'where' failed: python exited with code 137 (0x89) \n "
    )
    assert done.output[1] == {"ok": 2}


def _value(outcome: object) -> str:
    assert isinstance(outcome, Returned), outcome
    return str(outcome.value)


def test_a_function_timeout_restarts_the_worker_process(tmp_path: Path) -> None:
    index = index_app(load_app(WORKER_APP), WORKER_APP)
    hold = index.activity("hold_file")
    where = index.activity("where")
    assert hold is not None and where is not None
    workers = ProcessWorkers(WORKER_APP, "function_app:app", 1, threads=2)
    try:
        first = json.loads(_value(workers.run_activity(where, "0", None, timeout=STARTUP)))
        with ThreadPoolExecutor(1) as caller:
            other = str(tmp_path / "other")
            bystander = caller.submit(
                workers.run_activity, hold, json.dumps(other), None, timeout=STARTUP
            )
            wait_until(lambda: Path(other + ".entered").exists())
            # functionTimeout of one second for this invocation; nothing ever releases it
            timed_out = workers.run_activity(
                hold, json.dumps(str(tmp_path / "late")), None, timeout=1.0
            )
            assert timed_out == TimedOut(1.0)
            # the restart takes the other invocation with it: it is answered as timed out too
            assert bystander.result(timeout=STARTUP) == TimedOut(STARTUP)
        again = json.loads(_value(workers.run_activity(where, "1", None, timeout=STARTUP)))
    finally:
        workers.close()
    assert again["pid"] != first["pid"]

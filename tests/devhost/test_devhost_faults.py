"""Injected activity faults end as the real host ends them: the history event, its reason and
details, whether the activity's code ran, whether it is retried."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost import DevHost, HostFaults, RuntimeStatus, VirtualClock
from devhost.config import HostConfig, app_settings, format_timespan, parse_timespan
from devhost.errors import IndexingError
from devhost.faults import ActivityCall, FaultKind
from devhost.protocol import EventType

from .conftest import START
from .worker_app_support import HANG_SECONDS, WORKER_APP, worker_state


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    worker_state.reset()
    yield
    worker_state.release.set()


def _run(faults: HostFaults, values: list[Any]) -> tuple[list[dict[str, Any]], DevHost]:
    with DevHost(WORKER_APP, clock=VirtualClock(START), faults=faults) as host:
        done = host.wait_for(host.start_orchestration("attempts", values), timeout=HANG_SECONDS)
        assert done.runtime_status is RuntimeStatus.COMPLETED
    return done.output, host


def _failures(host: DevHost) -> list[dict[str, Any]]:
    (instance_id,) = host.store.instance_ids()
    instance = host.store.get(instance_id)
    assert instance is not None
    return [e for e in instance.history if e["EventType"] == EventType.TASK_FAILED]


def test_an_activity_that_raises_fails_its_task_without_running() -> None:
    faults = HostFaults(raises={"where": 1})
    results, host = _run(faults, [1, 2])
    assert results[1] == {"ok": 2}
    reason = (
        "Activity function 'where' failed: InjectedActivityError: "
        "devhost injected a failure into activity 'where'"
    )
    assert results[0]["error"].startswith(reason + " \n ")
    assert [e["Reason"] for e in _failures(host)] == [reason]
    assert worker_state.side_effects == ["where:2"]  # the first invocation's code never ran
    assert faults.injected == {(FaultKind.RAISES, "where"): 1}


def test_a_worker_that_dies_mid_activity_fails_its_task_as_the_host_does() -> None:
    results, host = _run(HostFaults(worker_dies={"WHERE": 1}), [1, 2])
    reason = "Activity function 'where' failed: python exited with code 137 (0x89)"
    (failed,) = _failures(host)
    assert failed["Reason"] == reason
    details = json.loads(failed["Details"])
    assert details["$type"] == (
        "Microsoft.Azure.WebJobs.Script.Workers.WorkerProcessExitException, "
        "Microsoft.Azure.WebJobs.Script"
    )
    assert details["Message"] == "python exited with code 137 (0x89)"
    assert results[0]["error"].startswith(reason + " \n ")
    assert results[1] == {"ok": 2}
    # the code ran before the process died, and the host does not run it again
    assert worker_state.side_effects == ["where:1", "where:2"]


def test_a_function_timeout_fails_the_task_with_the_hosts_message() -> None:
    results, host = _run(HostFaults(times_out={"where": 1}), [1])
    reason = (
        "Activity function 'where' failed: "
        "Timeout value of 00:30:00 was exceeded by function: Functions.where"
    )
    (failed,) = _failures(host)
    assert failed["Reason"] == reason
    details = json.loads(failed["Details"])
    assert details["$type"].startswith("Microsoft.Azure.WebJobs.Host.FunctionTimeoutException,")
    assert details["Timeout"] == "00:30:00"
    assert results == [{"error": results[0]["error"]}]
    assert worker_state.side_effects == ["where:1"]


def test_the_timeout_comes_from_host_json_or_its_app_setting() -> None:
    with app_settings({"AzureFunctionsJobHost__functionTimeout": "00:10:00"}):
        _, host = _run(HostFaults(times_out={"where": 1}), [1])
    (failed,) = _failures(host)
    assert (
        "Timeout value of 00:10:00 was exceeded by function: Functions.where" in (failed["Reason"])
    )


def test_an_aborted_activity_is_delivered_again() -> None:
    faults = HostFaults(aborts={"where": 1})
    results, host = _run(faults, [1])
    assert results == [{"ok": 1}]
    assert _failures(host) == []
    assert worker_state.side_effects == ["where:1", "where:1"]
    assert host.stats().activity_crashes == 1


def test_a_predicate_chooses_the_invocations_and_star_matches_any_activity() -> None:
    calls: list[ActivityCall] = []

    def second_value(call: ActivityCall) -> bool:
        calls.append(call)
        return bool(call.input == 2)

    results, _ = _run(HostFaults(times_out={"*": second_value}), [1, 2, 3])
    assert "ok" in results[0] and "error" in results[1] and "ok" in results[2]
    assert [(c.name, c.input, c.attempt) for c in calls] == [
        ("where", 1, 1),
        ("where", 2, 2),
        ("where", 3, 3),
    ]


def test_the_first_matching_kind_wins() -> None:
    faults = HostFaults(raises={"where": 1}, times_out={"where": 2})
    results, _ = _run(faults, [1, 2, 3])
    assert "InjectedActivityError" in results[0]["error"]
    assert "Timeout value" in results[1]["error"]
    assert results[2] == {"ok": 3}
    assert faults.injected == {
        (FaultKind.RAISES, "where"): 1,
        (FaultKind.TIMES_OUT, "where"): 1,
    }


def test_an_activity_running_past_function_timeout_is_failed_by_the_host() -> None:
    # a real timeout: the activity blocks until released, functionTimeout is one second
    with (
        app_settings({"AzureFunctionsJobHost__functionTimeout": "00:00:01"}),
        DevHost(WORKER_APP, clock=VirtualClock(START)) as host,
    ):
        instance_id = host.start_orchestration("holder", "a")
        done = host.wait_for(instance_id, timeout=HANG_SECONDS)
        worker_state.release.set()
    assert done.runtime_status is RuntimeStatus.FAILED
    assert (
        "Activity function 'hold' failed: Timeout value of 00:00:01 was exceeded by function: "
        "Functions.hold"
    ) in done.output


@pytest.mark.parametrize("plan", [True, -1, "1"])
def test_a_fault_plan_is_a_count_or_a_predicate(plan: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        HostFaults(raises={"where": plan})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:05:00", 300.0),
        ("1.02:03:04", 93_784.0),
        ("00:00:01.5", 1.5),
        ("-1", -86_400.0),
        ("2", 172_800.0),
    ],
)
def test_timespans_parse_as_dotnet_parses_them(text: str, seconds: float) -> None:
    assert parse_timespan(text) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(300.0, "00:05:00"), (93_784.0, "1.02:03:04"), (1.5, "00:00:01.5000000"), (1800, "00:30:00")],
)
def test_timespans_format_as_dotnet_formats_them(seconds: float, text: str) -> None:
    assert format_timespan(seconds) == text


def test_function_timeout_settings(tmp_path: Path) -> None:
    assert HostConfig.from_app_dir(tmp_path, {}).function_timeout == 1800.0
    (tmp_path / "host.json").write_text(json.dumps({"functionTimeout": "00:10:00"}))
    assert HostConfig.from_app_dir(tmp_path, {}).function_timeout == 600.0
    setting = {"AzureFunctionsJobHost__functionTimeout": "-1"}
    assert HostConfig.from_app_dir(tmp_path, setting).function_timeout is None
    (tmp_path / "host.json").write_text(json.dumps({"functionTimeout": "00:00:00.5"}))
    with pytest.raises(IndexingError, match="FunctionTimeout"):
        HostConfig.from_app_dir(tmp_path, {})

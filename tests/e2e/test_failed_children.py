"""A child that fails never costs the run its report.

The Durable SDK's ``task_all`` ends at the first failed child, and an activity's failure is
thrown into the orchestrator. devhost injects what the real host does to an activity (it raises,
its worker process dies mid-activity, it outlives ``functionTimeout``); each must still end in a
full report: one row per server, every problem named.
"""

from __future__ import annotations

from typing import Any

import pytest

from armemulator import ServerSpec
from devhost import HostFaults
from tests.e2e.conftest import SAS, SUB, StackFactory

FLEET = tuple(ServerSpec(SUB, "rg", f"f{i}", export_seconds=600) for i in range(4))
KINDS = ("raises", "worker_dies", "times_out")


def _body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"discover": {"subscriptions": [SUB]}, "target": {"sasUriList": [SAS]}}
    body.update(extra)
    return body


@pytest.mark.parametrize("kind", KINDS)
def test_failed_probe_submissions_still_end_in_a_full_report(
    make_stack: StackFactory, kind: str
) -> None:
    faults = HostFaults(**{kind: {"submit_export": 2}})  # the first two probes fail
    stack = make_stack(fleet=FLEET, host_options={"faults": faults})
    report = stack.run(_body(maxConcurrency=4))
    assert sum(faults.injected.values()) == 2
    assert sorted(r["id"].rsplit("/", 1)[1] for r in report["servers"]) == ["f0", "f1", "f2", "f3"]
    # a failed probe is that server's transient error: its own orchestration submits again
    assert report["summary"]["succeeded"] == 4, report["servers"]
    assert report["breaker"] is None
    assert report["summary"]["outcome"] == "Succeeded"


@pytest.mark.parametrize("kind", KINDS)
def test_a_listing_that_keeps_failing_is_that_scope_s_problem(
    make_stack: StackFactory, kind: str
) -> None:
    other = "00000000-aaaa-bbbb-cccc-dddddddddddd"
    fleet = (*FLEET, ServerSpec(other, "rg", "elsewhere", export_seconds=600))

    def only_other(call: Any) -> bool:
        return bool(call.input.get("subscription") == other)

    faults = HostFaults(**{kind: {"list_scope": only_other}})
    stack = make_stack(fleet=fleet, host_options={"faults": faults})
    report = stack.run(_body(discover={"subscriptions": [SUB, other]}))
    assert report["summary"]["succeeded"] == 4  # the scope that could be listed is exported
    assert [p["code"] for p in report["problems"]] == ["ActivityFailed"]
    assert other in report["problems"][0]["scope"]
    assert report["summary"]["outcome"] == "PartiallySucceeded"


def test_a_listing_that_fails_once_is_listed_again(make_stack: StackFactory) -> None:
    faults = HostFaults(raises={"list_scope": 1})
    stack = make_stack(fleet=FLEET, host_options={"faults": faults})
    report = stack.run(_body())
    assert report["summary"]["succeeded"] == 4 and report["problems"] == []


@pytest.mark.parametrize("kind", KINDS)
def test_failed_dry_run_validations_are_rows(make_stack: StackFactory, kind: str) -> None:
    faults = HostFaults(**{kind: {"validate_server": 1}})
    stack = make_stack(fleet=FLEET, host_options={"faults": faults})
    report = stack.run(_body(dryRun=True))
    states = sorted(r["status"] for r in report["servers"])
    assert states == ["Failed", "Succeeded", "Succeeded", "Succeeded"]
    failed = next(r for r in report["servers"] if r["status"] == "Failed")
    assert (
        failed["error"]["code"] == "ActivityFailed"
        and "validate_server" in failed["error"]["message"]
    )

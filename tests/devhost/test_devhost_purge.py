"""Purging history through the durable HTTP API, as the extension answers it over Azure Storage.

The Python SDK's ``purge_instance_history`` / ``purge_instance_history_by`` and raw requests to the
RPC endpoint, against instances the sample app really ran (``devhost.management`` cites the
extension's handler and the provider's purge for each rule shown here).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import requests
from azure.durable_functions import DurableOrchestrationClient, OrchestrationRuntimeStatus

from devhost import DevHost, RuntimeStatus, VirtualClock
from devhost.invoke import shared_loop
from tests.waits import HANG_SECONDS

from .conftest import START

FINISHED = [
    OrchestrationRuntimeStatus.Completed,
    OrchestrationRuntimeStatus.Failed,
    OrchestrationRuntimeStatus.Terminated,
]
HOUR = 3600.0


def _run(coroutine: Any) -> Any:
    return shared_loop().run(coroutine, timeout=HANG_SECONDS)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _iso(epoch: float) -> str:
    return _at(epoch).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ids(host: DevHost) -> set[str]:
    return set(host.store.instance_ids())


def _purge(host: DevHost, query: str) -> requests.Response:
    return requests.delete(f"{host.endpoints.rpc_base}instances/?{query}", timeout=HANG_SECONDS)


def _finished(host: DevHost, name: str, instance_id: str, data: Any = None) -> None:
    host.start_orchestration(name, data, instance_id=instance_id)
    host.wait_for(instance_id, timeout=HANG_SECONDS)


def _settled(host: DevHost, instance_id: str) -> bool:
    found = host.store.get(instance_id, with_history=False)
    return found is not None and found.status is RuntimeStatus.RUNNING and not found.pending


def _wait_settled(host: DevHost, instance_id: str) -> None:
    """Wait until the instance has run its episode and waits (only a hang reaches the bound)."""
    deadline = time.monotonic() + HANG_SECONDS
    while not _settled(host, instance_id):
        assert time.monotonic() < deadline, f"{instance_id} did not settle"
        time.sleep(0.01)


def _waiting(host: DevHost, instance_id: str) -> None:
    """An instance that stays Running until an event it is never sent (no timer to advance)."""
    host.start_orchestration("external_events", None, instance_id=instance_id)
    _wait_settled(host, instance_id)


def _terminated(host: DevHost, instance_id: str) -> None:
    _waiting(host, instance_id)
    host.terminate(instance_id, "stop")
    host.wait_for(instance_id, timeout=HANG_SECONDS)


def test_purge_by_filter_deletes_finished_instances_created_in_the_range(
    host: DevHost, clock: VirtualClock
) -> None:
    client = DurableOrchestrationClient(host.client_binding())
    with host.hold_clock():
        _finished(host, "sequence", "old-completed", {"n": 1})
        _finished(host, "child", "old-failed", "boom")
        _terminated(host, "old-terminated")
        _waiting(host, "old-running")
        host.advance_clock(2 * HOUR)
        _finished(host, "sequence", "young-completed", {"n": 1})
        statuses = {i: host.store.get(i, with_history=False) for i in _ids(host)}
        assert {i: s.status for i, s in statuses.items() if s is not None} == {
            "old-completed": RuntimeStatus.COMPLETED,
            "old-failed": RuntimeStatus.FAILED,
            "old-terminated": RuntimeStatus.TERMINATED,
            "old-running": RuntimeStatus.RUNNING,
            "young-completed": RuntimeStatus.COMPLETED,
        }
        result = _run(
            client.purge_instance_history_by(
                created_time_from=_at(0),
                created_time_to=_at(START + HOUR),
                runtime_status=FINISHED,
            )
        )
        assert result.instances_deleted == 3
        assert _ids(host) == {"old-running", "young-completed"}
        # Nothing left to match: the host answers 404, which the SDK reads as none deleted.
        again = _purge(
            host,
            f"createdTimeFrom={_iso(0)}&createdTimeTo={_iso(START + HOUR)}"
            "&runtimeStatus=Completed,Failed,Terminated",
        )
        assert again.status_code == 404 and again.content == b""
        repeated = client.purge_instance_history_by(
            created_time_from=_at(0), created_time_to=_at(START + HOUR), runtime_status=FINISHED
        )
        assert _run(repeated).instances_deleted == 0


def test_both_bounds_are_inclusive_and_the_upper_one_defaults_to_the_hosts_now(
    host: DevHost, clock: VirtualClock
) -> None:
    with host.hold_clock():
        _finished(host, "sequence", "first", {"n": 1})
        host.advance_clock(HOUR)
        _finished(host, "sequence", "second", {"n": 1})
        host.advance_clock(HOUR)
        _finished(host, "sequence", "third", {"n": 1})
        only_second = _purge(
            host,
            f"createdTimeFrom={_iso(START + HOUR)}&createdTimeTo={_iso(START + HOUR)}"
            "&runtimeStatus=Completed",
        )
        assert only_second.status_code == 200
        assert only_second.json() == {"instancesDeleted": 1}
        assert _ids(host) == {"first", "third"}
        # No createdTimeTo: up to the host's clock (virtual here), so "third" goes too.
        rest = _purge(host, f"createdTimeFrom={_iso(START)}&runtimeStatus=Completed")
        assert rest.json() == {"instancesDeleted": 2}
        assert _ids(host) == set()


def test_a_purge_without_created_time_from_is_refused(host: DevHost) -> None:
    with host.hold_clock():
        _finished(host, "sequence", "kept", {"n": 1})
        for query in ("runtimeStatus=Completed", "createdTimeFrom=yesterday"):
            refused = _purge(host, query)
            assert refused.status_code == 400
            assert refused.json() == "Please provide value for 'createdTimeFrom' parameter."
    assert _ids(host) == {"kept"}


def test_without_a_finished_status_the_purge_has_no_status_condition(host: DevHost) -> None:
    """Azure Storage drops every status but Completed, Terminated, Canceled and Failed from the
    request, and a request left with none deletes every instance in the range, running ones
    too. A lower-case ``completed`` is no status at all to ``Enum.TryParse``."""
    for query in ("", "&runtimeStatus=Running", "&runtimeStatus=completed", "&runtimeStatus=x"):
        with host.hold_clock():
            _finished(host, "sequence", "done", {"n": 1})
            _waiting(host, "running")
            answer = _purge(host, f"createdTimeFrom={_iso(0)}{query}")
            assert answer.json() == {"instancesDeleted": 2}, query
            assert _ids(host) == set(), query


def test_finished_statuses_are_case_sensitive_names_or_numbers(host: DevHost) -> None:
    with host.hold_clock():
        _finished(host, "sequence", "done", {"n": 1})
        _terminated(host, "stopped")
        _waiting(host, "running")
        # OrchestrationStatus: 1 is Completed, 0 Running (dropped: not a finished status).
        by_number = _purge(host, f"createdTimeFrom={_iso(0)}&runtimeStatus= 1 ,0")
        assert by_number.json() == {"instancesDeleted": 1}
        assert _ids(host) == {"stopped", "running"}
        # Canceled is a finished status the provider keeps; no instance here has it.
        canceled = _purge(host, f"createdTimeFrom={_iso(0)}&runtimeStatus=Canceled,Running")
        assert canceled.status_code == 404
        repeated = _purge(
            host, f"createdTimeFrom={_iso(0)}&runtimeStatus=Terminated&runtimeStatus=Completed"
        )
        assert repeated.json() == {"instancesDeleted": 1}
        assert _ids(host) == {"running"}


def test_purge_by_id_deletes_any_status_and_leaves_sub_orchestrations(host: DevHost) -> None:
    client = DurableOrchestrationClient(host.client_binding())
    with host.hold_clock():
        _finished(host, "parent", "p")
        children = {i for i in _ids(host) if i != "p"}
        assert {"p:child-a", "p:child-a-boom"} <= children and len(children) == 4
        assert _run(client.purge_instance_history("p")).instances_deleted == 1
        assert _ids(host) == children
        _waiting(host, "running")
        assert _run(client.purge_instance_history("running")).instances_deleted == 1
        assert "running" not in _ids(host)
        missing = requests.delete(
            f"{host.endpoints.rpc_base}instances/nobody", timeout=HANG_SECONDS
        )
        assert missing.status_code == 404
        assert _run(client.purge_instance_history("nobody")).instances_deleted == 0


def test_continue_as_new_moves_the_created_time_to_the_latest_execution(host: DevHost) -> None:
    with host.hold_clock():
        host.start_orchestration("collector", {"items": [], "want": 2}, instance_id="c")
        _wait_settled(host, "c")
        host.advance_clock(HOUR)
        host.raise_event("c", "Item", 1)
        deadline = time.monotonic() + HANG_SECONDS
        while not (_settled(host, "c") and host.store.get("c", with_history=True).history):  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the second execution did not start"
            time.sleep(0.01)
        continued = host.store.get("c", with_history=False)
        assert continued is not None and continued.status is RuntimeStatus.RUNNING
        assert continued.created_time == START + HOUR
        status = requests.get(f"{host.endpoints.rpc_base}instances/c", timeout=HANG_SECONDS).json()
        assert status["createdTime"] == "2025-01-01T01:00:00Z"
        host.raise_event("c", "Item", 2)
        host.wait_for("c", timeout=HANG_SECONDS)
        before = _purge(
            host, f"createdTimeFrom={_iso(0)}&createdTimeTo={_iso(START)}&runtimeStatus=Completed"
        )
        assert before.status_code == 404
        assert _ids(host) == {"c"}

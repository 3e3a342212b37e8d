"""Over loopback HTTP: app routes, management URLs, the SDK's real client, timer triggers, CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import devhost_sample_state as sample_state
import pytest
import requests
from azure.durable_functions import DurableOrchestrationClient, OrchestrationRuntimeStatus

from devhost import DevHost, RuntimeStatus, VirtualClock
from devhost.cli import main
from devhost.invoke import shared_loop
from tests.waits import HANG_SECONDS

from .conftest import SAMPLE_APP, make_host

REPO_ROOT = Path(__file__).resolve().parents[2]


def _wait_until(predicate: Callable[[], bool], timeout: float = HANG_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def _run(coroutine: Any) -> Any:
    return shared_loop().run(coroutine, timeout=HANG_SECONDS)


def test_http_routes_match_templates_and_methods(host: DevHost) -> None:
    assert requests.get(f"{host.url}/api/hello/bob", timeout=HANG_SECONDS).text == "hello bob"
    assert requests.get(f"{host.url}/api/hello?name=ann", timeout=HANG_SECONDS).text == "hello ann"
    assert requests.post(f"{host.url}/api/hello", timeout=HANG_SECONDS).status_code == 404
    assert requests.get(f"{host.url}/api/nowhere", timeout=HANG_SECONDS).status_code == 404


def test_status_url_answers_202_with_location_then_200(host: DevHost) -> None:
    with host.hold_clock():
        started = requests.post(
            f"{host.url}/api/orchestrators/approval", json=1, timeout=HANG_SECONDS
        )
        assert started.status_code == 202
        links = started.json()
        assert started.headers["Location"] == links["statusQueryGetUri"]
        assert set(links) >= {
            "id",
            "statusQueryGetUri",
            "sendEventPostUri",
            "terminatePostUri",
            "purgeHistoryDeleteUri",
            "restartPostUri",
        }
        assert "taskHub=DevhostSampleHub&connection=Storage" in links["statusQueryGetUri"]
        running = requests.get(links["statusQueryGetUri"], timeout=HANG_SECONDS)
        assert running.status_code == 202
        assert running.headers["Location"] == links["statusQueryGetUri"]
        assert running.headers["Retry-After"] == "5"
        assert running.json()["runtimeStatus"] in ("Pending", "Running")
        raised = requests.post(
            links["sendEventPostUri"].replace("{eventName}", "Approval"),
            json={"by": "ops"},
            timeout=HANG_SECONDS,
        )
        assert raised.status_code == 202
        host.wait_for(links["id"], timeout=HANG_SECONDS)
    finished = requests.get(links["statusQueryGetUri"] + "&showHistory=true", timeout=HANG_SECONDS)
    assert finished.status_code == 200
    assert "Location" not in finished.headers
    body = finished.json()
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == {"approved": {"by": "ops"}, "followup": "APPROVED"}
    assert body["createdTime"] == "2025-01-01T00:00:00Z"
    assert body["historyEvents"][0]["EventType"] == "ExecutionStarted"
    gone = requests.post(links["terminatePostUri"].replace("{text}", "late"), timeout=HANG_SECONDS)
    assert gone.status_code == 410
    missing = links["statusQueryGetUri"].replace(links["id"], "nope")
    assert requests.get(missing, timeout=HANG_SECONDS).status_code == 404


def test_sdk_client_through_an_http_starter_and_directly(host: DevHost) -> None:
    client = DurableOrchestrationClient(host.client_binding())
    with host.hold_clock():
        instance_id = _run(client.start_new("approval", client_input=1))
        status = _run(client.get_status(instance_id))
        assert status.runtime_status in (
            OrchestrationRuntimeStatus.Pending,
            OrchestrationRuntimeStatus.Running,
        )
        via_function = requests.get(
            f"{host.url}/api/status/{instance_id}", timeout=HANG_SECONDS
        ).json()
        assert via_function["instanceId"] == instance_id
        # The SDK JSON-encodes event data before posting it as JSON, so the orchestrator
        # receives the JSON text, exactly as with the real host.
        _run(client.raise_event(instance_id, "Approval", {"ok": True}))
        done = host.wait_for(instance_id, timeout=HANG_SECONDS)
        assert done.output["approved"] == '{"ok": true}'

        second = _run(client.start_new("approval", instance_id="fixed-id", client_input=1))
        assert second == "fixed-id"
        with pytest.raises(Exception, match="already exists"):
            _run(client.start_new("approval", instance_id="fixed-id"))
        _run(client.terminate("fixed-id", "enough"))
        terminated = host.wait_for("fixed-id", timeout=HANG_SECONDS)
    assert terminated.runtime_status is RuntimeStatus.TERMINATED
    assert terminated.output == "enough"
    all_statuses = _run(client.get_status_all())
    assert {s.instance_id for s in all_statuses} == {instance_id, "fixed-id"}
    by_status = _run(client.get_status_by(runtime_status=[OrchestrationRuntimeStatus.Terminated]))
    assert [s.instance_id for s in by_status] == ["fixed-id"]
    with pytest.raises(Exception, match="doesn't exist, is disabled"):
        _run(client.start_new("no_such_orchestrator"))
    assert _run(client.purge_instance_history("fixed-id")).instances_deleted == 1
    assert not _run(client.get_status("fixed-id"))


def test_http_starter_uses_create_check_status_response(host: DevHost) -> None:
    response = requests.post(f"{host.url}/api/jobs", json={"count": 3}, timeout=HANG_SECONDS)
    assert response.status_code == 202
    assert response.headers["Retry-After"] == "10"
    instance_id = response.json()["id"]
    assert response.headers["Location"].startswith(f"{host.url}/runtime/webhooks/durabletask/")
    done = host.wait_for(instance_id, timeout=HANG_SECONDS)
    assert done.output == {"count": 3, "squares": [0, 1, 4]}
    # The SDK's terminate accepts the host's 410 for a finished instance.
    terminated = requests.post(
        f"{host.url}/api/status/{instance_id}/terminate", timeout=HANG_SECONDS
    )
    assert terminated.status_code == 202
    assert host.status(instance_id).runtime_status is RuntimeStatus.COMPLETED  # type: ignore[union-attr]
    failing = requests.post(f"{host.url}/api/orchestrators/nope", timeout=HANG_SECONDS)
    assert failing.status_code == 500
    assert "Functions.start" in failing.text and "doesn't exist" in failing.text


def test_function_key_is_enforced_when_configured(clock: VirtualClock) -> None:
    host = make_host(clock, function_key="s3cret")
    try:
        url = host.url
        assert requests.get(f"{url}/api/secure/ping", timeout=HANG_SECONDS).status_code == 401
        assert (
            requests.get(f"{url}/api/secure/ping?code=s3cret", timeout=HANG_SECONDS).text == "pong"
        )
        ping = requests.get(
            f"{url}/api/secure/ping", headers={"x-functions-key": "s3cret"}, timeout=HANG_SECONDS
        )
        assert ping.text == "pong"
        assert (
            requests.get(f"{url}/api/hello", timeout=HANG_SECONDS).status_code == 200
        )  # anonymous
        started = requests.post(f"{url}/api/jobs", json={"count": 1}, timeout=HANG_SECONDS).json()
        assert "code=s3cret" in started["statusQueryGetUri"]
        assert requests.get(started["statusQueryGetUri"], timeout=HANG_SECONDS).status_code in (
            200,
            202,
        )
        unkeyed = started["statusQueryGetUri"].replace("&code=s3cret", "")
        assert requests.get(unkeyed, timeout=HANG_SECONDS).status_code == 401
    finally:
        host.stop()


def test_timer_trigger_fires_on_the_virtual_clock(host: DevHost) -> None:
    host.advance_clock(3600)
    _wait_until(lambda: len(sample_state.timer_ticks) == 1)
    tick = sample_state.timer_ticks[0]
    assert tick == {
        "past_due": False,
        "last": "2025-01-01T01:00:00Z",
        "client": "DurableOrchestrationClient",
    }
    host.advance_clock(3 * 3600)
    _wait_until(lambda: len(sample_state.timer_ticks) == 2)
    assert sample_state.timer_ticks[1]["past_due"] is True


def test_run_command_follows_the_status_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"count": 4}))
    report = tmp_path / "out" / "report.json"
    code = main(
        [
            "run",
            str(request),
            "--route",
            "jobs",
            "--report",
            str(report),
            "--app-dir",
            str(SAMPLE_APP),
            "--virtual-clock",
            "--poll-interval",
            "0.02",
        ]
    )
    assert code == 0
    assert json.loads(report.read_text()) == {"count": 4, "squares": [0, 1, 4, 9]}
    printed = capsys.readouterr().out
    assert "Completed" in printed and "squares" in printed


def test_run_command_against_a_running_host(host: DevHost, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"count": 2}))
    code = main(
        ["run", str(request), "--route", "jobs", "--url", host.url, "--poll-interval", "0.02"]
    )
    assert code == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_command_runs_until_interrupted(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devhost",
            "serve",
            "--app-dir",
            str(SAMPLE_APP),
            "--port",
            str(port),
            "--virtual-clock",
            "--store",
            str(tmp_path),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _answers(f"{base}/admin/host/status"), timeout=HANG_SECONDS)
        started = requests.post(
            f"{base}/api/orchestrators/six_hour_timer", timeout=HANG_SECONDS
        ).json()
        _wait_until(
            lambda: (
                requests.get(started["statusQueryGetUri"], timeout=HANG_SECONDS).status_code == 200
            )
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=HANG_SECONDS)
    assert process.returncode == 0
    saved = json.loads((tmp_path / "devhost-store.json").read_text())
    assert saved["instances"][0]["status"] == "Completed"


def _answers(url: str) -> bool:
    """Whether a starting host answers yet (refused until it listens; a slow answer is awaited)."""
    try:
        return requests.get(url, timeout=HANG_SECONDS).status_code == 200
    except requests.ConnectionError:
        return False


def test_client_binding_matches_the_hosts_shape(host: DevHost) -> None:
    binding = json.loads(host.client_binding())
    assert binding["taskHubName"] == "DevhostSampleHub"
    assert binding["rpcBaseUrl"] == f"{host.url}/durabletask/"
    assert binding["managementUrls"]["id"] == "INSTANCEID"
    assert binding["managementUrls"]["statusQueryGetUri"].startswith(
        f"{host.url}/runtime/webhooks/durabletask/instances/INSTANCEID?taskHub="
    )

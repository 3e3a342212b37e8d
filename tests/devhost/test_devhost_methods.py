"""Any method token gets the Functions host's answer: 404 (no body) where no route takes it,
never BaseHTTPRequestHandler's HTML 501 page nor any other 5xx; a method that is not a token is
Kestrel's 400."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devhost import DevHost, VirtualClock
from tests.waits import HANG_SECONDS

ROOT = Path(__file__).resolve().parents[2]
TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def app_host() -> Iterator[DevHost]:
    """This app (its routes are what a caller meets), without timers."""
    with DevHost(
        ROOT, clock=VirtualClock(1_800_000_000), load_settings=False, timer_triggers=False
    ) as host:
        yield host


def _raw(host: DevHost, request_line: str) -> bytes:
    """Send one request line by hand; the answer's status line."""
    address = host.url.removeprefix("http://").split(":")
    with socket.create_connection((address[0], int(address[1])), timeout=HANG_SECONDS) as sock:
        sock.sendall(f"{request_line}\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode("latin-1"))
        return sock.recv(4096).split(b"\r\n", 1)[0]


@pytest.mark.parametrize(
    "method", ["TRACE", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "M-SEARCH"]
)
def test_a_method_no_route_takes_is_404_without_a_body(app_host: DevHost, method: str) -> None:
    answer = requests.request(method, f"{app_host.url}/api/exports", timeout=HANG_SECONDS)
    assert answer.status_code == 404
    assert answer.content == b""


def test_methods_are_matched_without_regard_to_case(app_host: DevHost) -> None:
    answer = requests.request(
        "post", f"{app_host.url}/api/exports", data=b"{", timeout=HANG_SECONDS
    )
    assert answer.status_code == 400  # the app's own answer to a body that is not JSON


def test_management_and_admin_paths_answer_404_to_other_methods(app_host: DevHost) -> None:
    hub = "taskHub=MySqlFleetExport2"
    for path in (
        f"/runtime/webhooks/durabletask/instances/some-id?{hub}",
        f"/runtime/webhooks/durabletask/instances/some-id/terminate?{hub}",
        f"/runtime/webhooks/durabletask/entities/counter/one?{hub}",
        "/durabletask/orchestrators/export_fleet",
        "/admin/host/status",
        "/admin/functions/start_export/status",
    ):
        answer = requests.request("TRACE", f"{app_host.url}{path}", timeout=HANG_SECONDS)
        assert answer.status_code == 404, path


def test_a_method_that_is_not_a_token_is_a_bad_request(app_host: DevHost) -> None:
    assert _raw(app_host, "GE(T /api/exports HTTP/1.1") == b"HTTP/1.1 400 Bad Request"
    assert _raw(app_host, "TRACE /api/exports HTTP/1.1") == b"HTTP/1.1 404 Not Found"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.text(alphabet=TCHAR, min_size=1, max_size=12),
    path=st.sampled_from(
        ["/api/exports", "/api/exports/exp-1", "/api/exports/exp-1/cancel", "/api/nothing", "/"]
    ),
)
def test_no_method_token_is_answered_with_a_5xx(app_host: DevHost, method: str, path: str) -> None:
    if method.upper() in ("GET", "POST", "HEAD"):
        return  # those reach the app's own code, which the front-door fuzz tests cover
    answer = requests.request(method, f"{app_host.url}{path}", timeout=HANG_SECONDS)
    assert answer.status_code < 500, (method, path, answer.status_code)

"""The emulator's managed-identity endpoint and bearer-token checks, over loopback HTTP."""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from armemulator import DEFAULT_SUBSCRIPTION, Emulator, EmulatorConfig, VirtualClock

ARM = "https://management.azure.com"
MSI_API = "2019-08-01"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(clock=VirtualClock())) as emulator:
        yield emulator


def list_url(emu: Emulator) -> str:
    return (
        f"{emu.url}/subscriptions/{DEFAULT_SUBSCRIPTION}/providers/Microsoft.DBforMySQL"
        "/flexibleServers?api-version=2024-12-30"
    )


def request_token(emu: Emulator, secret: str | None, **params: str) -> requests.Response:
    headers = {"X-IDENTITY-HEADER": secret} if secret is not None else {}
    query = {"api-version": MSI_API, "resource": ARM, **params}
    return requests.get(emu.token_endpoint, params=query, headers=headers)


# --- token endpoint --------------------------------------------------------------------------


def test_token_endpoint_answers_in_app_service_format(emu: Emulator) -> None:
    before = int(time.time())
    response = request_token(emu, emu.identity_header)
    after = int(time.time())

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert body["resource"] == ARM
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_on"], str)
    assert before + 3600 <= int(body["expires_on"]) <= after + 3600  # an hour from issue
    assert requests.get(list_url(emu), headers=bearer(body["access_token"])).status_code == 200


def test_token_endpoint_honours_a_user_assigned_client_id(emu: Emulator) -> None:
    client_id = "aaaaaaaa-0000-0000-0000-000000000001"

    body = request_token(emu, emu.identity_header, client_id=client_id).json()

    assert body["client_id"] == client_id


@pytest.mark.parametrize(
    ("secret", "params", "status"),
    [
        (None, {}, 400),
        ("wrong-secret", {}, 401),
        ("<right>", {"api-version": "2017-09-01"}, 400),
        ("<right>", {"resource": ""}, 400),
    ],
)
def test_token_endpoint_refuses_bad_requests_with_json_error(
    emu: Emulator, secret: str | None, params: dict[str, str], status: int
) -> None:
    if secret == "<right>":
        secret = emu.identity_header

    response = request_token(emu, secret, **params)

    assert response.status_code == status
    assert response.json()["statusCode"] == status
    assert "access_token" not in response.json()


def test_identity_header_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "from-env")

    emu = Emulator(EmulatorConfig(clock=VirtualClock()))

    assert emu.identity_header == "from-env"
    assert not emu.identity_header_generated


def test_managed_identity_credential_gets_a_token_from_the_emulator(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu.token_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emu.identity_header)

    token = ManagedIdentityCredential().get_token(f"{ARM}/.default")

    assert requests.get(list_url(emu), headers=bearer(token.token)).status_code == 200
    assert emu.counters().tokens_issued == 1


# --- ARM token checks ------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_arm_call_without_authorization_gets_401_authentication_failed(emu: Emulator) -> None:
    response = requests.get(list_url(emu))

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "AuthenticationFailed"
    assert error["message"] == "Authentication failed. The 'Authorization' header is missing."
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(
        'Bearer authorization_uri="https://login.microsoftonline.com/common"'
    )
    assert 'error="invalid_token"' in challenge
    assert "claims" not in challenge


@pytest.mark.parametrize(
    "make_token",
    [
        lambda emu: emu.issue_token()[:-4] + "AAAA",  # forged signature
        lambda emu: emu.issue_token(lifetime_seconds=-60),  # expired
        lambda emu: emu.issue_token(resource="https://storage.azure.com"),  # wrong audience
        lambda emu: "not-a-token",
        lambda emu: Emulator().issue_token(),  # another emulator's key
    ],
    ids=["forged", "expired", "wrong-audience", "garbage", "foreign-key"],
)
def test_invalid_tokens_get_401_invalid_authentication_token(
    emu: Emulator, make_token: Callable[[Emulator], str]
) -> None:
    response = requests.get(list_url(emu), headers=bearer(make_token(emu)))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "WWW-Authenticate" in response.headers


def test_audience_with_trailing_slash_is_accepted(emu: Emulator) -> None:
    token = emu.issue_token(resource=f"{ARM}/")

    assert requests.get(list_url(emu), headers=bearer(token)).status_code == 200


def test_configured_audience_serves_a_sovereign_cloud() -> None:
    gov = "https://management.usgovcloudapi.net"
    with Emulator(EmulatorConfig(clock=VirtualClock(), audience=gov)) as emu:
        public = requests.get(list_url(emu), headers=bearer(emu.issue_token()))
        sovereign = requests.get(list_url(emu), headers=bearer(emu.issue_token(resource=gov)))

    assert public.status_code == 401
    assert sovereign.status_code == 200


def test_unauthorized_answers_are_counted(emu: Emulator) -> None:
    requests.get(list_url(emu))
    requests.get(list_url(emu), headers=bearer("x.y.z"))

    counters = emu.counters()
    assert counters.unauthorized == 2
    assert counters.responses[("list_servers", 401)] == 2


# --- HTTP/1.1 hygiene ------------------------------------------------------------------------


def test_connection_stays_open_across_requests_with_content_length(emu: Emulator) -> None:
    parts = urlsplit(emu.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    path = urlsplit(list_url(emu))
    target = f"{path.path}?{path.query}"
    try:
        connection.request("GET", target)
        first = connection.getresponse()
        first_body = first.read()
        sock = connection.sock
        connection.request("GET", target, headers=bearer(emu.issue_token()))
        second = connection.getresponse()
        second_body = second.read()
        reused = connection.sock is sock
    finally:
        connection.close()

    assert first.status == 401
    assert int(first.headers["Content-Length"]) == len(first_body)
    assert second.status == 200
    assert int(second.headers["Content-Length"]) == len(second_body)
    assert sock is not None
    assert reused  # the same socket served both requests
    assert first.headers.get("Connection") != "close"


def test_chunked_request_body_is_understood(emu: Emulator) -> None:
    url = (
        f"{emu.url}/subscriptions/{DEFAULT_SUBSCRIPTION}/resourceGroups/TestGroup/providers"
        "/Microsoft.DBforMySQL/flexibleServers/mysqltestserver/backupAndExport?api-version=2024-12-30"
    )
    body = (
        b'{"backupSettings": {"backupName": "chunked"}, "targetDetails": {"objectType": '
        b'"FullBackupStoreDetails", "sasUriList": ["https://a.blob.core.windows.net/c?sig=x"]}}'
    )

    def chunks() -> Iterator[bytes]:
        yield body[:40]
        yield body[40:]

    response = requests.post(url, data=chunks(), headers=bearer(emu.issue_token()))

    assert response.status_code == 202

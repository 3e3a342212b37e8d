"""The app's storage side against real Azurite: its token, the SAS it mints, its report files.

Everything goes through azure-storage-blob exactly as in Azure: the app's DefaultAzureCredential
gets a storage token from the ARM emulator's managed-identity endpoint; ``mint_container_sas``
asks Azurite for a user delegation key with it and signs container SAS; the SAS are then used
as the MySQL service would use them (write and read blobs), and the report files are written
and read with the identity alone.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient, ContainerClient

from armemulator import Emulator
from devhost.azurite import Azurite
from mysqlexport.redaction import SecretUri
from mysqlexport.storage import (
    EXPORT_PERMISSIONS,
    STORAGE_SCOPE,
    ContainerWriter,
    StorageError,
    StorageUnreachable,
    app_credential,
    mint_container_sas,
)
from tests.storage.conftest import ContainerFactory


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def _sas_client(sas: SecretUri) -> ContainerClient:
    """A client holding only the SAS, as the MySQL service holds it."""
    return ContainerClient.from_container_url(sas.reveal())


def _error_code(call: object) -> str:
    with pytest.raises(HttpResponseError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.response is not None
    return str(caught.value.response.headers["x-ms-error-code"])  # type: ignore[attr-defined]


def _in_an_hour() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def test_app_credential_gets_a_storage_token_azurite_accepts(
    credential: TokenCredential, identity: Emulator, azurite: Azurite
) -> None:
    token = credential.get_token(STORAGE_SCOPE).token
    claims = _claims(token)
    assert claims["aud"] == "https://storage.azure.com"
    assert str(claims["iss"]).startswith("https://sts.windows.net/")
    assert {"nbf", "iat", "exp", "oid", "tid", "appid"} <= claims.keys()
    assert claims["oid"] == identity.config.principal_id
    # Azurite takes it: listing containers with OAuth alone works.
    with BlobServiceClient(azurite.blob_endpoint, credential=credential) as service:
        list(service.list_containers())


def test_minted_sas_writes_and_reads_blobs_and_nothing_more(
    credential: TokenCredential, container: str, identity: Emulator
) -> None:
    [sas] = mint_container_sas([container], credential, expiry=_in_an_hour())
    query = parse_qs(urlsplit(sas.reveal()).query)
    assert query["sp"] == [EXPORT_PERMISSIONS] == ["rcw"]
    assert query["sr"] == ["c"]
    assert query["spr"] == ["https"]
    assert query["skoid"] == [identity.config.principal_id]
    assert sas.reveal().startswith(container + "?")

    client = _sas_client(sas)
    client.upload_blob("backup/part-0001", b"first")  # c: a new blob
    client.upload_blob("backup/part-0001", b"second", overwrite=True)  # w: overwrite
    staged = client.get_blob_client("backup/part-0002")
    staged.stage_block("b1", b"block one")  # w: Put Block
    staged.commit_block_list(["b1"])  # w: Put Block List
    assert client.download_blob("backup/part-0001").readall() == b"second"  # r

    # Not granted: list, delete.
    assert _error_code(lambda: list(client.list_blobs())) == "AuthorizationPermissionMismatch"
    assert _error_code(lambda: client.delete_blob("backup/part-0001")) == (
        "AuthorizationPermissionMismatch"
    )
    # The blobs are there, as the app's identity sees them.
    with ContainerClient.from_container_url(container, credential=credential) as owner:
        assert sorted(b.name for b in owner.list_blobs()) == [
            "backup/part-0001",
            "backup/part-0002",
        ]


def test_sas_for_containers_on_one_account_share_one_delegation_key(
    credential: TokenCredential, make_container: ContainerFactory
) -> None:
    containers = [make_container(), make_container(), make_container()]
    minted = mint_container_sas(containers, credential, expiry=_in_an_hour())
    assert [s.reveal().split("?")[0] for s in minted] == containers
    keys = {
        tuple(parse_qs(urlsplit(s.reveal()).query)[k][0] for k in ("skt", "ske", "skoid"))
        for s in minted
    }
    assert len(keys) == 1
    for number, sas in enumerate(minted):
        _sas_client(sas).upload_blob(f"file-{number}", b"x")


def test_read_only_sas_cannot_write(credential: TokenCredential, container: str) -> None:
    [sas] = mint_container_sas([container], credential, expiry=_in_an_hour(), permissions="r")
    code = _error_code(lambda: _sas_client(sas).upload_blob("backup", b"data"))
    assert code == "AuthorizationPermissionMismatch"


def test_expired_sas_is_refused(credential: TokenCredential, container: str) -> None:
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    [sas] = mint_container_sas(
        [container], credential, now=two_hours_ago, expiry=two_hours_ago + timedelta(hours=1)
    )
    assert _error_code(lambda: _sas_client(sas).upload_blob("backup", b"data")) == (
        "AuthorizationFailure"
    )


def _with_query(sas: SecretUri, **changes: str) -> SecretUri:
    url, _, query = sas.reveal().partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    return SecretUri(f"{url}?{urlencode({**params, **changes})}")


def test_forged_sas_is_refused(credential: TokenCredential, container: str) -> None:
    [sas] = mint_container_sas([container], credential, expiry=_in_an_hour())
    signature = base64.b64decode(parse_qs(urlsplit(sas.reveal()).query)["sig"][0])
    one_bit_off = base64.b64encode(bytes([signature[0] ^ 1]) + signature[1:]).decode()
    forged = _with_query(sas, sig=one_bit_off)
    assert _sas_client(_with_query(sas)).get_blob_client("x").upload_blob(b"the SAS as minted")
    assert _error_code(lambda: _sas_client(forged).upload_blob("backup", b"data")) == (
        "AuthorizationFailure"
    )
    # Widening the permissions breaks the signature just the same.
    widened = _with_query(sas, sp="rcwdl")
    assert _error_code(lambda: list(_sas_client(widened).list_blobs())) == "AuthorizationFailure"


def test_minted_sas_never_shows_its_signature(credential: TokenCredential, container: str) -> None:
    [sas] = mint_container_sas([container], credential, expiry=_in_an_hour())
    signature = parse_qs(urlsplit(sas.reveal()).query)["sig"][0]
    for shown in (str(sas), repr(sas), f"{sas}", "%s" % sas):
        assert signature not in shown
        assert "sig=REDACTED" in shown


def test_report_files_round_trip_with_the_identity_alone(
    credential: TokenCredential, container: str
) -> None:
    writer = ContainerWriter(container, credential)
    report = json.dumps({"runId": "exp-1", "servers": []})
    url = writer.upload("exp-1/report.json", report, "application/json")
    assert url == f"{container}/exp-1/report.json"
    writer.upload("exp-1/servers.csv", b"id,status\r\n", "text/csv; charset=utf-8")
    assert writer.read("exp-1/report.json") == report.encode()
    assert writer.properties("exp-1/servers.csv") == {
        "contentType": "text/csv; charset=utf-8",
        "size": len(b"id,status\r\n"),
    }
    # Written again (an activity retried): overwritten, not refused.
    writer.upload("exp-1/report.json", "{}", "application/json")
    assert writer.read("exp-1/report.json") == b"{}"


def test_storage_errors_carry_storage_code_and_no_secret(
    credential: TokenCredential, container: str, azurite: Azurite
) -> None:
    token = credential.get_token(STORAGE_SCOPE).token
    with pytest.raises(StorageError) as missing_blob:
        ContainerWriter(container, credential).read("no-such-blob")
    assert missing_blob.value.code == "BlobNotFound"
    assert missing_blob.value.status == 404
    assert missing_blob.value.request_id
    assert not missing_blob.value.transient

    absent = azurite.container_url("never-created")
    with pytest.raises(StorageError) as missing_container:
        ContainerWriter(absent, credential).upload("a.json", "{}", "application/json")
    assert missing_container.value.code == "ContainerNotFound"

    for error in (missing_blob.value, missing_container.value):
        shown = " ".join((str(error), repr(error), json.dumps(error.to_dict())))
        assert token not in shown
        assert token.split(".")[1] not in shown


def test_credential_failure_is_a_storage_error_without_the_header(
    app_env: None, container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "wrong-secret-value")
    with pytest.raises(StorageError) as caught:
        mint_container_sas([container], app_credential(), expiry=_in_an_hour())
    assert caught.value.code == "CredentialUnavailable"
    assert "wrong-secret-value" not in str(caught.value)


def test_unreachable_storage_is_transient(credential: TokenCredential) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StorageUnreachable) as caught:
        ContainerWriter(f"https://127.0.0.1:{port}/devstoreaccount1/gone", credential).read("x")
    assert caught.value.transient
    assert caught.value.code == "StorageUnreachable"


@pytest.mark.parametrize("resource", ["https://storage.azure.com", "https://storage.azure.com/"])
def test_identity_endpoint_storage_token_serves_azurite_with_or_without_slash(
    resource: str, identity: Emulator, azurite: Azurite
) -> None:
    answer = requests.get(
        identity.token_endpoint,
        params={"api-version": "2019-08-01", "resource": resource},
        headers={"X-IDENTITY-HEADER": identity.identity_header},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    assert _claims(token)["aud"] == resource
    with BlobServiceClient(
        azurite.blob_endpoint,
        credential=_StaticToken(token),
        connection_verify=str(azurite.ca_bundle),
    ) as service:
        now = datetime.now(UTC)
        key = service.get_user_delegation_key(now, now + timedelta(hours=1))
    assert key.signed_oid == identity.config.principal_id
    assert key.signed_tid == identity.config.tenant_id


class _StaticToken:
    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 600)

"""An accepted export writes its backup files through SAS URIs on loopback (real Azurite).

The SAS are minted as the app mints them (``mysqlexport.storage.mint_container_sas``, a user
delegation key for the app's identity, which the emulator's own token endpoint serves): a good
one leaves the files in the containers; an expired, read-only or forged one fails the export
with storage's own code, on both polling URLs and in the ground truth; a storage that refuses
connections fails it as ``StorageUnreachable``; a SAS on any other host is never contacted.
"""

from __future__ import annotations

import base64
import json
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.mysqlflexibleservers import MySQLManagementClient
from azure.storage.blob import ContainerClient

from armemulator import Emulator, EmulatorConfig, ScaledClock, ServerSpec, VirtualClock
from armemulator.errors import STORAGE_UNREACHABLE
from armemulator.exportfiles import is_loopback_sas
from devhost.azurite import Azurite
from devhost.tls import TlsFiles
from mysqlexport.storage import app_credential, mint_container_sas
from tests.component.test_emulator_exports import SAS as FAKE_SAS
from tests.component.test_emulator_exports import Arm, export_body
from tests.storage_setup import create_container
from tests.waits import HANG_SECONDS

SUB = "ffffffff-ffff-ffff-ffff-ffffffffffff"
GROUP = "StorageGroup"
FLEET = (
    ServerSpec(SUB, GROUP, "solo", export_seconds=60, datasource_size_bytes=3 * 1024**3),
    ServerSpec(SUB, GROUP, "pair", export_seconds=60, number_of_containers=2),
)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def emu(clock: VirtualClock) -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(clock=clock, fleet=FLEET, pending_seconds=5)) as emulator:
        yield emulator


@pytest.fixture
def credential(emu: Emulator, azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> TokenCredential:
    """The app's identity (served by the emulator), trusting Azurite's CA as the emulator does:
    REQUESTS_CA_BUNDLE is the emulator's default trust for its writes too."""
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", emu.token_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emu.identity_header)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite.ca_bundle))
    return app_credential()


def _in_an_hour() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def _mint(credential: TokenCredential, container: str, **kwargs: Any) -> str:
    [sas] = mint_container_sas([container], credential, expiry=_in_an_hour(), **kwargs)
    return sas.reveal()


def _expired(credential: TokenCredential, container: str) -> str:
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    [sas] = mint_container_sas(
        [container], credential, now=two_hours_ago, expiry=two_hours_ago + timedelta(hours=1)
    )
    return sas.reveal()


def _forged(credential: TokenCredential, container: str) -> str:
    url, _, query = _mint(credential, container).partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    signature = base64.b64decode(params["sig"])
    params["sig"] = base64.b64encode(bytes([signature[0] ^ 1]) + signature[1:]).decode()
    return f"{url}?{urlencode(params)}"


def _blobs(container: str, credential: TokenCredential) -> dict[str, bytes]:
    with ContainerClient.from_container_url(container, credential=credential) as owner:
        return {b.name: owner.download_blob(b.name).readall() for b in owner.list_blobs()}


def _signature(sas: str) -> str:
    return parse_qs(urlsplit(sas).query)["sig"][0]


def test_a_succeeded_export_leaves_its_backup_in_every_container(
    emu: Emulator, clock: VirtualClock, azurite: Azurite, credential: TokenCredential
) -> None:
    first, second = create_container(azurite), create_container(azurite)
    body = export_body("nightly-1", [_mint(credential, first), _mint(credential, second)])
    accepted = Arm(emu).export(GROUP, "pair", json=body)
    assert accepted.status_code == 202, accepted.text

    in_first, in_second = _blobs(first, credential), _blobs(second, credential)
    assert sorted(in_first) == [
        "pair/nightly-1/data/part-0001-of-0002",
        "pair/nightly-1/manifest.json",
    ]
    assert sorted(in_second) == ["pair/nightly-1/data/part-0002-of-0002"]
    manifest = json.loads(in_first["pair/nightly-1/manifest.json"])
    (record,) = emu.exports()
    assert manifest["operationId"] == record.operation_id
    assert manifest["numberOfContainers"] == 2
    assert sum(p["representsBytes"] for p in manifest["parts"]) == record.datasource_size_bytes
    assert [p["bytes"] for p in manifest["parts"]] == [
        len(in_first[manifest["parts"][0]["name"]])
    ] * 2
    assert record.blobs == (
        f"{first}/pair/nightly-1/data/part-0001-of-0002",
        f"{second}/pair/nightly-1/data/part-0002-of-0002",
        f"{first}/pair/nightly-1/manifest.json",
    )

    clock.set(record.ends_at)
    status = Arm(emu).get(accepted.headers["Azure-AsyncOperation"]).json()
    assert status["status"] == "Succeeded"
    assert status["properties"]["dataTransferredInBytes"] == record.datasource_size_bytes
    assert emu.exports()[0].outcome == "Succeeded"


SasMaker = Callable[[TokenCredential, str], str]
REFUSED: list[tuple[str, SasMaker, str]] = [
    ("expired", _expired, "AuthorizationFailure"),
    ("read-only", lambda c, u: _mint(c, u, permissions="r"), "AuthorizationPermissionMismatch"),
    ("forged", _forged, "AuthorizationFailure"),
]


@pytest.mark.parametrize(("what", "make_sas", "code"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_refused_sas_fails_the_export_with_storages_code(
    emu: Emulator,
    clock: VirtualClock,
    azurite: Azurite,
    credential: TokenCredential,
    what: str,
    make_sas: SasMaker,
    code: str,
) -> None:
    container = create_container(azurite)
    sas = make_sas(credential, container)
    arm = Arm(emu)
    accepted = arm.export(GROUP, "solo", json=export_body("nightly-1", [sas]))
    assert accepted.status_code == 202, accepted.text  # accepted: the write fails the export

    (record,) = emu.exports()
    assert (record.outcome, record.error_code) == ("Failed", code)
    assert record.ends_at == record.started_at  # it fails as its transfer starts
    assert arm.get(accepted.headers["Azure-AsyncOperation"]).json()["status"] == "Pending"

    clock.set(record.ends_at)
    status = arm.get(accepted.headers["Azure-AsyncOperation"]).json()
    final = arm.get(accepted.headers["Location"])
    assert status["status"] == "Failed" and status["error"]["code"] == code
    assert status["properties"]["dataTransferredInBytes"] == 0
    assert final.status_code == 200
    assert final.json()["status"] == "Failed" and final.json()["error"]["code"] == code
    message = status["error"]["message"]
    assert "sasUriList[0]" in message and container in message
    for text in (message, final.text, json.dumps(record.as_dict())):
        assert _signature(sas) not in text and "sig=" not in text
    assert _blobs(container, credential) == {}


def test_a_sas_for_a_container_that_is_not_there_fails_with_container_not_found(
    emu: Emulator, clock: VirtualClock, azurite: Azurite, credential: TokenCredential
) -> None:
    missing = azurite.container_url("no-such-container")
    Arm(emu).export(GROUP, "solo", json=export_body("nightly-1", [_mint(credential, missing)]))
    (record,) = emu.exports()
    assert (record.outcome, record.error_code) == ("Failed", "ContainerNotFound")


def test_a_loopback_storage_that_refuses_connections_fails_the_export_as_unreachable(
    emu: Emulator, clock: VirtualClock
) -> None:
    # A bound socket that does not listen: every connection to it is refused, nobody else can
    # take the port while it is held.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        sas = f"https://127.0.0.1:{port}/devstoreaccount1/c1?sv=2025-11-05&sr=c&sp=rcw&sig=U0VDUkVU"
        accepted = Arm(emu).export(GROUP, "solo", json=export_body("nightly-1", [sas]))
    assert accepted.status_code == 202
    (record,) = emu.exports()
    assert (record.outcome, record.error_code) == ("Failed", STORAGE_UNREACHABLE)
    assert record.error_message is not None and "U0VDUkVU" not in record.error_message
    assert f"127.0.0.1:{port}/devstoreaccount1/c1" in record.error_message


class _Connections:
    """Every host this process looks up or connects to while recording (Python's audit events
    ``socket.getaddrinfo`` and ``socket.connect``, sys.addaudithook): an observation of what
    the emulator's threads do, not a replacement of anything."""

    _installed: _Connections | None = None

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.recording = False
        self._lock = threading.Lock()

    @classmethod
    def get(cls) -> _Connections:
        if cls._installed is None:  # an audit hook cannot be removed: one per process
            cls._installed = cls()
            sys.addaudithook(cls._installed._hook)
        return cls._installed

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.recording:
            return
        if event == "socket.getaddrinfo":
            host = args[0]
        elif event == "socket.connect" and isinstance(args[1], tuple):
            host = args[1][0]
        else:
            return
        with self._lock:
            self.hosts.append(host.decode() if isinstance(host, bytes) else str(host))


def test_a_sas_on_any_other_host_is_never_contacted(
    emu: Emulator, clock: VirtualClock, azurite: Azurite, credential: TokenCredential
) -> None:
    assert not is_loopback_sas(FAKE_SAS)
    assert not is_loopback_sas("https://10.0.0.1/c?sig=x")
    assert not is_loopback_sas("https://localhost.example.com/c?sig=x")
    assert is_loopback_sas("https://localhost:10000/devstoreaccount1/c?sig=x")
    container = create_container(azurite)
    good = _mint(credential, container)
    arm = Arm(emu)
    connections = _Connections.get()
    connections.recording = True
    try:
        fake_only = arm.export(GROUP, "solo", json=export_body("nightly-1", [FAKE_SAS]))
        mixed = arm.export(GROUP, "pair", json=export_body("nightly-2", [good, FAKE_SAS]))
    finally:
        connections.recording = False
    assert fake_only.status_code == mixed.status_code == 202
    contacted = set(connections.hosts)
    assert "acct.blob.core.windows.net" not in contacted
    assert "127.0.0.1" in contacted  # the hook saw the loopback writes: it was listening
    solo, pair = emu.exports()
    assert (solo.outcome, solo.blobs) == ("Succeeded", ())
    assert pair.outcome == "Succeeded"
    assert pair.blobs == (
        f"{container}/pair/nightly-2/data/part-0001-of-0002",
        f"{container}/pair/nightly-2/manifest.json",
    )


def test_writes_can_be_switched_off(
    clock: VirtualClock, azurite: Azurite, credential: TokenCredential
) -> None:
    container = create_container(azurite)
    config = EmulatorConfig(clock=clock, fleet=FLEET, storage_writes=False)
    with Emulator(config) as emu:
        sas = _expired(credential, container)
        Arm(emu).export(GROUP, "solo", json=export_body("nightly-1", [sas]))
        (record,) = emu.exports()
    assert (record.outcome, record.blobs) == ("Succeeded", ())


@pytest.fixture
def tls_emu(
    azurite: Azurite, tls_files: TlsFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Emulator]:
    """The emulator over TLS (the official SDK sends its token over https only), on a clock
    600x fast, with one CA bundle trusted by everyone: the emulator's and Azurite's."""
    cert_path, key_path, bundle = tls_files.cert, tls_files.key, tmp_path / "ca.pem"
    bundle.write_bytes(tls_files.ca_bundle.read_bytes() + azurite.ca_bundle.read_bytes())
    config = EmulatorConfig(
        clock=ScaledClock(600.0),
        tls_cert=str(cert_path),
        tls_key=str(key_path),
        fleet=FLEET,
        pending_seconds=2,
    )
    with Emulator(config) as emulator:
        for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.token_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", emulator.identity_header)
        yield emulator


def _sdk(emu: Emulator) -> MySQLManagementClient:
    return MySQLManagementClient(
        credential=ManagedIdentityCredential(),
        subscription_id=SUB,
        base_url=emu.url,
        credential_scopes=["https://management.azure.com/.default"],
    )


@pytest.mark.sdk
def test_the_official_sdk_reads_a_refused_write_as_the_exports_error(
    tls_emu: Emulator, azurite: Azurite
) -> None:
    credential = app_credential()
    good_container, read_only_container = create_container(azurite), create_container(azurite)
    client = _sdk(tls_emu)

    good = client.backup_and_export.begin_create(
        GROUP, "solo", export_body("sdk-good", [_mint(credential, good_container)])
    ).result(timeout=HANG_SECONDS)
    assert good.status == "Succeeded"
    assert sorted(_blobs(good_container, credential)) == [
        "solo/sdk-good/data/part-0001-of-0001",
        "solo/sdk-good/manifest.json",
    ]

    read_only = _mint(credential, read_only_container, permissions="r")
    poller = client.backup_and_export.begin_create(
        GROUP, "solo", export_body("sdk-read-only", [read_only])
    )
    with pytest.raises(HttpResponseError) as failed:
        poller.result(timeout=HANG_SECONDS)
    assert failed.value.error is not None
    assert failed.value.error.code == "AuthorizationPermissionMismatch"
    assert _signature(read_only) not in str(failed.value)

"""TLS mode, and the proof of fidelity: the official SDK drives the emulator as it drives Azure."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.mysqlflexibleservers import MySQLManagementClient

from armemulator import DEFAULT_SUBSCRIPTION, Emulator, EmulatorConfig, ScaledClock, default_fleet
from devhost.tls import TlsFiles
from tests.waits import HANG_SECONDS

SUB = DEFAULT_SUBSCRIPTION
SAS = "https://acct.blob.core.windows.net/exports?sv=2024-05-04&sr=c&sp=rcw&sig=abc"


@pytest.fixture
def pki(tls_files: TlsFiles) -> dict[str, str]:
    return {
        "ca": str(tls_files.ca_bundle),
        "cert": str(tls_files.cert),
        "key": str(tls_files.key),
    }


@pytest.fixture
def tls_emu(pki: dict[str, str]) -> Iterator[Emulator]:
    # 2000x: a 2 GiB export (~45 emulated s) takes ~25 ms; Retry-After 10 s becomes 5 ms.
    # Pages of 3 servers make the SDK follow nextLink.
    config = EmulatorConfig(
        clock=ScaledClock(2000), tls_cert=pki["cert"], tls_key=pki["key"], page_size=3
    )
    with Emulator(config) as emulator:
        yield emulator


def test_tls_mode_serves_https_trusted_through_the_test_ca(
    tls_emu: Emulator, pki: dict[str, str]
) -> None:
    assert tls_emu.url.startswith("https://127.0.0.1:")
    assert tls_emu.token_endpoint.startswith("https://")

    response = requests.get(
        f"{tls_emu.url}/subscriptions/{SUB}/providers/Microsoft.DBforMySQL/flexibleServers",
        params={"api-version": "2024-12-30"},
        headers={"Authorization": f"Bearer {tls_emu.issue_token()}"},
        verify=pki["ca"],
    )

    assert response.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls_emu.url}/_emulator/clock", verify=True)


def test_plain_http_client_cannot_talk_to_tls_mode(tls_emu: Emulator) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(
            tls_emu.url.replace("https://", "http://") + "/_emulator/clock", timeout=HANG_SECONDS
        )


@pytest.fixture
def sdk(tls_emu: Emulator, pki: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("IDENTITY_ENDPOINT", tls_emu.token_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", tls_emu.identity_header)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", pki["ca"])
    return MySQLManagementClient(ManagedIdentityCredential(), SUB, base_url=tls_emu.url)


def parameters(name: str) -> dict[str, Any]:
    return {
        "backupSettings": {"backupName": name, "backupFormat": "Raw"},
        "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": [SAS]},
    }


@pytest.mark.sdk
def test_official_sdk_discovers_validates_and_exports(sdk: Any, tls_emu: Emulator) -> None:
    servers = list(sdk.servers.list())
    by_group = list(sdk.servers.list_by_resource_group("TestGroup"))
    server = sdk.servers.get("TestGroup", "mysqltestserver")
    containers = sdk.backup_and_export.validate_backup("ProdGroup", "analytics-db")
    result = sdk.backup_and_export.begin_create(
        "TestGroup", "mysqltestserver", parameters("sdk-run-1")
    ).result()

    assert len(servers) == 7  # three pages
    assert {s.name for s in by_group} == {"mysqltestserver", "mysqltestserver1", "mysqltestserver2"}
    assert server.state == "Ready"
    assert server.sku.tier == "GeneralPurpose"
    assert containers.number_of_containers == 2
    assert result.status == "Succeeded"
    assert result.percent_complete == 100
    assert result.datasource_size_in_bytes == result.data_transferred_in_bytes
    assert result.name == "sdk-run-1"
    counters = tls_emu.counters()
    assert counters.tokens_issued == 1
    assert counters.requests["async_operation"] >= 1
    assert counters.requests["operation_status"] == 1  # the final GET on Location
    assert counters.foreign_host_requests == 0


@pytest.mark.sdk
def test_official_sdk_surfaces_failures_as_the_service_would(sdk: Any, tls_emu: Emulator) -> None:
    with pytest.raises(HttpResponseError) as failed:
        sdk.backup_and_export.begin_create("ProdGroup", "inventory-db", parameters("x")).result()
    with pytest.raises(HttpResponseError) as forbidden:
        sdk.backup_and_export.begin_create("ProdGroup", "billing-db", parameters("x"))
    # the first export must still run when the second request comes, however slow the machine:
    # a month long (over 20 minutes of real time at x2000), and not followed (no polling thread)
    orders = next(s for s in default_fleet() if s.name == "orders-db")
    tls_emu.add_server(dataclasses.replace(orders, export_seconds=30 * 86400.0))
    sdk.backup_and_export.begin_create("ProdGroup", "orders-db", parameters("one"), polling=False)
    with pytest.raises(ResourceExistsError) as conflict:
        sdk.backup_and_export.begin_create("ProdGroup", "orders-db", parameters("two"))

    assert failed.value.error is not None
    assert failed.value.error.code == "AggregateException"
    assert forbidden.value.status_code == 403
    assert conflict.value.status_code == 409

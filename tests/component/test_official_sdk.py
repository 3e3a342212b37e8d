"""The official Azure SDK cannot tell the emulator from the service.

azure-mgmt-mysqlflexibleservers drives its own ARM polling (Azure-AsyncOperation, then the final
GET on Location), azure-identity gets its token from the emulator's managed identity endpoint, and
all of it runs over TLS the way the SDK insists on (it refuses bearer tokens over plain http).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.mgmt.mysqlflexibleservers import MySQLManagementClient

from armemulator import Emulator, EmulatorConfig, ScaledClock, ServerSpec
from devhost.tls import TlsFiles
from mysqlexport.arm import ArmClient
from mysqlexport.ids import ServerId
from mysqlexport.settings import Settings
from tests.component.conftest import SAS, SUB
from tests.waits import HANG_SECONDS

pytestmark = pytest.mark.sdk

FLEET = (
    ServerSpec(SUB, "TestGroup", "quick-one", export_seconds=30),
    ServerSpec(SUB, "TestGroup", "quick-two", export_seconds=30, number_of_containers=2),
    ServerSpec(SUB, "TestGroup", "quick-three", export_seconds=30, fail_export=True),
    ServerSpec(SUB, "OtherGroup", "elsewhere", export_seconds=30),
)


@pytest.fixture
def tls_emulator(tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    ca_path, cert_path, key_path = map(str, (tls_files.ca_bundle, tls_files.cert, tls_files.key))
    # Time runs 600x: a 30 s export takes 50 ms, and Retry-After arrives as retry-after-ms.
    config = EmulatorConfig(
        clock=ScaledClock(600.0),
        tls_cert=cert_path,
        tls_key=key_path,
        fleet=FLEET,
        page_size=2,
        pending_seconds=2,
    )
    with Emulator(config) as emu:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_path)
        monkeypatch.setenv("IDENTITY_ENDPOINT", emu.token_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", emu.identity_header)
        yield emu


def sdk_client(emu: Emulator, **kwargs: object) -> MySQLManagementClient:
    assert emu.url.startswith("https://")
    return MySQLManagementClient(
        credential=ManagedIdentityCredential(**kwargs),  # type: ignore[arg-type]
        subscription_id=SUB,
        base_url=emu.url,
        credential_scopes=["https://management.azure.com/.default"],
        **kwargs,
    )


def test_sdk_completes_an_export_with_its_own_polling(tls_emulator: Emulator) -> None:
    client = sdk_client(tls_emulator)
    poller = client.backup_and_export.begin_create(
        resource_group_name="TestGroup",
        server_name="quick-one",
        parameters={
            "backupSettings": {"backupName": "customer-backup-name", "backupFormat": "Raw"},
            "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": SAS},
        },
    )
    result = poller.result(timeout=HANG_SECONDS)
    assert result.status == "Succeeded"
    assert result.name == "customer-backup-name"
    assert result.percent_complete == 100
    assert result.datasource_size_in_bytes and result.data_transferred_in_bytes
    counts = tls_emulator.counters().requests
    assert counts.get("async_operation", 0) >= 1  # it polled Azure-AsyncOperation ...
    assert counts.get("operation_status", 0) == 1  # ... and read the result from Location once


def test_sdk_sees_a_failed_export_as_an_error(tls_emulator: Emulator) -> None:
    client = sdk_client(tls_emulator)
    poller = client.backup_and_export.begin_create(
        "TestGroup",
        "quick-three",
        {
            "backupSettings": {"backupName": "doomed"},
            "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": SAS},
        },
    )
    with pytest.raises(HttpResponseError):
        poller.result(timeout=HANG_SECONDS)


def test_sdk_maps_conflict_and_not_found_like_the_service(tls_emulator: Emulator) -> None:
    client = sdk_client(tls_emulator)
    body = {
        "backupSettings": {"backupName": "one"},
        "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": SAS},
    }
    # the first export must still run when the second request comes, however slow the machine:
    # a month long (over an hour of real time at x600), and not followed (no polling thread)
    tls_emulator.add_server(dataclasses.replace(FLEET[0], export_seconds=30 * 86400.0))
    client.backup_and_export.begin_create("TestGroup", "quick-one", body, polling=False)
    with pytest.raises(ResourceExistsError):
        client.backup_and_export.begin_create("TestGroup", "quick-one", body)
    with pytest.raises(ResourceNotFoundError):
        client.backup_and_export.begin_create("TestGroup", "not-there", body)


def test_sdk_validates_a_backup(tls_emulator: Emulator) -> None:
    client = sdk_client(tls_emulator)
    assert (
        client.backup_and_export.validate_backup("TestGroup", "quick-two").number_of_containers == 2
    )


def test_sdk_pages_through_a_resource_group(tls_emulator: Emulator) -> None:
    client = sdk_client(tls_emulator)
    names = sorted(s.name for s in client.servers.list_by_resource_group("TestGroup"))
    assert names == ["quick-one", "quick-three", "quick-two"]
    assert tls_emulator.counters().requests.get("list_servers_by_resource_group") == 2
    assert sorted(s.name for s in client.servers.list()) == sorted(s.name for s in FLEET)


def test_sdk_lists_the_providers_operations(tls_emulator: Emulator) -> None:
    """Operations_List, the call of the app's health check, through the SDK's own models."""
    names = {op.name for op in sdk_client(tls_emulator).operations.list()}
    assert "Microsoft.DBforMySQL/flexibleServers/backupAndExport/action" in names
    assert "Microsoft.DBforMySQL/flexibleServers/backupsv2/write" in names
    assert tls_emulator.counters().requests.get("list_operations") == 1


def test_default_azure_credential_takes_the_managed_identity_path(tls_emulator: Emulator) -> None:
    credential = DefaultAzureCredential(
        exclude_environment_credential=True,
        exclude_workload_identity_credential=True,
        exclude_shared_token_cache_credential=True,
        exclude_developer_cli_credential=True,
        exclude_cli_credential=True,
        exclude_powershell_credential=True,
        exclude_visual_studio_code_credential=True,
        exclude_interactive_browser_credential=True,
    )
    token = credential.get_token("https://management.azure.com/.default")
    assert token.token and token.expires_on > 0
    assert tls_emulator.counters().tokens_issued >= 1


def test_ca_bundle_is_what_makes_tls_trusted(
    tls_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification is never switched off: without the test CA the SDK refuses the emulator."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(ServiceRequestError) as info:
        sdk_client(tls_emulator, retry_total=0).backup_and_export.validate_backup(
            "TestGroup", "quick-two"
        )
    assert "certificate" in str(info.value).lower() or "ssl" in str(info.value).lower()


def test_our_client_trusts_the_ca_bundle_over_tls(tls_emulator: Emulator) -> None:
    settings = Settings.from_env({"ARM_ENDPOINT": tls_emulator.url})
    with ArmClient(settings, ManagedIdentityCredential()) as arm:
        server = ServerId(SUB, "TestGroup", "quick-two")
        assert arm.validate_backup(server) == 2

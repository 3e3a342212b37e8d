"""The official SDK runs on-demand backups (backupsV2) against the emulator in each answer mode.

azure-mgmt-mysqlflexibleservers 1.0.0 (``client.long_running_backup.begin_create``, with
``ARMPolling(lro_options={"final-state-via": "azure-async-operation"})``) and the polling of
azure-core 1.41.0 (azure/core/polling/base_polling.py) and azure-mgmt-core 1.6.0
(azure/mgmt/core/polling/arm_polling.py) decide what the emulator's answers must be for the SDK
to finish:

* 202 with only ``Location`` (the default, the spec example's): ``ARMPolling`` tries
  ``AzureAsyncOperationPolling``, ``LocationPolling``, ``BodyContentPolling``, in that order
  (arm_polling.py:197-202), so ``LocationPolling`` is chosen. It reads the HTTP status alone
  (base_polling.py:535, ``return "InProgress" if response.status_code == 202 else
  "Succeeded"``) and asks for no final GET (base_polling.py:497, ``return None``), so the
  Location URL's final 200 body is the result. Hence the emulator's 202 while running and the
  backup resource in that 200. A failed backup is *not* an error to the SDK here: its result is
  a backup whose provisioningState is "Failed".
* 202 with ``Azure-AsyncOperation``: ``AzureAsyncOperationPolling`` reads ``status`` from the
  200s; its final-state-via shortcut is for POST only (arm_polling.py:90-94), so for this PUT
  ``OperationResourcePolling.get_final_get_url`` ends with a GET of the PUT's own URL
  (base_polling.py:392-393, ``if self._request.method in {"PUT", "PATCH"}: return
  self._request.url``; only a ``resourceLocation`` in the status body, base_polling.py:388,
  would send it elsewhere, and ARM's OperationStatusResult has none). So the backup must be
  readable by the name asked for: with ``BackupNaming.PREFIXED`` that GET is a 404 and the SDK
  fails.
* 201/200: ``BodyContentPolling`` takes ``properties.provisioningState`` from the answer
  (arm_polling.py:145-152) and then from GETs of the PUT's URL (arm_polling.py:117-122, 184-185)
  until it is one of succeeded, canceled, failed (base_polling.py:86, ``_FINISHED``); "Ready",
  as the examples show, is none of them, so the SDK never finishes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.core.polling.arm_polling import ARMPolling
from azure.mgmt.mysqlflexibleservers import MySQLManagementClient
from azure.mgmt.mysqlflexibleservers.models import ServerBackupV2

from armemulator import (
    DEFAULT_SUBSCRIPTION,
    BackupAnswer,
    BackupNaming,
    Emulator,
    EmulatorConfig,
    ScaledClock,
    ServerSpec,
)
from devhost.tls import TlsFiles
from tests.waits import HANG_SECONDS

pytestmark = pytest.mark.sdk

SUB = DEFAULT_SUBSCRIPTION
FLEET = (
    ServerSpec(SUB, "TestGroup", "quick-one", backup_seconds=30),
    ServerSpec(SUB, "TestGroup", "quick-two", backup_seconds=30, automatic_backups=2),
    ServerSpec(SUB, "TestGroup", "fails", backup_seconds=30, backup_outcome="Failed"),
)


Start = Callable[..., tuple[Emulator, MySQLManagementClient]]


@pytest.fixture
def start(tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """An emulator over TLS (the SDK sends bearer tokens over https only) and a client for it."""
    ca_path, cert_path, key_path = map(str, (tls_files.ca_bundle, tls_files.cert, tls_files.key))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_path)
    with ExitStack() as stack:

        def factory(**config: Any) -> tuple[Emulator, MySQLManagementClient]:
            # Time runs 600x: a 30 s backup takes 50 ms, and Retry-After arrives as
            # retry-after-ms, which azure-core sleeps (real milliseconds).
            config.setdefault("fleet", FLEET)
            emu = stack.enter_context(
                Emulator(
                    EmulatorConfig(
                        clock=ScaledClock(600.0), tls_cert=cert_path, tls_key=key_path, **config
                    )
                )
            )
            monkeypatch.setenv("IDENTITY_ENDPOINT", emu.token_endpoint)
            monkeypatch.setenv("IDENTITY_HEADER", emu.identity_header)
            client = MySQLManagementClient(
                credential=ManagedIdentityCredential(),
                subscription_id=SUB,
                base_url=emu.url,
                credential_scopes=["https://management.azure.com/.default"],
            )
            return emu, client

        yield factory


@pytest.mark.parametrize(
    "answer", [BackupAnswer.LOCATION, BackupAnswer.ASYNC_OPERATION], ids=["location", "async"]
)
def test_sdk_creates_gets_and_lists_a_backup(start: Start, answer: BackupAnswer) -> None:
    emu, client = start(backup_answer=answer, backup_page_size=2)

    poller = client.long_running_backup.begin_create("TestGroup", "quick-two", "sdk-made")
    result = poller.result(timeout=HANG_SECONDS)

    (truth,) = emu.backups()
    assert poller.status() == "Succeeded"
    assert result.id == truth.resource_id
    assert result.name == "sdk-made"
    assert result.provisioning_state == "Succeeded"
    assert result.backup_type == "FULL"
    assert result.completed_time is not None
    requests_by_kind = emu.counters().requests
    if answer is BackupAnswer.LOCATION:
        assert requests_by_kind.get("backup_operation_status", 0) >= 1
        assert "get_backup" not in requests_by_kind  # the last Location answer is the result
    else:
        assert requests_by_kind.get("backup_async_operation", 0) >= 1
        assert "backup_operation_status" not in requests_by_kind
        assert requests_by_kind["get_backup"] == 1  # the final GET of the PUT's URL

    got = client.long_running_backups.get("TestGroup", "quick-two", "sdk-made")
    listed = list(client.long_running_backups.list("TestGroup", "quick-two"))
    assert got.id == result.id
    assert got.source == "OnDemand"
    assert [b.name for b in listed][-1] == "sdk-made"
    assert [b.source for b in listed] == ["Automatic", "Automatic", "OnDemand"]
    assert emu.counters().requests["list_backups"] == 2  # two pages, through nextLink


@pytest.mark.parametrize(
    "answer", [BackupAnswer.CREATED, BackupAnswer.COMPLETED], ids=["created", "completed"]
)
def test_sdk_completes_a_201_or_200_by_reading_the_backup(
    start: Start, answer: BackupAnswer
) -> None:
    emu, client = start(backup_answer=answer)

    # Reads of the resource carry no Retry-After (ARM resources' GETs do not), so the SDK waits
    # its polling_interval (30 s by default) between them: a short one keeps the test short.
    result = client.long_running_backup.begin_create(
        "TestGroup",
        "quick-one",
        "sdk-made",
        ServerBackupV2(backup_type="FULL"),
        polling_interval=0.01,
    ).result(timeout=HANG_SECONDS)

    assert result.provisioning_state == "Succeeded"
    assert result.id == emu.backups()[0].resource_id


def test_sdk_takes_the_real_id_from_the_location_answer(start: Start) -> None:
    emu, client = start(backup_names=BackupNaming.PREFIXED)

    result = client.long_running_backup.begin_create("TestGroup", "quick-one", "mybackup").result(
        timeout=HANG_SECONDS
    )

    (truth,) = emu.backups()
    assert result.name == truth.name != "mybackup"
    assert result.backup_name_v2 == "mybackup"
    assert client.long_running_backups.get("TestGroup", "quick-one", truth.name).id == result.id


def test_sdk_final_get_by_the_asked_name_fails_when_the_name_differs(start: Start) -> None:
    _, client = start(
        backup_names=BackupNaming.PREFIXED, backup_answer=BackupAnswer.ASYNC_OPERATION
    )
    poller = client.long_running_backup.begin_create("TestGroup", "quick-one", "mybackup")

    with pytest.raises(HttpResponseError) as info:
        poller.result(timeout=HANG_SECONDS)

    assert info.value.status_code == 404


def test_sdk_raises_for_a_failed_backup_only_when_it_polls_azure_async_operation(
    start: Start,
) -> None:
    _, async_client = start(backup_answer=BackupAnswer.ASYNC_OPERATION)
    _, location_client = start()

    with pytest.raises(HttpResponseError):
        async_client.long_running_backup.begin_create("TestGroup", "fails", "doomed").result(
            timeout=HANG_SECONDS
        )
    result = location_client.long_running_backup.begin_create(
        "TestGroup", "fails", "doomed"
    ).result(timeout=HANG_SECONDS)
    assert result.provisioning_state == "Failed"


def test_sdk_maps_the_conflict_and_the_refusal(start: Start) -> None:
    emu, client = start(fleet=(ServerSpec(SUB, "TestGroup", "slow", backup_seconds=30 * 86400.0),))
    # the first backup must still run when the second request comes, however slow the machine:
    # a month long (over an hour of real time at x600), and not followed (no polling thread)
    client.long_running_backup.begin_create("TestGroup", "slow", "first", polling=False)
    with pytest.raises(ResourceExistsError):
        client.long_running_backup.begin_create("TestGroup", "slow", "second")
    emu.set_backups_paused()
    with pytest.raises(HttpResponseError) as info:
        client.long_running_backup.begin_create("TestGroup", "slow", "third")
    assert info.value.error is not None and info.value.error.code == "OnDemandBackupNotAllowed"


def test_sdk_never_finishes_a_200_whose_backup_reads_ready(start: Start) -> None:
    """The create example's 200 (provisioningState "Ready"), and one step of the SDK's own
    polling after it, driven by hand so that no thread polls forever."""
    _, client = start(backup_answer=BackupAnswer.COMPLETED, backup_succeeded_state="Ready")
    started = client.long_running_backup.begin_create(
        "TestGroup", "quick-one", "ready", polling=False
    )
    initial = started.polling_method()._initial_response  # type: ignore[attr-defined]
    method = ARMPolling(0, lro_options={"final-state-via": "azure-async-operation"})
    method.initialize(client._client, initial, lambda response: response)
    assert method.status() == "Ready"
    assert not method.finished()  # "Ready" is not in azure-core's _FINISHED

    method.update_status()  # BodyContentPolling: a GET of the PUT's URL

    assert method.status() == "Ready"
    assert not method.finished()

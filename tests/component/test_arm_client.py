"""The ARM client against the emulator, over real loopback HTTP: every outcome a user can meet."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from armemulator import Emulator, EmulatorConfig, Faults, VirtualClock
from armemulator.kinds import Kind
from mysqlexport.arm import ArmClient
from mysqlexport.errors import (
    ArmError,
    ArmTransportError,
    CredentialError,
    ExportFailed,
    InvalidRequest,
    UntrustedUrl,
)
from mysqlexport.ids import ServerId
from mysqlexport.models import AcceptedOperation, ExportResult, StillRunning
from mysqlexport.redaction import SecretUri
from mysqlexport.settings import Settings
from tests.component.conftest import SAS, SIG, SUB, identity_for, server_id

SERVER = ServerId.parse(server_id("mysqltestserver"))


def requests_of(emu: Emulator, kind: Kind) -> int:
    return int(emu.counters().requests.get(kind.value, 0))


def run_to_end(emu: Emulator, clock: VirtualClock) -> None:
    """Advance emulated time far past any default export."""
    clock.advance(6 * 3600)


def accepted(arm: ArmClient, server: ServerId = SERVER, name: str = "b1") -> AcceptedOperation:
    outcome = arm.submit_export(server, name, SAS)
    assert isinstance(outcome, AcceptedOperation)
    return outcome


def test_export_is_accepted_and_followed_to_success(
    arm: ArmClient, emulator: Emulator, clock: VirtualClock
) -> None:
    op = accepted(arm)
    assert op.async_operation_url and "/azureAsyncOperation/" in op.async_operation_url
    assert op.location_url and "/operationStatus/" in op.location_url
    assert op.retry_after == 10 and op.request_id
    assert op.status_url == op.async_operation_url

    first = arm.get_status(op.status_url)
    assert first.status == "Pending" and not first.is_terminal
    assert isinstance(arm.get_result(op.location_url), StillRunning)

    seen = []
    for _ in range(20):
        clock.advance(15)
        status = arm.get_status(op.status_url)
        seen.append(status.percent_complete or 0)
        if status.is_terminal:
            break
    assert status.succeeded and status.percent_complete == 100
    assert seen == sorted(seen) and any(0 < p < 100 for p in seen)

    result = arm.get_result(op.location_url)
    assert isinstance(result, ExportResult) and result.succeeded
    assert result.name == "b1"
    assert result.datasource_size_bytes and result.data_transferred_bytes
    assert result.datasource_size_bytes == result.data_transferred_bytes


def test_without_azure_async_operation_the_location_url_is_polled(
    monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> None:
    with Emulator(EmulatorConfig(clock=clock, async_operation_header=False)) as emu:
        settings = Settings.from_env({"ARM_ENDPOINT": emu.url})
        with ArmClient(settings, identity_for(emu, monkeypatch)) as arm:
            op = accepted(arm)
            assert op.async_operation_url is None and op.status_url == op.location_url
            assert isinstance(arm.get_result(op.status_url), StillRunning)
            run_to_end(emu, clock)
            result = arm.get_result(op.status_url)
            assert isinstance(result, ExportResult) and result.succeeded


def test_failed_export_reports_the_services_own_error(
    arm: ArmClient, emulator: Emulator, clock: VirtualClock
) -> None:
    failing = next(s for s in emulator.servers() if s.fail_export)
    op = accepted(arm, ServerId.parse(failing.resource_id))
    run_to_end(emulator, clock)
    status = arm.get_status(op.status_url)
    assert status.is_terminal and not status.succeeded
    assert status.error and status.error.code == "AggregateException"
    with pytest.raises(ExportFailed) as info:
        arm.get_result(op.location_url or "")
    assert info.value.code == "AggregateException" and not info.value.transient
    assert info.value.result is not None and info.value.result.status == "Failed"


def test_second_export_while_one_runs_is_a_permanent_409(arm: ArmClient) -> None:
    accepted(arm, name="first")
    with pytest.raises(ArmError) as info:
        arm.submit_export(SERVER, "second", SAS)
    assert info.value.status == 409 and info.value.code == "BackupAlreadyRunningForServer"
    assert not info.value.transient and info.value.request_id


def test_resubmitting_a_finished_backup_name_answers_200_at_once(
    arm: ArmClient, emulator: Emulator, clock: VirtualClock
) -> None:
    accepted(arm, name="same-name")
    run_to_end(emulator, clock)
    again = arm.submit_export(SERVER, "same-name", SAS)
    assert isinstance(again, ExportResult) and again.succeeded and again.name == "same-name"


@pytest.mark.parametrize(
    ("server", "status", "code"),
    [
        (server_id("no-such-server"), 404, "ResourceNotFound"),
        (server_id("x", group="NoSuchGroup"), 404, "ResourceGroupNotFound"),
    ],
)
def test_missing_servers_carry_arms_code(
    arm: ArmClient, server: str, status: int, code: str
) -> None:
    with pytest.raises(ArmError) as info:
        arm.submit_export(ServerId.parse(server), "b", SAS)
    assert (info.value.status, info.value.code, info.value.transient) == (status, code, False)


def test_forbidden_server_is_authorization_failed(arm: ArmClient, emulator: Emulator) -> None:
    forbidden = next(s for s in emulator.servers() if s.forbidden)
    for call in (
        lambda sid: arm.submit_export(sid, "b", SAS),
        arm.validate_backup,
        arm.get_server,
    ):
        with pytest.raises(ArmError) as info:
            call(ServerId.parse(forbidden.resource_id))
        assert (info.value.status, info.value.code) == (403, "AuthorizationFailed")


def test_paused_feature_is_refused_with_the_configured_arm_error(
    arm: ArmClient, emulator: Emulator
) -> None:
    emulator.set_paused((400, "FeatureNotAvailable", "Export is paused."))
    with pytest.raises(ArmError) as info:
        arm.submit_export(SERVER, "b", SAS)
    assert (info.value.status, info.value.code) == (400, "FeatureNotAvailable")
    assert arm.validate_backup(SERVER) >= 1  # validation still answers


def test_validate_backup_returns_number_of_containers(arm: ArmClient, emulator: Emulator) -> None:
    for spec in emulator.servers():
        if spec.forbidden or spec.state != "Ready":
            continue
        assert arm.validate_backup(ServerId.parse(spec.resource_id)) == spec.number_of_containers


def test_stopped_server_cannot_be_exported(arm: ArmClient, emulator: Emulator) -> None:
    stopped = next(s for s in emulator.servers() if s.state == "Stopped")
    with pytest.raises(ArmError) as info:
        arm.submit_export(ServerId.parse(stopped.resource_id), "b", SAS)
    assert info.value.status == 400 and not info.value.transient


def test_list_servers_follows_next_link_and_get_server_reads_state(
    monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> None:
    with Emulator(EmulatorConfig(clock=clock, page_size=2)) as emu:
        arm = ArmClient(
            Settings.from_env({"ARM_ENDPOINT": emu.url}), identity_for(emu, monkeypatch)
        )
        everything = list(arm.list_servers(SUB))
        by_group = list(arm.list_servers(SUB, "TestGroup"))
        fleet = emu.servers()
        assert {s.id.resource_id for s in everything} == {s.resource_id for s in fleet}
        assert requests_of(emu, Kind.LIST_SERVERS) == -(-len(fleet) // 2)
        assert {s.id.resource_group for s in by_group} == {"TestGroup"}
        one = arm.get_server(by_group[0].id)
        assert one == by_group[0] and one.state and one.location


def test_unknown_subscription_is_refused_with_arms_code(arm: ArmClient) -> None:
    with pytest.raises(ArmError) as info:
        list(arm.list_servers("11111111-2222-3333-4444-555555555555"))
    assert (info.value.status, info.value.code) == (404, "SubscriptionNotFound")
    assert not info.value.transient


def test_throttled_calls_raise_transient_errors_with_retry_after(
    monkeypatch: pytest.MonkeyPatch, clock: VirtualClock
) -> None:
    config = EmulatorConfig(clock=clock, write_burst=3, write_refill_per_second=0.1)
    with Emulator(config) as emu:
        arm = ArmClient(
            Settings.from_env({"ARM_ENDPOINT": emu.url}), identity_for(emu, monkeypatch)
        )
        for _ in range(3):
            arm.validate_backup(SERVER)
        with pytest.raises(ArmError) as info:
            arm.validate_backup(SERVER)
        assert info.value.status == 429 and info.value.transient
        assert info.value.code == "SubscriptionRequestsThrottled"
        assert info.value.retry_after and info.value.retry_after >= 1
        clock.advance(info.value.retry_after)
        assert arm.validate_backup(SERVER) >= 1


def test_get_retries_transient_failures_but_post_is_never_resent(
    arm: ArmClient, emulator: Emulator
) -> None:
    op = accepted(arm)
    emulator.set_faults(Faults(error_500=1.0))
    before = requests_of(emulator, Kind.ASYNC_OPERATION)
    with pytest.raises(ArmError) as info:
        arm.get_status(op.status_url)
    assert info.value.status == 500 and info.value.transient
    assert requests_of(emulator, Kind.ASYNC_OPERATION) - before == 3  # 1 + ARM_GET_RETRIES

    before = requests_of(emulator, Kind.BACKUP_AND_EXPORT)
    with pytest.raises(ArmError):
        arm.submit_export(SERVER, "another", SAS)
    assert requests_of(emulator, Kind.BACKUP_AND_EXPORT) - before == 1


def test_retry_after_on_a_get_is_left_to_the_workflow(arm: ArmClient, emulator: Emulator) -> None:
    op = accepted(arm)
    emulator.set_faults(Faults(error_503=1.0, retry_after_seconds=20))
    before = requests_of(emulator, Kind.ASYNC_OPERATION)
    with pytest.raises(ArmError) as info:
        arm.get_status(op.status_url)
    assert info.value.status == 503 and info.value.retry_after == 20
    assert requests_of(emulator, Kind.ASYNC_OPERATION) - before == 1


def test_connection_reset_is_a_transient_transport_error(
    arm: ArmClient, emulator: Emulator
) -> None:
    emulator.set_faults(Faults(connection_reset=1.0))
    with pytest.raises(ArmTransportError) as info:
        arm.validate_backup(SERVER)
    assert info.value.transient and info.value.status is None


def test_slow_answers_hit_the_read_timeout(
    emulator: Emulator, managed_identity: ManagedIdentityCredential
) -> None:
    settings = Settings.from_env({"ARM_ENDPOINT": emulator.url, "ARM_READ_TIMEOUT_SECONDS": "0.3"})
    emulator.set_faults(Faults(slow=1.0, slow_seconds=60.0))  # beyond any pause of a busy machine
    with ArmClient(settings, managed_identity) as arm, pytest.raises(ArmTransportError) as info:
        arm.validate_backup(SERVER)
    assert info.value.code == "Timeout" and info.value.transient


@pytest.fixture
def foreign(clock: VirtualClock) -> Iterator[Emulator]:
    """A second listener standing in for a host that must never see our token."""
    with Emulator(EmulatorConfig(clock=clock)) as other:
        yield other


def test_token_is_never_sent_to_a_foreign_polling_url(
    arm: ArmClient, emulator: Emulator, foreign: Emulator
) -> None:
    emulator.set_polling_base(foreign.url)
    op = accepted(arm)
    assert op.status_url.startswith(foreign.url)
    with pytest.raises(UntrustedUrl) as info:
        arm.get_status(op.status_url)
    assert not info.value.transient
    with pytest.raises(UntrustedUrl):
        arm.get_result(op.location_url or "")
    assert sum(foreign.counters().requests.values()) == 0
    assert foreign.counters().foreign_host_requests == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{port}/subscriptions/x",  # scheme differs
        "http://127.0.0.1:{other}/subscriptions/x",  # port differs
        "http://localhost:{port}/subscriptions/x",  # host differs
        "http://127.0.0.1.nip.io:{port}/x",
        "ftp://127.0.0.1:{port}/x",
        "not a url",
    ],
)
def test_only_the_exact_arm_origin_is_trusted(arm: ArmClient, emulator: Emulator, url: str) -> None:
    port = int(emulator.url.rsplit(":", 1)[1])
    target = url.format(port=port, other=port + 1)
    assert not arm.is_trusted(target)
    with pytest.raises(UntrustedUrl):
        arm.get_status(target)


def test_no_token_no_export(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.token_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", "wrong-secret")
    settings = Settings.from_env({"ARM_ENDPOINT": emulator.url})
    with ArmClient(settings, ManagedIdentityCredential()) as arm, pytest.raises(CredentialError):
        arm.validate_backup(SERVER)
    assert requests_of(emulator, Kind.VALIDATE_BACKUP) == 0


def test_arm_rejects_a_missing_or_forged_token(emulator: Emulator) -> None:
    url = f"{emulator.url}{SERVER.resource_id}/validateBackup?api-version=2024-12-30"
    missing = requests.post(url, timeout=5)
    forged = requests.post(url, headers={"Authorization": "Bearer forged"}, timeout=5)
    assert missing.status_code == forged.status_code == 401
    assert missing.json()["error"]["code"] == "AuthenticationFailed"
    assert forged.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_bad_input_is_refused_before_any_request(arm: ArmClient, emulator: Emulator) -> None:
    with pytest.raises(InvalidRequest) as info:
        arm.submit_export(SERVER, "Bad_Name", SAS)
    assert set(info.value.problems) == {"backupName"}
    with pytest.raises(InvalidRequest) as info:
        arm.submit_export(SERVER, "ok", [])
    assert set(info.value.problems) == {"sasUriList"}
    for wrong in ("Zip", "None", "raw"):  # "None" was the first preview's; the request refuses it
        with pytest.raises(InvalidRequest) as info:
            arm.submit_export(SERVER, "ok", SAS, backup_format=wrong)
        assert set(info.value.problems) == {"backupFormat"}
    assert requests_of(emulator, Kind.BACKUP_AND_EXPORT) == 0


def test_service_side_validation_errors_name_the_field_without_the_secret(arm: ArmClient) -> None:
    plain_http = SAS[0].replace("https://", "http://")
    with pytest.raises(ArmError) as info:
        arm.submit_export(SERVER, "ok", [plain_http])
    assert info.value.status == 400 and info.value.target == "targetDetails.sasUriList[0]"
    assert SIG not in str(info.value) and SIG not in repr(info.value)


def test_no_log_line_or_error_carries_a_sas_signature(
    arm: ArmClient, emulator: Emulator, clock: VirtualClock
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    errors: list[str] = []
    try:
        secret = SecretUri(SAS[0])
        op = arm.submit_export(SERVER, "logged", [secret])
        assert isinstance(op, AcceptedOperation)
        emulator.set_faults(Faults(error_500=1.0, connection_reset=0.0))
        for call in (
            lambda: arm.submit_export(SERVER, "again", [secret]),
            lambda: arm.get_status(op.status_url),
        ):
            try:
                call()
            except ArmError as err:
                errors.extend([str(err), repr(err), repr(err.to_dict())])
        emulator.set_faults(Faults())
        clock.advance(6 * 3600)
        arm.get_result(op.location_url or "")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    text = stream.getvalue() + "\n".join(errors)
    assert "validateBackup" in text or "backupAndExport" in text  # something was logged
    assert SIG not in text
    assert all(SIG not in repr(x) for x in emulator.exports())

"""The ARM client's on-demand backups (backupsV2) against the emulator, over real loopback HTTP:
every answer mode, the examples' quirks, the service's refusals and the transport rules.

What each answer mode gives the caller:

* ``location`` (the spec example's): ``AcceptedOperation`` with only a Location URL (on another
  api-version); ``get_backup_result`` says ``StillRunning`` until it gives the ended backup.
* ``async-operation``: both URLs; ``get_status`` on the Azure-AsyncOperation URL gives the
  operation's status with ``resource_id``, the backup to GET once it ended.
* ``created``: a ``BackupResource`` "Creating" with ``retry_after``; ``get_backup`` until terminal.
* ``completed``: the ended ``BackupResource`` at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from armemulator import (
    BackupAnswer,
    BackupNaming,
    Emulator,
    EmulatorConfig,
    Faults,
    Kind,
    ServerSpec,
    VirtualClock,
)
from mysqlexport.arm import ArmClient
from mysqlexport.errors import ArmError, ArmTransportError, InvalidRequest, UntrustedUrl
from mysqlexport.ids import ServerId
from mysqlexport.models import AcceptedOperation, BackupResource, StillRunning
from mysqlexport.settings import Settings
from tests.component.conftest import SAS, SUB, identity_for, server_id

SERVER = ServerId.parse(server_id("mysqltestserver"))
OTHER = ServerId.parse(server_id("mysqltestserver1"))
FAILING = ServerId.parse(server_id("inventory-db", group="ProdGroup"))
STATUS_API = "2023-06-01-preview"  # the api-version of the example's Location URL

Make = Callable[..., tuple[Emulator, ArmClient]]


@pytest.fixture
def make(clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Make]:
    """An emulator with the given config and a client of it with a managed identity."""
    with ExitStack() as stack:

        def factory(**config: Any) -> tuple[Emulator, ArmClient]:
            emu = stack.enter_context(Emulator(EmulatorConfig(clock=clock, seed=7, **config)))
            settings = Settings.from_env({"ARM_ENDPOINT": emu.url, "ARM_READ_TIMEOUT_SECONDS": "2"})
            arm = stack.enter_context(ArmClient(settings, identity_for(emu, monkeypatch)))
            return emu, arm

        yield factory


def requests_of(emu: Emulator, kind: Kind) -> int:
    return int(emu.counters().requests.get(kind.value, 0))


def finish(clock: VirtualClock, emu: Emulator) -> None:
    """Move the clock past the end of every backup accepted so far."""
    clock.set(max(b.ends_at for b in emu.backups()) + 1)


def accepted(arm: ArmClient, server: ServerId = SERVER, name: str = "nightly") -> AcceptedOperation:
    outcome = arm.create_backup(server, name)
    assert isinstance(outcome, AcceptedOperation)
    return outcome


def resource(arm: ArmClient, server: ServerId = SERVER, name: str = "nightly") -> BackupResource:
    outcome = arm.create_backup(server, name)
    assert isinstance(outcome, BackupResource)
    return outcome


def ended(arm: ArmClient, location_url: str | None) -> BackupResource:
    outcome = arm.get_backup_result(location_url or "")
    assert isinstance(outcome, BackupResource)
    return outcome


# --- the answer modes ---------------------------------------------------------------------------


def test_a_202_gives_the_location_url_as_given_and_it_is_read_until_the_backup_ends(
    make: Make, clock: VirtualClock
) -> None:
    emu, arm = make()

    op = accepted(arm)

    (record,) = emu.backups()
    assert op.async_operation_url is None and op.status_url == op.location_url
    assert op.retry_after == 10 and op.request_id == record.operation_id
    location = urlsplit(op.location_url or "")
    assert location.path.endswith(f"/locations/eastus/operationStatus/{record.operation_id}")
    query = parse_qs(location.query)
    assert query["api-version"] == [STATUS_API]  # not ours: the URL is used exactly as given
    assert {"t", "c", "s", "h"} <= query.keys()  # its signature too, or the service refuses it

    running = arm.get_backup_result(op.status_url)
    assert running == StillRunning(retry_after=10, percent_complete=0)
    with pytest.raises(ArmError) as hidden:  # a 202 hides the resource until it ends (ARM RPC)
        arm.get_backup(arm.backup_id(SERVER, "nightly"))
    assert (hidden.value.status, hidden.value.code) == (404, "ResourceNotFound")

    finish(clock, emu)
    done = ended(arm, op.location_url)
    assert done.is_terminal and done.succeeded and done.error is None
    assert done.id == record.resource_id == arm.backup_id(SERVER, "nightly")
    assert (done.name, done.backup_type, done.source) == ("nightly", "FULL", "OnDemand")
    assert done.provisioning_state == done.state == "Succeeded" and done.completed_time
    read = arm.get_backup(done.id or "")
    assert (read.id, read.state, read.completed_time) == (done.id, "Succeeded", done.completed_time)
    assert [b.id for b in arm.list_backups(SERVER)] == [done.id]


def test_azure_async_operation_gives_the_status_and_the_real_resource_id(
    make: Make, clock: VirtualClock
) -> None:
    emu, arm = make(backup_answer=BackupAnswer.ASYNC_OPERATION)

    op = accepted(arm)

    (record,) = emu.backups()
    assert op.async_operation_url and op.location_url
    assert op.status_url == op.async_operation_url
    running = arm.get_status(op.status_url)
    assert running.status == "InProgress" and not running.is_terminal
    assert running.resource_id == record.resource_id and running.retry_after == 10
    # the status resource read as a Location URL: 200 while running is still running
    assert isinstance(arm.get_backup_result(op.status_url), StillRunning)

    finish(clock, emu)
    status = arm.get_status(op.status_url)
    assert status.succeeded and status.percent_complete == 100
    backup = arm.get_backup(status.resource_id or "")
    assert backup.succeeded and backup.id == record.resource_id
    # an OperationStatusResult as the final body: the id is its resourceId, the state its status
    final = ended(arm, op.status_url)
    assert (final.id, final.name, final.state) == (record.resource_id, "nightly", "Succeeded")
    assert final.provisioning_state is None and final.backup_type is None
    assert ended(arm, op.location_url).succeeded


def test_a_201_is_a_creating_backup_read_until_it_is_terminal(
    make: Make, clock: VirtualClock
) -> None:
    emu, arm = make(backup_answer=BackupAnswer.CREATED)

    created = resource(arm)

    assert created.provisioning_state == created.state == "Creating"
    assert not created.is_terminal and created.retry_after == 10
    assert created.id == arm.backup_id(SERVER, "nightly") and created.completed_time is None
    assert not arm.get_backup(created.id or "").is_terminal
    finish(clock, emu)
    done = arm.get_backup(created.id or "")
    assert done.succeeded and done.completed_time


def test_a_200_is_the_finished_backup(make: Make) -> None:
    _, arm = make(backup_answer=BackupAnswer.COMPLETED)

    done = resource(arm)

    assert done.is_terminal and done.succeeded and done.completed_time
    assert done.request_id  # what Azure support asks for


# --- outcomes and the examples' quirks ---------------------------------------------------------


def test_a_failed_backup_carries_arms_code_on_every_url(make: Make, clock: VirtualClock) -> None:
    emu, arm = make(backup_answer=BackupAnswer.ASYNC_OPERATION)
    op = accepted(arm, FAILING)
    finish(clock, emu)

    result = ended(arm, op.location_url)
    status = arm.get_status(op.status_url)

    assert result.is_terminal and not result.succeeded and result.state == "Failed"
    assert result.error and result.error.code == "OnDemandBackupFailed"
    assert "inventory-db" in result.error.message
    assert status.error and status.error.code == "OnDemandBackupFailed" and not status.succeeded
    assert arm.get_backup(result.id or "").state == "Failed"


def test_ready_is_read_as_succeeded_and_kept_as_written(make: Make, clock: VirtualClock) -> None:
    emu, arm = make(backup_succeeded_state="Ready")
    op = accepted(arm)
    finish(clock, emu)

    for backup in (ended(arm, op.location_url), arm.get_backup(arm.backup_id(SERVER, "nightly"))):
        assert backup.provisioning_state == "Ready"
        assert backup.state == "Succeeded" and backup.succeeded and backup.is_terminal
    (listed,) = arm.list_backups(SERVER)
    assert listed.provisioning_state == "Ready" and listed.succeeded


@pytest.mark.parametrize("answer", list(BackupAnswer))
def test_a_renamed_backup_is_found_by_the_id_the_service_gives(
    make: Make, clock: VirtualClock, answer: BackupAnswer
) -> None:
    emu, arm = make(backup_names=BackupNaming.PREFIXED, backup_answer=answer)

    outcome = arm.create_backup(SERVER, "mybackup")

    (record,) = emu.backups()
    assert record.name != "mybackup" and record.name.endswith("_mybackup")
    if isinstance(outcome, AcceptedOperation) and outcome.async_operation_url:
        real_id = arm.get_status(outcome.async_operation_url).resource_id
    elif isinstance(outcome, AcceptedOperation):
        finish(clock, emu)
        real_id = ended(arm, outcome.location_url).id
    else:
        real_id = outcome.id
    assert real_id == record.resource_id
    finish(clock, emu)
    backup = arm.get_backup(real_id or "")
    assert backup.succeeded and backup.name == record.name
    with pytest.raises(ArmError) as by_asked:
        arm.get_backup(arm.backup_id(SERVER, "mybackup"))
    assert (by_asked.value.status, by_asked.value.code) == (404, "ResourceNotFound")


def test_the_list_follows_next_link_to_the_last_page(make: Make, clock: VirtualClock) -> None:
    spec = ServerSpec(SUB, "TestGroup", "paged", automatic_backups=3, backup_seconds=10)
    emu, arm = make(fleet=(spec,), backup_page_size=2, backup_answer=BackupAnswer.COMPLETED)
    paged = ServerId.parse(spec.resource_id)
    mine = resource(arm, paged, "mine")

    listed = arm.list_backups(paged)

    assert requests_of(emu, Kind.LIST_BACKUPS) == 2
    assert [b.id for b in listed][-1] == mine.id and len({b.id for b in listed}) == 4
    assert [b.source for b in listed].count("Automatic") == 3
    assert all(b.succeeded and b.backup_type == "FULL" for b in listed)


# --- refusals ------------------------------------------------------------------------------------


def test_a_second_backup_while_one_runs_is_a_permanent_409(make: Make) -> None:
    _, arm = make()
    accepted(arm, name="first")

    with pytest.raises(ArmError) as info:
        arm.create_backup(SERVER, "second")

    assert (info.value.status, info.value.code) == (409, "BackupAlreadyRunningForServer")
    assert not info.value.transient and info.value.request_id


def test_a_backup_while_an_export_runs_is_the_same_409(make: Make) -> None:
    _, arm = make()
    assert isinstance(arm.submit_export(SERVER, "export-1", SAS), AcceptedOperation)

    with pytest.raises(ArmError) as info:
        arm.create_backup(SERVER, "nightly")

    assert (info.value.status, info.value.code) == (409, "BackupAlreadyRunningForServer")


def test_a_server_at_its_limit_is_refused_with_arms_code(make: Make) -> None:
    _, arm = make(backup_limit=1, backup_answer=BackupAnswer.COMPLETED)
    resource(arm, name="b0")

    with pytest.raises(ArmError) as info:
        arm.create_backup(SERVER, "b1")

    assert (info.value.status, info.value.code) == (400, "OnDemandBackupLimitExceeded")
    assert not info.value.transient
    assert resource(arm, name="b0").succeeded  # an existing name is still answered


def test_refused_mode_raises_the_configured_error_once(make: Make) -> None:
    emu, arm = make(backups_paused=(503, "ServiceBusy", "try later"))

    with pytest.raises(ArmError) as busy:
        arm.create_backup(SERVER, "nightly")
    emu.set_backups_paused()
    with pytest.raises(ArmError) as refused:
        arm.create_backup(SERVER, "nightly")

    assert (busy.value.status, busy.value.code, busy.value.transient) == (503, "ServiceBusy", True)
    assert (refused.value.code, refused.value.transient) == ("OnDemandBackupNotAllowed", False)
    assert requests_of(emu, Kind.CREATE_BACKUP) == 2  # each PUT sent once, even a transient one
    assert arm.list_backups(SERVER) == []  # reads go on


def test_a_forbidden_server_is_authorization_failed_on_every_call(make: Make) -> None:
    _, arm = make()
    forbidden = ServerId.parse(server_id("billing-db", group="ProdGroup"))

    for call in (
        lambda: arm.create_backup(forbidden, "nightly"),
        lambda: arm.get_backup(arm.backup_id(forbidden, "nightly")),
        lambda: arm.list_backups(forbidden),
    ):
        with pytest.raises(ArmError) as info:
            call()
        assert (info.value.status, info.value.code) == (403, "AuthorizationFailed")


# --- transport rules -----------------------------------------------------------------------------


def test_throttled_calls_surface_429_with_retry_after_and_are_not_resent(make: Make) -> None:
    emu, arm = make(write_burst=1, write_refill_per_second=0.1, read_burst=1)
    accepted(arm)

    with pytest.raises(ArmError) as write:
        arm.create_backup(OTHER, "nightly")
    arm.list_backups(OTHER)  # the one read token
    with pytest.raises(ArmError) as read:
        arm.list_backups(SERVER)

    for info in (write, read):
        assert (info.value.status, info.value.code) == (429, "SubscriptionRequestsThrottled")
        assert info.value.transient and info.value.retry_after and info.value.retry_after > 0
    assert requests_of(emu, Kind.CREATE_BACKUP) == 2
    assert requests_of(emu, Kind.LIST_BACKUPS) == 2  # a GET with Retry-After waits for the workflow


def test_a_put_is_never_resent_after_a_connection_reset(make: Make) -> None:
    faults = Faults(
        connection_reset=1.0,
        kinds=frozenset({Kind.CREATE_BACKUP}),
        fault_after_accept=True,
        limit=1,
    )
    emu, arm = make(faults=faults)

    with pytest.raises(ArmTransportError) as info:
        arm.create_backup(SERVER, "nightly")

    assert info.value.transient and info.value.status is None
    assert requests_of(emu, Kind.CREATE_BACKUP) == 1
    (record,) = emu.backups()  # the service had accepted it: only the workflow may PUT again
    assert accepted(arm).request_id == record.operation_id  # the same PUT finds the same backup


def test_gets_are_retried_on_transient_failures(make: Make) -> None:
    emu, arm = make(faults=Faults(error_500=1.0, kinds=frozenset({Kind.GET_BACKUP})))

    with pytest.raises(ArmError) as info:
        arm.get_backup(arm.backup_id(SERVER, "nightly"))

    assert info.value.status == 500 and info.value.transient
    assert requests_of(emu, Kind.GET_BACKUP) == 3  # 1 + ARM_GET_RETRIES


@pytest.fixture
def foreign(clock: VirtualClock) -> Iterator[Emulator]:
    """A second listener standing in for a host that must never see our token."""
    with Emulator(EmulatorConfig(clock=clock)) as other:
        yield other


def test_a_polling_url_on_another_host_is_refused(make: Make, foreign: Emulator) -> None:
    emu, arm = make(backup_answer=BackupAnswer.ASYNC_OPERATION)
    emu.set_polling_base(foreign.url)
    op = accepted(arm)
    assert (op.location_url or "").startswith(foreign.url)

    for call in (
        lambda: arm.get_backup_result(op.location_url or ""),
        lambda: arm.get_status(op.status_url),
        lambda: arm.get_backup(f"{foreign.url}{arm.backup_id(SERVER, 'nightly')}"),
    ):
        with pytest.raises(UntrustedUrl) as info:
            call()
        assert not info.value.transient
    assert sum(foreign.counters().requests.values()) == 0


def test_a_next_link_on_another_host_is_refused(make: Make, foreign: Emulator) -> None:
    spec = ServerSpec(SUB, "TestGroup", "paged", automatic_backups=3)
    _, arm = make(fleet=(spec,), backup_page_size=2, public_base=foreign.url)

    with pytest.raises(UntrustedUrl):
        arm.list_backups(ServerId.parse(spec.resource_id))

    assert sum(foreign.counters().requests.values()) == 0


@pytest.mark.parametrize("name", ["a/b", "..", ".", "with space", "", "été", "x?y", "n\n"])
def test_a_name_outside_the_pattern_is_refused_before_any_request(make: Make, name: str) -> None:
    emu, arm = make()

    with pytest.raises(InvalidRequest):
        arm.create_backup(SERVER, name)

    assert requests_of(emu, Kind.CREATE_BACKUP) == 0


@pytest.mark.parametrize(
    "ref",
    [
        server_id("mysqltestserver"),  # a server, not a backup
        f"{server_id('mysqltestserver')}/backups/nightly",  # another child type
        f"{server_id('mysqltestserver')}/backupsV2/../../x",
        f"{server_id('mysqltestserver')}/backupsV2/nightly?api-version=2020-01-01",
        "/subscriptions/not-a-guid/resourceGroups/g/providers/Microsoft.DBforMySQL/"
        "flexibleServers/s/backupsV2/b",
    ],
)
def test_a_reference_that_is_not_a_backup_id_is_refused(make: Make, ref: str) -> None:
    emu, arm = make()

    with pytest.raises(InvalidRequest):
        arm.get_backup(ref)

    assert requests_of(emu, Kind.GET_BACKUP) == 0

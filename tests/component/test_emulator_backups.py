"""The emulator's on-demand backups (backupsV2) over loopback HTTP: every answer mode, the rules
the spec leaves open, refusals, throttling, faults and counters.

Shapes are checked against schemas transcribed from the 2024-12-30 OpenAPI document
(``ServerBackupV2``, ``ServerBackupV2ListResult``, common-types ``OperationStatusResult`` and
``ErrorResponse``; shared/reference/specs/LongRunningBackup.2024-12-30.json).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import requests

from armemulator import (
    DEFAULT_SUBSCRIPTION,
    BackupAnswer,
    BackupNaming,
    Emulator,
    EmulatorConfig,
    Faults,
    Kind,
    ServerSpec,
    VirtualClock,
)
from armemulator.announce import announcement
from tests.waits import HANG_SECONDS

REPO = Path(__file__).resolve().parents[2]
SUB = DEFAULT_SUBSCRIPTION
API = "2024-12-30"
STATUS_API = "2023-06-01-preview"
SAS = "https://acct.blob.core.windows.net/exports?sv=2024-05-04&sr=c&sp=rcw&sig=S3CRET%3D"
GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# --- the contract's shapes (transcribed from the 2024-12-30 document) ----------------------------

_ERROR_DETAIL = {
    "type": "object",
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "target": {"type": "string"},
        "details": {"type": "array"},
        "additionalInfo": {"type": "array"},
    },
}
SERVER_BACKUP_V2 = {
    "type": "object",
    "required": ["id", "name", "type", "properties"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "type": {"type": "string"},
        "properties": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "backupNameV2": {"type": "string"},
                "backupType": {"enum": ["FULL"]},
                "completedTime": {"type": "string", "format": "date-time"},
                "source": {"type": "string"},
                "provisioningState": {"type": "string"},
            },
        },
    },
}
LIST_RESULT = {
    "type": "object",
    "required": ["value"],
    "additionalProperties": False,
    "properties": {"value": {"type": "array", "items": SERVER_BACKUP_V2}, "nextLink": {}},
}
OPERATION_STATUS_RESULT = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "status": {"type": "string"},
        "percentComplete": {"type": "number", "minimum": 0, "maximum": 100},
        "startTime": {"type": "string", "format": "date-time"},
        "endTime": {"type": "string", "format": "date-time"},
        "error": _ERROR_DETAIL,
        "resourceId": {"type": "string"},
    },
}
ERROR_RESPONSE = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {"error": {**_ERROR_DETAIL, "required": ["code", "message"]}},
}


def conforms(instance: Any, schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(
        instance
    )


# --- a client that speaks to one emulator --------------------------------------------------------


class Arm:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {emu.issue_token()}"

    def server_url(self, server: str, rg: str = "TestGroup") -> str:
        return (
            f"{self.emu.url}/subscriptions/{SUB}/resourceGroups/{rg}"
            f"/providers/Microsoft.DBforMySQL/flexibleServers/{server}"
        )

    def backup_url(self, server: str, name: str, rg: str = "TestGroup") -> str:
        return f"{self.server_url(server, rg)}/backupsV2/{name}"

    def put(
        self,
        server: str = "mysqltestserver",
        name: str = "nightly",
        rg: str = "TestGroup",
        *,
        api_version: str = API,
        **kwargs: Any,
    ) -> requests.Response:
        return self.http.put(
            self.backup_url(server, name, rg), params={"api-version": api_version}, **kwargs
        )

    def get_backup(
        self, server: str = "mysqltestserver", name: str = "nightly", rg: str = "TestGroup"
    ) -> requests.Response:
        return self.http.get(self.backup_url(server, name, rg), params={"api-version": API})

    def list_backups(self, server: str = "mysqltestserver", rg: str = "TestGroup") -> Any:
        return self.http.get(
            f"{self.server_url(server, rg)}/backupsV2", params={"api-version": API}
        )

    def export(self, server: str = "mysqltestserver", name: str = "nightly-export") -> Any:
        body = {
            "backupSettings": {"backupName": name},
            "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": [SAS]},
        }
        return self.http.post(
            f"{self.server_url(server)}/backupAndExport", params={"api-version": API}, json=body
        )

    def get(self, url: str) -> requests.Response:
        return self.http.get(url)


def error_of(response: requests.Response) -> dict[str, Any]:
    conforms(response.json(), ERROR_RESPONSE)
    error: dict[str, Any] = response.json()["error"]
    return error


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


Make = Callable[..., tuple[Emulator, Arm]]


@pytest.fixture
def make(clock: VirtualClock) -> Iterator[Make]:
    with ExitStack() as stack:

        def factory(**config: Any) -> tuple[Emulator, Arm]:
            emu = stack.enter_context(Emulator(EmulatorConfig(clock=clock, **config)))
            return emu, Arm(emu)

        yield factory


@pytest.fixture
def emu_arm(make: Make) -> tuple[Emulator, Arm]:
    return make()


def finish(clock: VirtualClock, emu: Emulator) -> None:
    """Move the clock past the end of every backup accepted so far."""
    clock.set(max(b.ends_at for b in emu.backups()) + 1)


# --- the default answer: the spec example's 202 with Location ------------------------------------


def test_default_answer_is_202_with_location_on_another_api_version(
    emu_arm: tuple[Emulator, Arm],
) -> None:
    emu, arm = emu_arm

    response = arm.put()

    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["Retry-After"] == "10"
    assert "Azure-AsyncOperation" not in response.headers
    (backup,) = emu.backups()
    assert response.headers["x-ms-request-id"] == backup.operation_id
    assert response.headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == emu.url
    assert location.path == (
        f"/subscriptions/{SUB}/providers/Microsoft.DBforMySQL/locations/eastus"
        f"/operationStatus/{backup.operation_id}"
    )
    query = parse_qs(location.query)
    assert query["api-version"] == [STATUS_API]
    assert {"t", "c", "s", "h"} <= query.keys()


def test_location_answers_202_with_status_while_running_then_the_backup(
    emu_arm: tuple[Emulator, Arm], clock: VirtualClock
) -> None:
    emu, arm = emu_arm
    location = arm.put(name="weekly-1").headers["Location"]
    backup = emu.backups()[0]

    running = arm.get(location)
    assert running.status_code == 202
    assert running.headers["Location"] == location
    assert running.headers["Retry-After"] == "10"
    conforms(running.json(), OPERATION_STATUS_RESULT)
    assert running.json()["status"] == "InProgress"
    assert running.json()["resourceId"] == backup.resource_id
    assert "endTime" not in running.json()
    # a 202 hides the resource until the operation completes (ARM RPC)
    assert arm.get_backup(name="weekly-1").status_code == 404
    assert arm.list_backups().json() == {"value": []}

    clock.set(backup.submitted_at + backup.planned_seconds / 2)
    halfway = arm.get(location).json()
    assert 0 < halfway["percentComplete"] < 100

    finish(clock, emu)
    done = arm.get(location)
    assert done.status_code == 200
    assert "Retry-After" not in done.headers
    body = done.json()
    conforms(body, SERVER_BACKUP_V2)
    conforms(body, OPERATION_STATUS_RESULT)
    assert body["id"] == body["resourceId"] == backup.resource_id
    assert body["id"].endswith("/flexibleServers/mysqltestserver/backupsV2/weekly-1")
    assert body["name"] == "weekly-1"
    assert body["type"] == "Microsoft.DBforMySQL/flexibleServers/backupsV2"
    assert body["status"] == "Succeeded"
    assert body["percentComplete"] == 100
    assert body["properties"]["provisioningState"] == "Succeeded"
    assert body["properties"]["backupType"] == "FULL"
    assert body["properties"]["source"] == "OnDemand"
    assert body["properties"]["completedTime"] == body["endTime"]
    assert "backupNameV2" not in body["properties"]  # named as asked
    resource = arm.get_backup(name="weekly-1")
    assert resource.status_code == 200
    assert resource.json() == {k: body[k] for k in ("id", "name", "type", "properties")}
    assert [b["name"] for b in arm.list_backups().json()["value"]] == ["weekly-1"]


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"json": {}}, {"json": {"properties": {"backupType": "FULL", "source": "x"}}}],
    ids=["no-body", "empty-object", "server-backup-v2"],
)
def test_create_accepts_no_body_an_empty_object_or_a_server_backup_v2(
    emu_arm: tuple[Emulator, Arm], kwargs: dict[str, Any]
) -> None:
    assert emu_arm[1].put(**kwargs).status_code == 202


@pytest.mark.parametrize("raw", [b"[]", b'"backup"', b"3", b"null", b"{not json"])
def test_a_body_that_is_not_an_object_is_invalid_request_content(
    emu_arm: tuple[Emulator, Arm], raw: bytes
) -> None:
    emu, arm = emu_arm
    response = arm.put(data=raw, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert error_of(response)["code"] == "InvalidRequestContent"
    assert emu.backups() == []


def test_a_backup_type_other_than_full_is_refused(emu_arm: tuple[Emulator, Arm]) -> None:
    response = emu_arm[1].put(json={"properties": {"backupType": "PARTIAL"}})

    assert response.status_code == 400
    assert error_of(response)["target"] == "properties.backupType"


@pytest.mark.parametrize("name", ["with%20space", "star*", "a!b", "%C3%A9t%C3%A9%0A"])
def test_a_backup_name_outside_the_pattern_is_invalid_parameter_value(
    emu_arm: tuple[Emulator, Arm], name: str
) -> None:
    emu, arm = emu_arm
    for response in (arm.put(name=name), arm.get_backup(name=name)):
        assert response.status_code == 400
        assert error_of(response)["code"] == "InvalidParameterValue"
        assert error_of(response)["target"] == "backupName"
    assert emu.backups() == []


def test_names_the_pattern_allows_are_accepted(emu_arm: tuple[Emulator, Arm]) -> None:
    assert emu_arm[1].put(name="Backup_2025.01-01").status_code == 202


def test_backups_v2_needs_an_api_version_that_carries_it(emu_arm: tuple[Emulator, Arm]) -> None:
    arm = emu_arm[1]
    too_old = arm.put(api_version="2023-06-30")
    missing = arm.http.put(arm.backup_url("mysqltestserver", "nightly"))

    assert too_old.status_code == 400
    assert error_of(too_old)["code"] == "NoRegisteredProviderFound"
    assert "flexibleServers/backupsV2" in error_of(too_old)["message"]
    assert error_of(missing)["code"] == "MissingApiVersionParameter"
    assert arm.put(api_version="2023-10-01-preview").status_code == 202


def test_methods_the_routes_do_not_have_are_405(emu_arm: tuple[Emulator, Arm]) -> None:
    arm = emu_arm[1]
    delete = arm.http.delete(arm.backup_url("mysqltestserver", "x"), params={"api-version": API})
    put_list = arm.http.put(
        f"{arm.server_url('mysqltestserver')}/backupsV2", params={"api-version": API}
    )

    assert delete.status_code == 405
    assert delete.headers["Allow"] == "PUT, GET"
    assert put_list.status_code == 405
    assert put_list.headers["Allow"] == "GET"


# --- the server ------------------------------------------------------------------------------


def test_a_missing_server_is_parent_resource_not_found_on_every_route(
    emu_arm: tuple[Emulator, Arm],
) -> None:
    arm = emu_arm[1]
    for response in (
        arm.put("no-such-server"),
        arm.get_backup("no-such-server"),
        arm.list_backups("no-such-server"),
    ):
        assert response.status_code == 404
        assert error_of(response) == {
            "code": "ParentResourceNotFound",
            "message": "Can not perform requested operation on nested resource. "
            "Parent resource 'no-such-server' not found.",
            "details": [],
            "additionalInfo": [],
        }


def test_a_missing_resource_group_is_resource_group_not_found(
    emu_arm: tuple[Emulator, Arm],
) -> None:
    response = emu_arm[1].put(rg="NoSuchGroup")

    assert response.status_code == 404
    assert error_of(response)["code"] == "ResourceGroupNotFound"


def test_a_missing_backup_of_an_existing_server_is_resource_not_found(
    emu_arm: tuple[Emulator, Arm],
) -> None:
    response = emu_arm[1].get_backup(name="never-made")

    assert response.status_code == 404
    assert error_of(response)["code"] == "ResourceNotFound"
    assert "flexibleServers/mysqltestserver/backupsV2/never-made" in error_of(response)["message"]


def test_a_stopped_server_is_refused_as_for_exports(emu_arm: tuple[Emulator, Arm]) -> None:
    response = emu_arm[1].put("mysqltestserver2")

    assert response.status_code == 400
    assert error_of(response)["code"] == "InvalidServerState"
    assert "'Stopped'" in error_of(response)["message"]


def test_a_forbidden_server_names_the_backups_v2_action(emu_arm: tuple[Emulator, Arm]) -> None:
    arm = emu_arm[1]
    put = arm.put("billing-db", rg="ProdGroup")
    get = arm.get_backup("billing-db", rg="ProdGroup")

    assert put.status_code == get.status_code == 403
    assert "'Microsoft.DBforMySQL/flexibleServers/backupsv2/write'" in error_of(put)["message"]
    assert "'Microsoft.DBforMySQL/flexibleServers/backupsv2/read'" in error_of(get)["message"]


def test_granted_actions_hold_backups_to_the_role(make: Make) -> None:
    export_role = frozenset(
        {
            "Microsoft.DBforMySQL/flexibleServers/backupAndExport/action",
            "Microsoft.DBforMySQL/flexibleServers/read",
            "Microsoft.DBforMySQL/flexibleServers/validateBackup/action",
        }
    )
    _, narrow = make(granted_actions=export_role)
    _, wide = make(
        granted_actions=export_role
        | {
            "Microsoft.DBforMySQL/flexibleServers/backupsV2/write",
            "Microsoft.DBforMySQL/flexibleServers/backupsV2/read",
        }
    )

    refused = narrow.put()
    assert refused.status_code == 403
    assert "backupsv2/write" in error_of(refused)["message"]
    assert narrow.list_backups().status_code == 403
    assert narrow.export().status_code == 202  # the export role still exports
    assert wide.put().status_code == 202
    assert wide.list_backups().status_code == 200


# --- the other answer modes ----------------------------------------------------------------------


def test_async_operation_mode_sends_both_urls_and_a_status_resource(
    make: Make, clock: VirtualClock
) -> None:
    emu, arm = make(backup_answer=BackupAnswer.ASYNC_OPERATION)
    accepted = arm.put()
    backup = emu.backups()[0]

    assert accepted.status_code == 202
    status_url = accepted.headers["Azure-AsyncOperation"]
    assert f"/azureAsyncOperation/{backup.operation_id}?" in status_url
    assert f"/operationStatus/{backup.operation_id}?" in accepted.headers["Location"]
    assert parse_qs(urlsplit(status_url).query)["api-version"] == [STATUS_API]

    running = arm.get(status_url)
    assert running.status_code == 200
    assert running.headers["Retry-After"] == "10"
    conforms(running.json(), OPERATION_STATUS_RESULT)
    assert running.json()["status"] == "InProgress"
    assert running.json()["id"].endswith(f"/azureAsyncOperation/{backup.operation_id}")

    finish(clock, emu)
    done = arm.get(status_url)
    assert done.status_code == 200
    assert "Retry-After" not in done.headers
    assert done.json()["status"] == "Succeeded"
    assert done.json()["percentComplete"] == 100
    assert done.json()["resourceId"] == backup.resource_id
    assert "error" not in done.json()
    assert arm.get_backup().json()["properties"]["provisioningState"] == "Succeeded"


def test_created_mode_answers_201_creating_without_a_polling_url(
    make: Make, clock: VirtualClock
) -> None:
    emu, arm = make(backup_answer=BackupAnswer.CREATED)

    created = arm.put()

    assert created.status_code == 201
    assert created.headers["Retry-After"] == "10"
    assert "Location" not in created.headers
    assert "Azure-AsyncOperation" not in created.headers
    conforms(created.json(), SERVER_BACKUP_V2)
    assert created.json()["properties"]["provisioningState"] == "Creating"
    assert "completedTime" not in created.json()["properties"]
    # the client reads the resource until it is terminal: visible at once, Creating meanwhile
    assert arm.get_backup().json()["properties"]["provisioningState"] == "Creating"
    assert [b["name"] for b in arm.list_backups().json()["value"]] == ["nightly"]
    finish(clock, emu)
    properties = arm.get_backup().json()["properties"]
    assert properties["provisioningState"] == "Succeeded"
    assert properties["completedTime"]


def test_completed_mode_answers_200_with_the_finished_backup(make: Make) -> None:
    emu, arm = make(backup_answer=BackupAnswer.COMPLETED)

    response = arm.put()

    assert response.status_code == 200
    conforms(response.json(), SERVER_BACKUP_V2)
    assert response.json()["properties"]["provisioningState"] == "Succeeded"
    assert response.json()["properties"]["completedTime"]
    assert emu.counters().backups_running == 0
    assert arm.put(name="another").status_code == 200  # nothing runs, so no conflict


def test_the_answer_mode_can_change_while_serving(emu_arm: tuple[Emulator, Arm]) -> None:
    emu, arm = emu_arm
    emu.set_backup_answer(BackupAnswer.COMPLETED)

    assert arm.put().status_code == 200


# --- outcomes and the examples' quirks -------------------------------------------------------------


def test_a_failing_server_ends_failed_with_an_error_code(
    emu_arm: tuple[Emulator, Arm], clock: VirtualClock
) -> None:
    emu, arm = emu_arm
    location = arm.put("inventory-db", rg="ProdGroup").headers["Location"]
    assert "/locations/westeurope/" in location

    finish(clock, emu)
    body = arm.get(location).json()

    assert body["status"] == "Failed"
    assert body["error"]["code"] == "OnDemandBackupFailed"
    assert "inventory-db" in body["error"]["message"]
    assert body["percentComplete"] < 100
    assert body["properties"]["provisioningState"] == "Failed"
    assert "completedTime" not in body["properties"]
    resource = arm.get_backup("inventory-db", rg="ProdGroup").json()
    assert resource["properties"]["provisioningState"] == "Failed"


def test_a_canceled_backup_reports_canceled(make: Make, clock: VirtualClock) -> None:
    spec = ServerSpec(SUB, "TestGroup", "cancels", backup_outcome="Canceled", backup_seconds=30)
    emu, arm = make(backup_answer=BackupAnswer.ASYNC_OPERATION, fleet=(spec,))
    status_url = arm.put("cancels").headers["Azure-AsyncOperation"]

    finish(clock, emu)
    body = arm.get(status_url).json()

    assert body["status"] == "Canceled"
    assert body["error"]["code"] == "OperationCanceled"


def test_backup_fail_rate_fails_backups(make: Make, clock: VirtualClock) -> None:
    emu, arm = make(backup_fail_rate=1.0)
    arm.put()

    assert [b.outcome for b in emu.backups()] == ["Failed"]


def test_backup_seconds_sets_the_duration(make: Make) -> None:
    spec = ServerSpec(SUB, "TestGroup", "quick", backup_seconds=30)
    emu, arm = make(fleet=(spec,))
    arm.put("quick")

    (backup,) = emu.backups()
    assert backup.ends_at - backup.submitted_at == 30


def test_ready_instead_of_succeeded_as_in_the_examples(make: Make, clock: VirtualClock) -> None:
    emu, arm = make(backup_succeeded_state="Ready")
    location = arm.put().headers["Location"]

    finish(clock, emu)
    final = arm.get(location).json()

    assert final["status"] == "Succeeded"  # the operation's status keeps the terminal value
    assert final["properties"]["provisioningState"] == "Ready"
    assert arm.get_backup().json()["properties"]["provisioningState"] == "Ready"
    assert arm.list_backups().json()["value"][0]["properties"]["provisioningState"] == "Ready"


@pytest.mark.parametrize("answer", list(BackupAnswer))
def test_prefixed_names_tell_the_client_the_real_id(
    make: Make, clock: VirtualClock, answer: BackupAnswer
) -> None:
    emu, arm = make(backup_names=BackupNaming.PREFIXED, backup_answer=answer)
    accepted = arm.put(name="mybackup")
    (backup,) = emu.backups()
    assert re.fullmatch(rf"customer_\d{{8}}t\d{{6}}_{GUID}_mybackup", backup.name)
    real_id = f"{arm.server_url('mysqltestserver').removeprefix(emu.url)}/backupsV2/{backup.name}"
    assert backup.resource_id == real_id

    if answer in (BackupAnswer.LOCATION, BackupAnswer.ASYNC_OPERATION):
        status_url = accepted.headers.get("Azure-AsyncOperation") or accepted.headers["Location"]
        assert arm.get(status_url).json()["resourceId"] == real_id
        finish(clock, emu)
        assert arm.get(accepted.headers["Location"]).json()["id"] == real_id
    else:
        assert accepted.json()["id"] == real_id
        assert accepted.json()["properties"]["backupNameV2"] == "mybackup"
        finish(clock, emu)

    by_asked = arm.get_backup(name="mybackup")
    by_real = arm.get_backup(name=backup.name)
    assert by_asked.status_code == 404  # the resource exists only under its own name
    assert error_of(by_asked)["code"] == "ResourceNotFound"
    assert by_real.status_code == 200
    assert by_real.json()["id"] == real_id
    assert by_real.json()["properties"]["backupNameV2"] == "mybackup"
    again = arm.put(name="mybackup")  # the asked name still finds it
    assert again.status_code == 200
    assert again.json()["id"] == real_id


# --- rules the spec does not state -------------------------------------------------------------


@pytest.mark.parametrize("answer", [BackupAnswer.LOCATION, BackupAnswer.ASYNC_OPERATION])
def test_a_repeat_while_running_answers_the_same_operation(
    make: Make, clock: VirtualClock, answer: BackupAnswer
) -> None:
    emu, arm = make(backup_answer=answer)
    first = arm.put()

    again = arm.put()

    assert again.status_code == 202
    for header in ("Location", "Azure-AsyncOperation", "x-ms-request-id"):
        assert again.headers.get(header) == first.headers.get(header)
    assert len(emu.backups()) == 1
    assert emu.counters().duplicate_backups == 1
    assert emu.counters().backups_accepted == 1
    finish(clock, emu)
    done = arm.put()
    assert done.status_code == 200
    assert done.json()["properties"]["provisioningState"] == "Succeeded"
    assert emu.counters().duplicate_backups == 2


def test_a_repeat_of_a_201_while_running_is_201_again(make: Make) -> None:
    emu, arm = make(backup_answer=BackupAnswer.CREATED)
    arm.put()
    emu.set_backup_answer(BackupAnswer.LOCATION)  # the running backup keeps its own answer

    again = arm.put()

    assert again.status_code == 201
    assert again.json()["properties"]["provisioningState"] == "Creating"


def test_a_repeat_of_a_failed_name_starts_a_new_backup(
    emu_arm: tuple[Emulator, Arm], clock: VirtualClock
) -> None:
    emu, arm = emu_arm
    arm.put("inventory-db", rg="ProdGroup")
    finish(clock, emu)

    again = arm.put("inventory-db", rg="ProdGroup")

    assert again.status_code == 202
    first, second = emu.backups()
    assert again.headers["x-ms-request-id"] == second.operation_id != first.operation_id
    assert second.replaces == first.sequence
    finish(clock, emu)
    (listed,) = arm.list_backups("inventory-db", rg="ProdGroup").json()["value"]
    assert listed["properties"]["provisioningState"] == "Failed"  # one resource, the new one's


def test_a_second_backup_while_one_runs_is_409(emu_arm: tuple[Emulator, Arm]) -> None:
    emu, arm = emu_arm
    arm.put(name="first")

    response = arm.put(name="second")

    assert response.status_code == 409
    assert error_of(response)["code"] == "BackupAlreadyRunningForServer"
    assert error_of(response)["message"].startswith("An on-demand backup is already in progress")
    assert arm.put("mysqltestserver1", name="second").status_code == 202  # another server may
    assert emu.counters().peak_backups_running == 2


def test_an_export_and_a_backup_of_one_server_exclude_each_other(
    emu_arm: tuple[Emulator, Arm], clock: VirtualClock
) -> None:
    emu, arm = emu_arm
    assert arm.export().status_code == 202
    blocked_backup = arm.put()
    clock.set(emu.exports()[0].ends_at)
    assert arm.put().status_code == 202
    blocked_export = arm.export(name="second-export")

    assert blocked_backup.status_code == blocked_export.status_code == 409
    assert error_of(blocked_backup)["code"] == error_of(blocked_export)["code"]
    assert error_of(blocked_backup)["message"].startswith("A backup and export operation")
    assert error_of(blocked_export)["message"].startswith("An on-demand backup")


def test_exports_and_backups_may_overlap_when_configured(make: Make) -> None:
    _, arm = make(backup_conflicts_with_export=False)

    assert arm.export().status_code == 202
    assert arm.put().status_code == 202
    assert arm.export(name="another").status_code == 409  # exports still exclude each other


def test_a_server_at_its_limit_is_refused_with_400(make: Make, clock: VirtualClock) -> None:
    emu, arm = make(backup_limit=2)
    for n in range(2):
        assert arm.put(name=f"b{n}").status_code == 202
        finish(clock, emu)

    refused = arm.put(name="b2")

    assert refused.status_code == 400
    assert error_of(refused)["code"] == "OnDemandBackupLimitExceeded"
    assert "2 on-demand backups" in error_of(refused)["message"]
    assert arm.put(name="b1").status_code == 200  # an existing name is still answered
    assert arm.put("mysqltestserver1", name="b2").status_code == 202  # the limit is per server


def test_failed_backups_do_not_count_against_the_limit(make: Make, clock: VirtualClock) -> None:
    emu, arm = make(backup_limit=1)
    arm.put("inventory-db", rg="ProdGroup", name="fails")
    finish(clock, emu)

    assert arm.put("inventory-db", rg="ProdGroup", name="other").status_code == 202


def test_backups_a_server_starts_with_count_and_are_listed(make: Make) -> None:
    spec = ServerSpec(SUB, "TestGroup", "busy", automatic_backups=3, on_demand_backups=2)
    _, arm = make(fleet=(spec,), backup_limit=2)

    refused = arm.put("busy")
    listed = arm.list_backups("busy").json()

    assert error_of(refused)["code"] == "OnDemandBackupLimitExceeded"
    conforms(listed, LIST_RESULT)
    names = [b["name"] for b in listed["value"]]
    assert [n for n in names if n.startswith("daily_")] == sorted(
        n for n in names if n.startswith("daily_")
    )
    assert len([n for n in names if re.fullmatch(r"daily_\d{8}T\d{6}", n)]) == 3
    assert [b["properties"]["source"] for b in listed["value"]].count("Automatic") == 3
    assert [n for n in names if n.startswith("earlier-")] == ["earlier-001", "earlier-002"]


def test_the_list_pages_with_next_link(make: Make, clock: VirtualClock) -> None:
    spec = ServerSpec(SUB, "TestGroup", "paged", automatic_backups=3, backup_seconds=10)
    emu, arm = make(fleet=(spec,), backup_page_size=2)
    for n in range(2):
        arm.put("paged", name=f"mine-{n}")
        finish(clock, emu)

    names: list[str] = []
    pages = 0
    url: str | None = f"{arm.server_url('paged')}/backupsV2?api-version={API}"
    while url is not None and pages < 10:  # bounded
        page = arm.get(url).json()
        conforms(page, LIST_RESULT)
        names += [b["name"] for b in page["value"]]
        url = page.get("nextLink")
        pages += 1

    assert pages == 3
    assert len(names) == 5 and names[-2:] == ["mine-0", "mine-1"]
    assert len(set(names)) == 5


# --- refused mode, throttling, faults ------------------------------------------------------------


def test_refused_mode_answers_every_create_with_the_configured_error(make: Make) -> None:
    emu, arm = make(backups_paused=(503, "ServiceBusy", "try later"))

    refused = arm.put()
    listed = arm.list_backups()
    exported = arm.export()
    emu.set_backups_paused()
    default = arm.put("mysqltestserver1")
    emu.set_backups_paused(None)
    resumed = arm.put("orders-db", rg="ProdGroup")

    assert refused.status_code == 503
    assert error_of(refused)["code"] == "ServiceBusy"
    assert error_of(refused)["message"] == "try later"
    assert listed.status_code == 200  # reads go on
    assert exported.status_code == 202  # exports are paused apart (Emulator.set_paused)
    assert default.status_code == 400
    assert error_of(default)["code"] == "OnDemandBackupNotAllowed"
    assert resumed.status_code == 202
    assert len(emu.backups()) == 1


def test_creates_spend_write_tokens_shared_with_exports(make: Make) -> None:
    emu, arm = make(write_burst=2, write_refill_per_second=0.1, read_burst=1)
    assert arm.export().status_code == 202
    assert arm.put("mysqltestserver1").status_code == 202

    throttled = arm.put("orders-db", rg="ProdGroup")
    assert arm.get_backup().status_code == 404  # the one read token
    read_throttled = arm.list_backups()

    assert throttled.status_code == read_throttled.status_code == 429
    assert error_of(throttled)["code"] == "SubscriptionRequestsThrottled"
    assert throttled.headers["Retry-After"] == "10"
    assert emu.counters().throttled == {"create_backup": 1, "list_backups": 1}
    assert len(emu.backups()) == 1


def test_a_lost_answer_after_the_side_effect_is_recovered_by_the_same_put(
    make: Make,
) -> None:
    faults = Faults(
        connection_reset=1.0,
        kinds=frozenset({Kind.CREATE_BACKUP}),
        fault_after_accept=True,
        limit=1,
    )
    emu, arm = make(faults=faults)
    with pytest.raises(requests.ConnectionError):
        arm.put()
    assert len(emu.backups()) == 1  # accepted before its answer was lost

    again = arm.put()

    assert again.status_code == 202
    assert again.headers["x-ms-request-id"] == emu.backups()[0].operation_id
    assert emu.counters().faults == {"connection_reset": 1}


def test_faults_strike_the_backup_routes_by_kind(make: Make) -> None:
    faults = Faults(error_500=1.0, kinds=frozenset({Kind.GET_BACKUP, Kind.LIST_BACKUPS}))
    emu, arm = make(faults=faults)

    assert arm.put().status_code == 202
    assert arm.get_backup().status_code == 500
    assert error_of(arm.list_backups())["code"] == "InternalServerError"
    emu.set_faults(Faults(error_503=1.0, kinds=frozenset({Kind.CREATE_BACKUP})))
    unavailable = arm.put("mysqltestserver1")
    assert unavailable.status_code == 503
    assert unavailable.headers["Retry-After"] == "10"
    assert len(emu.backups()) == 1  # a fault before the handler takes nothing


def test_backup_polls_are_their_own_kinds_for_faults_and_counters(
    make: Make, clock: VirtualClock
) -> None:
    faults = Faults(error_500=1.0, kinds=frozenset({Kind.BACKUP_OPERATION_STATUS}))
    emu, arm = make(faults=faults, backup_answer=BackupAnswer.ASYNC_OPERATION)
    backup = arm.put()
    export = arm.export("mysqltestserver1")

    assert arm.get(backup.headers["Location"]).status_code == 500
    assert arm.get(backup.headers["Azure-AsyncOperation"]).status_code == 200
    assert arm.get(export.headers["Location"]).status_code == 202  # an export's poll is spared

    requests_by_kind = emu.counters().requests
    assert requests_by_kind["backup_operation_status"] == 1
    assert requests_by_kind["backup_async_operation"] == 1
    assert requests_by_kind["operation_status"] == 1


# --- observation -------------------------------------------------------------------------------


def test_counters_and_admin_routes_show_backups(
    emu_arm: tuple[Emulator, Arm], clock: VirtualClock
) -> None:
    emu, arm = emu_arm
    location = arm.put(name="audit").headers["Location"]
    arm.get(location)
    arm.put(name="other")  # 409
    counters = emu.counters()
    admin = requests.get(f"{emu.url}/_emulator/counters").json()
    truth = requests.get(f"{emu.url}/_emulator/backups").json()["backups"]

    assert counters.requests == {"create_backup": 2, "backup_operation_status": 1}
    assert counters.requests_by_server == {
        ("create_backup", "mysqltestserver"): 2,
        ("backup_operation_status", "mysqltestserver"): 1,
    }
    assert counters.responses == {
        ("create_backup", 202): 1,
        ("create_backup", 409): 1,
        ("backup_operation_status", 202): 1,
    }
    assert (counters.backups_running, counters.peak_backups_running) == (1, 1)
    assert counters.peak_backups_running_by_server == {"mysqltestserver": 1}
    assert counters.backups_accepted == 1
    assert counters.exports_accepted == 0
    assert admin["backups_accepted"] == 1 and admin["backups_running"] == 1
    assert truth[0]["asked_name"] == truth[0]["name"] == "audit"
    assert truth[0]["resource_id"] == emu.backups()[0].resource_id
    assert truth[0]["answer"] == "location"
    finish(clock, emu)
    assert emu.counters().backups_running == 0


def test_same_seed_gives_same_backups() -> None:
    def run() -> list[tuple[str, str, float]]:
        config = EmulatorConfig(clock=VirtualClock(), seed=5, backup_names=BackupNaming.PREFIXED)
        with Emulator(config) as emu:
            arm = Arm(emu)
            arm.put()
            arm.put("orders-db", rg="ProdGroup")
            return [(b.operation_id, b.name, b.ends_at) for b in emu.backups()]

    assert run() == run()


# --- what the CLI tells a person -----------------------------------------------------------------


def test_the_announcement_shows_a_backup_request_and_how_it_is_answered(make: Make) -> None:
    emu, arm = make(
        backup_answer=BackupAnswer.ASYNC_OPERATION,
        backup_succeeded_state="Ready",
        backup_names=BackupNaming.PREFIXED,
    )

    text = announcement(emu)

    lines = text.splitlines()
    assert len([line for line in lines if line.startswith("{")]) == 1  # the export body alone
    (body_line,) = [line for line in lines if '"operation": "backup"' in line]
    body = json.loads(body_line)
    assert body == {
        "operation": "backup",
        "discover": {"subscriptions": [SUB]},
        "backupName": "{server}-{utc:yyyyMMddHHmmss}",
    }
    (put_line,) = [line.strip() for line in lines if line.strip().startswith("PUT ")]
    url = put_line.removeprefix("PUT ")
    for placeholder, value in (
        ("<subscription>", SUB),
        ("<resourceGroup>", "TestGroup"),
        ("<server>", "mysqltestserver"),
        ("<name>", "from-the-announcement"),
    ):
        url = url.replace(placeholder, value)
    assert arm.http.put(url).status_code == 202  # the call it shows is one the emulator takes
    assert "202 with Azure-AsyncOperation and Location (api-version 2023-06-01-preview)" in text
    assert "reports provisioningState 'Ready' when done" in text
    assert "customer_<time>_<guid>_<name>" in text
    assert "at most 50 on-demand backups per server" in text
    assert "its on-demand backups end Failed" in text  # inventory-db


def test_cli_options_choose_the_backup_answers() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "armemulator",
            "--virtual",
            "--port",
            "0",
            "--backup-answer",
            "created",
            "--backup-names",
            "prefixed",
            "--backup-ready-state",
            "--backup-limit",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "IDENTITY_HEADER": "cli-test-secret"},
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        http = requests.Session()
        token = http.get(
            started["token_endpoint"],
            params={"api-version": "2019-08-01", "resource": "https://management.azure.com"},
            headers={"X-IDENTITY-HEADER": "cli-test-secret"},
            timeout=HANG_SECONDS,
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        server = (
            f"{started['url']}/subscriptions/{SUB}/resourceGroups/TestGroup"
            "/providers/Microsoft.DBforMySQL/flexibleServers/mysqltestserver"
        )
        created = http.put(f"{server}/backupsV2/cli", params={"api-version": API})
        advanced = http.post(
            f"{started['url']}/_emulator/clock/advance", params={"seconds": "86400"}
        )
        done = http.get(f"{server}/backupsV2/{created.json()['name']}", params={"api-version": API})
        over = http.put(f"{server}/backupsV2/cli-2", params={"api-version": API})
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=HANG_SECONDS)

    assert created.status_code == 201
    assert created.json()["name"].startswith("customer_")
    assert advanced.status_code == 200
    assert done.json()["properties"]["provisioningState"] == "Ready"
    assert over.status_code == 400
    assert error_of(over)["code"] == "OnDemandBackupLimitExceeded"

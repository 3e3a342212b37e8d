"""Least privilege: the custom role in ``infra/`` grants exactly the ARM actions the app calls.

The set is derived from the ARM client's own table of operations (``mysqlexport.arm.OPERATIONS``,
one per kind of call with the RBAC action it needs), so adding a call without its action, or
leaving an action behind when a call goes, fails here. The ARM emulator, holding the identity to
the role's actions (``EmulatorConfig.granted_actions``), then shows the role is enough for every
call the client makes and that each action it authorizes is needed. (That the HTTP functions
require a function key is checked on the indexed app in ``tests/e2e``:
``test_http_functions_require_a_function_key``.)
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from armemulator import BackupAnswer, Emulator, EmulatorConfig, VirtualClock
from armemulator.kinds import ACTIONS
from mysqlexport.arm import OPERATIONS, ArmClient
from mysqlexport.errors import ArmError
from mysqlexport.ids import ServerId
from mysqlexport.models import AcceptedOperation
from mysqlexport.settings import Settings
from tests.component.conftest import SAS, SUB, identity_for, server_id

ROLE = Path(__file__).resolve().parents[2] / "infra" / "mysql-fleet-export-role.json"
ACTION = re.compile(r"^Microsoft\.[A-Za-z]+(/[A-Za-z0-9]+)+/(read|write|action)$")
#: The RBAC verb of each HTTP method (Azure/azure-resource-manager-rpc v1.0/proxy-api-reference.md:
#: a PUT or PATCH is a write, a GET a read, a DELETE a delete, a POST an action).
VERB = {"GET": "read", "PUT": "write", "POST": "action"}
#: backupsV2 as Microsoft's list of resource provider operations spells it (lower-case "v":
#: MicrosoftDocs/azure-docs articles/role-based-access-control/permissions/databases.md).
BACKUPS_V2_ACTIONS = frozenset(
    {
        "Microsoft.DBforMySQL/flexibleServers/backupsv2/write",
        "Microsoft.DBforMySQL/flexibleServers/backupsv2/read",
    }
)


def role() -> dict[str, Any]:
    return json.loads(ROLE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_the_role_grants_exactly_the_actions_the_client_calls() -> None:
    actions = role()["Actions"]
    assert len(actions) == len(set(actions)), "an action is listed twice"
    assert set(actions) == {operation.action for operation in OPERATIONS}


def test_the_role_is_a_narrow_custom_role() -> None:
    definition = role()
    assert definition["IsCustom"] is True and definition["Name"]
    assert all(ACTION.match(a) for a in definition["Actions"]), "no wildcards, no typos"
    assert definition["NotActions"] == []
    assert definition["DataActions"] == [] and definition["NotDataActions"] == []
    scopes = definition["AssignableScopes"]
    assert scopes and all(s.startswith("/subscriptions/") for s in scopes)


def test_every_call_has_an_action_and_a_method() -> None:
    for operation in OPERATIONS:
        assert operation.method in VERB, operation
        assert operation.action.endswith(f"/{VERB[operation.method]}"), operation


def test_backups_v2_actions_are_spelled_as_microsoft_documents_them() -> None:
    assert set(role()["Actions"]) >= BACKUPS_V2_ACTIONS
    assert not any("backupsV2" in action for action in role()["Actions"])


def test_the_emulator_asks_for_the_actions_the_client_declares() -> None:
    """Every action the emulator authorizes is one the client's table declares (RBAC compares
    actions without regard to case), so the role test above speaks of the same actions."""
    declared = {operation.action.lower() for operation in OPERATIONS}
    assert {action.lower() for action in ACTIONS.values()} <= declared


# --- the role against the emulator ------------------------------------------------------------

Client = Callable[[frozenset[str]], ArmClient]


@pytest.fixture
def client_with(monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """A client of an emulator whose identity holds only the given actions (async-operation
    answers, so every polling URL is handed out)."""
    clock = VirtualClock(start=time.time())
    emulators: list[Emulator] = []

    def factory(actions: frozenset[str]) -> ArmClient:
        config = EmulatorConfig(
            clock=clock, granted_actions=actions, backup_answer=BackupAnswer.ASYNC_OPERATION
        )
        emu = Emulator(config).start()
        emulators.append(emu)
        settings = Settings.from_env({"ARM_ENDPOINT": emu.url})
        return ArmClient(settings, identity_for(emu, monkeypatch))

    yield factory
    for emu in emulators:
        emu.stop()


def every_call(arm: ArmClient) -> None:
    """One call of each kind the client makes, on two servers of the default fleet."""
    server = ServerId.parse(server_id("mysqltestserver"))
    other = ServerId.parse(server_id("mysqltestserver1"))
    list(arm.list_servers(SUB))
    arm.get_server(server)
    arm.validate_backup(server)
    export = arm.submit_export(server, "export-1", SAS)
    assert isinstance(export, AcceptedOperation)
    arm.get_status(export.status_url)
    arm.get_result(export.location_url or "")
    backup = arm.create_backup(other, "backup-1")
    assert isinstance(backup, AcceptedOperation)
    status = arm.get_status(backup.status_url)
    arm.get_backup_result(backup.location_url or "")
    arm.list_backups(other)
    with pytest.raises(ArmError) as hidden:  # authorized, but hidden while it runs (ARM RPC)
        arm.get_backup(status.resource_id or "")
    assert hidden.value.status == 404


def test_the_role_lets_the_client_make_every_call(client_with: Client) -> None:
    every_call(client_with(frozenset(role()["Actions"])))


@pytest.mark.parametrize("missing", sorted({a.lower() for a in ACTIONS.values()}))
def test_each_action_the_emulator_authorizes_is_needed(client_with: Client, missing: str) -> None:
    narrower = frozenset(a for a in role()["Actions"] if a.lower() != missing)
    with pytest.raises(ArmError) as info:
        every_call(client_with(narrower))
    assert (info.value.status, info.value.code) == (403, "AuthorizationFailed")
    assert missing in info.value.message.lower()

"""Least privilege: the custom role in ``infra/`` grants exactly the ARM actions the app calls.

The set is derived from the ARM client's own table of operations (``mysqlexport.arm.OPERATIONS``,
one per kind of call with the RBAC action it needs), so adding a call without its action, or
leaving an action behind when a call goes, fails here. (That the HTTP functions require a
function key is checked on the indexed app in ``tests/e2e``:
``test_http_functions_require_a_function_key``.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mysqlexport.arm import OPERATIONS

ROLE = Path(__file__).resolve().parents[2] / "infra" / "mysql-fleet-export-role.json"
ACTION = re.compile(r"^Microsoft\.[A-Za-z]+(/[A-Za-z]+)+/(read|action)$")


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
        assert operation.method in ("GET", "POST")
        assert operation.action.endswith("/read" if operation.method == "GET" else "/action")

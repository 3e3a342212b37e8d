"""Server resource IDs and backup names are validated with the API's own patterns."""

from __future__ import annotations

import pytest

from mysqlexport.errors import InvalidRequest
from mysqlexport.ids import ServerId, validate_backup_name, validate_subscription

SUB = "ffffffff-ffff-ffff-ffff-ffffffffffff"
GOOD = f"/subscriptions/{SUB}/resourceGroups/TestGroup/providers/Microsoft.DBforMySQL/flexibleServers/mysqltestserver"


def test_parse_and_render_round_trip() -> None:
    sid = ServerId.parse(GOOD)
    assert (sid.subscription, sid.resource_group, sid.name) == (SUB, "TestGroup", "mysqltestserver")
    assert sid.resource_id == GOOD
    assert ServerId.parse(sid.resource_id) == sid


def test_segment_names_are_case_insensitive_and_key_folds_case() -> None:
    odd = GOOD.replace("resourceGroups", "RESOURCEGROUPS").replace(
        "Microsoft.DBforMySQL", "microsoft.dbformysql"
    )
    a = ServerId.parse(odd)
    b = ServerId.parse(GOOD.replace("TestGroup", "testgroup"))
    assert a.resource_id == GOOD
    assert a.key == b.key


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-an-id",
        GOOD.replace(SUB, "not-a-guid"),
        GOOD.replace("mysqltestserver", "MySQLTestServer"),
        GOOD.replace("mysqltestserver", "ends-with-dash-"),
        GOOD.replace("mysqltestserver", "-starts-with-dash"),
        GOOD.replace("mysqltestserver", "a" * 64),
        GOOD.replace("TestGroup", "g" * 91),
        GOOD.replace("TestGroup", "bad/group"),
        GOOD.replace("TestGroup", "bad group"),
        GOOD.replace("flexibleServers", "servers"),
        GOOD.replace("Microsoft.DBforMySQL", "Microsoft.DBforPostgreSQL"),
        GOOD + "/databases/x",
    ],
)
def test_invalid_resource_ids_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        ServerId.parse(bad, field="servers[2]")
    assert set(info.value.problems) == {"servers[2]"}


@pytest.mark.parametrize("name", ["a", "7", "customer-backup-name", "x1-2-3", "a" * 200])
def test_valid_backup_names(name: str) -> None:
    assert validate_backup_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "-a", "a-", "Upper", "has_underscore", "has.dot", "has space", "ünï"]
)
def test_invalid_backup_names(name: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_backup_name(name)
    assert set(info.value.problems) == {"backupName"}


@pytest.mark.parametrize(
    "value",
    [
        "ffffffff-ffff-ffff-ffff-ffffffffffff\n",
        "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/rg\n/providers/"
        "Microsoft.DBforMySQL/flexibleServers/db1",
    ],
)
def test_a_trailing_newline_is_not_part_of_a_valid_id(value: str) -> None:
    # Python's "$" also matches before a final newline; ARM's patterns do not. (A whole server id
    # is stripped of surrounding blanks first, so a pasted id with a newline after it is fine.)
    with pytest.raises(InvalidRequest):
        if value.startswith("/"):
            ServerId.parse(value)
        else:
            validate_subscription(value, "subscription")

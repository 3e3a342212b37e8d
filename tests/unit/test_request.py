"""The export request is validated strictly: every bad field is named, nothing secret is echoed."""

from __future__ import annotations

from typing import Any

import pytest

import mysqlexport.request
from armemulator.config import backup_formats
from mysqlexport import discovery
from mysqlexport.armspec import BACKUP_FORMATS
from mysqlexport.errors import InvalidRequest, RequestTooLarge
from mysqlexport.request import (
    DEFAULT_STATES,
    MAX_SAS_URIS,
    Discovery,
    parse_request,
    parse_target,
)
from mysqlexport.settings import DEFAULT_API_VERSION

SUB = "ffffffff-ffff-ffff-ffff-ffffffffffff"
SIG = "c2VjcmV0LXNpZw"
SAS = f"https://acct.blob.core.windows.net/backups?sv=2022-11-02&sr=c&sp=rcw&sig={SIG}%3D%3D"


def server(name: str, group: str = "TestGroup") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.DBforMySQL/flexibleServers/{name}"


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"servers": [server("a")], "target": {"sasUriList": [SAS]}}
    base.update(overrides)
    return base


def problems_of(value: object) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as info:
        parse_request(value)
    text = str(info.value) + repr(info.value.to_dict())
    assert SIG not in text
    return info.value.problems


def test_minimal_request_gets_the_defaults() -> None:
    req = parse_request(body())
    assert [s.name for s in req.servers] == ["a"]
    assert req.backup_name == "{server}-{utc:yyyyMMddHHmmss}"
    assert req.discover is None and not req.dry_run
    assert req.sas_uris[0].reveal() == SAS
    public = req.public_dict()
    assert public["sasUriCount"] == 1 and SIG not in repr(public)


def test_duplicates_are_exported_once_ignoring_case() -> None:
    req = parse_request(body(servers=[server("a"), server("a", "testgroup"), server("b")]))
    assert [s.name for s in req.servers] == ["a", "b"]


def test_discovery_request_is_accepted() -> None:
    req = parse_request(
        {
            "discover": {
                "subscriptions": [SUB],
                "resourceGroups": ["TestGroup"],
                "tags": {"env": "prod"},
                "states": ["ready", "Stopped"],
            },
            "target": {"sasUriList": [SAS]},
            "backupFormat": "Raw",
            "maxConcurrency": 5,
            "deadlineMinutes": 90,
            "dryRun": True,
        }
    )
    assert req.discover is not None and req.discover.states == ("Ready", "Stopped")
    assert (req.max_concurrency, req.deadline_minutes, req.dry_run) == (5, 90, True)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (None, "body"),
        ([], "body"),
        ("text", "body"),
        (body(servers="not-a-list"), "servers"),
        (body(servers=[server("a"), 42]), "servers[1]"),
        (body(servers=[server("a"), "/subscriptions/x"]), "servers[1]"),
        (body(servers=[]), "servers"),
        ({"target": {"sasUriList": [SAS]}}, "servers"),
        (body(target=None), "target"),
        (body(target={"sasUriList": []}), "target.sasUriList"),
        (body(target={"sasUriList": [SAS.replace("https", "http")]}), "target.sasUriList[0]"),
        (body(target={"sasUriList": [SAS.split("&sig=", maxsplit=1)[0]]}), "target.sasUriList[0]"),
        (body(target={"sasUriList": [SAS] * (MAX_SAS_URIS + 1)}), "target.sasUriList"),
        (
            body(target={"sasUriList": [SAS.replace("/backups", "/b\ud800")]}),
            "target.sasUriList[0]",
        ),
        (
            body(target={"sasUriList": [SAS.replace("/backups", "/bäckups")]}),
            "target.sasUriList[0]",
        ),
        (
            body(target={"sasUriList": [SAS.replace("/backups", "/back ups")]}),
            "target.sasUriList[0]",
        ),
        (
            body(target={"sasUriList": [SAS.replace("/backups", "/back\nups")]}),
            "target.sasUriList[0]",
        ),
        (
            body(target={"sasUriList": [SAS.replace(".net/", ".net:99999/")]}),
            "target.sasUriList[0]",
        ),
        (body(target={"sasUriList": [SAS], "extra": 1}), "target.extra"),
        (body(backupName="Upper-{server}"), "backupName"),
        (body(backupName="{server}-{nope}"), "backupName"),
        (body(backupName="x" * 201), "backupName"),
        (body(backupFormat="Zip"), "backupFormat"),
        (body(maxConcurrency=0), "maxConcurrency"),
        (body(maxConcurrency="5"), "maxConcurrency"),
        (body(maxConcurrency=True), "maxConcurrency"),
        (body(deadlineMinutes=10**9), "deadlineMinutes"),
        (body(dryRun="yes"), "dryRun"),
        (body(serverz=[]), "serverz"),
        (body(discover={"subscriptions": ["nope"]}), "discover.subscriptions[0]"),
        (body(discover={"subscriptions": []}), "discover.subscriptions"),
        (body(discover={"resourceGroups": ["rg"]}), "discover.subscriptions"),
        (body(discover={"subscriptions": [SUB], "states": ["Sleeping"]}), "discover.states[0]"),
        (body(discover={"subscriptions": [SUB], "tags": ["env"]}), "discover.tags"),
        (body(discover={"subscriptions": [SUB], "colour": "red"}), "discover.colour"),
    ],
)
def test_each_bad_field_is_named(value: object, field: str) -> None:
    assert field in problems_of(value)


def test_all_problems_are_reported_together() -> None:
    problems = problems_of(body(backupFormat="Zip", maxConcurrency=-1, target={}))
    assert {"backupFormat", "maxConcurrency", "target"} <= set(problems)


def test_a_secret_pasted_as_a_field_name_is_not_echoed() -> None:
    problems = problems_of({SAS: 1, "target": {"sasUriList": [SAS], SAS: 2}, "servers": [SAS]})
    assert problems  # problems_of checked that the signature is in none of them


def test_a_refusal_says_what_is_wrong_without_the_field_in_front() -> None:
    bad_group = server("a", "bad group")
    problems = problems_of(body(servers=[server("a"), bad_group], backupName="{who}"))
    assert problems["servers[1]"].startswith("resourceGroupName: 'bad group' is not")
    assert problems["backupName"].startswith("unknown placeholder {who}; use {server}")


def test_one_error_class_for_bad_input_in_arms_error_shape() -> None:
    with pytest.raises(InvalidRequest) as info:  # the validators' own class (errors.py)
        parse_request(body(backupFormat="Zip", dryRun="yes"))
    answer = info.value.to_dict()
    assert answer["code"] == "InvalidRequest" and "target" not in answer
    assert [(d["code"], d["target"]) for d in answer["details"]] == [
        ("InvalidField", "backupFormat"),
        ("InvalidField", "dryRun"),
    ]
    one = InvalidRequest({"backupName": "must be a non-empty string"})
    assert one.message == "backupName: must be a non-empty string"
    assert one.to_dict()["target"] == "backupName"
    assert not hasattr(mysqlexport.request, "RequestInvalid")


def test_a_body_too_large_is_a_refusal_of_its_own_kind() -> None:
    err = RequestTooLarge(4096)
    assert isinstance(err, InvalidRequest) and err.limit == 4096
    assert err.problems == {"body": "is larger than 4096 bytes"}
    assert err.to_dict()["code"] == "InvalidRequest"


def test_backup_formats_are_the_apis_enum() -> None:
    # The emulator's table of the enum per api-version is written from the spec independently.
    assert set(BACKUP_FORMATS) == set(backup_formats(DEFAULT_API_VERSION))
    for value in BACKUP_FORMATS:
        assert parse_request(body(backupFormat=value)).backup_format == value
    for wrong in ("None", "raw", "Zip", 1):
        assert problems_of(body(backupFormat=wrong)) == {
            "backupFormat": "must be one of Raw, CollatedFormat"
        }


def test_discovery_without_states_takes_the_one_default() -> None:
    req = parse_request({"discover": {"subscriptions": [SUB]}, "target": {"sasUriList": [SAS]}})
    assert req.discover is not None and req.discover.states == DEFAULT_STATES == ("Ready",)
    assert Discovery.from_dict({"subscriptions": [SUB]}).states == DEFAULT_STATES
    assert discovery.scopes({"subscriptions": [SUB]})[0]["states"] == list(DEFAULT_STATES)


# --- target.containers: container URLs without a SAS (the app mints one per export) ---------

CONTAINER = "https://acct.blob.core.windows.net/backups"
AZURITE = "https://127.0.0.1:10000/devstoreaccount1/backups"


def test_a_target_of_containers_is_kept_normalised_and_counted_as_the_target() -> None:
    req = parse_request(body(target={"containers": [CONTAINER + "/", AZURITE]}))
    assert req.containers == (CONTAINER, AZURITE)
    assert req.sas_uris == () and req.target.count == 2
    public = req.public_dict()
    assert public["containers"] == [CONTAINER, AZURITE] and public["sasUriCount"] == 0


def test_a_sas_target_lists_no_containers() -> None:
    req = parse_request(body())
    assert req.containers == () and req.public_dict()["containers"] == []
    assert req.target.count == 1


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ({"containers": [CONTAINER], "sasUriList": [SAS]}, "target"),  # both
        ({}, "target"),  # neither
        ({"containers": []}, "target.containers"),
        ({"containers": CONTAINER}, "target.containers"),
        ({"containers": [CONTAINER] * (MAX_SAS_URIS + 1)}, "target.containers"),
        ({"containers": [CONTAINER, 7]}, "target.containers[1]"),
        (
            {"containers": [CONTAINER, "http://acct.blob.core.windows.net/b2"]},
            "target.containers[1]",
        ),
        (
            {"containers": [CONTAINER, "https://acct.blob.core.windows.net/"]},
            "target.containers[1]",
        ),
        (
            {"containers": [CONTAINER, "https://acct.blob.core.windows.net/A_b"]},
            "target.containers[1]",
        ),
        ({"containers": [CONTAINER, "https://127.0.0.1:10000/backups"]}, "target.containers[1]"),
        ({"containers": [CONTAINER, CONTAINER + "/"]}, "target.containers[1]"),  # the same one
        ({"containers": [CONTAINER], "colour": "red"}, "target.colour"),
    ],
)
def test_each_bad_part_of_a_containers_target_is_named(target: object, field: str) -> None:
    assert field in problems_of(body(target=target))


def test_a_container_url_with_a_sas_is_refused_pointing_at_sas_uri_list_without_echoing_it() -> (
    None
):
    problems = problems_of(body(target={"containers": [CONTAINER, SAS]}))
    assert set(problems) == {"target.containers[1]"}
    assert "sasUriList" in problems["target.containers[1]"]  # problems_of: no signature in it


def test_a_retry_target_is_parsed_in_either_form() -> None:
    assert parse_target({"containers": [CONTAINER]}).containers == (CONTAINER,)
    assert parse_target({"sasUriList": [SAS]}).sas_uris[0].reveal() == SAS
    with pytest.raises(InvalidRequest) as info:
        parse_target({"containers": [CONTAINER], "sasUriList": [SAS]})
    assert set(info.value.problems) == {"target"} and SIG not in str(info.value)


def test_a_backup_run_takes_no_containers_either() -> None:
    problems = problems_of(
        {"servers": [server("a")], "operation": "backup", "target": {"containers": [CONTAINER]}}
    )
    assert set(problems) == {"target"}

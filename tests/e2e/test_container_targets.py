"""A run whose target is ``target.containers`` (no SAS anywhere): the submit activity mints a
user-delegation SAS per export with the app's identity against real storage (Azurite), the
emulated service writes each server's backup through it, and a SAS that cannot be minted fails
that server with storage's own code in its row."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import ContainerClient

from devhost.azurite import Azurite
from tests.e2e.conftest import Stack, StackFactory, server_id
from tests.storage_setup import create_container

SERVERS = {"orders-db": "ProdGroup", "mysqltestserver": "TestGroup"}
#: Azurite's access log line of a user delegation key request.
KEY_REQUEST = "restype=service&comp=userdelegationkey"


def _stack(make_stack: StackFactory, azurite: Azurite) -> Stack:
    """The app (and the emulator writing the backups) trust Azurite's CA as the system's."""
    return make_stack(settings={"REQUESTS_CA_BUNDLE": str(azurite.ca_bundle)})


def _body(*containers: str) -> dict[str, Any]:
    return {
        "servers": [server_id(name, group) for name, group in SERVERS.items()],
        "target": {"containers": list(containers)},
    }


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"].rsplit("/", 1)[1]: row for row in report["servers"]}


def _log_since(azurite: Azurite, offset: int) -> list[str]:
    """Azurite's access log lines written after ``offset`` (its stdout, one line a request)."""
    return azurite.log_path.read_text(encoding="utf-8", errors="replace")[offset:].splitlines()


def _log_size(azurite: Azurite) -> int:
    return len(azurite.log_path.read_text(encoding="utf-8", errors="replace"))


def _blobs(azurite: Azurite, container: str) -> list[str]:
    """The container's blobs, listed with the account key (the test's view, not the app's)."""
    key = {"account_name": azurite.account_name, "account_key": azurite.account_key}
    name = container.rsplit("/", 1)[1]
    with ContainerClient(
        azurite.blob_endpoint, name, credential=key, connection_verify=str(azurite.ca_bundle)
    ) as client:
        return sorted(b.name for b in client.list_blobs())


def test_a_containers_run_exports_through_a_sas_minted_per_export(
    make_stack: StackFactory, azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    stack = _stack(make_stack, azurite)
    container = create_container(azurite)
    start = _log_size(azurite)
    with caplog.at_level(logging.DEBUG):
        report = stack.run(_body(container))

    rows = _rows(report)
    assert {name: row["status"] for name, row in rows.items()} == dict.fromkeys(
        SERVERS, "Succeeded"
    )
    assert all(row["attempts"] == 1 for row in rows.values())
    assert report["request"]["containers"] == [container]  # no secret: shown as given
    # The backups are in the container (the emulator wrote them through the SAS it was given).
    expected = []
    for name, row in rows.items():
        prefix = f"{name}/{row['backupName']}"
        expected += [f"{prefix}/data/part-0001-of-0001", f"{prefix}/manifest.json"]
    assert _blobs(azurite, container) == sorted(expected)

    # Azurite's own log: one user delegation key per submission (each export's SAS is minted
    # for it), and every write into the container came with a user-delegation SAS (skoid/sktid:
    # signed with the identity's key) of exactly rcw over https, one SAS per server. Two SAS
    # minted within the same second may be equal here: Azurite derives a key's value from the
    # identity, start, expiry and version alone (tools/azurite/node_modules/azurite/dist/src/
    # blob/handlers/ServiceHandler.js getUserDelegationKey -> getUserDelegationKeyValue), where
    # Azure's keys are random; so freshness is counted in key requests, not signatures.
    lines = _log_since(azurite, start)
    assert sum(KEY_REQUEST in line for line in lines) == len(SERVERS)
    path = urlsplit(container).path
    writes = [line.split('"')[1].split()[1] for line in lines if f"PUT {path}/" in line]
    assert writes, lines
    sas_by_server: dict[str, set[str]] = {}
    for target in writes:
        url = urlsplit(target)
        query = parse_qs(url.query)
        assert query["sp"] == ["rcw"] and query["spr"] == ["https"] and query["sr"] == ["c"]
        assert query["skoid"] and query["sktid"] and query["ske"] == query["se"]
        server = url.path[len(path) + 1 :].split("/", 1)[0]
        sas_by_server.setdefault(server, set()).add(query["sig"][0])
    assert set(sas_by_server) == set(SERVERS)
    assert all(len(sigs) == 1 for sigs in sas_by_server.values())  # one SAS per export
    signatures = {sig for sigs in sas_by_server.values() for sig in sigs}
    # No minted signature in the report, the status answers, any instance's input, output or
    # history (the kept target among them) or any log record.
    status = stack.api("GET", f"exports/{report['runId']}").text
    store = stack.host.store
    instances = [repr(store.get(i.instance_id)) for i in store.query()]
    assert any(container in text for text in instances)  # the kept target: the URL as given
    seen = [json.dumps(report), status, caplog.text, *instances]
    for sig in signatures:
        assert not any(sig in text for text in seen)


def test_a_sas_that_cannot_be_minted_fails_the_server_with_storages_code(
    make_stack: StackFactory, azurite: Azurite
) -> None:
    stack = _stack(make_stack, azurite)
    # An account Azurite does not have: the identity gets no user delegation key from it.
    missing = azurite.container_url("backups").replace(
        f"/{azurite.account_name}/", "/nosuchaccount/"
    )
    report = stack.run({**_body(missing), "servers": [server_id("orders-db", "ProdGroup")]})
    (row,) = report["servers"]
    assert row["status"] == "Failed"
    assert row["error"]["code"] == "ResourceNotFound"  # storage's own x-ms-error-code
    assert "user delegation key" in row["error"]["message"]
    assert "HTTP 404" in row["error"]["message"] and "status" not in row["error"]
    assert "notes" not in row  # ARM was never called: no export may have started
    assert stack.emu.exports() == []


def test_a_dry_run_mints_once_and_exports_nothing(
    make_stack: StackFactory, azurite: Azurite
) -> None:
    stack = _stack(make_stack, azurite)
    container = create_container(azurite)
    start = _log_size(azurite)
    report = stack.run({**_body(container), "dryRun": True})
    assert report["dryRun"] is True and report["problems"] == []
    assert {row["status"] for row in report["servers"]} == {"Succeeded"}
    assert sum(KEY_REQUEST in line for line in _log_since(azurite, start)) == 1  # check_target
    assert _blobs(azurite, container) == [] and stack.emu.exports() == []


def test_a_dry_run_says_when_the_target_cannot_be_used(
    make_stack: StackFactory, azurite: Azurite
) -> None:
    stack = _stack(make_stack, azurite)
    missing = azurite.container_url("backups").replace(
        f"/{azurite.account_name}/", "/nosuchaccount/"
    )
    report = stack.run({**_body(missing), "dryRun": True})
    (unusable,) = report["problems"]
    assert unusable["code"] == "TargetUnusable"
    assert unusable["error"]["code"] == "ResourceNotFound"  # storage's own code
    assert report["summary"]["outcome"] == "PartiallySucceeded"
    assert stack.emu.exports() == []

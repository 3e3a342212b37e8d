"""A run whose SAS URIs point at real storage (Azurite): the emulated service writes each
server's backup through them, so a good minted SAS leaves the blobs in the container and one
that has expired or lacks a permission fails that server's export with storage's code in its
row (and the soak's truth comparison agrees with the report)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.storage.blob import ContainerClient

from devhost.azurite import Azurite
from mysqlexport.storage import app_credential, mint_container_sas
from soak.truth import judge
from tests.e2e.conftest import Stack, StackFactory, server_id
from tests.storage_setup import create_container

SERVERS = ("orders-db", "mysqltestserver")
GROUPS = {"orders-db": "ProdGroup", "mysqltestserver": "TestGroup"}


def _stack(make_stack: StackFactory, azurite: Azurite) -> Stack:
    """The emulator and the app trust Azurite's CA as the system's (REQUESTS_CA_BUNDLE)."""
    return make_stack(settings={"REQUESTS_CA_BUNDLE": str(azurite.ca_bundle)})


def _mint(container: str, **kwargs: Any) -> str:
    """A user-delegation SAS minted with the app's identity (the stack's emulator serves it)."""
    kwargs.setdefault("expiry", datetime.now(UTC) + timedelta(hours=1))
    [sas] = mint_container_sas([container], app_credential(), **kwargs)
    return sas.reveal()


def _body(sas: str) -> dict[str, Any]:
    return {
        "servers": [server_id(name, GROUPS[name]) for name in SERVERS],
        "target": {"sasUriList": [sas]},
    }


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"].rsplit("/", 1)[1]: row for row in report["servers"]}


def _truth_holds(stack: Stack, report: dict[str, Any]) -> None:
    fleet = [spec for spec in stack.emu.servers() if spec.name in SERVERS]
    verdict = judge(report, fleet, stack.emu.exports())
    assert verdict.ok, (verdict.mismatches, verdict.lost)


def test_a_good_minted_sas_leaves_every_servers_backup_in_the_container(
    make_stack: StackFactory, azurite: Azurite
) -> None:
    stack = _stack(make_stack, azurite)
    container = create_container(azurite)
    report = stack.run(_body(_mint(container)))

    rows = _rows(report)
    assert {name: row["status"] for name, row in rows.items()} == dict.fromkeys(
        SERVERS, "Succeeded"
    )
    with ContainerClient.from_container_url(container, credential=app_credential()) as owner:
        names = sorted(b.name for b in owner.list_blobs())
        manifest = json.loads(
            owner.download_blob(
                f"orders-db/{rows['orders-db']['backupName']}/manifest.json"
            ).readall()
        )
    expected = []
    for name in SERVERS:
        prefix = f"{name}/{rows[name]['backupName']}"
        expected += [f"{prefix}/data/part-0001-of-0001", f"{prefix}/manifest.json"]
    assert names == sorted(expected)
    assert manifest["serverResourceId"].lower() == rows["orders-db"]["id"].lower()
    assert manifest["datasourceSizeInBytes"] == rows["orders-db"]["dataTransferredInBytes"]
    _truth_holds(stack, report)


@pytest.mark.parametrize(
    ("what", "code"),
    [("expired", "AuthorizationFailure"), ("read-only", "AuthorizationPermissionMismatch")],
)
def test_a_minted_sas_that_expired_or_lacks_a_permission_fails_each_export_with_its_code(
    make_stack: StackFactory, azurite: Azurite, what: str, code: str
) -> None:
    stack = _stack(make_stack, azurite)
    container = create_container(azurite)
    if what == "expired":
        two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
        sas = _mint(container, now=two_hours_ago, expiry=two_hours_ago + timedelta(hours=1))
    else:
        sas = _mint(container, permissions="r")
    report = stack.run(_body(sas))

    for name, row in _rows(report).items():
        assert row["status"] == "Failed", (name, row)
        assert row["error"]["code"] == code
        assert "sasUriList[0]" in row["error"]["message"]
    signature = parse_qs(urlsplit(sas).query)["sig"][0]
    assert signature not in json.dumps(report)
    with ContainerClient.from_container_url(container, credential=app_credential()) as owner:
        assert list(owner.list_blobs()) == []
    _truth_holds(stack, report)

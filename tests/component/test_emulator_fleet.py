"""Fleet discovery against the emulator: list, page, get, and how the fleet is described."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from armemulator import (
    DEFAULT_SUBSCRIPTION,
    GIB,
    Emulator,
    EmulatorConfig,
    ServerSpec,
    VirtualClock,
    make_fleet,
)

SUB = DEFAULT_SUBSCRIPTION
API = "2024-12-30"
PROVIDER = "providers/Microsoft.DBforMySQL/flexibleServers"


def session(emu: Emulator) -> requests.Session:
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {emu.issue_token()}"
    return http


def list_all(http: requests.Session, url: str) -> tuple[list[dict[str, Any]], int]:
    """Follow nextLink to the end; returns the servers and the number of pages."""
    servers: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        response = http.get(next_url)
        assert response.status_code == 200, response.text
        page = response.json()
        servers.extend(page["value"])
        pages += 1
        next_url = page.get("nextLink")
    return servers, pages


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(clock=VirtualClock(), page_size=3)) as emulator:
        yield emulator


def test_default_fleet_lists_every_server_with_the_server_shape(emu: Emulator) -> None:
    servers, _ = list_all(
        session(emu), f"{emu.url}/subscriptions/{SUB}/{PROVIDER}?api-version={API}"
    )

    names = {s["name"] for s in servers}
    assert {"mysqltestserver", "mysqltestserver1", "mysqltestserver2", "orders-db"} <= names
    assert {"billing-db", "inventory-db", "analytics-db"} <= names
    server = next(s for s in servers if s["name"] == "mysqltestserver")
    assert (
        server["id"] == f"/subscriptions/{SUB}/resourceGroups/TestGroup/{PROVIDER}/mysqltestserver"
    )
    assert server["type"] == "Microsoft.DBforMySQL/flexibleServers"
    assert server["location"] == "East US"
    assert server["tags"] == {"env": "test", "backup": "weekly"}
    assert server["sku"] == {"name": "Standard_D2ds_v4", "tier": "GeneralPurpose"}
    properties = server["properties"]
    assert properties["state"] == "Ready"
    assert properties["version"] == "8.0.21"
    assert properties["fullyQualifiedDomainName"] == "mysqltestserver.mysql.database.azure.com"
    assert {
        "storage",
        "backup",
        "highAvailability",
        "network",
        "replicationRole",
    } <= properties.keys()
    stopped = next(s for s in servers if s["name"] == "mysqltestserver2")
    assert stopped["properties"]["state"] == "Stopped"


def test_listing_pages_through_next_link_in_a_stable_order(emu: Emulator) -> None:
    http = session(emu)
    url = f"{emu.url}/subscriptions/{SUB}/{PROVIDER}?api-version={API}"

    first = http.get(url).json()
    servers, pages = list_all(http, url)
    again, _ = list_all(http, url)

    assert len(first["value"]) == 3
    assert first["nextLink"].startswith(f"{emu.url}/subscriptions/{SUB}/{PROVIDER}?")
    assert f"api-version={API}" in first["nextLink"]
    assert "$skipToken=" in first["nextLink"]
    assert pages == 3
    assert len(servers) == 7
    assert len({s["id"] for s in servers}) == 7
    assert [s["id"] for s in servers] == [s["id"] for s in again]
    assert "nextLink" not in http.get(url).json() or pages > 1


def test_listing_by_resource_group_returns_only_that_group(emu: Emulator) -> None:
    http = session(emu)

    servers, _ = list_all(
        http, f"{emu.url}/subscriptions/{SUB}/resourceGroups/ProdGroup/{PROVIDER}?api-version={API}"
    )
    missing = http.get(
        f"{emu.url}/subscriptions/{SUB}/resourceGroups/Nope/{PROVIDER}", params={"api-version": API}
    )

    assert {s["name"] for s in servers} == {
        "orders-db",
        "billing-db",
        "inventory-db",
        "analytics-db",
    }
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceGroupNotFound"


def test_unknown_subscription_gets_404_subscription_not_found(emu: Emulator) -> None:
    other = "22222222-2222-2222-2222-222222222222"

    response = session(emu).get(
        f"{emu.url}/subscriptions/{other}/{PROVIDER}", params={"api-version": API}
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "SubscriptionNotFound"
    assert response.json()["error"]["message"] == f"The subscription '{other}' could not be found."


def test_unregistered_subscription_gets_409_missing_subscription_registration() -> None:
    config = EmulatorConfig(clock=VirtualClock(), unregistered_subscriptions=frozenset({SUB}))
    with Emulator(config) as emu:
        response = session(emu).get(
            f"{emu.url}/subscriptions/{SUB}/{PROVIDER}", params={"api-version": API}
        )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "MissingSubscriptionRegistration"


def test_get_server_returns_it_or_404_or_403(emu: Emulator) -> None:
    http = session(emu)
    base = f"{emu.url}/subscriptions/{SUB}/resourceGroups"

    found = http.get(f"{base}/TestGroup/{PROVIDER}/mysqltestserver1", params={"api-version": API})
    missing = http.get(f"{base}/TestGroup/{PROVIDER}/ghost", params={"api-version": API})
    forbidden = http.get(f"{base}/ProdGroup/{PROVIDER}/billing-db", params={"api-version": API})

    assert found.status_code == 200
    assert found.json()["properties"]["version"] == "5.7"
    assert found.headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceNotFound"
    assert forbidden.status_code == 403
    assert "'Microsoft.DBforMySQL/flexibleServers/read'" in forbidden.json()["error"]["message"]


def test_added_and_removed_servers_show_in_listings(emu: Emulator) -> None:
    http = session(emu)
    url = f"{emu.url}/subscriptions/{SUB}/resourceGroups/NewGroup/{PROVIDER}?api-version={API}"
    spec = ServerSpec(
        SUB, "NewGroup", "fresh-db", location="North Europe", datasource_size_bytes=GIB
    )

    emu.add_server(spec)
    added, _ = list_all(http, url)
    assert emu.remove_server(spec.resource_id)
    removed, _ = list_all(http, url)

    assert [s["name"] for s in added] == ["fresh-db"]
    assert added[0]["location"] == "North Europe"
    assert removed == []


def test_make_fleet_is_reproducible_and_lists_completely() -> None:
    fleet = make_fleet(1000, seed=7)
    assert fleet == make_fleet(1000, seed=7)
    assert fleet != make_fleet(1000, seed=8)
    assert len({s.resource_id for s in fleet}) == 1000
    assert all(1 * GIB <= s.datasource_size_bytes <= 8 * GIB for s in fleet)

    with Emulator(EmulatorConfig(clock=VirtualClock(), fleet=fleet)) as emu:
        servers, pages = list_all(
            session(emu), f"{emu.url}/subscriptions/{SUB}/{PROVIDER}?api-version={API}"
        )

    assert pages == 10
    assert sorted(s["name"] for s in servers) == sorted(s.name for s in fleet)


def test_make_fleet_duration_sampler_sets_export_seconds() -> None:
    fleet = make_fleet(5, seed=1, resource_groups=["rg-a"], duration_sampler=lambda rng: 42.0)

    assert {s.export_seconds for s in fleet} == {42.0}
    assert {s.resource_group for s in fleet} == {"rg-a"}

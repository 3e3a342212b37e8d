"""Discovery scopes as ARM answers them: a subscription or resource group that does not exist
(404 SubscriptionNotFound / ResourceGroupNotFound) and one the identity may not read (403
AuthorizationFailed), configurable per scope so one scope of many can fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from armemulator import DEFAULT_SUBSCRIPTION, Emulator, EmulatorConfig, ServerSpec, VirtualClock

SUB = DEFAULT_SUBSCRIPTION
OTHER = "22222222-2222-2222-2222-222222222222"
EMPTY = "33333333-3333-3333-3333-333333333333"
API = "2024-12-30"
PROVIDER = "providers/Microsoft.DBforMySQL/flexibleServers"
SAS = "https://acct.blob.core.windows.net/exports?sv=2024-05-04&sr=c&sp=rcw&sig=S3CRET%3D"
FLEET = (
    ServerSpec(SUB, "TestGroup", "db1"),
    ServerSpec(SUB, "ProdGroup", "db2"),
    ServerSpec(OTHER, "rg", "db3"),
)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    config = EmulatorConfig(
        clock=VirtualClock(),
        fleet=FLEET,
        extra_scopes=frozenset(
            {f"/subscriptions/{EMPTY}", f"/subscriptions/{SUB}/resourceGroups/Spare"}
        ),
        forbidden_scopes=frozenset(
            {f"/subscriptions/{OTHER}", f"/subscriptions/{SUB}/resourceGroups/ProdGroup"}
        ),
    )
    with Emulator(config) as emulator:
        yield emulator


def get(emu: Emulator, path: str) -> requests.Response:
    return requests.get(
        f"{emu.url}{path}",
        params={"api-version": API},
        headers={"Authorization": f"Bearer {emu.issue_token()}"},
        timeout=30,
    )


def error(response: requests.Response) -> dict[str, str]:
    body: dict[str, str] = response.json()["error"]
    return body


def test_a_subscription_that_does_not_exist_is_404_subscription_not_found(emu: Emulator) -> None:
    missing = "44444444-4444-4444-4444-444444444444"

    for path in (
        f"/subscriptions/{missing}/{PROVIDER}",
        f"/subscriptions/{missing}/resourceGroups/rg/{PROVIDER}",
        f"/subscriptions/{missing}/resourceGroups/rg/{PROVIDER}/db1",
    ):
        response = get(emu, path)
        assert response.status_code == 404, path
        assert error(response) == {
            "code": "SubscriptionNotFound",
            "message": f"The subscription '{missing}' could not be found.",
            "details": [],
            "additionalInfo": [],
        }


def test_a_resource_group_that_does_not_exist_is_404_resource_group_not_found(
    emu: Emulator,
) -> None:
    response = get(emu, f"/subscriptions/{SUB}/resourceGroups/NoSuchGroup/{PROVIDER}")

    assert response.status_code == 404
    assert error(response)["code"] == "ResourceGroupNotFound"
    assert error(response)["message"] == "Resource group 'NoSuchGroup' could not be found."


def test_scopes_without_servers_exist_and_list_nothing(emu: Emulator) -> None:
    for path in (
        f"/subscriptions/{EMPTY}/{PROVIDER}",
        f"/subscriptions/{SUB}/resourceGroups/spare/{PROVIDER}",
    ):
        response = get(emu, path)
        assert response.status_code == 200, path
        assert response.json() == {"value": []}


def test_a_forbidden_subscription_is_403_with_arms_message(emu: Emulator) -> None:
    principal = "00000000-0000-0000-0000-00000000a11c"  # the emulator's system identity

    listed = get(emu, f"/subscriptions/{OTHER}/{PROVIDER}")
    in_group = get(emu, f"/subscriptions/{OTHER}/resourceGroups/rg/{PROVIDER}")
    one = get(emu, f"/subscriptions/{OTHER}/resourceGroups/rg/{PROVIDER}/db3")

    assert (listed.status_code, in_group.status_code, one.status_code) == (403, 403, 403)
    assert error(listed)["code"] == "AuthorizationFailed"
    assert error(listed)["message"] == (
        f"The client '{principal}' with object id '{principal}' does not have authorization to "
        "perform action 'Microsoft.DBforMySQL/flexibleServers/read' over scope "
        f"'/subscriptions/{OTHER}/providers/Microsoft.DBforMySQL' or the scope is invalid. If "
        "access was recently granted, please refresh your credentials."
    )
    assert (
        f"over scope '/subscriptions/{OTHER}/resourceGroups/rg/providers/Microsoft.DBforMySQL'"
        in (error(in_group)["message"])
    )
    assert (
        f"over scope '/subscriptions/{OTHER}/resourceGroups/rg/{PROVIDER}/db3'"
        in (error(one)["message"])
    )


def test_one_forbidden_group_of_many_fails_alone(emu: Emulator) -> None:
    forbidden = get(emu, f"/subscriptions/{SUB}/resourceGroups/prodgroup/{PROVIDER}")
    allowed = get(emu, f"/subscriptions/{SUB}/resourceGroups/TestGroup/{PROVIDER}")
    # a group the identity may not read is 403 whether or not it exists (ARM authorizes first)
    subscription = get(emu, f"/subscriptions/{SUB}/{PROVIDER}")

    assert forbidden.status_code == 403
    assert "'Microsoft.DBforMySQL/flexibleServers/read'" in error(forbidden)["message"]
    assert allowed.status_code == 200
    assert [s["name"] for s in allowed.json()["value"]] == ["db1"]
    # the identity holds a role on the subscription: listing it is allowed (group roles aside)
    assert subscription.status_code == 200


def test_a_forbidden_scope_refuses_exports_with_the_action_in_the_message(emu: Emulator) -> None:
    response = requests.post(
        f"{emu.url}/subscriptions/{SUB}/resourceGroups/ProdGroup/{PROVIDER}/db2/backupAndExport",
        params={"api-version": API},
        headers={"Authorization": f"Bearer {emu.issue_token()}"},
        json={
            "backupSettings": {"backupName": "b1"},
            "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": [SAS]},
        },
        timeout=30,
    )

    assert response.status_code == 403
    assert (
        "'Microsoft.DBforMySQL/flexibleServers/backupAndExport/action'"
        in (error(response)["message"])
    )
    assert emu.exports() == []


def test_a_malformed_scope_is_refused_by_the_config() -> None:
    with pytest.raises(ValueError, match="a scope is"):
        EmulatorConfig(forbidden_scopes=frozenset({"/subscriptions"}))

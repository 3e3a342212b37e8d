"""The emulator rejects malformed ARM requests as the published contract says, with targets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from armemulator import (
    DEFAULT_SUBSCRIPTION,
    SUPPORTED_API_VERSIONS,
    Emulator,
    EmulatorConfig,
    VirtualClock,
)

SUB = DEFAULT_SUBSCRIPTION
SECRET = "T0PS3CRETSIG"
SAS = f"https://acct.blob.core.windows.net/exports?sv=2024-05-04&sr=c&sig={SECRET}"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(clock=VirtualClock())) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def http(emu: Emulator) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {emu.issue_token()}"
    return session


def server_url(
    emu: Emulator, name: str = "mysqltestserver", rg: str = "TestGroup", sub: str = SUB
) -> str:
    return (
        f"{emu.url}/subscriptions/{sub}/resourceGroups/{rg}"
        f"/providers/Microsoft.DBforMySQL/flexibleServers/{name}"
    )


def body(**overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"backupName": "nightly"}
    target: dict[str, Any] = {"objectType": "FullBackupStoreDetails", "sasUriList": [SAS]}
    settings.update(overrides.pop("settings", {}))
    target.update(overrides.pop("target", {}))
    return {"backupSettings": settings, "targetDetails": target, **overrides}


def error_of(response: requests.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


# --- api-version and path --------------------------------------------------------------------


def test_missing_api_version_gets_400(emu: Emulator, http: requests.Session) -> None:
    response = http.get(server_url(emu))

    assert response.status_code == 400
    assert error_of(response)["code"] == "MissingApiVersionParameter"


def test_unsupported_api_version_gets_400_listing_supported_ones(
    emu: Emulator, http: requests.Session
) -> None:
    response = http.get(server_url(emu), params={"api-version": "2021-05-01"})

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "NoRegisteredProviderFound"
    for version in SUPPORTED_API_VERSIONS:
        assert version in error["message"]


@pytest.mark.parametrize("version", SUPPORTED_API_VERSIONS)
def test_every_supported_api_version_is_served(
    emu: Emulator, http: requests.Session, version: str
) -> None:
    assert http.get(server_url(emu), params={"api-version": version}).status_code == 200


def test_malformed_subscription_id_gets_400(emu: Emulator, http: requests.Session) -> None:
    response = http.get(server_url(emu, sub="not-a-guid"), params={"api-version": "2024-12-30"})

    assert response.status_code == 400
    assert error_of(response)["code"] == "InvalidSubscriptionId"


@pytest.mark.parametrize("name", ["MyServer", "ends-with-", "-starts", "under_score", "a" * 64])
def test_invalid_server_name_gets_400_targeting_server_name(
    emu: Emulator, http: requests.Session, name: str
) -> None:
    response = http.post(
        server_url(emu, name=name) + "/backupAndExport",
        params={"api-version": "2024-12-30"},
        json=body(),
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "InvalidParameterValue"
    assert error_of(response)["target"] == "serverName"


@pytest.mark.parametrize("rg", ["bad/../x", "a" * 91, "sp ace", "star*"])
def test_invalid_resource_group_name_gets_400(
    emu: Emulator, http: requests.Session, rg: str
) -> None:
    response = http.get(server_url(emu, rg=rg), params={"api-version": "2024-12-30"})

    assert response.status_code in (400, 404)  # "bad/../x" is not even a route
    if response.status_code == 400:
        assert error_of(response)["target"] == "resourceGroupName"


def test_path_segment_names_are_case_insensitive(emu: Emulator, http: requests.Session) -> None:
    url = (
        f"{emu.url}/SUBSCRIPTIONS/{SUB}/resourcegroups/testgroup/PROVIDERS/microsoft.dbformysql"
        "/FLEXIBLESERVERS/mysqltestserver/VALIDATEBACKUP"
    )

    assert http.post(url, params={"API-VERSION": "2024-12-30"}).status_code == 200


def test_unknown_path_gets_404_and_wrong_method_gets_405(
    emu: Emulator, http: requests.Session
) -> None:
    unknown = http.get(server_url(emu) + "/databases", params={"api-version": "2024-12-30"})
    wrong = http.get(server_url(emu) + "/backupAndExport", params={"api-version": "2024-12-30"})

    assert unknown.status_code == 404
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "POST"


# --- backupAndExport body --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code", "target"),
    [
        (b"{not json", "InvalidRequestContent", None),
        (b"[]", "InvalidRequestContent", None),
        (b"", "InvalidRequestContent", None),
        ({"targetDetails": body()["targetDetails"]}, "MissingRequiredProperty", "backupSettings"),
        (body(backupSettings="x"), "InvalidParameterValue", "backupSettings"),
        (
            body(settings={"backupName": None}),
            "MissingRequiredProperty",
            "backupSettings.backupName",
        ),
        (
            body(settings={"backupName": "Nightly"}),
            "InvalidParameterValue",
            "backupSettings.backupName",
        ),
        (
            body(settings={"backupName": "nightly-"}),
            "InvalidParameterValue",
            "backupSettings.backupName",
        ),
        (
            body(settings={"backupName": "a_b"}),
            "InvalidParameterValue",
            "backupSettings.backupName",
        ),
        (body(settings={"backupName": 7}), "InvalidParameterValue", "backupSettings.backupName"),
        (
            body(settings={"backupFormat": "None"}),
            "InvalidParameterValue",
            "backupSettings.backupFormat",
        ),
        ({"backupSettings": {"backupName": "n"}}, "MissingRequiredProperty", "targetDetails"),
        (body(target={"objectType": None}), "MissingRequiredProperty", "targetDetails.objectType"),
        (body(target={"objectType": "Blob"}), "InvalidParameterValue", "targetDetails.objectType"),
        (body(target={"sasUriList": None}), "MissingRequiredProperty", "targetDetails.sasUriList"),
        (body(target={"sasUriList": []}), "InvalidParameterValue", "targetDetails.sasUriList"),
        (body(target={"sasUriList": SAS}), "InvalidParameterValue", "targetDetails.sasUriList"),
        (
            body(target={"sasUriList": [SAS, 3]}),
            "InvalidParameterValue",
            "targetDetails.sasUriList[1]",
        ),
        (
            body(target={"sasUriList": [SAS, SAS.replace("https", "http")]}),
            "InvalidParameterValue",
            "targetDetails.sasUriList[1]",
        ),
        (
            body(target={"sasUriList": ["https://acct.blob.core.windows.net/c?sv=1"]}),
            "InvalidParameterValue",
            "targetDetails.sasUriList[0]",
        ),
        (
            body(target={"sasUriList": [f"/relative/c?sig={SECRET}"]}),
            "InvalidParameterValue",
            "targetDetails.sasUriList[0]",
        ),
    ],
)
def test_invalid_body_gets_400_naming_the_json_path(
    emu: Emulator,
    http: requests.Session,
    payload: bytes | dict[str, Any],
    code: str,
    target: str | None,
) -> None:
    url = server_url(emu) + "/backupAndExport"
    params = {"api-version": "2024-12-30"}
    if isinstance(payload, bytes):
        response = http.post(url, params=params, data=payload)
    else:
        response = http.post(url, params=params, json=payload)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == code
    assert error.get("target") == target
    assert error["details"] == [] and error["additionalInfo"] == []
    assert SECRET not in response.text


def test_backup_format_enum_follows_api_version(emu: Emulator, http: requests.Session) -> None:
    url = server_url(emu, name="mysqltestserver1") + "/backupAndExport"

    old_raw = http.post(
        url,
        params={"api-version": "2022-09-30-preview"},
        json=body(settings={"backupFormat": "Raw"}),
    )
    old_none = http.post(
        url,
        params={"api-version": "2022-09-30-preview"},
        json=body(settings={"backupFormat": "None"}),
    )

    assert old_raw.status_code == 400
    assert error_of(old_raw)["target"] == "backupSettings.backupFormat"
    assert old_none.status_code == 202
    assert emu.exports()[-1].backup_format == "None"


def test_oversized_body_is_refused_and_connection_closed(
    emu: Emulator, http: requests.Session
) -> None:
    response = http.post(
        server_url(emu) + "/backupAndExport",
        params={"api-version": "2024-12-30"},
        data=b"x" * (2 * 1024 * 1024),
    )

    assert response.status_code == 413
    assert response.headers["Connection"] == "close"

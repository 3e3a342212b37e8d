"""The emulator's backupAndExport lifecycle over loopback HTTP: accept, poll, finish, refuse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from armemulator import (
    DEFAULT_SUBSCRIPTION,
    Emulator,
    EmulatorConfig,
    Faults,
    Kind,
    Resubmission,
    ServerSpec,
    VirtualClock,
)

SUB = DEFAULT_SUBSCRIPTION
API = "2024-12-30"
SAS = "https://acct.blob.core.windows.net/exports?sv=2024-05-04&sr=c&sp=rcw&sig=S3CRET%3D"


def export_body(name: str = "nightly-1", uris: list[str] | None = None) -> dict[str, Any]:
    return {
        "backupSettings": {"backupName": name, "backupFormat": "Raw"},
        "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": uris or [SAS]},
    }


class Arm:
    """A requests session that speaks to one emulator with a valid token."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {emu.issue_token()}"

    def server_url(self, rg: str, name: str, suffix: str = "", sub: str = SUB) -> str:
        return (
            f"{self.emu.url}/subscriptions/{sub}/resourceGroups/{rg}"
            f"/providers/Microsoft.DBforMySQL/flexibleServers/{name}{suffix}"
        )

    def export(
        self, rg: str, name: str, backup: str = "nightly-1", **kwargs: Any
    ) -> requests.Response:
        body = kwargs.pop("json", export_body(backup))
        return self.http.post(
            self.server_url(rg, name, "/backupAndExport"),
            params={"api-version": kwargs.pop("api_version", API)},
            json=body,
            **kwargs,
        )

    def validate(self, rg: str, name: str) -> requests.Response:
        return self.http.post(
            self.server_url(rg, name, "/validateBackup"), params={"api-version": API}
        )

    def get(self, url: str) -> requests.Response:
        return self.http.get(url)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def emu(clock: VirtualClock) -> Iterator[Emulator]:
    with Emulator(EmulatorConfig(clock=clock)) as emulator:
        yield emulator


@pytest.fixture
def arm(emu: Emulator) -> Arm:
    return Arm(emu)


def error_of(response: requests.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


# --- accept ----------------------------------------------------------------------------------


def test_accepted_export_returns_202_with_signed_polling_urls(arm: Arm, emu: Emulator) -> None:
    response = arm.export("TestGroup", "mysqltestserver", headers={"x-ms-client-request-id": "c1"})

    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["Content-Length"] == "0"
    assert response.headers["Retry-After"] == "10"
    assert response.headers["x-ms-correlation-request-id"] == "c1"
    assert response.headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"
    operation_id = emu.exports()[0].operation_id
    assert response.headers["x-ms-request-id"] == operation_id
    for header, segment in (
        ("Location", "operationStatus"),
        ("Azure-AsyncOperation", "azureAsyncOperation"),
    ):
        url = urlsplit(response.headers[header])
        assert f"{url.scheme}://{url.netloc}" == emu.url
        assert url.path == (
            f"/subscriptions/{SUB}/providers/Microsoft.DBforMySQL/locations/eastus/{segment}/{operation_id}"
        )
        query = parse_qs(url.query)
        assert query["api-version"] == [API]
        assert {"t", "c", "s", "h"} <= query.keys()


def test_2024_12_30_contract_sends_only_location_when_configured(clock: VirtualClock) -> None:
    with Emulator(EmulatorConfig(clock=clock, async_operation_header=False)) as emu:
        response = Arm(emu).export("TestGroup", "mysqltestserver")

    assert response.status_code == 202
    assert "Location" in response.headers
    assert "Azure-AsyncOperation" not in response.headers


def test_polling_url_location_is_the_servers_short_region(arm: Arm) -> None:
    response = arm.export("ProdGroup", "inventory-db")

    assert "/locations/westeurope/" in response.headers["Location"]


# --- progress --------------------------------------------------------------------------------


def test_status_goes_pending_then_in_progress_then_succeeded(
    arm: Arm, emu: Emulator, clock: VirtualClock
) -> None:
    accepted = arm.export("TestGroup", "mysqltestserver")
    status_url = accepted.headers["Azure-AsyncOperation"]

    first = arm.get(status_url)
    assert first.status_code == 200
    assert first.json()["status"] == "Pending"
    assert first.json()["percentComplete"] == 0
    assert first.headers["Retry-After"] == "10"

    record = emu.exports()[0]
    clock.set(record.started_at + 1)
    percents = []
    while clock.now() < record.ends_at:
        body = arm.get(status_url).json()
        assert body["status"] == "InProgress"
        assert "endTime" not in body
        percents.append(body["percentComplete"])
        assert body["properties"]["dataTransferredInBytes"] < record.datasource_size_bytes
        clock.advance(record.planned_seconds / 7)
    assert percents == sorted(percents)
    assert percents[0] < percents[-1] <= 99

    done = arm.get(status_url)
    assert done.json()["status"] == "Succeeded"
    assert done.json()["percentComplete"] == 100
    assert done.json()["properties"]["dataTransferredInBytes"] == record.datasource_size_bytes
    assert done.json()["endTime"].endswith("Z")
    assert "Retry-After" not in done.headers


def test_location_answers_202_while_running_and_200_with_the_result_after(
    arm: Arm, emu: Emulator, clock: VirtualClock
) -> None:
    accepted = arm.export("TestGroup", "mysqltestserver", backup="weekly-7")
    location = accepted.headers["Location"]

    running = arm.get(location)
    assert running.status_code == 202
    assert running.content == b""
    assert running.headers["Location"] == location
    assert running.headers["Retry-After"] == "10"

    clock.set(emu.exports()[0].ends_at)
    final = arm.get(location)
    assert final.status_code == 200
    body = final.json()
    assert body["id"].endswith("/flexibleServers/mysqltestserver/backupAndExport/weekly-7")
    assert body["name"] == "weekly-7"
    assert body["type"] == "Microsoft.DBforMySQL/flexibleServers/backupAndExport"
    assert body["status"] == "Succeeded"
    assert body["percentComplete"] == 100
    assert set(body["properties"]) == {
        "datasourceSizeInBytes",
        "dataTransferredInBytes",
        "backupMetadata",
    }
    assert body["startTime"].endswith("Z")
    assert body["endTime"].endswith("Z")
    assert "error" not in body
    # "metadata ... in key-value pairs": a JSON object of strings, as in the API's examples
    metadata = json.loads(body["properties"]["backupMetadata"])
    assert all(isinstance(v, str) for v in metadata.values())
    assert metadata["backupName"] == "weekly-7"
    assert metadata["serverName"] == "mysqltestserver"
    assert SAS.split("?")[1] not in body["properties"]["backupMetadata"]
    # the status resource carries the progress, not the metadata (it is the final result's)
    assert "backupMetadata" not in arm.get(accepted.headers["Azure-AsyncOperation"]).json()


def test_export_of_failing_server_ends_failed_with_aggregate_exception(
    arm: Arm, emu: Emulator, clock: VirtualClock
) -> None:
    accepted = arm.export("ProdGroup", "inventory-db")
    record = emu.exports()[0]
    assert record.outcome == "Failed"

    clock.set(record.ends_at)
    status = arm.get(accepted.headers["Azure-AsyncOperation"]).json()
    final = arm.get(accepted.headers["Location"])

    assert status["status"] == "Failed"
    assert status["error"]["code"] == "AggregateException"
    assert "Commited-Blocks" in status["error"]["message"]
    assert status["percentComplete"] < 100
    assert final.status_code == 200
    assert final.json()["status"] == "Failed"
    assert final.json()["error"]["code"] == "AggregateException"


def test_fail_rate_one_fails_every_export(clock: VirtualClock) -> None:
    with Emulator(EmulatorConfig(clock=clock, fail_rate=1.0)) as emu:
        Arm(emu).export("TestGroup", "mysqltestserver")
        assert [r.outcome for r in emu.exports()] == ["Failed"]
        assert emu.exports()[0].error_code == "AggregateException"


def test_export_seconds_override_sets_duration(clock: VirtualClock) -> None:
    spec = ServerSpec(SUB, "TestGroup", "quick", export_seconds=30)
    config = EmulatorConfig(clock=clock, fleet=(spec,), pending_seconds=5)
    with Emulator(config) as emu:
        Arm(emu).export("TestGroup", "quick")
        record = emu.exports()[0]

    assert record.started_at - record.submitted_at == 5
    assert record.ends_at - record.started_at == 30


def test_same_seed_gives_same_operation_ids_and_durations() -> None:
    def run() -> list[tuple[str, float]]:
        with Emulator(EmulatorConfig(clock=VirtualClock(), seed=42)) as emu:
            arm = Arm(emu)
            arm.export("TestGroup", "mysqltestserver")
            arm.export("ProdGroup", "orders-db")
            return [(r.operation_id, r.ends_at) for r in emu.exports()]

    assert run() == run()


# --- signed URLs -----------------------------------------------------------------------------


def _with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    rebuilt = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{rebuilt}"


@pytest.mark.parametrize(
    "change",
    [{"s": "AAAA"}, {"h": None}, {"t": "1"}, {"c": "other-nonce"}, {"s": None, "h": None}],
)
def test_tampered_polling_url_gets_400_invalid_operation_url(
    arm: Arm, change: dict[str, str | None]
) -> None:
    url = arm.export("TestGroup", "mysqltestserver").headers["Azure-AsyncOperation"]

    response = arm.get(_with_query(url, **change))

    assert response.status_code == 400
    assert error_of(response)["code"] == "InvalidOperationUrl"


def test_unknown_operation_gets_404_operation_not_found(arm: Arm) -> None:
    url = arm.export("TestGroup", "mysqltestserver").headers["Location"]
    parts = urlsplit(url)
    path = parts.path.rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"

    response = arm.get(f"{parts.scheme}://{parts.netloc}{path}?{parts.query}")

    assert response.status_code == 404
    assert error_of(response)["code"] == "OperationNotFound"


def test_operation_polled_under_another_subscription_gets_404(arm: Arm) -> None:
    url = arm.export("TestGroup", "mysqltestserver").headers["Location"]
    other = "11111111-1111-1111-1111-111111111111"

    response = arm.get(url.replace(SUB, other))

    assert response.status_code == 404
    assert error_of(response)["code"] == "OperationNotFound"


def test_polling_base_override_hands_out_urls_on_another_host(arm: Arm, emu: Emulator) -> None:
    port = urlsplit(emu.url).port
    emu.set_polling_base(f"http://localhost:{port}")

    accepted = arm.export("TestGroup", "mysqltestserver")
    location = accepted.headers["Location"]
    assert location.startswith(f"http://localhost:{port}/")
    assert arm.get(location).status_code == 202  # a careless client follows it...
    assert emu.counters().foreign_host_requests == 1  # ...and is caught doing so


# --- refusals --------------------------------------------------------------------------------


def test_second_export_on_same_server_gets_409(arm: Arm) -> None:
    assert arm.export("TestGroup", "mysqltestserver", backup="first").status_code == 202

    response = arm.export("TestGroup", "mysqltestserver", backup="second")

    assert response.status_code == 409
    assert error_of(response)["code"] == "BackupAlreadyRunningForServer"
    assert "Wait for the previous operation to finish." in error_of(response)["message"]


def test_exports_on_different_servers_run_concurrently(arm: Arm, emu: Emulator) -> None:
    for server in ("mysqltestserver", "mysqltestserver1"):
        assert arm.export("TestGroup", server).status_code == 202
    assert arm.export("ProdGroup", "orders-db").status_code == 202

    counters = emu.counters()
    assert counters.exports_running == 3
    assert counters.peak_exports_running == 3
    assert counters.peak_exports_running_by_server == {
        "mysqltestserver": 1,
        "mysqltestserver1": 1,
        "orders-db": 1,
    }


def test_same_backup_name_after_completion_returns_200_with_final_result(
    arm: Arm, emu: Emulator, clock: VirtualClock
) -> None:
    arm.export("TestGroup", "mysqltestserver", backup="monthly")
    original = emu.exports()[0]
    clock.set(original.ends_at + 60)

    again = arm.export("TestGroup", "mysqltestserver", backup="monthly")

    assert again.status_code == 200
    assert again.json()["status"] == "Succeeded"
    assert again.json()["name"] == "monthly"
    records = emu.exports()
    assert [r.duplicate for r in records] == [False, True]
    assert records[1].operation_id == original.operation_id
    assert emu.counters().duplicate_exports == 1
    assert emu.counters().exports_accepted == 1


@pytest.mark.parametrize("done", [False, True], ids=["running", "completed"])
def test_accept_again_answers_a_repeated_name_with_a_second_export(
    clock: VirtualClock, done: bool
) -> None:
    config = EmulatorConfig(clock=clock, resubmission=Resubmission.ACCEPT_AGAIN)
    with Emulator(config) as emu:
        arm = Arm(emu)
        assert arm.export("TestGroup", "mysqltestserver", backup="monthly").status_code == 202
        first = emu.exports()[0]
        if done:
            clock.set(first.ends_at + 60)

        again = arm.export("TestGroup", "mysqltestserver", backup="monthly")
        other = arm.export("TestGroup", "mysqltestserver", backup="another")

        second = emu.exports()[1]
    assert again.status_code == 202
    assert again.headers["x-ms-request-id"] == second.operation_id != first.operation_id
    assert (second.backup_name, second.repeat_of, second.duplicate) == ("monthly", 0, False)
    assert other.status_code == 409  # one export at a time still holds for other names


@pytest.mark.parametrize("done", [False, True], ids=["running", "completed"])
def test_refuse_answers_a_repeated_name_with_an_invented_400(
    clock: VirtualClock, done: bool
) -> None:
    with Emulator(EmulatorConfig(clock=clock, resubmission=Resubmission.REFUSE)) as emu:
        arm = Arm(emu)
        arm.export("TestGroup", "mysqltestserver", backup="monthly")
        if done:
            clock.set(emu.exports()[0].ends_at + 60)

        again = arm.export("TestGroup", "mysqltestserver", backup="monthly")

        assert len(emu.exports()) == 1
    assert again.status_code == 400
    assert error_of(again)["code"] == "DuplicateBackupName"
    assert error_of(again)["target"] == "backupSettings.backupName"


def test_a_fault_limit_strikes_only_the_first_requests(clock: VirtualClock) -> None:
    faults = Faults(
        connection_reset=1.0,
        kinds=frozenset({Kind.BACKUP_AND_EXPORT}),
        fault_after_accept=True,
        limit=1,
    )
    with Emulator(EmulatorConfig(clock=clock, faults=faults)) as emu:
        arm = Arm(emu)
        with pytest.raises(requests.ConnectionError):
            arm.export("TestGroup", "mysqltestserver")
        again = arm.export("TestGroup", "mysqltestserver")

        assert len(emu.exports()) == 1  # the first was accepted before its answer was lost
        assert emu.counters().faults == {"connection_reset": 1}
    assert again.status_code == 409


def test_new_backup_name_after_completion_is_accepted(
    arm: Arm, emu: Emulator, clock: VirtualClock
) -> None:
    arm.export("TestGroup", "mysqltestserver", backup="monday")
    clock.set(emu.exports()[0].ends_at)

    assert arm.export("TestGroup", "mysqltestserver", backup="tuesday").status_code == 202
    assert len({r.operation_id for r in emu.exports()}) == 2


def test_stopped_server_gets_400_invalid_server_state(arm: Arm) -> None:
    response = arm.export("TestGroup", "mysqltestserver2")

    assert response.status_code == 400
    assert error_of(response)["code"] == "InvalidServerState"
    assert arm.validate("TestGroup", "mysqltestserver2").status_code == 400


def test_missing_server_gets_404_resource_not_found(arm: Arm) -> None:
    response = arm.export("TestGroup", "no-such-server")

    assert response.status_code == 404
    assert error_of(response)["code"] == "ResourceNotFound"


def test_missing_resource_group_gets_404_resource_group_not_found(arm: Arm) -> None:
    response = arm.export("NoSuchGroup", "mysqltestserver")

    assert response.status_code == 404
    assert error_of(response)["code"] == "ResourceGroupNotFound"


def test_forbidden_server_gets_403_authorization_failed(arm: Arm, emu: Emulator) -> None:
    response = arm.export("ProdGroup", "billing-db")

    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "AuthorizationFailed"
    assert "'Microsoft.DBforMySQL/flexibleServers/backupAndExport/action'" in error["message"]
    assert (
        "/resourceGroups/ProdGroup/providers/Microsoft.DBforMySQL/flexibleServers/billing-db"
        in (error["message"])
    )
    assert error["message"].endswith("please refresh your credentials.")
    assert emu.exports() == []


def test_too_few_sas_uris_gets_400_insufficient_storage_containers(arm: Arm) -> None:
    assert arm.validate("ProdGroup", "analytics-db").json() == {
        "properties": {"numberOfContainers": 2}
    }

    refused = arm.export("ProdGroup", "analytics-db")
    accepted = arm.export("ProdGroup", "analytics-db", json=export_body(uris=[SAS, SAS]))

    assert refused.status_code == 400
    assert error_of(refused)["code"] == "InsufficientStorageContainers"
    assert accepted.status_code == 202


def test_validate_backup_reports_number_of_containers(arm: Arm) -> None:
    response = arm.validate("TestGroup", "mysqltestserver")

    assert response.status_code == 200
    assert response.json() == {"properties": {"numberOfContainers": 1}}
    assert response.headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"


def test_paused_mode_refuses_exports_but_not_validation(clock: VirtualClock) -> None:
    paused = (400, "BackupAndExportPaused", "paused for maintenance")
    with Emulator(EmulatorConfig(clock=clock, paused=paused)) as emu:
        arm = Arm(emu)
        refused = arm.export("TestGroup", "mysqltestserver")
        validated = arm.validate("TestGroup", "mysqltestserver")
        emu.set_paused(None)
        resumed = arm.export("TestGroup", "mysqltestserver")
        emu.set_paused((503, "FeatureUnavailable", "later"))
        repaused = arm.export("ProdGroup", "orders-db")

    assert refused.status_code == 400
    assert error_of(refused) == {
        "code": "BackupAndExportPaused",
        "message": "paused for maintenance",
        "details": [],
        "additionalInfo": [],
    }
    assert validated.status_code == 200
    assert resumed.status_code == 202
    assert repaused.status_code == 503
    assert error_of(repaused)["code"] == "FeatureUnavailable"


# --- ground truth ----------------------------------------------------------------------------


def test_ground_truth_records_each_export_without_sas_secrets(arm: Arm, emu: Emulator) -> None:
    arm.export("TestGroup", "mysqltestserver", backup="audit-1")

    (record,) = emu.exports()
    assert record.server_id.endswith(
        "/resourceGroups/TestGroup/providers/Microsoft.DBforMySQL/flexibleServers/mysqltestserver"
    )
    assert record.backup_name == "audit-1"
    assert record.backup_format == "Raw"
    assert record.sas_uri_count == 1
    assert record.containers == ("https://acct.blob.core.windows.net/exports",)
    assert record.outcome == "Succeeded"
    assert record.error_code is None
    assert record.submitted_at < record.started_at < record.ends_at
    assert "S3CRET" not in repr(record)
    assert "S3CRET" not in str(record.as_dict())


def test_admin_routes_expose_counters_exports_and_clock(
    arm: Arm, emu: Emulator, clock: VirtualClock
) -> None:
    arm.export("TestGroup", "mysqltestserver")
    admin = requests.Session()

    counters = admin.get(f"{emu.url}/_emulator/counters").json()
    exports = admin.get(f"{emu.url}/_emulator/exports").json()["exports"]
    before = admin.get(f"{emu.url}/_emulator/clock").json()
    advanced = admin.post(f"{emu.url}/_emulator/clock/advance", params={"seconds": "90"}).json()

    assert counters["requests"] == {"backup_and_export": 1}
    assert counters["requests_by_server"] == {"backup_and_export": {"mysqltestserver": 1}}
    assert counters["responses"] == {"backup_and_export": {"202": 1}}
    assert counters["exports_running"] == 1
    assert exports[0]["backup_name"] == "nightly-1"
    assert exports[0]["operation_id"] == emu.exports()[0].operation_id
    assert before["kind"] == "virtual"
    assert advanced["now"] == before["now"] + 90 == clock.now()
    assert emu.counters().requests == {"backup_and_export": 1}


def test_admin_clock_advance_is_refused_for_real_time_clocks() -> None:
    with Emulator(EmulatorConfig()) as emu:
        response = requests.post(f"{emu.url}/_emulator/clock/advance", params={"seconds": "1"})

    assert response.status_code == 409


def test_removed_server_keeps_its_operations_pollable(arm: Arm, emu: Emulator) -> None:
    location = arm.export("TestGroup", "mysqltestserver").headers["Location"]
    assert emu.remove_server(emu.exports()[0].server_id)

    assert arm.get(location).status_code == 202
    assert arm.export("TestGroup", "mysqltestserver", backup="x").status_code == 404

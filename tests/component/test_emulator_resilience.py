"""Throttling, injected faults and clock scaling: the emulator misbehaves as ARM does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from armemulator import (
    DEFAULT_SUBSCRIPTION,
    POLLING_KINDS,
    Emulator,
    EmulatorConfig,
    Faults,
    Kind,
    ScaledClock,
    VirtualClock,
)

SUB = DEFAULT_SUBSCRIPTION
API = "2024-12-30"
SAS = "https://acct.blob.core.windows.net/exports?sv=2024-05-04&sr=c&sig=abc"


class Arm:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {emu.issue_token()}"

    def server_url(self, rg: str, name: str, suffix: str = "") -> str:
        return (
            f"{self.emu.url}/subscriptions/{SUB}/resourceGroups/{rg}"
            f"/providers/Microsoft.DBforMySQL/flexibleServers/{name}{suffix}"
        )

    def export(
        self, name: str = "mysqltestserver", backup: str = "b1", **kw: Any
    ) -> requests.Response:
        body = {
            "backupSettings": {"backupName": backup},
            "targetDetails": {"objectType": "FullBackupStoreDetails", "sasUriList": [SAS]},
        }
        return self.http.post(
            self.server_url("TestGroup", name, "/backupAndExport"),
            params={"api-version": API},
            json=body,
            **kw,
        )

    def validate(self) -> requests.Response:
        return self.http.post(
            self.server_url("TestGroup", "mysqltestserver", "/validateBackup"),
            params={"api-version": API},
        )

    def get_server(self, **kw: Any) -> requests.Response:
        return self.http.get(
            self.server_url("TestGroup", "mysqltestserver"), params={"api-version": API}, **kw
        )


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def start(clock: Any = None, **config: Any) -> Emulator:
    return Emulator(EmulatorConfig(clock=clock or VirtualClock(), **config)).start()


@pytest.fixture
def emulators() -> Iterator[list[Emulator]]:
    started: list[Emulator] = []
    yield started
    for emu in started:
        emu.stop()


# --- throttling ------------------------------------------------------------------------------


def test_writes_beyond_200_get_429_with_retry_after_then_recover(
    clock: VirtualClock, emulators: list[Emulator]
) -> None:
    emu = start(clock)
    emulators.append(emu)
    arm = Arm(emu)

    remaining = [
        arm.validate().headers["x-ms-ratelimit-remaining-subscription-writes"] for _ in range(200)
    ]
    throttled = arm.validate()

    assert remaining[0] == "199" and remaining[-1] == "0"
    assert throttled.status_code == 429
    error = throttled.json()["error"]
    assert error["code"] == "SubscriptionRequestsThrottled"
    assert error["message"].startswith(
        f"Number of 'write' requests for subscription '{SUB}' actor '"
    )
    assert "https://aka.ms/arm-throttling" in error["message"]
    assert throttled.headers["Retry-After"] == "1"

    clock.advance(1)
    recovered = [arm.validate().status_code for _ in range(11)]
    assert recovered == [200] * 10 + [429]
    assert emu.counters().throttled == {"validate_backup": 2}


def test_reads_have_their_own_bucket_of_250(clock: VirtualClock, emulators: list[Emulator]) -> None:
    emu = start(clock)
    emulators.append(emu)
    arm = Arm(emu)

    statuses = [arm.get_server().status_code for _ in range(251)]

    assert statuses == [200] * 250 + [429]
    assert arm.validate().status_code == 200  # writes are unaffected
    clock.advance(2)
    assert arm.get_server().headers["x-ms-ratelimit-remaining-subscription-reads"] == "49"


def test_throttling_can_be_turned_off(emulators: list[Emulator]) -> None:
    emu = start(throttling=False, write_burst=1)
    emulators.append(emu)
    arm = Arm(emu)

    assert {arm.validate().status_code for _ in range(5)} == {200}


def test_token_endpoint_and_admin_routes_are_not_throttled(emulators: list[Emulator]) -> None:
    emu = start(read_burst=1, write_burst=1)
    emulators.append(emu)
    params = {"api-version": "2019-08-01", "resource": "https://management.azure.com"}
    secret = {"X-IDENTITY-HEADER": emu.identity_header}

    tokens = [requests.get(emu.token_endpoint, params=params, headers=secret) for _ in range(5)]
    admin = [requests.get(f"{emu.url}/_emulator/counters") for _ in range(5)]

    assert {r.status_code for r in tokens + admin} == {200}


# --- faults ----------------------------------------------------------------------------------


def test_injected_500_answers_internal_server_error(emulators: list[Emulator]) -> None:
    emu = start(faults=Faults(error_500=1.0))
    emulators.append(emu)

    response = Arm(emu).export()

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "InternalServerError"
    assert emu.exports() == []  # the fault struck before the export was accepted
    assert emu.counters().faults == {"error_500": 1}


def test_injected_503_carries_retry_after(emulators: list[Emulator]) -> None:
    emu = start(faults=Faults(error_503=1.0, retry_after_seconds=7))
    emulators.append(emu)

    response = Arm(emu).get_server()

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "ServiceUnavailable"
    assert response.headers["Retry-After"] == "7"


def test_connection_reset_drops_the_connection_without_an_answer(emulators: list[Emulator]) -> None:
    emu = start(faults=Faults(connection_reset=1.0))
    emulators.append(emu)

    with pytest.raises(requests.ConnectionError):
        Arm(emu).get_server()

    counters = emu.counters()
    assert counters.faults == {"connection_reset": 1}
    assert counters.requests == {"get_server": 1}
    assert counters.responses == {}


def test_slow_fault_delays_the_answer_past_a_client_timeout(emulators: list[Emulator]) -> None:
    # the answer comes after 60 s, far beyond any pause of a loaded machine (the handler is a
    # daemon thread: nobody waits for it)
    emu = start(faults=Faults(slow=1.0, slow_seconds=60.0))
    emulators.append(emu)

    with pytest.raises(requests.ReadTimeout):
        Arm(emu).get_server(timeout=0.2)

    assert emu.counters().faults == {"slow": 1}


def test_faults_can_target_only_polling_requests(emulators: list[Emulator]) -> None:
    emu = start(faults=Faults(error_500=1.0, kinds=POLLING_KINDS))
    emulators.append(emu)
    arm = Arm(emu)

    accepted = arm.export()
    poll = arm.http.get(accepted.headers["Azure-AsyncOperation"])

    assert accepted.status_code == 202
    assert poll.status_code == 500


def test_fault_after_accept_loses_the_answer_but_the_export_runs(
    clock: VirtualClock, emulators: list[Emulator]
) -> None:
    faults = Faults(
        connection_reset=1.0, kinds=frozenset({Kind.BACKUP_AND_EXPORT}), fault_after_accept=True
    )
    emu = start(clock, faults=faults)
    emulators.append(emu)
    arm = Arm(emu)

    with pytest.raises(requests.ConnectionError):
        arm.export(backup="lost-answer")
    emu.set_faults(Faults())
    retry = arm.export(backup="lost-answer")

    assert len(emu.exports()) == 1
    assert retry.status_code == 409  # the "lost" export is running
    clock.set(emu.exports()[0].ends_at)
    assert arm.export(backup="lost-answer").status_code == 200  # and completed with that name


def test_faults_are_reproducible_for_a_seed(emulators: list[Emulator]) -> None:
    def statuses(seed: int) -> list[int]:
        emu = start(seed=seed, faults=Faults(error_500=0.3, error_503=0.3))
        emulators.append(emu)
        arm = Arm(emu)
        return [arm.get_server().status_code for _ in range(30)]

    first = statuses(5)

    assert first == statuses(5)
    assert {200, 500, 503} <= set(first)


# --- scaled clock ----------------------------------------------------------------------------


def test_scaled_clock_sends_retry_after_ms_instead_of_retry_after(
    emulators: list[Emulator],
) -> None:
    emu = start(ScaledClock(100), retry_after_seconds=10)
    emulators.append(emu)
    arm = Arm(emu)

    accepted = arm.export()
    poll = arm.http.get(accepted.headers["Azure-AsyncOperation"])

    for response in (accepted, poll):
        assert "Retry-After" not in response.headers
        assert response.headers["retry-after-ms"] == "100"
        assert response.headers["x-ms-retry-after-ms"] == "100"


def test_scaled_clock_throttling_answers_in_real_milliseconds(emulators: list[Emulator]) -> None:
    # one token per 10^6 emulated s: the next comes 10^6 emulated s = 10^6 real ms after the
    # first is taken, less the real time that passed between the two requests (however long)
    emu = start(ScaledClock(1000), write_burst=1, write_refill_per_second=1e-6)
    emulators.append(emu)
    arm = Arm(emu)

    began = time.monotonic()
    arm.validate()
    throttled = arm.validate()
    between_ms = (time.monotonic() - began) * 1000

    assert throttled.status_code == 429
    assert "Retry-After" not in throttled.headers
    assert 1_000_000 - between_ms <= int(throttled.headers["retry-after-ms"]) <= 1_000_000


def test_scaled_clock_runs_exports_faster_than_real_time(emulators: list[Emulator]) -> None:
    emu = start(ScaledClock(10_000), pending_seconds=1)
    emulators.append(emu)
    arm = Arm(emu)

    accepted = arm.export()
    record = emu.exports()[0]
    time.sleep((record.ends_at - record.submitted_at) / 10_000 + 0.05)

    assert arm.http.get(accepted.headers["Location"]).status_code == 200

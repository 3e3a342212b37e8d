"""End to end: the real app, on the local durable host, against the ARM emulator.

Both share one virtual clock: the host advances it to the next durable timer whenever nothing is
runnable, so hours of exports pass in well under a second. Everything goes over loopback HTTP:
the app's API, the durable client's RPC, ARM, and the managed identity endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from armemulator import Emulator, EmulatorConfig, VirtualClock
from devhost import DevHost
from mysqlexport.sealing import Sealer
from tests.waits import HANG_SECONDS

ROOT = Path(__file__).resolve().parents[2]
SUB = "ffffffff-ffff-ffff-ffff-ffffffffffff"
SIG = "c2VjcmV0LXNpZ25hdHVyZQ"
SAS = f"https://acct.blob.core.windows.net/backups?sv=2022-11-02&sr=c&sp=rcw&sig={SIG}%3D%3D"


def server_id(name: str, group: str = "TestGroup") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.DBforMySQL/flexibleServers/{name}"


def discover_body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"discover": {"subscriptions": [SUB]}, "target": {"sasUriList": [SAS]}}
    body.update(extra)
    return body


@dataclass
class Stack:
    """One emulator and one devhost running this app, sharing a virtual clock."""

    emu: Emulator
    host: DevHost
    clock: VirtualClock
    session: requests.Session = field(default_factory=requests.Session)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.host.url}/api/{path}", timeout=30, **kwargs)

    def start(self, body: Any) -> requests.Response:
        return self.api("POST", "exports", json=body)

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        """Wait for ``condition`` (the app's own progress); only a hang reaches the bound."""
        deadline = time.monotonic() + HANG_SECONDS
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached within {HANG_SECONDS} s: {what}")
            time.sleep(0.01)

    def step_clock_until(
        self, condition: Callable[[], bool], what: str, *, step: float, budget: float
    ) -> None:
        """With the clock held (``host.hold_clock()``), move it on by ``step`` emulated seconds
        every half second of real time until ``condition`` holds, and by no more than ``budget``
        in all: time passes only as far as the test allows, so anything that takes longer than
        ``budget`` (an export started meanwhile) cannot end, however fast or slow the host is.
        A slow host only uses more of the budget between the app's steps."""
        moved = 0.0
        while True:
            pause_until = time.monotonic() + 0.5
            while time.monotonic() < pause_until:
                if condition():
                    return
                time.sleep(0.01)
            if moved + step > budget:
                raise AssertionError(f"not reached within {budget} emulated s: {what}")
            self.host.advance_clock(step)
            moved += step

    def follow(self, location: str, timeout: float = HANG_SECONDS) -> dict[str, Any]:
        """Poll the status URL the way Logic Apps does until it answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.session.get(location, timeout=30)
            if answer.status_code == 200:
                return answer.json()  # type: ignore[no-any-return]
            assert answer.status_code == 202, answer.text
            assert answer.headers["Location"] == location
            time.sleep(0.02)
        raise AssertionError(f"run did not finish within {timeout} s")

    def run(self, body: Any, timeout: float = HANG_SECONDS) -> dict[str, Any]:
        """Start a run and return its report (the orchestration output)."""
        started = self.start(body)
        assert started.status_code == 202, started.text
        final = self.follow(started.headers["Location"], timeout)
        assert final["runtimeStatus"] == "Completed", final
        return final["output"]  # type: ignore[no-any-return]


StackFactory = Callable[..., Stack]


@pytest.fixture
def make_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[StackFactory]:
    with ExitStack() as stack:

        def factory(
            settings: dict[str, str] | None = None,
            host_options: dict[str, Any] | None = None,
            **config: Any,
        ) -> Stack:
            clock = VirtualClock(start=1_800_000_000)
            config.setdefault("seed", 11)
            emu = stack.enter_context(Emulator(EmulatorConfig(clock=clock, **config)))
            env = {
                "ARM_ENDPOINT": emu.url,
                "IDENTITY_ENDPOINT": emu.token_endpoint,
                "IDENTITY_HEADER": emu.identity_header,
                "SAS_SEALING_KEY": Sealer.new_key(),
                "EXPORT_SCHEDULE": "0 0 3 * * *",
                "EXPORT_SCHEDULE_REQUEST": "",
            }
            env.update(settings or {})
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            options: dict[str, Any] = {"timer_triggers": False}
            options.update(host_options or {})
            host = stack.enter_context(DevHost(ROOT, clock=clock, load_settings=False, **options))
            return Stack(emu, host, clock)

        yield factory


@pytest.fixture
def stack(make_stack: StackFactory) -> Stack:
    return make_stack()

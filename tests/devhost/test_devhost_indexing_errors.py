"""A function whose binding does not resolve fails indexing and is disabled, with the Functions
host's messages, while the rest of the app is served: this app without ``EXPORT_SCHEDULE``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from armemulator import Emulator, EmulatorConfig, VirtualClock
from devhost import DevHost
from devhost.indexing import FunctionKind
from mysqlexport.sealing import Sealer
from tests.e2e.conftest import Stack, discover_body
from tests.waits import HANG_SECONDS

ROOT = Path(__file__).resolve().parents[2]
ERROR = (
    "Microsoft.Azure.WebJobs.Host: Error indexing method 'Functions.scheduled_export'. "
    "Microsoft.Azure.WebJobs.Host: '%EXPORT_SCHEDULE%' does not resolve to a value."
)


@pytest.fixture
def unscheduled(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The app on devhost against the emulator, with every setting but EXPORT_SCHEDULE."""
    clock = VirtualClock(start=1_800_000_000)
    with Emulator(EmulatorConfig(clock=clock, seed=11)) as emu:
        monkeypatch.setenv("ARM_ENDPOINT", emu.url)
        monkeypatch.setenv("IDENTITY_ENDPOINT", emu.token_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", emu.identity_header)
        monkeypatch.setenv("SAS_SEALING_KEY", Sealer.new_key())
        monkeypatch.delenv("EXPORT_SCHEDULE", raising=False)
        with DevHost(ROOT, clock=clock, load_settings=False) as host:
            yield Stack(emu, host, clock)


def test_unresolved_schedule_disables_the_timer_and_serves_the_rest(unscheduled: Stack) -> None:
    host = unscheduled.host
    failed = host.index.error("scheduled_export")
    assert failed is not None and failed.kind is FunctionKind.TIMER
    assert failed.error == ERROR
    assert failed.message == f"The 'scheduled_export' function is in error: {ERROR}"
    assert [f.name for f in host.index.of_kind(FunctionKind.TIMER)] == ["history_retention"]
    status = requests.get(
        f"{host.url}/admin/functions/scheduled_export/status", timeout=HANG_SECONDS
    )
    assert status.status_code == 200 and status.json() == {"errors": [ERROR]}
    served = requests.get(f"{host.url}/admin/functions/start_export/status", timeout=HANG_SECONDS)
    assert served.status_code == 200 and served.json() == {}
    missing = requests.get(f"{host.url}/admin/functions/nothing/status", timeout=HANG_SECONDS)
    assert missing.status_code == 404
    report = unscheduled.run(discover_body())
    assert report["summary"]["total"] == len(unscheduled.emu.servers())


def test_the_host_messages_are_logged_when_indexing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("EXPORT_SCHEDULE", raising=False)
    with caplog.at_level(logging.WARNING, logger="devhost.indexing"):
        host = DevHost(ROOT, clock=VirtualClock(start=1_800_000_000), load_settings=False)
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "devhost.indexing"]
    assert (
        logging.ERROR,
        "Error indexing method 'Functions.scheduled_export': "
        "'%EXPORT_SCHEDULE%' does not resolve to a value.",
    ) in lines
    assert (
        logging.WARNING,
        "Function 'Functions.scheduled_export' failed indexing and will be disabled.",
    ) in lines
    assert (logging.ERROR, f"The 'scheduled_export' function is in error: {ERROR}") in lines
    assert host.index.activity("submit_export") is not None


def test_a_schedule_that_is_not_one_is_the_timer_extensions_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXPORT_SCHEDULE", "every night")
    host = DevHost(ROOT, clock=VirtualClock(start=1_800_000_000), load_settings=False)
    failed = host.index.error("scheduled_export")
    assert failed is not None
    assert failed.error == (
        "Microsoft.Azure.WebJobs.Host: Error indexing method 'Functions.scheduled_export'. "
        "Microsoft.Azure.WebJobs.Extensions: The schedule expression 'every night' was not "
        "recognized as a valid cron expression or timespan string."
    )

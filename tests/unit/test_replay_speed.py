"""The SDK's history timestamps parse fast and to the same instants as dateutil."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from dateutil.parser import parse as dateutil_parse

import orchestrators  # noqa: F401 - importing the orchestrators installs the parser
from mysqlexport.errors import SettingsError
from mysqlexport.settings import Settings
from orchestrators import replay_speed

HOST_FORMATS = [
    "2026-11-27T06:00:00.1234567Z",  # .NET's round-trip format, seven fractional digits
    "2026-11-27T06:00:00.123Z",
    "2026-11-27T06:00:00Z",
    "2026-11-27T06:00:00.000000Z",  # devhost's
    "2026-11-27T06:00:00.5+00:00",
    "0001-01-01T00:00:00",  # DateTime.MinValue, naive
]


def test_installed_when_the_orchestrators_are_imported() -> None:
    module = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")

    assert replay_speed.installed()
    assert module.dt_parse.fallback is dateutil_parse  # type: ignore[attr-defined]
    assert replay_speed.install()  # idempotent: still the one wrapper
    assert module.dt_parse.fallback is dateutil_parse  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", HOST_FORMATS)
def test_same_instant_as_dateutil(text: str) -> None:
    fast = replay_speed.fast_parse(dateutil_parse)(text)
    slow = dateutil_parse(text)
    assert (fast.tzinfo is None) == (slow.tzinfo is None)
    if fast.tzinfo is None:
        assert fast == slow
    else:
        assert fast.astimezone(UTC) == slow.astimezone(UTC)


def test_anything_else_falls_back_to_dateutil() -> None:
    parse = replay_speed.fast_parse(dateutil_parse)
    assert parse("Fri, 27 Nov 2026 06:00:00 GMT").astimezone(UTC) == datetime(
        2026, 11, 27, 6, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        parse("not a time")


def test_history_events_use_it() -> None:
    event = HistoryEvent(EventType=12, EventId=-1, IsPlayed=False, Timestamp=HOST_FORMATS[0])
    assert event.timestamp == datetime(2026, 11, 27, 6, 0, 0, 123456, tzinfo=UTC)


def test_the_setting_turns_the_parser_off_and_on(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        monkeypatch.setenv(replay_speed.SETTING, "false")
        assert replay_speed.install_from_setting() is False
        assert not replay_speed.installed()
        monkeypatch.setenv(replay_speed.SETTING, "")
        assert replay_speed.install_from_setting() is True
        assert replay_speed.installed()
    finally:
        replay_speed.install()


def test_a_value_that_is_not_a_switch_keeps_it_on_and_settings_refuse_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(replay_speed.SETTING, "maybe")
    assert replay_speed.install_from_setting() is True
    assert replay_speed.SETTING in caplog.text
    with pytest.raises(SettingsError) as info:
        Settings.from_env({replay_speed.SETTING: "maybe"})
    assert replay_speed.SETTING in info.value.problems
    assert Settings.from_env({replay_speed.SETTING: "no"}).fast_history_timestamps is False

"""Settings are read once, with defaults, and a wrong value names the setting."""

from __future__ import annotations

import dataclasses

import pytest

from mysqlexport.errors import SettingsError
from mysqlexport.lro import PollPolicy
from mysqlexport.request import MAX_CONCURRENCY, MAX_DEADLINE_MINUTES
from mysqlexport.settings import _PARSED, Settings


def test_defaults_point_at_public_azure_with_a_stable_api_version() -> None:
    s = Settings.from_env({})
    assert s.arm_endpoint == "https://management.azure.com"
    assert s.arm_scope == "https://management.azure.com/.default"
    assert s.api_version == "2024-12-30"
    assert (s.poll_default_seconds, s.poll_max_seconds) == (30.0, 300.0)
    assert s.arm_origin == ("https", "management.azure.com", 443)


def test_sovereign_cloud_and_seed_api_version_are_accepted() -> None:
    s = Settings.from_env(
        {
            "ARM_ENDPOINT": "https://management.chinacloudapi.cn/",
            "ARM_SCOPE": "https://management.chinacloudapi.cn/.default",
            "MYSQL_API_VERSION": "2023-10-01-preview",
            "POLL_DEFAULT_SECONDS": "15",
            "POLL_MAX_SECONDS": "120",
        }
    )
    assert s.arm_endpoint == "https://management.chinacloudapi.cn"
    assert s.api_version == "2023-10-01-preview"
    assert (s.poll_default_seconds, s.poll_max_seconds) == (15.0, 120.0)


def test_plain_http_is_allowed_for_loopback_only() -> None:
    assert Settings.from_env({"ARM_ENDPOINT": "http://127.0.0.1:8443"}).arm_origin == (
        "http",
        "127.0.0.1",
        8443,
    )
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"ARM_ENDPOINT": "http://management.azure.com"})
    assert "ARM_ENDPOINT" in info.value.problems


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ARM_ENDPOINT", "management.azure.com"),
        ("ARM_ENDPOINT", "https://management.azure.com/subscriptions"),
        ("ARM_ENDPOINT", "https://user:pw@management.azure.com"),
        ("ARM_SCOPE", "https://management.azure.com"),
        ("MYSQL_API_VERSION", "latest"),
        ("MYSQL_API_VERSION", "2021-05-01"),
        ("POLL_DEFAULT_SECONDS", "soon"),
        ("POLL_DEFAULT_SECONDS", "0"),
        ("POLL_MAX_SECONDS", "-5"),
        ("ARM_GET_RETRIES", "1.5"),
    ],
)
def test_a_wrong_value_is_a_clear_error_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert name in info.value.problems
    assert name in str(info.value)


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(
            {"POLL_DEFAULT_SECONDS": "60", "POLL_MAX_SECONDS": "10", "ARM_SCOPE": "x"}
        )
    assert set(info.value.problems) == {"POLL_MAX_SECONDS", "ARM_SCOPE"}


def test_a_setting_not_set_or_blank_takes_the_fields_one_default() -> None:
    blank = {setting: " " for setting, _, _ in _PARSED}
    assert Settings.from_env({}) == Settings() == Settings.from_env(blank)
    # The polling bounds' defaults are the polling rules' own.
    poll = PollPolicy()
    assert (Settings().poll_default_seconds, Settings().poll_max_seconds) == (
        poll.default_seconds,
        poll.max_seconds,
    )


def test_every_field_is_read_from_exactly_one_app_setting() -> None:
    read = ["arm_endpoint", "arm_scope", "api_version"] + [name for _, name, _ in _PARSED]
    assert sorted(read) == sorted(f.name for f in dataclasses.fields(Settings))
    assert len({setting for setting, _, _ in _PARSED}) == len(_PARSED)


def test_the_app_wide_window_and_deadline_stop_where_a_requests_do() -> None:
    top = {"MAX_CONCURRENCY": str(MAX_CONCURRENCY), "DEADLINE_MINUTES": str(MAX_DEADLINE_MINUTES)}
    s = Settings.from_env(top)
    assert (s.max_concurrency, s.deadline_minutes) == (MAX_CONCURRENCY, MAX_DEADLINE_MINUTES)
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: str(int(value) + 1) for name, value in top.items()})
    assert set(info.value.problems) == set(top)


@pytest.mark.parametrize(("raw", "homing"), [("false", False), ("No", False), ("1", True)])
def test_switches_read_yes_and_no(raw: str, homing: bool) -> None:
    assert Settings.from_env({"POLL_HOMING": raw}).poll_homing is homing
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"POLL_HOMING": "maybe"})
    assert set(info.value.problems) == {"POLL_HOMING"}


def test_report_container_url_is_optional_and_must_hold_no_sas() -> None:
    assert Settings.from_env({}).report_container_url is None
    taken = Settings.from_env(
        {"REPORT_CONTAINER_URL": " https://acct.blob.core.windows.net/rep1/ "}
    )
    assert taken.report_container_url == "https://acct.blob.core.windows.net/rep1"
    with pytest.raises(SettingsError, match="REPORT_CONTAINER_URL") as caught:
        Settings.from_env(
            {"REPORT_CONTAINER_URL": "https://acct.blob.core.windows.net/rep1?sig=s3"}
        )
    assert "s3" not in str(caught.value)

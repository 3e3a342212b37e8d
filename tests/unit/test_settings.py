"""Settings are read once, with defaults, and a wrong value names the setting."""

from __future__ import annotations

import pytest

from mysqlexport.errors import SettingsError
from mysqlexport.settings import Settings


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

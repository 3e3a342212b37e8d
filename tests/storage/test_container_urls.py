"""What ``mint_container_sas`` and the report writer accept before any request is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.core.credentials import AccessToken

from mysqlexport.containers import ContainerUrl
from mysqlexport.storage import (
    InvalidContainerUrl,
    mint_container_sas,
    parse_container_url,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://acct.blob.core.windows.net/backups",
            ContainerUrl("https://acct.blob.core.windows.net", "acct", "backups"),
        ),
        (
            "https://acct.blob.core.windows.net/backups/",
            ContainerUrl("https://acct.blob.core.windows.net", "acct", "backups"),
        ),
        (
            "https://127.0.0.1:10000/devstoreaccount1/backups",
            ContainerUrl("https://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1", "backups"),
        ),
        (
            "https://localhost:10000/devstoreaccount1/run-reports",
            ContainerUrl(
                "https://localhost:10000/devstoreaccount1", "devstoreaccount1", "run-reports"
            ),
        ),
    ],
)
def test_container_urls_are_parsed(url: str, expected: ContainerUrl) -> None:
    assert parse_container_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://acct.blob.core.windows.net/backups",  # not https
        "https://acct.blob.core.windows.net/backups?sv=2025-11-05&sig=c2VjcmV0",  # a SAS
        "https://acct.blob.core.windows.net/",  # no container
        "https://acct.blob.core.windows.net/backups/extra",  # a blob path
        "https://acct.blob.core.windows.net/Backups",  # not a container name
        "https://acct.blob.core.windows.net/ab",  # too short
        "https://127.0.0.1:10000/backups",  # path-style without the account
        "https://user:pw@acct.blob.core.windows.net/backups",
        "not a url",
    ],
)
def test_unusable_container_urls_are_refused_without_echoing_a_signature(url: str) -> None:
    with pytest.raises(InvalidContainerUrl) as caught:
        parse_container_url(url)
    assert isinstance(caught.value, ValueError)
    assert "c2VjcmV0" not in str(caught.value)


class _NeverCalled:
    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        raise AssertionError("no token is needed to refuse the arguments")


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"expiry": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"expiry": datetime.now(UTC) + timedelta(days=8)}, "7 days"),
        ({"expiry": datetime.now(UTC) - timedelta(days=1)}, "expire after it starts"),
        ({"expiry": datetime.now(UTC) + timedelta(hours=1), "permissions": "rwx"}, "letters"),
        ({"expiry": datetime.now(UTC) + timedelta(hours=1), "permissions": ""}, "letters"),
    ],
)
def test_sas_arguments_are_checked_before_any_request(kwargs: dict[str, object], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        mint_container_sas(
            ["https://acct.blob.core.windows.net/backups"],
            _NeverCalled(),  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )

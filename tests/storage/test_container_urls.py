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


def test_storage_parses_with_the_one_parser_and_refuses_as_a_storage_error() -> None:
    """``mysqlexport.containers`` holds the rules (tests/unit/test_containers.py); storage takes
    its answer, and turns a refusal into ``InvalidContainerUrl`` (a ``ValueError`` too)."""
    url = "https://127.0.0.1:10000/devstoreaccount1/backups"
    assert parse_container_url(url) == ContainerUrl(
        "https://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1", "backups"
    )
    with pytest.raises(InvalidContainerUrl) as caught:
        parse_container_url("https://acct.blob.core.windows.net/backups?sv=2025-11-05&sig=c2VjcmV0")
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

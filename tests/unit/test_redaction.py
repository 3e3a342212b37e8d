"""SAS signatures and tokens never survive into text a person or a log store can read."""

from __future__ import annotations

import io
import logging

import pytest

from mysqlexport.errors import ArmError, InvalidRequest
from mysqlexport.redaction import (
    REDACTED,
    SecretUri,
    install_log_redaction,
    redact_text,
    redact_url,
)

SIG = "s3cr3tSIGvalue%2Bwith%2Fescapes%3D"
SAS = f"https://acct.blob.core.windows.net/backups?sv=2022-11-02&sp=rcw&se=2030-01-01&sig={SIG}"


@pytest.mark.parametrize(
    "text",
    [
        SAS,
        f"error posting to {SAS} (connection reset)",
        f'{{"sasUriList": ["{SAS}"]}}',
        SAS.replace("sig=", "SIG="),
        SAS.replace("sig=", "sig%3D"),
        f"https://x.example/?signature={SIG}&a=1",
        f"status url https://fn.example/api/x?code={SIG}",
    ],
)
def test_signature_values_are_masked_in_text(text: str) -> None:
    out = redact_text(text)
    assert SIG not in out
    assert REDACTED in out


def test_redact_url_keeps_what_identifies_the_container() -> None:
    out = redact_url(SAS)
    assert out.startswith("https://acct.blob.core.windows.net/backups?")
    assert "sp=rcw" in out and "se=2030-01-01" in out
    assert SIG not in out and "sig=REDACTED" in out


def test_bearer_tokens_and_jwts_are_masked() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwcyJ9.c2lnbmF0dXJlLXZhbHVl"
    assert "opaque-token" not in redact_text("Authorization: Bearer opaque-token.abc")
    assert jwt not in redact_text(f"token was {jwt}")


def test_text_without_secrets_is_unchanged() -> None:
    text = "GET https://management.azure.com/subscriptions/x?api-version=2024-12-30 -> 404"
    assert redact_text(text) == text


def test_secret_uri_never_shows_its_signature_but_reveals_on_request() -> None:
    secret = SecretUri(SAS)
    for shown in (str(secret), repr(secret), f"{secret}", "%s" % secret, repr([secret])):
        assert SIG not in shown
    assert secret.reveal() == SAS


def test_exceptions_redact_their_messages() -> None:
    err = ArmError(f"could not reach {SAS}", status=503)
    assert SIG not in str(err) and SIG not in repr(err) and SIG not in err.message
    bad = InvalidRequest("target.sasUriList[0]", f"{SAS} is not https")
    assert SIG not in str(bad)


def test_log_records_are_redacted_including_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("test.redaction")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    install_log_redaction(logger)
    try:
        logger.warning("posting to %s", SAS)
        try:
            raise RuntimeError(f"boom at {SAS}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "posting to" in written and "boom at" in written
    assert SIG not in written

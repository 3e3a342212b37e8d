"""SAS signatures and tokens never survive into text a person or a log store can read."""

from __future__ import annotations

import io
import logging
import sys
from typing import Any

import pytest

from mysqlexport.errors import ArmError, InvalidRequest
from mysqlexport.redaction import (
    REDACTED,
    RedactingFilter,
    SecretUri,
    install_log_redaction,
    redact_record,
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
    bad = InvalidRequest({"target.sasUriList[0]": f"{SAS} is not https"})
    assert SIG not in str(bad)


def _capture(logger: logging.Logger) -> tuple[io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    return stream, handler


def test_log_records_are_redacted_including_arguments_and_tracebacks() -> None:
    """Installed first, then a logger made and a handler added: both are covered."""
    install_log_redaction()
    logger = logging.getLogger("test.redaction.made-after")
    stream, handler = _capture(logger)
    try:
        logger.warning("posting to %s", SAS)
        logger.warning("Authorization: Bearer %s", "0paque-token")
        try:
            raise RuntimeError(f"boom at {SAS}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "posting to" in written and "boom at" in written and "Traceback" in written
    assert SIG not in written and "0paque-token" not in written
    assert written.count("sig=REDACTED") == 2  # the message and the exception's line


def test_installing_twice_installs_once_and_keeps_the_factory_it_wraps() -> None:
    def tagging(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = logging.LogRecord(*args, **kwargs)
        record.tagged = True  # e.g. OpenTelemetry's trace ids
        return record

    logging.setLogRecordFactory(tagging)
    first = install_log_redaction()
    assert install_log_redaction() is first
    assert logging.getLogRecordFactory() is first and first.wrapped is tagging
    record = logging.getLogger("test.redaction.twice").makeRecord(
        "x", logging.INFO, "f", 1, "to %s", (SAS,), None
    )
    assert getattr(record, "tagged", False) and SIG not in record.getMessage()


def test_a_record_without_secrets_is_left_as_it_was() -> None:
    try:
        raise ValueError("plain")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("x", logging.ERROR, "f", 1, "server %s", ("db1",), exc_info)
    assert redact_record(record) is record
    assert (record.msg, record.args, record.exc_info) == ("server %s", ("db1",), exc_info)


def test_a_secret_in_an_exception_leaves_only_the_redacted_traceback() -> None:
    """No handler can format the live exception again (OpenTelemetry's formats exc_info)."""
    try:
        raise RuntimeError(f"boom at {SAS}")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = redact_record(logging.LogRecord("x", logging.ERROR, "f", 1, "failed", (), exc_info))
    assert record.exc_info is None and record.exc_text and "boom at" in record.exc_text
    formatted = logging.Formatter().format(record)
    assert "RuntimeError: boom at" in formatted and SIG not in formatted


def test_a_bad_format_string_raises_nothing_and_its_report_holds_no_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    install_log_redaction()
    logger = logging.getLogger("test.redaction.bad-format")
    stream, handler = _capture(logger)
    try:
        logger.warning("two %s %s but one given", SAS)  # noqa: PLE1206 - reported on stderr
    finally:
        logger.removeHandler(handler)
    reported = capsys.readouterr().err
    assert "two %s %s but one given" in reported and SIG not in reported + stream.getvalue()


def test_the_filter_covers_records_made_without_the_factory() -> None:
    """A record rebuilt from a dict (``logging.makeLogRecord``: another process's) bypasses the
    factory; a handler with the filter still shows no secret."""
    logger = logging.getLogger("test.redaction.filter")
    stream, handler = _capture(logger)
    handler.addFilter(RedactingFilter())
    try:
        logger.handle(
            logging.makeLogRecord(
                {"name": logger.name, "levelno": 30, "msg": "to %s", "args": (SAS,)}
            )
        )
    finally:
        logger.removeHandler(handler)
    assert "to https://acct" in stream.getvalue() and SIG not in stream.getvalue()

"""Keep credentials out of everything a person or a log store can read.

SAS URIs are bearer credentials for a customer's storage account: whoever holds the ``sig`` value
can write (or read) the container. Bearer tokens for ARM are the same for the whole subscription.
This module is the one place that knows what a secret looks like in text, so every log line,
exception message, report and ``repr`` can be passed through it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED: Final = "REDACTED"

# Query parameters whose values are signatures or keys. ``sig`` is the SAS signature; ``code`` is
# an Azure Functions key (status URLs carry one); the rest are the usual token-bearing names.
SENSITIVE_QUERY_KEYS: Final = frozenset(
    {"sig", "signature", "x-ms-signature", "code", "access_token", "token", "client_secret"}
)

_QUERY_VALUE = re.compile(
    r"(?P<key>(?<![\w-])(?:" + "|".join(re.escape(k) for k in sorted(SENSITIVE_QUERY_KEYS)) + r"))"
    r"(?P<eq>=|%3[dD])(?P<value>[^&\s\"'<>#,;)\]}]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<scheme>\bBearer\s+)(?P<token>[A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)
# A JWT anywhere in text (three base64url segments, the first a JSON header "eyJ...").
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")


def redact_text(text: str) -> str:
    """Mask signature query values, bearer tokens and JWTs wherever they appear in ``text``."""
    if not text:
        return text
    text = _QUERY_VALUE.sub(lambda m: f"{m['key']}{m['eq']}{REDACTED}", text)
    text = _BEARER.sub(lambda m: f"{m['scheme']}{REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def redact_url(url: str) -> str:
    """Return ``url`` with the values of sensitive query parameters masked.

    Keeps the rest (host, path, ``sv``, ``se``, ``sp``) so a reader can still tell which container
    and which permissions were meant.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if not parts.query:
        return redact_text(url)
    pairs = [
        (k, REDACTED if k.lower() in SENSITIVE_QUERY_KEYS else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    query = urlencode(pairs, safe="/:")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class SecretUri(str):
    """A URI that is a credential: its ``repr`` and ``str`` never show the signature.

    ``reveal()`` returns the real value; only code that sends the request body to ARM calls it.
    Being a ``str`` subclass keeps it usable where libraries expect text, but formatting it,
    logging it or putting it in an exception shows the redacted form. (``json.dumps`` sees the
    underlying text: never serialise one into durable state; seal the list instead.)
    """

    __slots__ = ()

    def __new__(cls, value: str) -> SecretUri:
        # str(x) of a SecretUri is the redacted form, so unwrap one explicitly.
        raw = value.reveal() if isinstance(value, SecretUri) else value
        return super().__new__(cls, raw)

    def reveal(self) -> str:
        """The real URI, signature included."""
        return str.__str__(self)

    def __str__(self) -> str:
        return redact_url(self.reveal())

    def __repr__(self) -> str:
        return f"SecretUri({redact_url(self.reveal())!r})"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact ``record`` in place: its rendered message (arguments included), its exception and
    stack text. Safe to apply twice; a record with nothing to hide is left as it was.

    A record whose exception text held a secret keeps the redacted traceback as ``exc_text``
    (every ``logging.Formatter`` prints it) and loses ``exc_info``, so no handler can render the
    live exception again (OpenTelemetry's handler, for one, formats ``exc_info`` itself).
    """
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string is the handler's to report ...
        # ... and logging.Handler.handleError prints msg and args: keep those secret-free too
        record.msg = redact_text(str(record.msg))
        record.args = (redact_text(repr(record.args)),) if record.args else None
    else:
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        redacted = redact_text(text)
        if redacted != text:
            record.exc_text, record.exc_info = redacted, None
    elif record.exc_text:
        redacted = redact_text(record.exc_text)
        if redacted != record.exc_text:
            record.exc_text, record.exc_info = redacted, None
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
    return record


class RedactingRecordFactory:
    """A log record factory (``logging.setLogRecordFactory``) that redacts every record as it is
    made, whichever logger makes it (the app's, azure-core's, urllib3's, requests', one created
    later) and whichever handlers it then reaches (the Functions worker's, Application
    Insights', a console's, one added later). Wraps the factory it replaces.

    ``extra={...}`` fields are set by ``Logger.makeRecord`` after the factory returns, so they are
    not examined: the app never puts a secret there (STYLE.md, Logging).
    """

    def __init__(self, wrapped: Callable[..., logging.LogRecord]) -> None:
        self.wrapped = wrapped

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(self.wrapped(*args, **kwargs))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record passing through a handler (``redact_record``),
    for a record made without the factory (``logging.makeLogRecord``, a record from another
    process)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install_log_redaction() -> RedactingRecordFactory:
    """Redact every log record this process makes from now on (``RedactingRecordFactory``).

    Called where the Function app starts (``function_app.py``), so it holds in every process the
    host runs the app in. Idempotent: while the factory is installed, a second call changes
    nothing and returns it.
    """
    current = logging.getLogRecordFactory()
    if isinstance(current, RedactingRecordFactory):
        return current
    factory = RedactingRecordFactory(current)
    logging.setLogRecordFactory(factory)
    return factory

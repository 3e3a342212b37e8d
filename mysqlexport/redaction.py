"""Keep credentials out of everything a person or a log store can read.

SAS URIs are bearer credentials for a customer's storage account: whoever holds the ``sig`` value
can write (or read) the container. Bearer tokens for ARM are the same for the whole subscription.
This module is the one place that knows what a secret looks like in text, so every log line,
exception message, report and ``repr`` can be passed through it.
"""

from __future__ import annotations

import logging
import re
from typing import Final
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


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the rendered message and exception text of every record.

    Attach it to handlers (``install_log_redaction``) so that third-party libraries' log lines
    (urllib3 prints URLs at DEBUG) are covered too, not only this project's.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add a ``RedactingFilter`` to every handler of ``logger`` (the root logger by default)."""
    target = logger or logging.getLogger()
    flt = RedactingFilter()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(flt)
    return flt

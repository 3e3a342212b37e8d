"""Find credentials in what the app persists or emits.

Two kinds of secret matter: the SAS signature of the export target (``sig=``) and ARM bearer
tokens. ``SecretScanner`` looks for the known values (the request's signature in every encoding
it may take, the token the app really used) and for their shapes (any unredacted ``sig=`` value,
``Bearer <token>``, any JWT), so a leak of a value the test did not think of is caught too.
``LogScanner`` is a logging handler that scans every record as it is emitted, so a long run can
be checked at DEBUG without keeping its logs. Findings name where and what, never the secret.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote

_SIG = re.compile(r"(?<![\w-])sig(?:=|%3[dD])(?!REDACTED)[^&\s\"'<>#,;)\]}\\]{4,}", re.IGNORECASE)
_BEARER = re.compile(r"\bBearer\s+(?!REDACTED)[A-Za-z0-9\-._~+/]{8,}", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_SHAPES = (("sas-signature", _SIG), ("bearer-token", _BEARER), ("jwt", _JWT))


@dataclass(frozen=True)
class Finding:
    """A secret found in ``where``; ``kind`` says which (the value is never kept)."""

    where: str
    kind: str


class SecretScanner:
    """Scans text for the given secret values and for secret-shaped strings."""

    def __init__(self, secrets: Iterable[tuple[str, str]] = ()) -> None:
        self._values: list[tuple[str, str]] = []
        for kind, value in secrets:
            self.add(kind, value)

    def add(self, kind: str, value: str) -> None:
        """Look for ``value`` too, as given, percent-decoded and percent-encoded."""
        if len(value) < 8:
            raise ValueError("a secret shorter than 8 characters cannot be searched for reliably")
        for variant in {value, unquote(value), quote(value, safe="")}:
            self._values.append((kind, variant))

    def scan(self, where: str, text: str) -> list[Finding]:
        """Every kind of secret found in ``text``, once per kind."""
        kinds = {kind for kind, value in self._values if value in text}
        kinds.update(kind for kind, pattern in _SHAPES if pattern.search(text))
        return [Finding(where, kind) for kind in sorted(kinds)]


class LogScanner(logging.Handler):
    """A handler that scans each record (message, arguments, extras, traceback) as emitted."""

    def __init__(self, scanner: SecretScanner) -> None:
        super().__init__(logging.DEBUG)
        self._scanner = scanner
        self._guard = threading.Lock()
        self.records = 0
        self.findings: Counter[Finding] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            parts = [record.getMessage()]
        except Exception:  # noqa: BLE001 - a broken record still gets its raw parts scanned
            parts = [str(record.msg), repr(record.args)]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(record.stack_info)
        parts.extend(str(v) for k, v in vars(record).items() if k not in _STANDARD and v)
        found = self._scanner.scan(f"log record of {record.name}", "\n".join(parts))
        with self._guard:
            self.records += 1
            self.findings.update(found)


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}

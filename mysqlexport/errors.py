"""One exception family for the project.

Every error a user can see is an ``ExportError``: it carries the ARM error code (or our own code
for errors that never reached ARM), whether it is worth retrying, and a message that has already
been through redaction. Subclasses also inherit the nearest builtin so that generic callers can
catch ``ValueError`` or ``ConnectionError`` as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from mysqlexport.redaction import redact_text

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def is_transient_status(status: int) -> bool:
    """ARM's retry guidance: 408, 429 and 5xx are worth retrying; other 4xx are not."""
    return status in TRANSIENT_STATUSES or status >= 500


class ExportError(Exception):
    """Base class of every error this project raises on purpose."""

    code: str = "ExportError"
    transient: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        self.message = redact_text(message)
        super().__init__(self.message)
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready ``{code, message}`` for reports and HTTP answers."""
        return {"code": self.code, "message": self.message}


class SettingsError(ExportError, ValueError):
    """An app setting is missing or has a wrong value; names every offending setting."""

    code = "InvalidSettings"

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        detail = "; ".join(f"{name}: {why}" for name, why in self.problems.items())
        super().__init__(f"invalid app settings: {detail}")


class InvalidRequest(ExportError, ValueError):
    """Input from a caller is not acceptable, and nothing was done with it.

    ``problems`` maps the JSON path of each bad field (``servers[3]``, ``target.sasUriList[0]``,
    ``body`` for the body as a whole) to what is wrong with it, so one answer names every bad
    field. Paths are redacted as well as reasons: they echo the caller's keys, and a SAS pasted
    as a key must not come back.
    """

    code = "InvalidRequest"

    def __init__(self, problems: Mapping[str, str]) -> None:
        if not problems:
            raise ValueError("an InvalidRequest names at least one field")
        self.problems = {redact_text(k): redact_text(v) for k, v in problems.items()}
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.problems.items()))

    def to_dict(self) -> dict[str, Any]:
        """ARM's error shape: each bad field a detail; ``target`` too when there is one."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if len(self.problems) == 1:
            out["target"] = next(iter(self.problems))
        out["details"] = [
            {"code": "InvalidField", "target": path, "message": why}
            for path, why in self.problems.items()
        ]
        return out


class RequestTooLarge(InvalidRequest):
    """The request body is larger than ``limit`` bytes, so it was not read (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__({"body": f"is larger than {limit} bytes"})


class ServiceError(ExportError):
    """A failure talking to an Azure service (ARM, storage), or one it reported.

    ``status`` is the HTTP status (``None`` when no answer came back), ``request_id`` the
    service's ``x-ms-request-id`` (what Azure support asks for); ``transient`` follows the status
    unless the caller knows better.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.request_id = request_id
        if transient is not None:
            self.transient = transient
        elif status is not None:
            self.transient = is_transient_status(status)

    def __str__(self) -> str:
        bits = [self.code]
        if self.status is not None:
            bits.append(f"HTTP {self.status}")
        if self.request_id:
            bits.append(f"request id {self.request_id}")
        return f"{self.message} ({', '.join(bits)})"

    def _fields(self) -> tuple[tuple[str, object], ...]:
        """The optional keys of ``to_dict``, in order."""
        return (("status", self.status), ("requestId", self.request_id))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        out.update((key, value) for key, value in self._fields() if value is not None)
        out["transient"] = self.transient
        return out


class ArmError(ServiceError):
    """A failure talking to ARM, or one ARM reported: ``code``/``message``/``target`` come from
    ARM's error body, ``retry_after`` is the server's advice in seconds."""

    code = "ArmError"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        target: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(
            message, status=status, code=code, request_id=request_id, transient=transient
        )
        self.target = target
        self.retry_after = retry_after

    def _fields(self) -> tuple[tuple[str, object], ...]:
        return (
            ("target", self.target),
            ("status", self.status),
            ("requestId", self.request_id),
            ("retryAfter", self.retry_after),
        )


class ArmTransportError(ArmError, ConnectionError):
    """No usable answer: connection refused or reset, timeout, TLS failure."""

    transient = True


class BadArmResponse(ArmError):
    """ARM answered, but not in the shape the contract promises (missing header, bad JSON)."""

    code = "BadArmResponse"


class UntrustedUrl(ArmError, PermissionError):
    """A URL we were asked to call is not on the configured ARM endpoint; nothing was sent."""

    code = "UntrustedUrl"
    transient = False


class CredentialError(ArmError):
    """No token could be obtained for ARM (no managed identity, not logged in, ...)."""

    code = "CredentialUnavailable"
    transient = False


class FinalAnswer(Protocol):
    """What ``ExportFailed`` keeps of the export's final answer (``models.ExportResult`` is one).

    Declared here rather than imported so that the errors, which every module uses, depend on
    no model: ``models`` needs ``ids``, and ``ids`` raises ``InvalidRequest``.
    """

    @property
    def status(self) -> str: ...


class ExportFailed(ArmError):
    """The export itself ended Failed or Canceled; ``code`` is the operation's own error code.

    ``result`` is the final answer as ARM gave it (an ``ExportResult`` from the ARM client).
    """

    code = "ExportFailed"
    transient = False

    def __init__(
        self,
        message: str,
        *,
        status_text: str,
        result: FinalAnswer | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("transient", False)
        super().__init__(message, **kwargs)
        self.status_text = status_text
        self.result = result


def arm_error_from_body(
    body: object,
    *,
    status: int,
    request_id: str | None,
    retry_after: float | None,
    default_message: str,
) -> ArmError:
    """Build an ``ArmError`` from ARM's ``{"error": {code, message, target}}`` body, if any."""
    detail: Mapping[str, Any] = {}
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            detail = inner
    code = detail.get("code") if isinstance(detail.get("code"), str) else None
    message = detail.get("message") if isinstance(detail.get("message"), str) else None
    target = detail.get("target") if isinstance(detail.get("target"), str) else None
    return ArmError(
        message or default_message,
        status=status,
        code=code or f"Http{status}",
        target=target,
        request_id=request_id,
        retry_after=retry_after,
    )

"""JSON answers in ARM's error shape, so callers read ``error.code`` the same way everywhere."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from mysqlexport.redaction import redact_text


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    """A JSON answer."""
    return func.HttpResponse(
        json.dumps(body, default=str),
        status_code=status,
        mimetype="application/json",
        headers=headers,
    )


def error_response(status: int, code: str, message: str, **extra: Any) -> func.HttpResponse:
    """``{"error": {"code", "message", ...}}`` with the message redacted."""
    error: dict[str, Any] = {"code": code, "message": redact_text(message)}
    error.update(extra)
    return json_response({"error": error}, status)

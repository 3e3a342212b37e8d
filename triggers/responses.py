"""JSON answers in ARM's error shape, so callers read ``error.code`` the same way everywhere, and
every time in them as ISO 8601 in UTC with a ``Z``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import azure.functions as func

from mysqlexport.redaction import redact_text

#: The keys of a server row (and of its ``backup``) that hold times, as ARM gave them.
ROW_TIME_KEYS = ("startTime", "endTime", "completedTime")


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


def utc_time(value: datetime | str | None) -> str | None:
    """``value`` as ISO 8601 in UTC with a ``Z`` (``2026-11-29T04:07:22Z``, with microseconds
    when it has any), as the run report writes times (``orchestrators.timeutil.iso``).

    The durable client hands out ``datetime`` values, which ``str`` would show as
    ``2026-11-29 04:07:22+00:00``; ARM may write an offset (``+00:00``) or seven fractional
    digits. A naive value is taken as UTC (the host's and ARM's times are). A string already in
    UTC with a ``Z`` is kept as given, and one that is not a time at all too (never dropped).
    """
    if value is None:
        return None
    if isinstance(value, str):
        if value.endswith("Z"):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # before the year 1 in UTC: kept as given
        return value if isinstance(value, str) else value.isoformat()
    return moment.isoformat().replace("+00:00", "Z")


def row_times_in_utc(row: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a server row with its times (and its backup's) in UTC with a ``Z``."""
    out = dict(row)
    for key in ROW_TIME_KEYS:
        if isinstance(out.get(key), str):
            out[key] = utc_time(out[key])
    backup = out.get("backup")
    if isinstance(backup, Mapping):
        out["backup"] = row_times_in_utc(backup)
    return out

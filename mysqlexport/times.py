"""Times as the app writes them: timezone-aware UTC, ISO 8601 with a ``Z`` (as ARM writes them).

Pure functions of their arguments, so orchestrators may use them on ``current_utc_datetime``
and on their history's timestamps (``orchestrators/timeutil.py``) and the rest of the app on
anything else.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: datetime) -> datetime:
    """The same instant, timezone-aware in UTC (the SDK may hand out naive UTC datetimes)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    """ISO 8601 with a 'Z', as ARM writes times."""
    return utc(value).isoformat().replace("+00:00", "Z")


def parse(value: str) -> datetime:
    """Inverse of ``iso`` (any ISO 8601 text; a naive one is read as UTC)."""
    return utc(datetime.fromisoformat(value))

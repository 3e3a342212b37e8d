"""Replay-safe time helpers: everything derives from ``context.current_utc_datetime``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc(value: datetime) -> datetime:
    """The same instant, timezone-aware in UTC (the SDK may hand out naive UTC datetimes)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    """ISO 8601 with a 'Z', as ARM writes times."""
    return utc(value).isoformat().replace("+00:00", "Z")


def parse(value: str) -> datetime:
    """Inverse of ``iso``."""
    return utc(datetime.fromisoformat(value))


def after(now: datetime, seconds: float) -> datetime:
    """``now`` plus ``seconds``."""
    return utc(now) + timedelta(seconds=seconds)

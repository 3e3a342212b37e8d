"""Timer-trigger schedules: six-field NCRONTAB expressions and TimeSpan intervals.

Azure Functions timer triggers take ``{second} {minute} {hour} {day} {month} {day-of-week}``
(NCRONTAB, evaluated in UTC here) or, on dedicated plans, a ``hh:mm:ss`` interval. Each field
accepts ``*``, numbers, names (``Jan``, ``Mon``), lists, ranges and ``/step``. As in NCRONTAB, a
time matches only when *all* fields match (day-of-month and day-of-week are not OR-ed).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devhost.errors import IndexingError

_MONTHS = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
        start=1,
    )
}
_DAYS = {
    name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])
}
_TIMESPAN = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})$")
_SEARCH_DAYS = 366 * 8


@dataclass(frozen=True)
class _Field:
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field(0, 59, {}),  # second
    _Field(0, 59, {}),  # minute
    _Field(0, 23, {}),  # hour
    _Field(1, 31, {}),  # day of month
    _Field(1, 12, _MONTHS),  # month
    _Field(0, 6, _DAYS),  # day of week, Sunday = 0
)


def _value(token: str, spec: _Field, expression: str) -> int:
    upper = token.upper()
    if upper in spec.names:
        return spec.names[upper]
    if not token.isdigit():
        raise IndexingError(f"Invalid NCRONTAB value '{token}' in schedule '{expression}'.")
    number = int(token)
    if spec is _FIELDS[5] and number == 7:
        return 0
    if not spec.low <= number <= spec.high:
        raise IndexingError(
            f"NCRONTAB value {number} is outside {spec.low}-{spec.high} in '{expression}'."
        )
    return number


def _parse_field(text: str, spec: _Field, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise IndexingError(f"Empty NCRONTAB list item in schedule '{expression}'.")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise IndexingError(f"Invalid NCRONTAB step '/{step_text}' in '{expression}'.")
            step = int(step_text)
        if base == "*":
            low, high = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _value(first, spec, expression), _value(last, spec, expression)
            if low > high:
                raise IndexingError(f"Invalid NCRONTAB range '{base}' in '{expression}'.")
        else:
            low = _value(base, spec, expression)
            high = spec.high if step_text else low
        values.update(range(low, high + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed six-field NCRONTAB expression."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """Parse ``expression``.

        Raises:
            IndexingError: the expression does not have six valid fields.
        """
        parts = expression.split()
        if len(parts) != 6:
            raise IndexingError(
                f"The schedule expression '{expression}' was not recognized as a valid cron "
                "expression or timespan string (expected 6 NCRONTAB fields: "
                "second minute hour day month day-of-week)."
            )
        fields = [
            _parse_field(text, spec, expression) for text, spec in zip(parts, _FIELDS, strict=True)
        ]
        return cls(expression, *fields)

    def next_after(self, epoch_seconds: float) -> float:
        """Return the first matching time strictly after ``epoch_seconds``.

        Raises:
            ValueError: no time matches within eight years (e.g. ``0 0 0 31 2 *``).
        """
        start = datetime.fromtimestamp(math.floor(epoch_seconds) + 1, tz=UTC)
        hours, minutes, seconds = sorted(self.hours), sorted(self.minutes), sorted(self.seconds)
        day = start.replace(hour=0, minute=0, second=0)
        for _ in range(_SEARCH_DAYS):
            weekday = (day.weekday() + 1) % 7
            if day.month in self.months and day.day in self.days and weekday in self.weekdays:
                for hour in hours:
                    for minute in minutes:
                        for second in seconds:
                            candidate = day.replace(hour=hour, minute=minute, second=second)
                            if candidate >= start:
                                return candidate.timestamp()
            day += timedelta(days=1)
        raise ValueError(f"The schedule '{self.expression}' never fires.")


@dataclass(frozen=True)
class IntervalSchedule:
    """A ``[d.]hh:mm:ss`` TimeSpan schedule: fire every ``seconds`` after the last run."""

    expression: str
    seconds: float

    def next_after(self, epoch_seconds: float) -> float:
        """Return ``epoch_seconds`` plus the interval."""
        return epoch_seconds + self.seconds


Schedule = CronSchedule | IntervalSchedule


def parse_schedule(expression: str) -> Schedule:
    """Parse a timer-trigger schedule (NCRONTAB or TimeSpan).

    Raises:
        IndexingError: the expression is neither.
    """
    text = expression.strip()
    match = _TIMESPAN.match(text)
    if match:
        seconds = (
            int(match["days"] or 0) * 86400
            + int(match["h"]) * 3600
            + int(match["m"]) * 60
            + int(match["s"])
        )
        if seconds <= 0:
            raise IndexingError(f"The TimeSpan schedule '{expression}' must be positive.")
        return IntervalSchedule(text, float(seconds))
    return CronSchedule.parse(text)

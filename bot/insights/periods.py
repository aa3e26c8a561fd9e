"""A period of whole days from what a person typed: `kopru report`'s options, the dashboard's form.

The rule both share: the period ends on `to` (default: today) and starts on `from` (default:
`days` days back, `to` included). Errors are PeriodError with a message meant for that person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.errors import KopruError
from bot.insights.analytics import Period

__all__ = ["CLI_NAMES", "DayRange", "PeriodError", "PeriodNames", "parse_day_range"]


_OUTSIDE = "the period is outside the calendar"


class PeriodError(KopruError, ValueError):
    """The typed period cannot be used; the message says why."""


@dataclass(frozen=True)
class PeriodNames:
    """How the messages call the three inputs (option names, form labels)."""

    first: str
    last: str
    days: str


CLI_NAMES = PeriodNames("--from", "--to", "--days")


@dataclass(frozen=True)
class DayRange:
    """The first and last day (both included) and the period they make in the given zone."""

    first: dt.date
    last: dt.date
    period: Period


def _date(name: str, raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise PeriodError(f"{name} must be a date as YYYY-MM-DD, got {raw!r}") from None


def parse_day_range(
    first: str | None,
    last: str | None,
    days: str | int,
    today: dt.date,
    *,
    names: PeriodNames = CLI_NAMES,
    tz: dt.tzinfo = dt.timezone.utc,
) -> DayRange:
    """`first`..`last` as typed (None or "" = not given), `days` long when `first` is absent."""
    try:
        count = int(days)
    except ValueError:
        raise PeriodError(f"{names.days} must be a whole number, got {days!r}") from None
    if count < 1:
        raise PeriodError(f"{names.days} must be 1 or more, got {count}")
    end = _date(names.last, last) if last else today
    try:
        start = _date(names.first, first) if first else end - dt.timedelta(count - 1)
    except OverflowError:
        raise PeriodError(_OUTSIDE) from None
    if start > end:
        after = f"{names.first} {start.isoformat()} is after {names.last} {end.isoformat()}"
        raise PeriodError(after)
    try:
        return DayRange(start, end, Period.of_dates(start, end, tz))
    except (OverflowError, ValueError):
        raise PeriodError(_OUTSIDE) from None

"""The agents' desk: when human agents work, and arithmetic over their business hours.

All instants are unix timestamps (``time.time()`` floats), in and out.  Wall-clock rules
(opening hours, week days, holidays) are applied in the desk's time zone through
``zoneinfo``, so days that are 23 or 25 hours long around DST changes come out right.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, validator

from bot.config_models import Section, parse_section
from bot.errors import ConfigError

__all__ = [
    "AgentDeskConfig",
    "add_business_time",
    "business_intervals",
    "is_open",
    "next_opening",
    "parse_agent_desk",
]

DAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES: Final = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_DAY_NUMBERS: Final = {
    **{name: i for i, name in enumerate(DAY_NAMES)},
    **{name: i for i, name in enumerate(_FULL_DAY_NAMES)},
}

# "closes" at 00:00 is midnight at the *end* of the day; only "24:00" in kopru.yml gives it.
END_OF_DAY: Final = dt.time(0, 0)

_HOURS_RE = re.compile(r"\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*")

_DEFAULT_TIMEZONE: Final = "UTC"
_DEFAULT_DAYS: Final = frozenset(range(5))
_DEFAULT_OPENS: Final = dt.time(9, 0)
_DEFAULT_CLOSES: Final = dt.time(17, 0)
_DEFAULT_QUEUE_TIMEOUT_MINUTES: Final = 10.0
_DEFAULT_TICKET_ANSWER_WITHIN_HOURS: Final = 4.0
_DEFAULT_WAIT_MINUTES: Final = 3.0


@dataclass(frozen=True)
class AgentDeskConfig:
    """When agents answer live chats, and the waiting rules around them.

    ``closes == END_OF_DAY`` (00:00) means the desk stays open until midnight, so
    ``opens=00:00, closes=00:00`` is open all day.  Otherwise ``opens < closes``.
    """

    timezone: ZoneInfo
    days: frozenset[int]
    opens: dt.time
    closes: dt.time
    holidays: frozenset[dt.date]
    queue_timeout: float
    ticket_answer_within: float
    default_wait: float

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ConfigError("agent_desk.days must name at least one day, 0=Monday..6=Sunday")
        if self.closes != END_OF_DAY and self.closes <= self.opens:
            raise ConfigError("agent_desk.hours: closing time must be after opening time")
        for name in ("queue_timeout", "ticket_answer_within", "default_wait"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"agent_desk: {name} must be a positive number of seconds")

    @property
    def timezone_name(self) -> str:
        """The IANA name of the desk's time zone, e.g. ``Europe/Istanbul``."""
        return self.timezone.key

    @property
    def all_day(self) -> bool:
        return self.opens == dt.time(0, 0) and self.closes == END_OF_DAY


# --- parsing ---------------------------------------------------------------------------


def _timezone(raw: Any) -> ZoneInfo:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("must be an IANA time zone name, e.g. Europe/Warsaw")
    try:
        return ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {raw!r}") from None


def _days(raw: Any) -> frozenset[int]:
    if not isinstance(raw, list) or not raw:
        raise ValueError("must be a non-empty list such as [mon, tue, wed]")
    days: set[int] = set()
    for item in raw:
        number = _DAY_NUMBERS.get(item.strip().lower()) if isinstance(item, str) else None
        if number is None:
            raise ValueError(f"{item!r} is not a day name (use {', '.join(DAY_NAMES)})")
        days.add(number)
    return frozenset(days)


def _hours(raw: Any) -> tuple[dt.time, dt.time]:
    match = _HOURS_RE.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise ValueError(f'must look like "09:00-18:00", not {raw!r}')
    oh, om, ch, cm = (int(g) for g in match.groups())
    if not (oh <= 23 and om <= 59 and cm <= 59 and (ch <= 23 or (ch == 24 and cm == 0))):
        raise ValueError(f"{raw!r} is not a valid time range")
    opens = dt.time(oh, om)
    closes = END_OF_DAY if ch == 24 else dt.time(ch, cm)
    if closes != END_OF_DAY and closes <= opens:
        raise ValueError(f"closing time must be after opening time in {raw!r}")
    return opens, closes


def _holidays(raw: Any) -> frozenset[dt.date]:
    if not isinstance(raw, list):
        raise ValueError("must be a list of dates (YYYY-MM-DD)")
    holidays: set[dt.date] = set()
    for item in raw:
        # Unquoted YAML dates arrive as datetime.date already.
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            holidays.add(item)
            continue
        try:
            if not isinstance(item, str):
                raise ValueError(item)
            holidays.add(dt.date.fromisoformat(item.strip()))
        except ValueError:
            raise ValueError(f"{item!r} is not a date (YYYY-MM-DD)") from None
    return frozenset(holidays)


def _positive(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError(f"must be a positive number, not {raw!r}")
    value = float(raw)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"must be a positive number, not {raw!r}")
    return value


class _AgentDeskSection(Section):
    """kopru.yml's ``agent_desk`` as written there (minutes and hours, day names)."""

    timezone: ZoneInfo = Field(default_factory=lambda: ZoneInfo(_DEFAULT_TIMEZONE))
    days: frozenset[int] = _DEFAULT_DAYS
    hours: tuple[dt.time, dt.time] = (_DEFAULT_OPENS, _DEFAULT_CLOSES)
    holidays: frozenset[dt.date] = frozenset()
    queue_timeout_minutes: float = _DEFAULT_QUEUE_TIMEOUT_MINUTES
    ticket_answer_within_hours: float = _DEFAULT_TICKET_ANSWER_WITHIN_HOURS
    default_wait_minutes: float = _DEFAULT_WAIT_MINUTES

    _check_timezone = validator("timezone", pre=True, allow_reuse=True)(_timezone)
    _check_days = validator("days", pre=True, allow_reuse=True)(_days)
    _check_hours = validator("hours", pre=True, allow_reuse=True)(_hours)
    _check_holidays = validator("holidays", pre=True, allow_reuse=True)(_holidays)
    _check_positive = validator(
        "queue_timeout_minutes",
        "ticket_answer_within_hours",
        "default_wait_minutes",
        pre=True,
        allow_reuse=True,
    )(_positive)


def parse_agent_desk(raw: Any) -> AgentDeskConfig:
    """Validate kopru.yml's optional ``agent_desk`` section (``None`` gives the defaults).

    Missing keys take defaults: UTC, Monday-Friday 09:00-17:00, no holidays, a 10-minute
    queue timeout, tickets answered within 4 business hours, a 3-minute default wait.
    Raises ConfigError naming the offending key.
    """
    section = parse_section(
        _AgentDeskSection, raw, "agent_desk", unknown="{where}: unknown key(s) {keys}"
    )
    opens, closes = section.hours
    return AgentDeskConfig(
        timezone=section.timezone,
        days=section.days,
        opens=opens,
        closes=closes,
        holidays=section.holidays,
        queue_timeout=section.queue_timeout_minutes * 60,
        ticket_answer_within=section.ticket_answer_within_hours * 3600,
        default_wait=section.default_wait_minutes * 60,
    )


# --- business-hours arithmetic -----------------------------------------------------------


def _interval(config: AgentDeskConfig, day: dt.date) -> tuple[float, float] | None:
    """The desk's open interval [start, end) on a local calendar day, as timestamps."""
    if day.weekday() not in config.days or day in config.holidays:
        return None
    start = dt.datetime.combine(day, config.opens, tzinfo=config.timezone)
    if config.closes == END_OF_DAY:
        end = dt.datetime.combine(day + dt.timedelta(days=1), END_OF_DAY, tzinfo=config.timezone)
    else:
        end = dt.datetime.combine(day, config.closes, tzinfo=config.timezone)
    return start.timestamp(), end.timestamp()


def _local_day(config: AgentDeskConfig, at: float) -> dt.date:
    return dt.datetime.fromtimestamp(at, tz=config.timezone).date()


def business_intervals(config: AgentDeskConfig, at: float) -> Iterator[tuple[float, float]]:
    """Open intervals [start, end) that end after ``at``, in order (``start`` may be < at).

    Endless unless the desk never opens again; callers stop when they have what they need.
    Holidays are finite, so a run of more than 7 * (holidays + 2) closed days can only
    mean the desk never opens again; the iterator then ends.
    """
    day = _local_day(config, at)
    closed_days = 0
    limit = 7 * (len(config.holidays) + 2)
    while closed_days <= limit:
        interval = _interval(config, day)
        day += dt.timedelta(days=1)
        if interval is None or interval[1] <= at:
            closed_days += 1
            continue
        closed_days = 0
        yield interval


def is_open(config: AgentDeskConfig, at: float) -> bool:
    """Whether agents are at work at ``at`` (opening instant included, closing excluded)."""
    interval = _interval(config, _local_day(config, at))
    return interval is not None and interval[0] <= at < interval[1]


def next_opening(config: AgentDeskConfig, at: float) -> float:
    """``at`` itself if the desk is open then, else the next instant it opens."""
    for start, _end in business_intervals(config, at):
        return max(start, at)
    raise ValueError("the agent desk never opens (every working day is a holiday)")


def add_business_time(config: AgentDeskConfig, at: float, seconds: float) -> float:
    """The instant ``seconds`` of open time after ``at`` (closed time does not count).

    Friday 17:00 + 4 h with Monday-Friday 09:00-18:00 is Monday 12:00.  A deadline that
    falls exactly on a closing time stays there (Friday 14:00 + 4 h is Friday 18:00), and
    adding 0 to a closed instant gives the next opening.
    """
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"seconds must be a finite non-negative number, not {seconds!r}")
    remaining = seconds
    for start, end in business_intervals(config, at):
        begin = max(start, at)
        available = end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise ValueError("the agent desk never opens (every working day is a holiday)")

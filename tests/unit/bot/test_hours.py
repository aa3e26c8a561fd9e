"""Agents' desk hours: parsing kopru.yml's agent_desk section and business-time arithmetic."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import yaml

from bot.desk.hours import (
    AgentDeskConfig,
    add_business_time,
    is_open,
    next_opening,
    parse_agent_desk,
)
from bot.errors import ConfigError
from bot.settings import PROJECT_ROOT
from bot.shop.business import BusinessConfig, load_business_config, parse_business_config

IST = "Europe/Istanbul"  # UTC+3 all year
WAW = "Europe/Warsaw"  # CET/CEST; 2026-03-29 and 2026-10-25 are the DST changes
HOUR = 3600.0


def section(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "timezone": IST,
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "hours": "09:00-18:00",
        "holidays": ["2026-12-25", "2027-01-01"],
        "queue_timeout_minutes": 10,
        "ticket_answer_within_hours": 4,
        "default_wait_minutes": 3,
    }
    raw.update(changes)
    return raw


def desk(**changes: Any) -> AgentDeskConfig:
    return parse_agent_desk(section(**changes))


def local(tz: str, y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    """A wall-clock time in ``tz`` as a unix timestamp."""
    config = desk(timezone=tz)
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=config.timezone).timestamp()


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> float:
    return dt.datetime(y, mo, d, h, mi, tzinfo=dt.timezone.utc).timestamp()


# --- parsing ---------------------------------------------------------------------------


def test_section_is_parsed_into_seconds_and_sets() -> None:
    config = desk()
    assert config.timezone_name == IST
    assert config.days == frozenset({0, 1, 2, 3, 4})
    assert (config.opens, config.closes) == (dt.time(9), dt.time(18))
    assert config.holidays == frozenset({dt.date(2026, 12, 25), dt.date(2027, 1, 1)})
    assert config.queue_timeout == 600
    assert config.ticket_answer_within == 4 * HOUR
    assert config.default_wait == 180
    assert not config.all_day


def test_missing_section_and_missing_keys_take_defaults() -> None:
    for config in (parse_agent_desk(None), parse_agent_desk({})):
        assert config.timezone_name == "UTC"
        assert config.days == frozenset(range(5))
        assert (config.opens, config.closes) == (dt.time(9), dt.time(17))
        assert config.holidays == frozenset()
        assert (config.queue_timeout, config.ticket_answer_within, config.default_wait) == (
            600,
            4 * HOUR,
            180,
        )
    assert parse_agent_desk({"timezone": WAW}).days == frozenset(range(5))


def test_yaml_forms_are_accepted() -> None:
    raw = yaml.safe_load(
        """
        timezone: Europe/Warsaw
        days: [Monday, SAT, sun]
        hours: "00:00-24:00"
        holidays: [2026-12-25]
        queue_timeout_minutes: 0.5
        """
    )
    config = parse_agent_desk(raw)
    assert config.days == frozenset({0, 5, 6})
    assert config.all_day
    assert config.holidays == frozenset({dt.date(2026, 12, 25)})
    assert config.queue_timeout == 30


def test_business_config_carries_the_desk() -> None:
    shipped = load_business_config(PROJECT_ROOT / "kopru.yml")
    # The same hours as the FAQ answer about opening hours in domain.yml.
    assert shipped.agent_desk.timezone_name == "Europe/Warsaw"
    assert shipped.agent_desk.days == frozenset(range(5))
    assert (shipped.agent_desk.opens, shipped.agent_desk.closes) == (dt.time(8), dt.time(20))
    assert dt.date(2027, 1, 1) in shipped.agent_desk.holidays
    base: dict[str, Any] = {
        "payment_methods": {"en": ["Visa"]},
        "delivery": {"countries": {"DE": {"days": [2, 4], "cost": 6.9, "free_over": 100}}},
        "troubleshooting_steps": ["utter_a"],
    }
    assert parse_business_config(base).agent_desk.timezone_name == "UTC"
    with pytest.raises(ConfigError, match=r"agent_desk\.timezone"):
        parse_business_config({**base, "agent_desk": {"timezone": "Mars/Olympus"}})
    direct = BusinessConfig(
        payment_methods={"en": ("Visa",)},
        currency="EUR",
        delivery={},
        troubleshooting_steps=("utter_a",),
    )
    assert direct.agent_desk.timezone_name == "UTC"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timezone": "Mars/Olympus"}, r"agent_desk\.timezone"),
        ({"timezone": "Europe"}, r"agent_desk\.timezone"),
        ({"timezone": ""}, r"agent_desk\.timezone"),
        ({"timezone": 3}, r"agent_desk\.timezone"),
        ({"days": ["mon", "funday"]}, r"agent_desk\.days.*funday"),
        ({"days": []}, r"agent_desk\.days"),
        ({"days": "mon"}, r"agent_desk\.days"),
        ({"days": [1]}, r"agent_desk\.days"),
        ({"hours": "9-18"}, r"agent_desk\.hours"),
        ({"hours": "9:00-18:00"}, r"agent_desk\.hours"),
        ({"hours": 540}, r"agent_desk\.hours"),
        ({"hours": "18:00-09:00"}, r"agent_desk\.hours.*after"),
        ({"hours": "09:00-09:00"}, r"agent_desk\.hours.*after"),
        ({"hours": "25:00-26:00"}, r"agent_desk\.hours"),
        ({"hours": "09:60-18:00"}, r"agent_desk\.hours"),
        ({"hours": "09:00-24:30"}, r"agent_desk\.hours"),
        ({"hours": "24:00-24:00"}, r"agent_desk\.hours"),
        ({"holidays": ["2026-13-01"]}, r"agent_desk\.holidays"),
        ({"holidays": ["25.12.2026"]}, r"agent_desk\.holidays"),
        ({"holidays": [20261225]}, r"agent_desk\.holidays"),
        ({"holidays": "2026-12-25"}, r"agent_desk\.holidays"),
        ({"queue_timeout_minutes": 0}, r"agent_desk\.queue_timeout_minutes"),
        ({"queue_timeout_minutes": -5}, r"agent_desk\.queue_timeout_minutes"),
        ({"queue_timeout_minutes": "10"}, r"agent_desk\.queue_timeout_minutes"),
        ({"ticket_answer_within_hours": "four"}, r"agent_desk\.ticket_answer_within_hours"),
        ({"ticket_answer_within_hours": float("nan")}, r"agent_desk\.ticket_answer_within_hours"),
        ({"default_wait_minutes": True}, r"agent_desk\.default_wait_minutes"),
        ({"default_wait_minutes": float("inf")}, r"agent_desk\.default_wait_minutes"),
        ({"default_wait_minutes": None}, r"agent_desk\.default_wait_minutes"),
        ({"queue_timeout": 10}, r"agent_desk: unknown key.*queue_timeout"),
    ],
)
def test_every_bad_value_is_refused_naming_the_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        desk(**changes)


@pytest.mark.parametrize("raw", [["mon"], "09:00-18:00", 5])
def test_section_must_be_a_mapping(raw: Any) -> None:
    with pytest.raises(ConfigError, match="agent_desk must be a mapping"):
        parse_agent_desk(raw)


@pytest.mark.parametrize(
    "changes",
    [
        {"days": frozenset()},
        {"days": frozenset({7})},
        {"closes": dt.time(8)},
        {"queue_timeout": 0.0},
        {"default_wait": -1.0},
    ],
)
def test_direct_construction_is_validated_too(changes: dict[str, Any]) -> None:
    fields = {**desk().__dict__, **changes}
    with pytest.raises(ConfigError):
        AgentDeskConfig(**fields)


# --- is_open ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(IST, 2026, 11, 24, 10), True),  # Tuesday morning
        (local(IST, 2026, 11, 24, 9), True),  # opening instant is open
        (local(IST, 2026, 11, 24, 8, 59, 59), False),
        (local(IST, 2026, 11, 24, 17, 59, 59), True),
        (local(IST, 2026, 11, 24, 18), False),  # closing instant is closed
        (local(IST, 2026, 11, 24, 23), False),
        (local(IST, 2026, 11, 24, 0), False),
        (local(IST, 2026, 11, 28, 12), False),  # Saturday
        (local(IST, 2026, 11, 29, 12), False),  # Sunday
        (local(IST, 2026, 12, 25, 12), False),  # Friday, holiday
        (local(IST, 2026, 12, 24, 12), True),  # the day before is not
        (utc(2026, 11, 24, 6), True),  # 09:00 in Istanbul (UTC+3)
        (utc(2026, 11, 24, 5, 59), False),
        (utc(2026, 11, 24, 14, 59), True),
        (utc(2026, 11, 24, 15), False),
    ],
)
def test_is_open_in_istanbul(at: float, expected: bool) -> None:
    assert is_open(desk(), at) is expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Saturday before the spring change, CET (UTC+1): 09:00 local is 08:00 UTC.
        (utc(2026, 3, 28, 7, 59), False),
        (utc(2026, 3, 28, 8), True),
        (utc(2026, 3, 28, 15, 59), True),
        (utc(2026, 3, 28, 16), False),
        # Sunday 2026-03-29, clocks go forward at 02:00: 09:00 CEST is 07:00 UTC.
        (utc(2026, 3, 29, 6, 59), False),
        (utc(2026, 3, 29, 7), True),
        (utc(2026, 3, 29, 14, 59), True),
        (utc(2026, 3, 29, 15), False),
        # Sunday 2026-10-25, clocks go back: 09:00 CET is 08:00 UTC again.
        (utc(2026, 10, 25, 7, 59), False),
        (utc(2026, 10, 25, 8), True),
        (utc(2026, 10, 25, 16), False),
    ],
)
def test_is_open_follows_dst_in_warsaw(at: float, expected: bool) -> None:
    config = desk(
        timezone=WAW,
        days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        hours="09:00-17:00",
        holidays=[],
    )
    assert is_open(config, at) is expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(WAW, 2026, 11, 28, 0), True),  # Saturday midnight
        (local(WAW, 2026, 11, 28, 23, 59, 59), True),
        (local(WAW, 2026, 11, 29, 0), False),  # Sunday not listed
        (local(WAW, 2026, 11, 30, 0), True),
        (local(WAW, 2026, 12, 25, 12), False),  # holiday
    ],
)
def test_all_day_desk(at: float, expected: bool) -> None:
    config = desk(
        timezone=WAW, days=["mon", "tue", "wed", "thu", "fri", "sat"], hours="00:00-24:00"
    )
    assert is_open(config, at) is expected


# --- next_opening ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(IST, 2026, 11, 24, 10, 30), local(IST, 2026, 11, 24, 10, 30)),  # open: itself
        (local(IST, 2026, 11, 24, 9), local(IST, 2026, 11, 24, 9)),
        (local(IST, 2026, 11, 24, 7), local(IST, 2026, 11, 24, 9)),  # early morning
        (local(IST, 2026, 11, 24, 18), local(IST, 2026, 11, 25, 9)),  # at closing
        (local(IST, 2026, 11, 24, 23, 59), local(IST, 2026, 11, 25, 9)),
        (local(IST, 2026, 11, 27, 18), local(IST, 2026, 11, 30, 9)),  # Friday evening
        (local(IST, 2026, 11, 28, 12), local(IST, 2026, 11, 30, 9)),  # Saturday
        (local(IST, 2026, 12, 24, 18), local(IST, 2026, 12, 28, 9)),  # holiday + weekend
        (local(IST, 2026, 12, 31, 20), local(IST, 2027, 1, 4, 9)),  # New Year holiday
    ],
)
def test_next_opening_in_istanbul(at: float, expected: float) -> None:
    assert next_opening(desk(), at) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Friday 17:00 CET -> Monday 09:00 CEST, across the spring change (UTC+1 -> UTC+2).
        (utc(2026, 3, 27, 16), utc(2026, 3, 30, 7)),
        # Friday 18:00 CEST -> Monday 09:00 CET, across the autumn change.
        (utc(2026, 10, 23, 16), utc(2026, 10, 26, 8)),
    ],
)
def test_next_opening_across_dst_in_warsaw(at: float, expected: float) -> None:
    config = desk(timezone=WAW, hours="09:00-17:00", holidays=[])
    assert next_opening(config, at) == expected


def test_next_opening_of_an_all_day_desk_is_midnight() -> None:
    config = desk(timezone=WAW, hours="00:00-24:00")
    assert next_opening(config, local(WAW, 2026, 11, 29, 12)) == local(WAW, 2026, 11, 30)


# --- add_business_time -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "seconds", "expected"),
    [
        (local(IST, 2026, 11, 24, 10), 2 * HOUR, local(IST, 2026, 11, 24, 12)),  # same day
        (local(IST, 2026, 11, 24, 7), 1 * HOUR, local(IST, 2026, 11, 24, 10)),  # before opening
        (local(IST, 2026, 11, 24, 14), 4 * HOUR, local(IST, 2026, 11, 24, 18)),  # ends at closing
        (local(IST, 2026, 11, 24, 17), 4 * HOUR, local(IST, 2026, 11, 25, 12)),  # overnight
        (local(IST, 2026, 11, 27, 17), 4 * HOUR, local(IST, 2026, 11, 30, 12)),  # weekend
        (local(IST, 2026, 11, 28, 12), 4 * HOUR, local(IST, 2026, 11, 30, 13)),  # from Saturday
        (local(IST, 2026, 11, 23, 9), 27 * HOUR, local(IST, 2026, 11, 25, 18)),  # three days
        (local(IST, 2026, 11, 23, 9), 27 * HOUR + 1, local(IST, 2026, 11, 26, 9, 0, 1)),
        # Thursday 24 Dec 16:00: 2 h, Friday 25 Dec holiday, weekend, Monday 11:00.
        (local(IST, 2026, 12, 24, 16), 4 * HOUR, local(IST, 2026, 12, 28, 11)),
        # Thursday 31 Dec 17:00: 1 h, Friday 1 Jan holiday, weekend, Monday 4 Jan 12:00.
        (local(IST, 2026, 12, 31, 17), 4 * HOUR, local(IST, 2027, 1, 4, 12)),
        (local(IST, 2026, 11, 28, 12), 0.0, local(IST, 2026, 11, 30, 9)),  # 0 -> next opening
        (local(IST, 2026, 11, 24, 12), 0.0, local(IST, 2026, 11, 24, 12)),
    ],
)
def test_add_business_time_in_istanbul(at: float, seconds: float, expected: float) -> None:
    assert add_business_time(desk(), at, seconds) == expected


@pytest.mark.parametrize(
    ("at", "seconds", "expected"),
    [
        # Friday 2026-03-27 17:00 CET + 4 h of 09-18 -> Monday 12:00 CEST (10:00 UTC).
        (utc(2026, 3, 27, 16), 4 * HOUR, utc(2026, 3, 30, 10)),
        # Friday 2026-10-23 17:00 CEST + 4 h -> Monday 12:00 CET (11:00 UTC).
        (utc(2026, 10, 23, 15), 4 * HOUR, utc(2026, 10, 26, 11)),
    ],
)
def test_add_business_time_across_dst_in_warsaw(at: float, seconds: float, expected: float) -> None:
    config = desk(timezone=WAW, holidays=[])
    assert add_business_time(config, at, seconds) == expected


def test_add_business_time_counts_the_short_dst_day_as_23_hours() -> None:
    config = desk(timezone=WAW, days=["sun", "mon"], hours="00:00-24:00", holidays=[])
    # Sunday 2026-03-29 has only 23 hours, so 24 business hours end at 01:00 on Monday.
    start = local(WAW, 2026, 3, 29)
    assert add_business_time(config, start, 24 * HOUR) == local(WAW, 2026, 3, 30, 1)
    # ...and the 25-hour Sunday 2026-10-25 swallows 24 hours whole.
    start = local(WAW, 2026, 10, 25)
    assert add_business_time(config, start, 24 * HOUR) == local(WAW, 2026, 10, 25, 23)


@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_add_business_time_refuses_bad_durations(seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds"):
        add_business_time(desk(), local(IST, 2026, 11, 24, 10), seconds)

"""Times and durations as told to customers in English, Turkish and Polish."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.phrases import format_minutes, format_minutes_about, format_when

IST = ZoneInfo("Europe/Istanbul")
WAW = ZoneInfo("Europe/Warsaw")
NOW = dt.datetime(2025, 11, 20, 10, 0, tzinfo=IST).timestamp()  # Thursday


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = IST) -> float:
    return dt.datetime(y, mo, d, h, mi, tzinfo=tz).timestamp()


@pytest.mark.parametrize(
    ("when", "language", "expected"),
    [
        (at(2025, 11, 20, 14), "en", "today at 14:00"),
        (at(2025, 11, 21, 9), "en", "tomorrow at 09:00"),
        (at(2025, 11, 24, 9), "en", "on Monday, 24 November at 09:00"),
        (at(2025, 11, 22, 10, 30), "en", "on Saturday, 22 November at 10:30"),
        (at(2025, 11, 20, 14), "tr", "bugün saat 14:00"),
        (at(2025, 11, 21, 9), "tr", "yarın saat 09:00"),
        (at(2025, 11, 24, 9), "tr", "24 Kasım Pazartesi saat 09:00"),
        (at(2025, 12, 3, 9, 5), "tr", "3 Aralık Çarşamba saat 09:05"),
        (at(2025, 11, 20, 14), "pl", "dziś o 14:00"),
        (at(2025, 11, 21, 9), "pl", "jutro o 09:00"),
        (at(2025, 11, 24, 9), "pl", "w poniedziałek, 24 listopada, o 09:00"),
        (at(2025, 11, 25, 9), "pl", "we wtorek, 25 listopada, o 09:00"),
        (at(2025, 11, 26, 9), "pl", "w środę, 26 listopada, o 09:00"),
        (at(2025, 11, 27, 9), "pl", "w czwartek, 27 listopada, o 09:00"),
        (at(2025, 11, 28, 9), "pl", "w piątek, 28 listopada, o 09:00"),
        (at(2025, 11, 29, 9), "pl", "w sobotę, 29 listopada, o 09:00"),
        (at(2025, 11, 30, 9), "pl", "w niedzielę, 30 listopada, o 09:00"),
        (at(2026, 1, 5, 9), "en", "on Monday, 5 January 2026 at 09:00"),  # another year
        (at(2026, 1, 5, 9), "tr", "5 Ocak 2026 Pazartesi saat 09:00"),
        (at(2026, 1, 5, 9), "pl", "w poniedziałek, 5 stycznia 2026, o 09:00"),
        (at(2025, 11, 24, 9), "pl-PL", "w poniedziałek, 24 listopada, o 09:00"),
        (at(2025, 11, 21, 9), "TR", "yarın saat 09:00"),
        (at(2025, 11, 21, 9), "de", "tomorrow at 09:00"),  # unknown -> English
        (at(2025, 11, 21, 9), "", "tomorrow at 09:00"),
    ],
)
def test_format_when(when: float, language: str, expected: str) -> None:
    assert format_when(when, IST, language, NOW) == expected


def test_format_when_reads_the_clock_in_the_given_zone() -> None:
    # 22:30 UTC on Thursday is already Friday 01:30 in Istanbul, but Thursday 23:30 in Warsaw.
    now = dt.datetime(2025, 11, 20, 10, 0, tzinfo=dt.timezone.utc).timestamp()
    when = dt.datetime(2025, 11, 20, 22, 30, tzinfo=dt.timezone.utc).timestamp()
    assert format_when(when, IST, "en", now) == "tomorrow at 01:30"
    assert format_when(when, WAW, "en", now) == "today at 23:30"


def test_format_when_switches_day_at_local_midnight() -> None:
    now = at(2025, 11, 20, 23, 59)
    assert format_when(at(2025, 11, 21, 0, 1), IST, "pl", now) == "jutro o 00:01"
    assert format_when(at(2025, 11, 22, 0, 1), IST, "en", now) == (
        "on Saturday, 22 November at 00:01"
    )


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 minut"),
        (1, "1 minutę"),
        (2, "2 minuty"),
        (3, "3 minuty"),
        (4, "4 minuty"),
        (5, "5 minut"),
        (11, "11 minut"),
        (12, "12 minut"),
        (13, "13 minut"),
        (14, "14 minut"),
        (21, "21 minut"),
        (22, "22 minuty"),
        (24, "24 minuty"),
        (25, "25 minut"),
        (102, "102 minuty"),
        (112, "112 minut"),
    ],
)
def test_polish_minutes(n: int, expected: str) -> None:
    assert format_minutes(n, "pl") == expected


@pytest.mark.parametrize(
    ("n", "language", "expected"),
    [
        (1, "en", "1 minute"),
        (5, "en", "5 minutes"),
        (0, "en", "0 minutes"),
        (1, "tr", "1 dakika"),
        (5, "tr", "5 dakika"),
        (5, "xx", "5 minutes"),
    ],
)
def test_minutes_in_english_and_turkish(n: int, language: str, expected: str) -> None:
    assert format_minutes(n, language) == expected


@pytest.mark.parametrize(
    ("n", "language", "expected"),
    [
        (1, "en", "about 1 minute"),
        (5, "en", "about 5 minutes"),
        (1, "tr", "yaklaşık 1 dakika"),
        (5, "tr", "yaklaşık 5 dakika"),
        (1, "pl", "około 1 minuty"),
        (2, "pl", "około 2 minut"),
        (4, "pl", "około 4 minut"),
        (5, "pl", "około 5 minut"),
        (12, "pl", "około 12 minut"),
        (21, "pl", "około 21 minut"),
        (22, "pl", "około 22 minut"),
        (25, "pl", "około 25 minut"),
        (5, "de", "about 5 minutes"),
    ],
)
def test_minutes_about(n: int, language: str, expected: str) -> None:
    assert format_minutes_about(n, language) == expected


@pytest.mark.parametrize("formatter", [format_minutes, format_minutes_about])
def test_negative_minutes_are_refused(formatter: object) -> None:
    with pytest.raises(ValueError):
        formatter(-1, "en")  # type: ignore[operator]

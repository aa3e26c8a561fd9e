"""How times and durations are told to a customer in English, Turkish and Polish.

Pure and dependency-free on purpose (no Babel, no locale): the few words needed are below.
Times use the 24-hour clock.  Nothing is appended about the time zone; the caller decides.
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "action_failed_apology",
    "format_minutes",
    "format_minutes_about",
    "format_when",
    "message_too_long",
]

_EN_DAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_TR_DAYS: Final = ("Pazartesi", "Salı", "Çarşamba", "Perşembe", "Cuma", "Cumartesi", "Pazar")
_TR_MONTHS: Final = (
    "Ocak",
    "Şubat",
    "Mart",
    "Nisan",
    "Mayıs",
    "Haziran",
    "Temmuz",
    "Ağustos",
    "Eylül",
    "Ekim",
    "Kasım",
    "Aralık",
)
# "on <day>" in Polish: the preposition and the accusative of the day name.
_PL_ON_DAYS: Final = (
    "w poniedziałek",
    "we wtorek",
    "w środę",
    "w czwartek",
    "w piątek",
    "w sobotę",
    "w niedzielę",
)
# Genitive month names, as in "24 listopada".
_PL_MONTHS: Final = (
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
)


def _language(language: str) -> str:
    """The primary subtag ("pl-PL", "PL", "pl_PL" -> "pl"); anything but tr/pl -> "en"."""
    primary = language.replace("_", "-").split("-", 1)[0].strip().lower()
    return primary if primary in ("tr", "pl") else "en"


def format_when(at: float, tz: ZoneInfo, language: str, now: float) -> str:
    """When ``at`` (a unix timestamp) is, seen from ``now``, on the clock in ``tz``.

    en: "today at 14:00", "tomorrow at 09:00", "on Monday, 24 November at 09:00"
    tr: "bugün saat 14:00", "yarın saat 09:00", "24 Kasım Pazartesi saat 09:00"
    pl: "dziś o 14:00", "jutro o 09:00", "w poniedziałek, 24 listopada, o 09:00"

    The year is added to the date when it differs from ``now``'s.  Unknown languages get
    English.
    """
    local = dt.datetime.fromtimestamp(at, tz=tz)
    today = dt.datetime.fromtimestamp(now, tz=tz).date()
    days_ahead = (local.date() - today).days
    clock = f"{local.hour:02d}:{local.minute:02d}"
    year = f" {local.year}" if local.year != today.year else ""
    weekday, month, day = local.weekday(), local.month - 1, local.day
    lang = _language(language)
    if lang == "tr":
        if days_ahead == 0:
            return f"bugün saat {clock}"
        if days_ahead == 1:
            return f"yarın saat {clock}"
        return f"{day} {_TR_MONTHS[month]}{year} {_TR_DAYS[weekday]} saat {clock}"
    if lang == "pl":
        if days_ahead == 0:
            return f"dziś o {clock}"
        if days_ahead == 1:
            return f"jutro o {clock}"
        return f"{_PL_ON_DAYS[weekday]}, {day} {_PL_MONTHS[month]}{year}, o {clock}"
    if days_ahead == 0:
        return f"today at {clock}"
    if days_ahead == 1:
        return f"tomorrow at {clock}"
    return f"on {_EN_DAYS[weekday]}, {day} {_EN_MONTHS[month]}{year} at {clock}"


def _pl_accusative_minutes(n: int) -> str:
    """Polish "minuta" after a numeral, accusative: 1 minutę, 2-4 minuty, 5+ minut."""
    if n == 1:
        return "minutę"
    if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        return "minuty"
    return "minut"


def format_minutes(n: int, language: str) -> str:
    """A number of minutes: en "1 minute"/"5 minutes", tr "5 dakika",
    pl "1 minutę"/"2 minuty"/"5 minut" (accusative, as in "poczekaj 5 minut")."""
    if n < 0:
        raise ValueError(f"minutes must not be negative, not {n}")
    lang = _language(language)
    if lang == "tr":
        return f"{n} dakika"
    if lang == "pl":
        return f"{n} {_pl_accusative_minutes(n)}"
    return f"{n} minute" if n == 1 else f"{n} minutes"


def format_minutes_about(n: int, language: str) -> str:
    """The phrase "about N minutes": en "about 5 minutes", tr "yaklaşık 5 dakika",
    pl "około 5 minut" / "około 1 minuty" ("około" takes the genitive)."""
    if n < 0:
        raise ValueError(f"minutes must not be negative, not {n}")
    lang = _language(language)
    if lang == "tr":
        return f"yaklaşık {n} dakika"
    if lang == "pl":
        return f"około {n} {'minuty' if n == 1 else 'minut'}"
    return f"about {format_minutes(n, 'en')}"


def action_failed_apology(language: str) -> str:
    """Said when part of the bot failed while answering (e.g. the action server is down)."""
    lang = _language(language)
    if lang == "tr":
        return (
            "Üzgünüm, bizim tarafımızda bir sorun oluştu ve isteğinizi tamamlayamadım. "
            "Lütfen bir dakika sonra tekrar deneyin."
        )
    if lang == "pl":
        return (
            "Przepraszam, coś poszło nie tak po naszej stronie i nie udało mi się tego "
            "dokończyć. Spróbuj proszę ponownie za minutę."
        )
    return (
        "Sorry, something went wrong on our side and I couldn't finish that. "
        "Please try again in a minute."
    )


def message_too_long(language: str, limit: int) -> str:
    """Said instead of an answer when a message is longer than ``limit`` characters."""
    lang = _language(language)
    if lang == "tr":
        dotted = f"{limit:,}".replace(",", ".")
        return (
            "Üzgünüm, bu mesaj okuyabileceğimden daha uzun. Lütfen daha kısa bir mesaj "
            f"gönderin (en fazla {dotted} karakter)."
        )
    if lang == "pl":
        return (
            "Przepraszam, ta wiadomość jest dla mnie za długa. Wyślij proszę krótszą "
            f"wiadomość (maksymalnie {limit} znaków)."
        )
    return (
        "Sorry, that message is too long for me to read. Please send a shorter message "
        f"(at most {limit:,} characters)."
    )

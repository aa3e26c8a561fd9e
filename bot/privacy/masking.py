"""Personal data in free text masked down to a hint: e-mail addresses, phone numbers,
payment card numbers and IBANs (pure; no I/O).

What each kind becomes (separators and the text around it are kept):

* e-mail: ``jan.kowalski@example.com`` -> ``j***@example.com``
* phone: ``+48 601 234 567`` -> ``+48 *** *** 567``, ``0532 123 45 67`` ->
  ``**** *** *5 67``, ``(555) 123-4567`` -> ``(***) ***-*567``
* card: ``4242 4242 4242 4242`` -> ``**** **** **** 4242``
* IBAN: ``PL61 1090 1014 0000 0712 1981 2874`` -> ``PL** **** **** **** **** **** 2874``

What counts as which, and why:

* A card number is 13-19 digits, bare or in the printed groups (4-4-4-4, 4-4-4-4-3,
  Amex 4-6-5, Diners 4-6-4), not starting with 0, and Luhn-valid: the six-digit order
  numbers ("204518", "204 518"), return numbers ("R-204518-001") and tracking numbers
  stay as they are.
* A phone number is an international one (``+`` or ``00`` and 8-15 digits, any
  grouping), a local one in groups of 2-4 digits (9-11 digits in all, as customers in
  Poland, Turkey or the US type them; the last group may be longer when the first is an
  area code: ``0532 1234567``), a bare one with the trunk 0 (``05321234567``), or a bare
  9-11 digit number right after a word like "phone", "telefon", "numaram", "numer".
  Dates, times, decimals, IP addresses and version numbers are not phone numbers, nor is
  a bare ``601234567`` on its own (it could as well be an id in a log line).
* An IBAN is a country code, two check digits and 11-30 letters or digits, bare or in
  groups of four, whose mod-97 check holds.

`mask` is idempotent: masking masked text changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from pydantic import validator

from bot.config_models import Section, parse_section

__all__ = [
    "ALL_KINDS",
    "ALWAYS_MASKED",
    "Kind",
    "PrivacyConfig",
    "iban_valid",
    "luhn_valid",
    "mask",
    "parse_privacy_config",
]


class Kind(str, Enum):
    """A kind of personal data `mask` recognises (the names used in kopru.yml)."""

    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    IBAN = "iban"


ALL_KINDS: Final = frozenset(Kind)
# Card numbers are masked wherever Köprü masks anything, whatever kopru.yml says: a card
# number must never land in a chat history nobody can fully erase.
ALWAYS_MASKED: Final = frozenset({Kind.CARD})

STAR: Final = "*"
# Masking is repeated until nothing changes; in practice the second round changes nothing.
_MAX_ROUNDS: Final = 8

# Where a number or IBAN may start: not inside a word, but right after an escaped line
# break or tab of a JSON log line ("...\\n4242 4242 ...") too.
_START: Final = r"(?:(?<!\w)|(?<=\\[nrt]))"

# --- e-mail ----------------------------------------------------------------------------

# Bounded parts (64 for the local part, as RFC 5321 allows) keep a long line without an
# address linear to scan.
_EMAIL = re.compile(
    r"(?<![\w.%+-])(?P<local>[\w%+-][\w.%+-]{0,63})@"
    r"(?P<domain>[^\W_][\w-]{0,62}(?:\.[^\W_][\w-]{0,62}){0,8}\.[^\W\d_]{2,24})"
)


def _mask_email(match: re.Match[str]) -> str:
    return f"{match['local'][0]}{STAR * 3}@{match['domain']}"


# --- IBAN -------------------------------------------------------------------------------

_IBAN = re.compile(rf"{_START}[A-Za-z]{{2}}[0-9]{{2}}(?:[ \u00a0]?[A-Za-z0-9]){{11,30}}")


def iban_valid(compact: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN without spaces."""
    compact = compact.upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum() or not compact.isascii():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _mask_iban(match: re.Match[str]) -> str:
    candidate = match.group()
    after = match.string[match.end() : match.end() + 1]
    # The pattern may run into the words after the IBAN ("... 2874 with thanks"): try the
    # longest prefix that ends where a group ends and passes the check.
    for end in range(len(candidate), 14, -1):
        if not candidate[end - 1].isalnum():
            continue
        following = candidate[end] if end < len(candidate) else after
        if following and (following.isalnum() or following == "_"):
            continue
        compact = re.sub(r"\s", "", candidate[:end])
        if iban_valid(compact):
            return _keep(candidate[:end], first=2, last=4) + candidate[end:]
    return candidate


def _keep(text: str, *, first: int, last: int) -> str:
    """`text` with every letter and digit but the first `first` and last `last` starred."""
    positions = [i for i, c in enumerate(text) if c.isalnum()]
    hidden = set(positions[first : len(positions) - last])
    return "".join(STAR if i in hidden else c for i, c in enumerate(text))


# --- card and phone numbers -------------------------------------------------------------

# A run of digit groups separated by one space, no-break space or dash, a group maybe in
# parentheses, maybe after a `+`. No dots: they make IP addresses, versions and decimals.
_RUN = re.compile(rf"{_START}(?:\+[ \u00a0]?)?\(?[0-9]+\)?(?:[ \u00a0-]?\(?[0-9]+\)?)*")
_DIGITS = re.compile(r"[0-9]+")
_SEPARATORS: Final = frozenset({" ", "\u00a0", "-"})
# A group right after or before one of these belongs to a time, a decimal or a list.
_JOINERS: Final = frozenset({":", ".", ","})
_DATE_SHAPES: Final = ((4, 2, 2), (2, 2, 4))
_CARD_SHAPES: Final = ((4, 6, 5), (4, 6, 4))
# Words after which a bare 9-11 digit number is a phone number (en, tr, pl).
_PHONE_WORDS = re.compile(
    r"\b(?:phone|tel\w*|mobile|cell\w*|call|whatsapp|sms|gsm|number|nr|no|cep\w*|"
    r"numar\w*|ara|arayın|arar\w*|numer\w*|kom[oó]r\w*|zadzwo\w*|dzwo\w*)\b\W{0,4}$",
    re.IGNORECASE,
)
_PHONE_WORD_WINDOW: Final = 24


def luhn_valid(digits: str) -> bool:
    """The Luhn check of a string of digits (what card numbers end with)."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


@dataclass(frozen=True)
class _Group:
    start: int  # offsets in the run
    end: int
    digits: str
    before: str  # what separates it from the previous group ("" for the first)
    in_parens: bool


def _groups(run: str) -> list[_Group]:
    found: list[_Group] = []
    previous_end = 0
    for match in _DIGITS.finditer(run):
        start, end = match.span()
        opened = start > 0 and run[start - 1] == "("
        closed = end < len(run) and run[end] == ")"
        before = run[previous_end:start].replace("(", "").replace(")", "")
        found.append(_Group(start, end, match.group(), before if found else "", opened and closed))
        previous_end = end
    return found


def _card_shaped(groups: list[_Group]) -> bool:
    digits = "".join(g.digits for g in groups)
    if not 13 <= len(digits) <= 19 or digits[0] == "0":
        return False
    if any(g.in_parens for g in groups):
        return False
    if len(groups) > 1:
        separators = {g.before for g in groups[1:]}
        if len(separators) != 1 or not separators <= _SEPARATORS:
            return False
        sizes = tuple(len(g.digits) for g in groups)
        printed = all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4 and len(sizes) >= 4
        if not printed and sizes not in _CARD_SHAPES:
            return False
    return luhn_valid(digits)


def _cards(groups: list[_Group]) -> list[tuple[int, int]]:
    """Card-shaped, Luhn-valid spans of whole groups (group indices), leftmost-longest."""
    found: list[tuple[int, int]] = []
    i = 0
    while i < len(groups):
        size, best = 0, None
        # A card has at most five groups and 19 digits.
        for j in range(i + 1, min(len(groups), i + 5) + 1):
            size += len(groups[j - 1].digits)
            if size > 19:
                break
            if size >= 13 and _card_shaped(groups[i:j]):
                best = j
        if best is None:
            i += 1
        else:
            found.append((i, best))
            i = best
    return found


def _local_phone_shape(groups: list[_Group]) -> bool:
    sizes = [len(g.digits) for g in groups]
    if not 9 <= sum(sizes) <= 11:
        return False
    first = groups[0]
    area_code = first.in_parens or first.digits.startswith("0")
    if first.digits == "0" and len(groups) > 1 and groups[1].in_parens:
        sizes = sizes[1:]  # "0 (532) 123 45 67"
    if not 2 <= sizes[0] <= 4:
        return False
    if not all(2 <= s <= 4 for s in sizes[1:-1]):
        return False
    longest_last = 7 if area_code and len(sizes) <= 3 else 4
    return 2 <= sizes[-1] <= longest_last


def _phone_kind(groups: list[_Group], plus: bool, context: str) -> bool:
    digits = "".join(g.digits for g in groups)
    # 00 is the international prefix when a country code (never starting with 0) follows.
    if plus or (digits[:2] == "00" and digits[2:3] not in ("", "0") and len(groups[0].digits) <= 5):
        national = digits if plus else digits[2:]
        return 8 <= len(national) <= 15
    if len(groups) > 1:
        return _local_phone_shape(groups)
    if digits.startswith("0") and 10 <= len(digits) <= 11:
        return True
    return 9 <= len(digits) <= 11 and _PHONE_WORDS.search(context) is not None


def _spans_to_mask(
    groups: list[_Group], *, plus: bool, context: str, kinds: Collection[Kind]
) -> list[tuple[int, int, int, int]]:
    """(start, end, keep_first_digits, keep_last_digits) ranges of the run to star."""
    spans: list[tuple[int, int, int, int]] = []
    cards = _cards(groups) if Kind.CARD in kinds else []
    # The groups between cards (usually all of them) may each be one phone number.
    previous = 0
    for i, j in [*cards, (len(groups), len(groups))]:
        if previous < i and Kind.PHONE in kinds:
            first = previous == 0
            spans.extend(
                _phone_span(
                    groups[previous:i], plus=plus and first, context=context if first else ""
                )
            )
        if i < j:
            spans.append((groups[i].start, groups[j - 1].end, 0, 4))
        previous = j
    return spans


def _phone_span(
    groups: list[_Group], *, plus: bool, context: str
) -> list[tuple[int, int, int, int]]:
    if not _phone_kind(groups, plus, context):
        return []
    keep_first = 0
    if len(groups) > 1 and (plus or groups[0].digits[:2] == "00"):
        country = groups[0].digits if plus else groups[0].digits.removeprefix("00")
        if len(country) <= 3:
            keep_first = len(groups[0].digits)  # the country code stays: "+48 *** *** 567"
    return [(groups[0].start, groups[-1].end, keep_first, 3)]


def _trim(groups: list[_Group], text: str, start: int, end: int) -> list[_Group]:
    """The groups that may be a card or phone number: without a time's or decimal's
    digits at either end, and without a leading date."""
    if groups and start >= 2 and text[start - 1] in _JOINERS and text[start - 2] in "0123456789":
        groups = groups[1:]
    if groups and end + 1 < len(text) and text[end] in _JOINERS and text[end + 1] in "0123456789":
        groups = groups[:-1]
    dashed = len(groups) >= 3 and groups[1].before == "-" and groups[2].before == "-"
    if dashed and tuple(len(g.digits) for g in groups[:3]) in _DATE_SHAPES:
        groups = groups[3:]
    return groups


def _mask_run(match: re.Match[str], kinds: Collection[Kind]) -> str:
    run = match.group()
    text = match.string
    every = _groups(run)
    groups = _trim(every, text, match.start(), match.end())
    plus = run.startswith("+") and bool(groups) and groups[0] is every[0]
    context = text[max(0, match.start() - _PHONE_WORD_WINDOW) : match.start()]
    chars = list(run)
    for start, end, keep_first, keep_last in _spans_to_mask(
        groups, plus=plus, context=context, kinds=kinds
    ):
        digit_positions = [i for i in range(start, end) if "0" <= chars[i] <= "9"]
        for i in digit_positions[keep_first : len(digit_positions) - keep_last]:
            chars[i] = STAR
    return "".join(chars)


# --- public -----------------------------------------------------------------------------


def _round(text: str, kinds: Collection[Kind]) -> str:
    if Kind.EMAIL in kinds and "@" in text:
        text = _EMAIL.sub(_mask_email, text)
    if Kind.IBAN in kinds:
        text = _IBAN.sub(_mask_iban, text)
    if (Kind.CARD in kinds or Kind.PHONE in kinds) and _DIGITS.search(text):
        text = _RUN.sub(lambda m: _mask_run(m, kinds), text)
    return text


def mask(text: str, kinds: Collection[Kind] = ALL_KINDS) -> str:
    """`text` with the personal data of the given kinds masked down to a hint."""
    for _round_number in range(_MAX_ROUNDS):
        masked = _round(text, kinds)
        if masked == text:
            break
        text = masked
    return text


@dataclass(frozen=True)
class PrivacyConfig:
    """`privacy` in kopru.yml."""

    # What the Slack context card shows masked (always with the card numbers).
    slack_card: frozenset[Kind] = ALL_KINDS


def _kinds(raw: Any) -> frozenset[Kind]:
    known = ", ".join(k.value for k in Kind)
    if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
        raise ValueError(f"must be a list of: {known}")
    for kind in raw:
        if kind not in {k.value for k in Kind}:
            raise ValueError(f"unknown kind {kind!r} ({known})")
    return frozenset(Kind(k) for k in raw)


class _PrivacySection(Section):
    """kopru.yml's ``privacy``."""

    mask_in_slack_card: frozenset[Kind] = ALL_KINDS

    _check_kinds = validator("mask_in_slack_card", pre=True, allow_reuse=True)(_kinds)


def parse_privacy_config(raw: Any) -> PrivacyConfig:
    """Validate the `privacy` section; ConfigError names the problem."""
    section = parse_section(_PrivacySection, raw, "privacy")
    return PrivacyConfig(slack_card=section.mask_in_slack_card | ALWAYS_MASKED)

"""bot.privacy.masking: e-mails, phone numbers (as customers in en, tr, pl type them), card numbers
and IBANs masked to a hint, order numbers and the like left alone; the `privacy` section
of kopru.yml."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.errors import ConfigError
from bot.privacy.masking import (
    ALL_KINDS,
    Kind,
    PrivacyConfig,
    iban_valid,
    luhn_valid,
    mask,
    parse_privacy_config,
)
from bot.settings import PROJECT_ROOT
from bot.shop.business import load_business_config
from bot.shop.demo_backend import SAMPLE_ORDERS, sample_orders

TRACKING_NUMBERS = [
    o["tracking_number"]
    for o in sample_orders(dt.date(2026, 11, 23)).values()
    if o.get("tracking_number")
]

# --- what is masked, and how ---------------------------------------------------------------

MASKED = [
    # e-mail
    ("my mail is jan.kowalski@example.com", "my mail is j***@example.com"),
    ("E-postam: ayşe.yılmaz@örnek.com.tr.", "E-postam: a***@örnek.com.tr."),
    ("<mailto:k.nowak@example.pl|k.nowak@example.pl>", "<mailto:k***@example.pl|k***@example.pl>"),
    ("x@y.io", "x***@y.io"),
    # phone: international
    ("call me on +48 601 234 567", "call me on +48 *** *** 567"),
    ("numaram +90 532 123 45 67", "numaram +90 *** *** *5 67"),
    ("+1 (555) 123-4567", "+1 (***) ***-*567"),
    ("+48601234567", "+********567"),
    ("tel. 0048 601 234 567", "tel. 0048 *** *** 567"),
    ("+44 20 7946 0958", "+44 ** **** *958"),
    # phone: local, as typed in Turkey, Poland and the US
    ("numaram 0532 123 45 67", "numaram **** *** *5 67"),
    ("0532 1234567", "**** ****567"),
    ("05321234567", "********567"),
    ("0 (532) 123 45 67", "* (***) *** *5 67"),
    ("mój numer 601 234 567", "mój numer *** *** 567"),
    ("601-234-567", "***-***-567"),
    ("(555) 123-4567", "(***) ***-*567"),
    ("555-123-4567", "***-***-*567"),
    ("telefon 601234567", "telefon ******567"),
    ("cep numaram: 5321234567", "cep numaram: *******567"),
    ("phone: 5551234567", "phone: *******567"),
    # card
    ("card 4242 4242 4242 4242 exp 12/27", "card **** **** **** 4242 exp 12/27"),
    ("4242-4242-4242-4242", "****-****-****-4242"),
    ("kart numaram 5555555555554444", "kart numaram ************4444"),
    ("amex 3782 822463 10005", "amex **** ****** *0005"),
    ("Troy 9792 0000 0000 0003", "Troy **** **** **** 0003"),
    ("(4000 0566 5566 5556)", "(**** **** **** 5556)"),
    # in a JSON log line, right after an escaped line break
    (r'{"text": "kartım\n4242 4242 4242 4242"}', r'{"text": "kartım\n**** **** **** 4242"}'),
    # IBAN
    ("PL61 1090 1014 0000 0712 1981 2874 dzięki", "PL** **** **** **** **** **** 2874 dzięki"),
    ("TR330006100519786457841326", "TR********************1326"),
    ("de89 3704 0044 0532 0130 00", "de** **** **** **** **30 00"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_masked_to_a_hint(text: str, expected: str) -> None:
    assert mask(text) == expected
    assert mask(expected) == expected


KEPT = [
    # order numbers, return numbers and tracking numbers of the order backend
    *SAMPLE_ORDERS,
    "#204518",
    "204 518",
    "204-518",
    "Siparişlerim 204518 ve 331907",
    "204518 331907",
    "204518, 331907, 512704",
    "R-204518-001",
    *TRACKING_NUMBERS,
    # references, dates, times, money, versions, addresses, ids in log lines
    "E-7F3A2C", "D-00AB12", "T-1A2B3C",
    "2026-12-25", "2026-12-25 10:00", "2026-12-25T10:00:00+01:00", "25.12.2026", "25-12-2026",
    "09:00-17:00", "08:00-20:00", "12:30 601",
    "6,90 EUR", "1 234,56 zł", "1 250 000 000", "3.90", "12.50",
    "127.0.0.1:5005", "10.123.45.67", "192.168.100.200", "3.10.13",
    "Telegram update 823456789 was already processed", "chat 5012345678",
    "Slack ts 1700000000.000100", "1712345678.123456",
    "123e4567-e89b-12d3-a456-426614174000",
    "4242 4242 4242 4241",  # not Luhn-valid
    "0000 0000 0000 0000",  # starts with 0: no card number does
    "601234567",  # bare, without a word saying it is a phone number
    "a@b",  # no domain
    "GB29 NWBK 6016 1331 9268 18",  # the IBAN check fails
]  # fmt: skip


@pytest.mark.parametrize("text", KEPT)
def test_left_alone(text: str) -> None:
    assert mask(text) == text


def test_only_the_kinds_asked_for() -> None:
    text = "a@b.com, +48 601 234 567, 4242 4242 4242 4242, PL61109010140000071219812874"
    assert mask(text, {Kind.EMAIL}) == (
        "a***@b.com, +48 601 234 567, 4242 4242 4242 4242, PL61109010140000071219812874"
    )
    assert mask(text, {Kind.PHONE}) == (
        "a@b.com, +48 *** *** 567, 4242 4242 4242 4242, PL61109010140000071219812874"
    )
    assert mask(text, {Kind.CARD}) == (
        "a@b.com, +48 601 234 567, **** **** **** 4242, PL61109010140000071219812874"
    )
    assert mask(text, {Kind.IBAN}) == (
        "a@b.com, +48 601 234 567, 4242 4242 4242 4242, PL" + "*" * 22 + "2874"
    )
    assert mask(text, ()) == text


def test_a_card_next_to_other_numbers_is_still_found() -> None:
    assert mask("7 4242 4242 4242 4242") == "7 **** **** **** 4242"
    assert mask("4242 4242 4242 4242 601 234 567") == "**** **** **** 4242 *** *** 567"
    assert mask("4242 4242 4242 4242 5:30") == "**** **** **** 4242 5:30"


def test_the_checks() -> None:
    assert luhn_valid("4242424242424242") and luhn_valid("79927398713")
    assert not luhn_valid("4242424242424241") and not luhn_valid("42a2") and not luhn_valid("")
    assert iban_valid("PL61109010140000071219812874") and iban_valid("gb29nwbk60161331926819")
    assert not iban_valid("PL61109010140000071219812875") and not iban_valid("PL61")


def test_long_text_with_nothing_personal_comes_back_as_it_was() -> None:
    # The time each takes at full size (up to 1 MB) is checked by `python -m bench.timings`.
    for text in ("a" * 100_000, "a@" * 30_000, "1 " * 20_000, "word 204518 " * 5_000):
        assert mask(text) == text


# --- properties ----------------------------------------------------------------------------


def luhn_complete(fifteen: str) -> str:
    """The 16-digit card number whose first fifteen digits are `fifteen`."""
    return next(fifteen + d for d in "0123456789" if luhn_valid(fifteen + d))


cards = st.builds(
    lambda first, rest: luhn_complete(first + rest),
    st.sampled_from("123456789"),
    st.text("0123456789", min_size=14, max_size=14),
)
card_formats = st.sampled_from(["{}", "{} {} {} {}", "{}-{}-{}-{}"])

# Luhn-valid 16-digit card numbers left standing: 4-4-4-4 with one separator or bare,
# not glued to other digits or letters (what `mask` counts as a separate number).
_CARD_LEFT = re.compile(r"(?=(?<![\w])([0-9]{4}([ -]?)[0-9]{4}\2[0-9]{4}\2[0-9]{4})(?![0-9]))")


def cards_left(text: str) -> list[str]:
    found = (re.sub(r"[ -]", "", m.group(1)) for m in _CARD_LEFT.finditer(text))
    return [c for c in found if luhn_valid(c)]


def formatted(card: str, shape: str) -> str:
    if shape == "{}":
        return card
    return shape.format(card[:4], card[4:8], card[8:12], card[12:])


pii = st.one_of(
    st.builds(formatted, cards, card_formats),
    st.sampled_from([text for text, _masked in MASKED]),
    st.emails().map(str),
)
noise = st.text(max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(pii, noise), max_size=8), st.sampled_from([" ", "\n", ", ", ""]))
def test_masking_is_idempotent(parts: list[str], joiner: str) -> None:
    once = mask(joiner.join(parts))
    assert mask(once) == once


@settings(max_examples=300, deadline=None)
@given(noise, cards, card_formats, noise)
def test_never_leaves_a_luhn_valid_card(before: str, card: str, shape: str, after: str) -> None:
    text = f"{before} {formatted(card, shape)} {after}"
    masked = mask(text)
    assert formatted(card, shape) not in masked
    assert cards_left(masked) == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_never_leaves_a_luhn_valid_card_in_any_text(text: str) -> None:
    assert cards_left(mask(text)) == []


words = st.sampled_from(
    ["Merhaba", "siparişim", "nerede", "Dzień", "dobry", "zamówienie", "Where", "is", "my",
     "order", "numaram", "numer", "phone", "tel", "no", "iade", "zwrot", "teşekkürler", "ğüşıöç",
     "żółć", "?", "!", ",", "(", ")", "-", "€", "EUR", "zł", "%"]
)  # fmt: skip
harmless_numbers = st.one_of(
    st.sampled_from(SAMPLE_ORDERS),
    st.sampled_from(SAMPLE_ORDERS).map(lambda n: f"{n[:3]} {n[3:]}"),
    st.sampled_from(SAMPLE_ORDERS).map(lambda n: f"#{n}"),
    st.sampled_from(SAMPLE_ORDERS).map(lambda n: f"R-{n}-001"),
    st.integers(0, 99_999).map(str),
    st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)).map(dt.date.isoformat),
    st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)).map(lambda d: d.strftime("%d.%m.%Y")),
    st.times().map(lambda t: t.strftime("%H:%M")),
    st.decimals(0, 10_000, places=2).map(lambda d: f"{d} EUR"),
    st.sampled_from(["E-7F3A2C", "D-00AB12", "127.0.0.1", "v3.10.13"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(words, st.none() | harmless_numbers), max_size=12))
def test_text_without_personal_data_is_unchanged(pairs: list[tuple[str, str | None]]) -> None:
    # Every number has a word after it: numbers side by side are a phone number's groups.
    text = " ".join(f"{n} {w}" if n else w for w, n in pairs)
    assume(text.strip())
    assert mask(text) == text


# --- kopru.yml ------------------------------------------------------------------------------


def test_default_is_to_mask_every_kind() -> None:
    assert parse_privacy_config(None) == PrivacyConfig(slack_card=ALL_KINDS)
    assert parse_privacy_config({}).slack_card == ALL_KINDS


def test_card_numbers_are_masked_whether_listed_or_not() -> None:
    config = parse_privacy_config({"mask_in_slack_card": ["email"]})
    assert config.slack_card == {Kind.EMAIL, Kind.CARD}
    assert parse_privacy_config({"mask_in_slack_card": []}).slack_card == {Kind.CARD}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("yes", "privacy must be a mapping"),
        ({"mask_in_slack_cards": []}, "unknown keys ['mask_in_slack_cards']"),
        ({"mask_in_slack_card": "email"}, "must be a list of: email, phone, card, iban"),
        ({"mask_in_slack_card": None}, "must be a list"),
        ({"mask_in_slack_card": ["email", "address"]}, "unknown kind 'address'"),
        ({"mask_in_slack_card": [1]}, "must be a list"),
    ],
)
def test_bad_privacy_settings_are_refused(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_privacy_config(raw)


def test_the_project_kopru_yml_masks_everything_in_the_card() -> None:
    assert load_business_config(PROJECT_ROOT / "kopru.yml").privacy.slack_card == ALL_KINDS


def test_a_bad_privacy_section_stops_the_configuration(tmp_path: Path) -> None:
    raw = yaml.safe_load((PROJECT_ROOT / "kopru.yml").read_text(encoding="utf-8"))
    raw["privacy"] = {"mask_in_slack_card": ["emails"]}
    path = tmp_path / "kopru.yml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown kind 'emails'"):
        load_business_config(path)

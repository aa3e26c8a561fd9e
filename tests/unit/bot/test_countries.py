"""Finding the delivery country in what customers type, in three languages."""

from __future__ import annotations

import pytest

from bot.shop.countries import country_name, find_country


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Germany", "DE"),
        ("how long does delivery to germany take?", "DE"),
        ("Almanya'ya kargo kaç gün sürer?", "DE"),
        ("almanyaya kargo", "DE"),
        ("ile kosztuje wysyłka do Niemiec?", "DE"),
        ("wysylka do niemiec", "DE"),
        ("Türkiye", "TR"),
        ("turkiyeye gonderim var mi", "TR"),
        ("do Polski", "PL"),
        ("w Polsce", "PL"),
        ("Polonya", "PL"),
        ("to the UK please", "GB"),
        ("İngiltere'ye gönderiyor musunuz", "GB"),
        ("do Wielkiej Brytanii", "GB"),
        ("we Włoszech", "IT"),
        ("do Hiszpanii", "ES"),
        ("Fransa", "FR"),
        ("a ukulele", None),
        ("how long does shipping take?", None),
        ("", None),
        ("Stany Zjednoczone", "US"),
    ],
)
def test_find_country(text: str, expected: str | None) -> None:
    assert find_country(text) == expected


def test_first_country_named_wins() -> None:
    assert find_country("from Poland to Germany") == "PL"


@pytest.mark.parametrize(
    ("code", "language", "name"),
    [("DE", "en", "Germany"), ("DE", "tr", "Almanya"), ("DE", "pl", "Niemcy"),
     ("de", "xx", "Germany"), ("ZZ", "en", "ZZ")],
)  # fmt: skip
def test_country_name(code: str, language: str, name: str) -> None:
    assert country_name(code, language) == name

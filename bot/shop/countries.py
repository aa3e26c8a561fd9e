"""Country names in English, Turkish and Polish, and finding a country in free text."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["country_name", "find_country"]

# Display name per language, then the forms customers type (lower case, inflected;
# Turkish case suffixes and Polish declension are listed because they change the stem).
_COUNTRIES: dict[str, dict[str, str]] = {
    "PL": {"en": "Poland", "tr": "Polonya", "pl": "Polska"},
    "TR": {"en": "Turkey", "tr": "Türkiye", "pl": "Turcja"},
    "DE": {"en": "Germany", "tr": "Almanya", "pl": "Niemcy"},
    "AT": {"en": "Austria", "tr": "Avusturya", "pl": "Austria"},
    "CZ": {"en": "Czechia", "tr": "Çekya", "pl": "Czechy"},
    "NL": {"en": "the Netherlands", "tr": "Hollanda", "pl": "Holandia"},
    "FR": {"en": "France", "tr": "Fransa", "pl": "Francja"},
    "IT": {"en": "Italy", "tr": "İtalya", "pl": "Włochy"},
    "ES": {"en": "Spain", "tr": "İspanya", "pl": "Hiszpania"},
    "GB": {"en": "the United Kingdom", "tr": "Birleşik Krallık", "pl": "Wielka Brytania"},
    "US": {"en": "the United States", "tr": "ABD", "pl": "Stany Zjednoczone"},
    "BE": {"en": "Belgium", "tr": "Belçika", "pl": "Belgia"},
    "SK": {"en": "Slovakia", "tr": "Slovakya", "pl": "Słowacja"},
    "UA": {"en": "Ukraine", "tr": "Ukrayna", "pl": "Ukraina"},
    "SE": {"en": "Sweden", "tr": "İsveç", "pl": "Szwecja"},
}

# Stems matched at the start of a word, after folding case and diacritics.
_STEMS: dict[str, tuple[str, ...]] = {
    "PL": ("poland", "polonya", "polsk", "polsc", "polski", "polish"),
    "TR": ("turkey", "turkiye", "turkei", "turcj", "turcji", "turkiy"),
    "DE": ("germany", "almanya", "niemc", "niemiec", "deutschland", "german"),
    "AT": ("austria", "avusturya", "austri"),
    "CZ": ("czech", "cekya", "cek cumhuriyeti", "czechy", "czech"),
    "NL": ("netherlands", "holland", "hollanda", "holandi", "holandii"),
    "FR": ("france", "fransa", "francj", "francji"),
    "IT": ("italy", "italya", "wloch", "wlosz"),
    "ES": ("spain", "ispanya", "hiszpani"),
    "GB": (
        "united kingdom",
        "uk",
        "britain",
        "england",
        "ingiltere",
        "birlesik krallik",
        "wielka brytani",
        "wielkiej brytanii",
        "angli",
    ),
    "US": ("united states", "usa", "abd", "amerika", "america", "stany zjednoczone", "stanow"),
    "BE": ("belgium", "belcika", "belgi"),
    "SK": ("slovakia", "slovakya", "slowacj", "slowacji"),
    "UA": ("ukraine", "ukrayna", "ukrain"),
    "SE": ("sweden", "isvec", "szwecj", "szwecji"),
}


def _fold(text: str) -> str:
    # "ı" has no decomposition; map it by hand so "Türkiye'ye" and "turkiyeye" meet.
    text = text.replace("ı", "i").replace("İ", "i").replace("ł", "l").replace("Ł", "l")
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def find_country(text: str) -> str | None:
    """Return the ISO code of the first country named in `text`, or None."""
    folded = " " + re.sub(r"[^a-z]+", " ", _fold(text)) + " "
    best: tuple[int, str] | None = None
    for code, stems in _STEMS.items():
        for stem in stems:
            position = folded.find(" " + stem)
            if position < 0:
                continue
            # Two-letter abbreviations must stand alone ("uk", not "ukulele").
            if len(stem) <= 3 and folded[position + 1 + len(stem)] != " ":
                continue
            if best is None or position < best[0]:
                best = (position, code)
    return best[1] if best else None


def country_name(code: str, language: str) -> str:
    """The country's name in the customer's language (English when unknown)."""
    names = _COUNTRIES.get(code.upper())
    if names is None:
        return code.upper()
    return names.get(language, names["en"])

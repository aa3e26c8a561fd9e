"""Language choice against the real lingua detector: no stubs, the thresholds are the point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.nlu.language import (
    CANDIDATES,
    DEFAULT_LANGUAGE,
    SUPPORTED,
    LanguageDetector,
    choose_language,
    content_words,
    default_detector,
    normalise_language_code,
)


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return default_detector()


def check(
    detector: LanguageDetector, text: str, current: str | None, hint: str | None, expected: str
) -> None:
    got = choose_language(text, current, hint, detector=detector)
    assert got == expected, (
        f"{text!r} (current={current}, hint={hint}): {detector.confidences(text)}"
    )


# Too little signal: the conversation language (else hint, else English) stays.
NO_SIGNAL = [
    ("1234", "tr", None, "tr"),
    ("#204518", "pl", None, "pl"),
    ("204518", None, "pl", "pl"),
    ("TR-204518", "tr", None, "tr"),
    ("+48 600 123 456", "pl", None, "pl"),
    ("jan.kowalski@gmail.com", "pl", None, "pl"),
    ("ayse.yilmaz@hotmail.com", "tr", None, "tr"),
    ("https://example.com/orders/204518", "pl", None, "pl"),
    ("ok", "tr", None, "tr"),
    ("ok", "pl", None, "pl"),
    ("OK!", "en", None, "en"),
    ("okkk", "pl", None, "pl"),
    ("okay", "tr", None, "tr"),
    ("okej", "tr", None, "tr"),
    ("k", "tr", None, "tr"),
    ("no", "tr", None, "tr"),
    ("Да", "pl", None, "pl"),
    ("👍", "pl", None, "pl"),
    ("😡😡😡", "tr", None, "tr"),
    ("ok 👍", "tr", None, "tr"),
    ("hahaha", "pl", None, "pl"),
    ("??", "pl", None, "pl"),
    ("...", None, None, "en"),
    ("", "tr", None, "tr"),
    ("   ", "pl", None, "pl"),
    ("Ayşe Yılmaz", "en", None, "en"),
    ("Jan Kowalski", "tr", None, "tr"),
]

# Rasa buttons send payloads; they are the bot's words, not the customer's.
PAYLOADS = [
    ("/affirm", "tr", None, "tr"),
    ("/deny", "pl", None, "pl"),
    ('/inform{"order_id":"204518"}', "pl", None, "pl"),
    ("/greet", None, "tr", "tr"),
    ("/restart", None, None, "en"),
    ("/track_order", "tr", "pl", "tr"),
]

TURKISH = [
    ("siparisim nerede", "en", None, "tr"),
    ("siparişim nerede", "en", None, "tr"),
    ("siparisim nerede", None, None, "tr"),
    ("merhaba kargom gelmedi", "en", None, "tr"),
    ("merhaba kargom gelmedi", "pl", None, "tr"),
    ("merhaba, siparişimi iptal etmek istiyorum", "en", None, "tr"),
    ("iade istiyorum", "en", None, "tr"),
    ("tesekkur ederim", "pl", None, "tr"),
    ("müşteri temsilcisi", "en", None, "tr"),
    ("musteri temsilcisi", "en", None, "tr"),
    ("paketim hasarli geldi", "en", None, "tr"),
    ("adresimi degistirmek istiyorum", "pl", None, "tr"),
    ("ne zaman gelir", "en", None, "tr"),
    ("kargom nerede", "en", None, "tr"),
    ("kargo nerde", "en", None, "tr"),
    ("kapida odeme var mi", "en", None, "tr"),
    ("hala gelmedi", "en", None, "tr"),
    ("siparişim #204518 nerede", "en", None, "tr"),
    ("urun yanlis geldi degistirmek istiyorum", "en", None, "tr"),
    (
        "Merhaba, 3 gün önce sipariş verdim ama hâlâ kargoya verilmedi. Ne zaman gönderilecek?",
        "en",
        None,
        "tr",
    ),
    (
        "Merhaba, 3 gun once siparis verdim ama hala kargoya verilmedi. Ne zaman gonderilecek?",
        "pl",
        None,
        "tr",
    ),
    ("Merhaba, siparişim Kadıköy şubesine gelmedi", "en", None, "tr"),
    ("evet tamam", "en", None, "tr"),
    # Single words flip a running conversation only when unmistakable.
    ("tamam", "en", None, "tr"),
    ("hayır", "pl", None, "tr"),
    ("teşekkürler", "en", None, "tr"),
    ("tesekkurler", "en", None, "tr"),
]

POLISH = [
    ("gdzie jest moja paczka", "en", None, "pl"),
    ("gdzie jest moja paczka", "tr", None, "pl"),
    ("gdzie jest moje zamówienie", "en", None, "pl"),
    ("gdzie jest moje zamowienie", "tr", None, "pl"),
    ("dziekuje bardzo", "en", None, "pl"),
    ("dziękuję bardzo", "tr", None, "pl"),
    ("dzien dobry", "en", None, "pl"),
    ("chcę zwrócić towar", "en", None, "pl"),
    ("chce zwrocic towar", "en", None, "pl"),
    ("paczka nie dotarla", "tr", None, "pl"),
    ("kiedy przyjdzie moja przesyłka", "en", None, "pl"),
    ("kiedy przyjdzie moja przesylka", "en", None, "pl"),
    ("zwrot pieniedzy", "en", None, "pl"),
    ("nie wiem", "en", None, "pl"),
    ("jeszcze nie", "en", None, "pl"),
    ("tak poprosze", "en", None, "pl"),
    ("numer zamówienia 204518", "en", None, "pl"),
    ("co z moim zamowieniem", "en", None, "pl"),
    (
        "Dzien dobry, zamowilem buty tydzien temu i nadal nie dostalem informacji o wysylce.",
        "tr",
        None,
        "pl",
    ),
    ("Dzień dobry, mieszkam w Krakowie", "en", None, "pl"),
    ("tak jasne", "en", None, "pl"),
    ("ok dzięki", "en", None, "pl"),
    ("zamówienie", "en", None, "pl"),
    ("zamowienie", "en", None, "pl"),
    ("dziękuję", "tr", None, "pl"),
    ("reklamacja", "en", None, "pl"),
]

ENGLISH = [
    ("where is my order", "tr", None, "en"),
    ("where is my order", "pl", None, "en"),
    ("Where is my order? It was supposed to arrive yesterday.", "tr", None, "en"),
    ("I want a refund", "pl", None, "en"),
    ("hi, where is my parcel", "pl", None, "en"),
    ("my order hasn't arrived yet", "tr", None, "en"),
    ("tracking number please", "tr", None, "en"),
    ("can I change my delivery address", "pl", None, "en"),
    ("I was charged twice", "pl", None, "en"),
    ("return policy", "pl", None, "en"),
    ("speak to an agent", "tr", None, "en"),
    ("my email is jan@wp.pl", "pl", None, "en"),
    ("Hi, I ordered a phone case two weeks ago and it still hasn't shipped.", "tr", None, "en"),
    # Turkish and Polish names and places inside English are not Turkish or Polish.
    (
        "Hi, my address is Bağdat Caddesi 12, Kadıköy İstanbul. Where is my parcel?",
        "en",
        None,
        "en",
    ),
    ("Hi, my name is Łukasz Wiśniewski and my order has not arrived", "en", None, "en"),
    ("I live in Gdańsk", "pl", None, "en"),
]

# Anything confidently in a language we do not speak is answered in English.
OTHER_LANGUAGES = [
    ("Wo ist meine Bestellung?", "tr", None, "en"),
    ("Guten Tag, wo ist mein Paket?", "tr", None, "en"),
    ("Mein Paket ist beschädigt angekommen", None, "tr", "en"),
    ("Où est ma commande ?", "pl", None, "en"),
    ("Bonjour, je n'ai pas reçu mon colis", "pl", None, "en"),
    ("je veux un remboursement", "tr", None, "en"),
    ("¿Dónde está mi pedido?", "tr", None, "en"),
    ("quiero cancelar mi pedido", "pl", None, "en"),
    ("Hola, ¿cuándo llega mi paquete?", None, "tr", "en"),
    ("Dov'è il mio ordine?", "tr", None, "en"),
    ("Grazie mille", "tr", None, "en"),
    ("Onde está a minha encomenda?", "tr", None, "en"),
    ("Waar is mijn bestelling?", "tr", None, "en"),
    ("Где мой заказ?", "tr", None, "en"),
    ("Спасибо", "pl", None, "en"),
    ("Добрий день, де моя посилка?", "tr", None, "en"),
    ("أين طلبي؟", "tr", None, "en"),
    ("我的订单在哪里", "pl", None, "en"),
]

# Words several languages share, replies to the bot's questions, loan words: no flip.
SHORT_AND_AMBIGUOUS = [
    ("nie", "pl", None, "pl"),
    ("tak", "pl", None, "pl"),
    ("tak", "tr", None, "tr"),
    ("tak", "en", None, "en"),
    ("tak tak", "tr", None, "tr"),
    ("tamam", "tr", None, "tr"),
    ("evet", "tr", None, "tr"),
    ("evet", "en", None, "en"),
    ("hayır", "tr", None, "tr"),
    ("hayir", "tr", None, "tr"),
    ("yok", "tr", None, "tr"),
    ("yes", "en", None, "en"),
    ("yes", "pl", None, "pl"),
    ("no", "en", None, "en"),
    ("ok", "en", None, "en"),
    ("hello", "tr", None, "tr"),
    ("hallo", "pl", None, "pl"),
    ("sorry", "tr", None, "tr"),
    ("thx", "pl", None, "pl"),
    ("gracias", "pl", None, "pl"),
    ("kargo", "tr", None, "tr"),
    ("fatura", "tr", None, "tr"),
    ("trendyol", "tr", None, "tr"),
    ("witam", "pl", None, "pl"),
    ("kurier", "pl", None, "pl"),
    ("adres", "pl", None, "pl"),
    ("problem", "tr", None, "tr"),
    ("no problem", "tr", None, "tr"),
    ("refund status", "pl", None, "pl"),
]

HINTS = [
    # No conversation yet: the client's language is the fallback...
    ("1234", None, "pl_PL", "pl"),
    ("ok", None, "tr-TR", "tr"),
    ("tak", None, "pl", "pl"),
    ("tak", None, "tr", "tr"),
    ("nie", None, "pl-PL", "pl"),
    ("evet", None, "TR", "tr"),
    ("hello", None, "tr", "tr"),
    ("ok", None, "de", "en"),
    ("1234", None, "xx", "en"),
    ("1234", "de", None, "en"),
    # ...the text still wins when it is clear...
    ("where is my order", None, "tr", "en"),
    ("siparisim nerede", None, "pl", "tr"),
    ("gdzie jest moja paczka", None, "tr", "pl"),
    ("dziekuje", None, "tr", "pl"),
    # ...a one-word greeting can open the conversation...
    ("merhaba", None, None, "tr"),
    ("merhaba", None, "pl", "tr"),
    ("dzieki", None, None, "pl"),
    # ...and with a conversation running the hint only breaks Turkish/Polish ties.
    ("bank karta", "en", None, "tr"),
    ("bank karta", "en", "pl", "pl"),
    ("bank karta", "en", "tr", "tr"),
    ("ok", "pl", "tr", "pl"),
    ("tak", "en", "pl", "en"),
    ("merhaba", "en", None, "en"),
]


@pytest.mark.parametrize(("text", "current", "hint", "expected"), NO_SIGNAL)
def test_too_little_signal_keeps_the_language(
    detector: LanguageDetector, text: str, current: str | None, hint: str | None, expected: str
) -> None:
    check(detector, text, current, hint, expected)


@pytest.mark.parametrize(("text", "current", "hint", "expected"), PAYLOADS)
def test_button_payloads_keep_the_language(
    detector: LanguageDetector, text: str, current: str | None, hint: str | None, expected: str
) -> None:
    check(detector, text, current, hint, expected)


@pytest.mark.parametrize(("text", "current", "hint", "expected"), TURKISH)
def test_turkish(
    detector: LanguageDetector, text: str, current: str | None, hint: str | None, expected: str
) -> None:
    check(detector, text, current, hint, expected)


@pytest.mark.parametrize(("text", "current", "hint", "expected"), POLISH)
def test_polish(
    detector: LanguageDetector, text: str, current: str | None, hint: str | None, expected: str
) -> None:
    check(detector, text, current, hint, expected)


@pytest.mark.parametrize(("text", "current", "hint", "expected"), ENGLISH)
def test_english(
    detector: LanguageDetector, text: str, current: str | None, hint: str | None, expected: str
) -> None:
    check(detector, text, current, hint, expected)


@pytest.mark.parametrize(("text", "current", "hint", "expected"), OTHER_LANGUAGES)
def test_other_languages_are_answered_in_english(
    detector: LanguageDetector, text: str, current: str | None, hint: str | None, expected: str
) -> None:
    check(detector, text, current, hint, expected)


@pytest.mark.parametrize(("text", "current", "hint", "expected"), SHORT_AND_AMBIGUOUS)
def test_short_or_ambiguous_messages_keep_the_language(
    detector: LanguageDetector, text: str, current: str | None, hint: str | None, expected: str
) -> None:
    check(detector, text, current, hint, expected)


@pytest.mark.parametrize(("text", "current", "hint", "expected"), HINTS)
def test_hint(
    detector: LanguageDetector, text: str, current: str | None, hint: str | None, expected: str
) -> None:
    check(detector, text, current, hint, expected)


@pytest.mark.parametrize(
    ("hint", "turns"),
    [
        (
            "en",
            [
                ("hi, where is my order?", "en"),
                ("#204518", "en"),
                ("merhaba, türkçe yazabilir miyim? kargom hala gelmedi", "tr"),
                ("evet", "tr"),
                ("ok", "tr"),
                ("/affirm", "tr"),
                ("tamam teşekkürler", "tr"),
            ],
        ),
        (
            "tr",
            [
                ("gdzie jest moja paczka", "pl"),
                ("204518", "pl"),
                ("tak", "pl"),
                ("nie", "pl"),
                ("sorry, can we continue in English?", "en"),
                ("yes", "en"),
                ("Wo ist mein Paket?", "en"),
                ("dziekuje bardzo", "pl"),
            ],
        ),
    ],
)
def test_conversation(detector: LanguageDetector, hint: str, turns: list[tuple[str, str]]) -> None:
    current: str | None = None
    for text, expected in turns:
        current = choose_language(text, current, hint, detector=detector)
        assert current == expected, f"after {text!r}"


def test_result_is_always_supported(detector: LanguageDetector) -> None:
    texts = ["", "ok", "Wo ist mein Paket?", "siparisim nerede", "nie", "Где мой заказ?"]
    for text in texts:
        for current in (*SUPPORTED, None, "de", "garbage"):
            assert choose_language(text, current, detector=detector) in SUPPORTED


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("tr", "tr"),
        ("pl-PL", "pl"),
        ("tr_TR", "tr"),
        ("EN-us", "en"),
        (" pl ", "pl"),
        ("de", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_language_code(code: str | None, expected: str | None) -> None:
    assert normalise_language_code(code) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("siparişim #204518 nerede", ["siparişim", "nerede"]),
        ("mail: jan@wp.pl, tel. 600123456", ["mail", "tel"]),
        ("ok ok dzięki 😊", ["dzięki"]),
        ("hahaha hi", ["hi"]),
        ("I live in Gdańsk. Gdańsk is nice", ["I", "live", "in", "Gdańsk", "is", "nice"]),
        ("Ayşe Yılmaz", []),
        ("GDZIE JEST MOJA PACZKA", ["GDZIE", "JEST", "MOJA", "PACZKA"]),
        ("I'd like a refund", ["I'd", "like", "a", "refund"]),
    ],
)
def test_content_words(text: str, expected: list[str]) -> None:
    assert content_words(text) == expected


def test_confidences_cover_the_candidates(detector: LanguageDetector) -> None:
    confidences = detector.confidences("gdzie jest moja paczka")
    assert set(confidences) == set(CANDIDATES)
    assert sum(confidences.values()) == pytest.approx(1.0)
    assert max(confidences, key=confidences.__getitem__) == "pl"


def test_default_detector_is_shared() -> None:
    assert default_detector() is default_detector()
    assert DEFAULT_LANGUAGE in SUPPORTED


def test_import_builds_nothing() -> None:
    code = "import bot.nlu.language as m; print(m.default_detector.cache_info().currsize)"
    result = subprocess.run(  # the real question is a fresh interpreter's state
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[3],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "0"

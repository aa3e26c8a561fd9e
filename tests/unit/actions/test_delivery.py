"""Delivery questions: finding the country in en/tr/pl, asking for it, telling the terms."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import INTERRUPTING_INTENTS
from actions.delivery import ActionAskCountry, ActionDeliveryInfo, ValidateDeliveryForm
from actions.services import Services
from tests.unit.actions.conftest import DOMAIN, assert_renders, make_tracker, responses

# What ValidateDeliveryForm.run needs of the domain: the form's slots and their mappings.
FORM_DOMAIN: dict[str, Any] = {
    "slots": {
        "country": {
            "type": "text",
            "influence_conversation": False,
            "mappings": [{"type": "custom"}],
        },
    },
    "forms": {"delivery_form": {"required_slots": ["country"]}},
}

SERVED = ["PL", "TR", "DE", "AT", "CZ", "NL", "FR", "IT", "ES", "GB"]
NAMES = {
    "en": ["Poland", "Turkey", "Germany", "Austria", "Czechia", "the Netherlands", "France",
           "Italy", "Spain", "the United Kingdom"],
    "tr": ["Polonya", "Türkiye", "Almanya", "Avusturya", "Çekya", "Hollanda", "Fransa",
           "İtalya", "İspanya", "Birleşik Krallık"],
    "pl": ["Polska", "Turcja", "Niemcy", "Austria", "Czechy", "Holandia", "Francja",
           "Włochy", "Hiszpania", "Wielka Brytania"],
}  # fmt: skip
# On buttons the English article goes ("Netherlands"); in sentences it stays.
BUTTONS = {lang: [n.removeprefix("the ") for n in names] for lang, names in NAMES.items()}


def delivery_tracker(
    text: str, intent: str = "delivery_question", language: str = "en", requested: bool = False
) -> Tracker:
    slots = {"language": language, "requested_slot": "country" if requested else None}
    return make_tracker(text, intent, slots=slots, active_loop="delivery_form")


def test_served_countries_are_those_of_kopru_yml(services: Services) -> None:
    assert list(services.business.delivery) == SERVED


# --- extracting the country --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "requested", "code"),
    [
        # With the question.
        ("How long does delivery to Germany take?", "en", False, "DE"),
        ("Do you ship to the UK?", "en", False, "GB"),
        ("What does shipping to the Netherlands cost?", "en", False, "NL"),
        ("Almanya'ya kargo ne kadar sürer?", "tr", False, "DE"),
        ("Türkiye'ye teslimat kaç gün sürüyor?", "tr", False, "TR"),
        ("İtalya'ya gönderim var mı?", "tr", False, "IT"),
        ("Ile trwa dostawa do Niemiec?", "pl", False, "DE"),
        ("Ile kosztuje wysyłka do Wielkiej Brytanii?", "pl", False, "GB"),
        ("Czy wysyłacie do Czech?", "pl", False, "CZ"),
        # As the answer to our question.
        ("Germany", "en", True, "DE"),
        ("to Spain please", "en", True, "ES"),
        ("Hollanda", "tr", True, "NL"),
        ("Çekya'ya", "tr", True, "CZ"),
        ("Polska", "pl", True, "PL"),
        ("do Włoch", "pl", True, "IT"),
        # A country we do not serve is extracted; validation refuses it.
        ("Do you deliver to the USA?", "en", False, "US"),
    ],
)
async def test_country_is_found_in_the_text(
    services: Services,
    dispatcher: CollectingDispatcher,
    text: str,
    language: str,
    requested: bool,
    code: str,
) -> None:
    intent = "inform" if requested else "delivery_question"
    tracker = delivery_tracker(text, intent, language, requested)
    result = await ValidateDeliveryForm().extract_country(dispatcher, tracker, FORM_DOMAIN)
    assert result == {"country": code}
    assert dispatcher.messages == []


async def test_question_without_a_country_leaves_the_slot_to_ask(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = delivery_tracker("How long does delivery take?")
    result = await ValidateDeliveryForm().extract_country(dispatcher, tracker, FORM_DOMAIN)
    assert result == {}
    assert dispatcher.messages == []


@pytest.mark.parametrize("intent", sorted(INTERRUPTING_INTENTS))
@pytest.mark.parametrize("requested", [False, True])
async def test_interrupting_intents_are_not_taken_as_a_country(
    services: Services, dispatcher: CollectingDispatcher, intent: str, requested: bool
) -> None:
    text = "Germany delivery is a disgrace, get me a person"
    tracker = delivery_tracker(text, intent, requested=requested)
    result = await ValidateDeliveryForm().extract_country(dispatcher, tracker, FORM_DOMAIN)
    assert result == {}
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("text", "language"),
    [("Japan", "en"), ("Japonya", "tr"), ("Japonia", "pl"), ("I don't know", "en")],
)
async def test_unknown_answer_lists_the_countries_in_the_customers_language(
    services: Services, dispatcher: CollectingDispatcher, text: str, language: str
) -> None:
    tracker = delivery_tracker(text, "inform", language, requested=True)
    result = await ValidateDeliveryForm().extract_country(dispatcher, tracker, FORM_DOMAIN)
    assert result == {"country": None}
    assert responses(dispatcher) == ["utter_invalid_country"]
    assert dispatcher.messages[0]["countries"] == ", ".join(NAMES[language])
    assert_renders(dispatcher.messages[0])


# --- validating the country ------------------------------------------------------------


@pytest.mark.parametrize("code", SERVED)
async def test_served_country_is_valid(
    services: Services, dispatcher: CollectingDispatcher, code: str
) -> None:
    result = await ValidateDeliveryForm().validate_country(
        code, dispatcher, delivery_tracker(code), FORM_DOMAIN
    )
    assert result == {"country": code}
    assert dispatcher.messages == []


@pytest.mark.parametrize("language", ["en", "tr", "pl"])
@pytest.mark.parametrize("code", ["US", "UA", "SE"])
async def test_unserved_country_is_refused_with_the_list(
    services: Services, dispatcher: CollectingDispatcher, code: str, language: str
) -> None:
    tracker = delivery_tracker("", language=language)
    result = await ValidateDeliveryForm().validate_country(code, dispatcher, tracker, FORM_DOMAIN)
    assert result == {"country": None}
    assert responses(dispatcher) == ["utter_invalid_country"]
    assert dispatcher.messages[0]["countries"] == ", ".join(NAMES[language])


async def test_no_country_is_not_complained_about_twice(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    result = await ValidateDeliveryForm().validate_country(
        None, dispatcher, delivery_tracker(""), FORM_DOMAIN
    )
    assert result == {"country": None}
    assert dispatcher.messages == []


# --- the form as Rasa runs it: extraction, then validation ------------------------------


@pytest.mark.parametrize(
    ("text", "intent", "language", "requested", "events", "said"),
    [
        ("Delivery to Germany?", "delivery_question", "en", False, [SlotSet("country", "DE")], []),
        ("Polonya'ya kargo?", "delivery_question", "tr", False, [SlotSet("country", "PL")], []),
        ("Niemcy", "inform", "pl", True, [SlotSet("country", "DE")], []),
        ("How long does delivery take?", "delivery_question", "en", False, [], []),
        ("Do you ship to the USA?", "delivery_question", "en", False,
         [SlotSet("country", None)], ["utter_invalid_country"]),
        ("Japonya", "inform", "tr", True, [SlotSet("country", None)], ["utter_invalid_country"]),
        ("I want a human", "request_human", "en", True, [], []),
    ],
)  # fmt: skip
async def test_form_run(
    services: Services,
    dispatcher: CollectingDispatcher,
    text: str,
    intent: str,
    language: str,
    requested: bool,
    events: list[dict[str, Any]],
    said: list[str],
) -> None:
    tracker = delivery_tracker(text, intent, language, requested)
    assert await ValidateDeliveryForm().run(dispatcher, tracker, FORM_DOMAIN) == events
    assert responses(dispatcher) == said
    if said:
        assert dispatcher.messages[0]["countries"] == ", ".join(NAMES[language])


# --- asking for the country ------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "tr", "pl"])
async def test_question_offers_the_countries_as_buttons(
    services: Services, dispatcher: CollectingDispatcher, language: str
) -> None:
    tracker = delivery_tracker("", language=language)
    assert await ActionAskCountry().run(dispatcher, tracker, DOMAIN) == []
    assert responses(dispatcher) == ["utter_ask_country"]
    buttons = dispatcher.messages[0]["buttons"]
    assert buttons == [{"title": name, "payload": name} for name in BUTTONS[language]]


@pytest.mark.parametrize("language", ["en", "tr", "pl"])
async def test_every_button_answers_the_question(services: Services, language: str) -> None:
    # A tap sends the button's payload as text: it must be read back as that country.
    found = []
    for name in BUTTONS[language]:
        tracker = delivery_tracker(name, "inform", language, requested=True)
        dispatcher = CollectingDispatcher()
        found.append(await ValidateDeliveryForm().run(dispatcher, tracker, FORM_DOMAIN))
        assert dispatcher.messages == []
    assert found == [[SlotSet("country", code)] for code in SERVED]


async def test_question_without_a_language_is_in_english(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("", "delivery_question", slots={"language": None})
    await ActionAskCountry().run(dispatcher, tracker, DOMAIN)
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == BUTTONS["en"]


# --- telling the terms -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "code", "country_name", "days_min", "days_max", "cost", "free_over"),
    [
        ("en", "DE", "Germany", 2, 4, "6.90 EUR", "100.00 EUR"),
        # Turkish and Polish write a decimal comma.
        ("tr", "DE", "Almanya", 2, 4, "6,90 EUR", "100,00 EUR"),
        ("pl", "DE", "Niemcy", 2, 4, "6,90 EUR", "100,00 EUR"),
        ("en", "GB", "the United Kingdom", 4, 8, "12.90 EUR", "150.00 EUR"),
        ("tr", "TR", "Türkiye", 2, 4, "4,90 EUR", "50,00 EUR"),
        ("tr", "IT", "İtalya", 3, 6, "8,90 EUR", "120,00 EUR"),
        ("pl", "PL", "Polska", 1, 2, "3,90 EUR", "50,00 EUR"),
        ("pl", "CZ", "Czechy", 2, 4, "5,90 EUR", "80,00 EUR"),
        (None, "ES", "Spain", 4, 7, "9.90 EUR", "120.00 EUR"),
    ],
)
async def test_delivery_terms_in_the_customers_language(
    services: Services,
    dispatcher: CollectingDispatcher,
    language: str | None,
    code: str,
    country_name: str,
    days_min: int,
    days_max: int,
    cost: str,
    free_over: str,
) -> None:
    tracker = make_tracker("", "inform", slots={"language": language, "country": code})
    events = await ActionDeliveryInfo().run(dispatcher, tracker, DOMAIN)

    assert responses(dispatcher) == ["utter_delivery_info", "utter_ask_resolved"]
    info = dispatcher.messages[0]
    assert (
        info["country_name"],
        info["days_min"],
        info["days_max"],
        info["cost"],
        info["free_over"],
    ) == (country_name, days_min, days_max, cost, free_over)
    assert_renders(info)
    assert events == [SlotSet("country", None), SlotSet("pending", "resolution_check")]


async def test_country_no_longer_served_says_nothing(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("", "inform", slots={"country": "US"})
    events = await ActionDeliveryInfo().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages == []
    assert events == [SlotSet("country", None)]

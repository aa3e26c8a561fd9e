"""Delivery times and costs per country, from the business configuration."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    INTERRUPTING_INTENTS,
    ask_resolved,
    language_of,
    latest_intent,
    reset_form,
)
from actions.services import get_services
from bot.shop.countries import country_name, find_country

__all__ = ["ActionAskCountry", "ActionDeliveryInfo", "ValidateDeliveryForm"]


def _served_countries(language: str) -> list[tuple[str, str]]:
    business = get_services().business
    return [(code, country_name(code, language)) for code in business.delivery]


class ValidateDeliveryForm(FormValidationAction):
    def name(self) -> str:
        return "validate_delivery_form"

    async def extract_country(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # The country can come with the question ("delivery to Germany?") or as the
        # answer to ours; either way it is found in the text, in any of the languages.
        if latest_intent(tracker) in INTERRUPTING_INTENTS:
            return {}
        code = find_country(str(tracker.latest_message.get("text") or ""))
        if code is not None:
            return {"country": code}
        if tracker.get_slot("requested_slot") == "country":
            names = ", ".join(name for _code, name in _served_countries(language_of(tracker)))
            dispatcher.utter_message(response="utter_invalid_country", countries=names)
            return {"country": None}
        return {}

    async def validate_country(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"country": None}
        if str(value) in get_services().business.delivery:
            return {"country": str(value)}
        names = ", ".join(name for _code, name in _served_countries(language_of(tracker)))
        dispatcher.utter_message(response="utter_invalid_country", countries=names)
        return {"country": None}


class ActionAskCountry(Action):
    """Ask for the country, with the countries we deliver to as buttons."""

    def name(self) -> str:
        return "action_ask_country"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # "the Netherlands" reads well in a sentence, "Netherlands" on a button.
        names = [
            name.removeprefix("the ") for _code, name in _served_countries(language_of(tracker))
        ]
        buttons = [{"title": name, "payload": name} for name in names]
        dispatcher.utter_message(response="utter_ask_country", buttons=buttons)
        return []


class ActionDeliveryInfo(Action):
    def name(self) -> str:
        return "action_delivery_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        business = get_services().business
        code = str(tracker.get_slot("country") or "")
        events = reset_form(domain, "delivery_form")
        terms = business.delivery.get(code)
        if terms is None:  # only reachable if kopru.yml changed under a running form
            return events
        dispatcher.utter_message(
            response="utter_delivery_info",
            country_name=country_name(code, language_of(tracker)),
            days_min=terms.days_min,
            days_max=terms.days_max,
            cost=business.money(terms.cost, language_of(tracker)),
            free_over=business.money(terms.free_over, language_of(tracker)),
        )
        return events + ask_resolved(dispatcher)

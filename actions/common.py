"""Helpers shared by the action modules: language, slots, questions, resetting forms."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.nlu.language import DEFAULT_LANGUAGE, SUPPORTED

__all__ = [
    "INTERRUPTING_INTENTS",
    "ask_resolved",
    "language_of",
    "latest_intent",
    "offer_human",
    "reset_form",
]

# Intents that leave a form: the form must not swallow them as an answer.
INTERRUPTING_INTENTS = frozenset({"request_human", "complaint", "goodbye", "out_of_scope", "faq"})


def language_of(tracker: Tracker) -> str:
    language = tracker.get_slot("language")
    return language if language in SUPPORTED else DEFAULT_LANGUAGE


def latest_intent(tracker: Tracker) -> str:
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")


def ask_resolved(dispatcher: CollectingDispatcher) -> list[EventType]:
    """After a self-service answer: ask whether it solved the problem."""
    dispatcher.utter_message(response="utter_ask_resolved")
    return [SlotSet("pending", "resolution_check")]


def offer_human(
    dispatcher: CollectingDispatcher, reason: str, response: str = "utter_offer_human"
) -> list[EventType]:
    """Offer a person; a yes opens an escalation for `reason`."""
    dispatcher.utter_message(response=response)
    return [SlotSet("pending", "offer_human"), SlotSet("handoff_reason", reason)]


def reset_form(domain: DomainDict, form: str) -> list[EventType]:
    """Clear a form's slots (as the domain lists them) so the next request asks afresh."""
    spec: Any = (domain.get("forms") or {}).get(form) or {}
    return [SlotSet(slot, None) for slot in spec.get("required_slots", [])]

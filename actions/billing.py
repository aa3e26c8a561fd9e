"""Billing questions, answered from the business configuration."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import ask_resolved, language_of
from actions.services import get_services

__all__ = ["ActionBillingInfo"]


class ActionBillingInfo(Action):
    def name(self) -> str:
        return "action_billing_info"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        methods = get_services().business.payment_methods_for(language_of(tracker))
        dispatcher.utter_message(response="utter_billing_info", payment_methods=", ".join(methods))
        return ask_resolved(dispatcher)

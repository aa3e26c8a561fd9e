"""The greeting, by the customer's first name when the channel tells it."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

__all__ = ["ActionGreet"]


class ActionGreet(Action):
    def name(self) -> str:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        name = tracker.get_slot("customer_name")
        if name:
            dispatcher.utter_message(response="utter_greet_name", customer_name=name)
        else:
            dispatcher.utter_message(response="utter_greet")
        return []

"""Guided technical troubleshooting: one step at a time, a person after the last."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import latest_intent, offer_human
from actions.services import get_services
from bot.desk.escalation import Reason
from bot.shop.troubleshooting import next_step

__all__ = ["ActionTroubleshoot"]


class ActionTroubleshoot(Action):
    def name(self) -> str:
        return "action_troubleshoot"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        steps = get_services().business.troubleshooting_steps
        continuing = latest_intent(tracker) == "deny" and tracker.get_slot("pending") == "tech_step"
        shown = int(tracker.get_slot("tech_step") or 0)
        step = next_step(steps, shown, restart=not continuing)
        if step.response is None:
            events: list[EventType] = [SlotSet("tech_step", None)]
            return events + offer_human(
                dispatcher, Reason.FAILED_GUIDED_FLOW.value, "utter_offer_human"
            )
        dispatcher.utter_message(response=step.response)
        dispatcher.utter_message(response="utter_ask_step_helped")
        return [SlotSet("tech_step", float(step.shown)), SlotSet("pending", "tech_step")]

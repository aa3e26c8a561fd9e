"""Resolution check, offering a person, escalation and fallback."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import ask_resolved, language_of, offer_human
from actions.services import get_services
from bot.errors import KopruError
from bot.escalation import EscalationRequest, Reason, should_escalate
from bot.store import Outcome
from bot.transcript import intents_seen, session_started_at, transcript, user_intents

__all__ = [
    "ActionAskResolved",
    "ActionDeclineHuman",
    "ActionEscalate",
    "ActionFallback",
    "ActionOfferHuman",
    "ActionResolvedByBot",
    "escalate",
]

logger = logging.getLogger(__name__)

# Slots that tell an agent what the customer already said.
CONTEXT_SLOTS = ("order_number", "email", "return_item", "return_reason", "country")


def _slots_seen(tracker: Tracker) -> dict[str, Any]:
    """The last value each context slot had in the session (forms clear them after use)."""
    seen: dict[str, Any] = {}
    for event in tracker.events:
        if event.get("event") == "session_started":
            seen.clear()
        elif (
            event.get("event") == "slot"
            and event.get("name") in CONTEXT_SLOTS
            and event.get("value") not in (None, "")
        ):
            seen[event["name"]] = event["value"]
    for slot in CONTEXT_SLOTS:
        if tracker.get_slot(slot) not in (None, ""):
            seen[slot] = tracker.get_slot(slot)
    return seen


async def escalate(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: Reason
) -> list[EventType]:
    """Hand the conversation to a person and tell the customer."""
    request = EscalationRequest(
        sender_id=tracker.sender_id,
        session_started_at=session_started_at(tracker.events),
        channel=tracker.get_latest_input_channel() or "unknown",
        language=language_of(tracker),
        reason=reason,
        intents=intents_seen(tracker.events),
        slots=_slots_seen(tracker),
        transcript=transcript(tracker.events),
        customer_name=tracker.get_slot("customer_name"),
    )
    events: list[EventType] = [SlotSet("pending", None), SlotSet("handoff_reason", None)]
    if tracker.active_loop.get("name"):
        events += [ActiveLoop(None), SlotSet("requested_slot", None)]
    if reason is Reason.COMPLAINT:
        dispatcher.utter_message(response="utter_complaint_sorry")
    try:
        record = await get_services().escalator.escalate(request)
    except KopruError:
        logger.exception("escalation of %s failed", tracker.sender_id)
        dispatcher.utter_message(response="utter_escalation_failed")
        return events
    dispatcher.utter_message(response="utter_escalated", reference=record.reference)
    return events


class ActionAskResolved(Action):
    def name(self) -> str:
        return "action_ask_resolved"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return ask_resolved(dispatcher)


class ActionResolvedByBot(Action):
    def name(self) -> str:
        return "action_resolved_by_bot"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        store = get_services().store
        try:
            await asyncio.to_thread(
                store.set_outcome,
                tracker.sender_id,
                session_started_at(tracker.events),
                Outcome.RESOLVED_BOT,
                time.time(),
            )
        except KopruError:
            logger.exception("could not record the resolution of %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_glad_resolved")
        return [SlotSet("pending", None), SlotSet("tech_step", None)]


class ActionOfferHuman(Action):
    def name(self) -> str:
        return "action_offer_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return offer_human(dispatcher, Reason.NOT_HELPED.value)


class ActionDeclineHuman(Action):
    def name(self) -> str:
        return "action_decline_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_human_declined")
        return [SlotSet("pending", None), SlotSet("handoff_reason", None)]


class ActionEscalate(Action):
    def name(self) -> str:
        return "action_escalate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reason = should_escalate(
            user_intents(tracker.events),
            pending=tracker.get_slot("pending"),
            offered_for=tracker.get_slot("handoff_reason"),
        )
        return await escalate(dispatcher, tracker, reason or Reason.CUSTOMER_REQUEST)


class ActionFallback(Action):
    """Not understood: list what the bot can do; the second time in a row, get a person."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        reason = should_escalate(user_intents(tracker.events))
        if reason is Reason.REPEATED_FALLBACK:
            return await escalate(dispatcher, tracker, reason)
        dispatcher.utter_message(response="utter_fallback")
        return []

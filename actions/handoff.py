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

from actions.common import ask_resolved, language_of, latest_intent, offer_human
from actions.services import get_services
from actions.survey import start_survey
from bot.desk.escalation import EscalationRequest, Reason, should_escalate
from bot.desk.handoff import Handoff, State
from bot.desk.transcript import intents_seen, session_started_at, transcript, user_intents
from bot.desk.waiting import wait_minutes
from bot.errors import KopruError
from bot.phrases import format_minutes_about, format_when
from bot.storage.store import Outcome

__all__ = [
    "ActionAskResolved",
    "ActionDeclineHuman",
    "ActionEscalate",
    "ActionFallback",
    "ActionHandoffNotice",
    "ActionOfferHuman",
    "ActionRelayToAgent",
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
    """Hand the conversation to a person and tell the customer what happens next."""
    language = language_of(tracker)
    request = EscalationRequest(
        sender_id=tracker.sender_id,
        session_started_at=session_started_at(tracker.events),
        channel=tracker.get_latest_input_channel() or "unknown",
        language=language,
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
    services = get_services()
    try:
        escalation = await services.handoffs.escalate(request)
    except KopruError:
        logger.exception("escalation of %s failed", tracker.sender_id)
        dispatcher.utter_message(response="utter_escalation_failed")
        return events
    handoff = escalation.handoff
    if escalation.ticket:
        dispatcher.utter_message(
            response="utter_ticket_opened",
            ticket=handoff.ticket_reference,
            answer_by=_answer_by(handoff, language),
        )
    else:
        dispatcher.utter_message(
            response="utter_escalated",
            reference=handoff.reference,
            place=escalation.place or 1,
            wait=format_minutes_about(wait_minutes(escalation.wait or 0.0), language),
        )
    return [*events, SlotSet("handoff", handoff.state.value if handoff.active else None)]


def _answer_by(handoff: Handoff, language: str) -> str:
    config = get_services().handoffs.config
    return format_when(handoff.answer_by or time.time(), config.timezone, language, time.time())


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
        survey = await start_survey(dispatcher, tracker, "bot")
        return [SlotSet("pending", None), SlotSet("tech_step", None), *survey]


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


class ActionRelayToAgent(Action):
    """While a person has the conversation: pass the customer's message on, say nothing."""

    def name(self) -> str:
        return "action_relay_to_agent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        message = tracker.latest_message
        text = str(message.get("text") or "")
        if latest_intent(tracker) == "unsupported_message" or text.startswith("/"):
            text = UNSUPPORTED_NOTE
        try:
            handoff = await get_services().handoffs.relay_from_customer(tracker.sender_id, text)
        except KopruError:
            logger.exception("could not relay a message of %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_relay_failed")
            return []
        if handoff is None:
            # The agent ended the handoff a moment ago: the bot has the conversation again.
            dispatcher.utter_message(response="utter_fallback")
            return [SlotSet("handoff", None)]
        return []


# What the agents see when the customer sends a sticker, photo or file.
UNSUPPORTED_NOTE = "(the customer sent something other than text: a sticker, photo or file)"

_NOTICES = {
    "EXTERNAL_agent_joined": "utter_agent_joined",
    "EXTERNAL_agent_left": "utter_agent_left",
    "EXTERNAL_handoff_resolved": "utter_handoff_resolved",
    "EXTERNAL_handoff_ticket": "utter_queue_timeout",
}


class ActionHandoffNotice(Action):
    """Tells the customer that the handoff changed state (triggered by the agent desk)."""

    def name(self) -> str:
        return "action_handoff_notice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        response = _NOTICES.get(latest_intent(tracker))
        repo = get_services().handoffs.repo
        handoffs = await asyncio.to_thread(repo.of_sender, tracker.sender_id)
        if response is None or not handoffs:
            logger.warning("no handoff notice for %s", tracker.sender_id)
            return []
        handoff = handoffs[-1]
        language = language_of(tracker)
        dispatcher.utter_message(
            response=response,
            agent_name=handoff.agent_name or "",
            ticket=handoff.ticket_reference or "",
            answer_by=_answer_by(handoff, language) if handoff.answer_by else "",
        )
        events: list[EventType] = [
            SlotSet("handoff", handoff.state.value if handoff.active else None)
        ]
        if handoff.state is State.RESOLVED:
            resolver = handoff.ended_by or handoff.agent_id or "agent"
            events += await start_survey(dispatcher, tracker, resolver)
        return events

"""Runs on every customer message (custom mapping of the `language` and `handoff` slots).

It mirrors the handoff state from the database, picks the answer language, lets an
unanswered yes/no question expire, and records the message in Köprü's conversation log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import latest_intent
from actions.services import get_services
from actions.survey import abandon_if_moved_on
from bot.desk.transcript import first_answer_seconds, session_started_at
from bot.errors import StoreError
from bot.nlu.language import choose_language
from bot.storage.store import TurnRecord

__all__ = ["ActionObserveTurn"]

logger = logging.getLogger(__name__)


def question_still_open(pending: str, intent: str) -> bool:
    """Whether the customer's message answers the bot's pending yes/no question.

    Anything else means the customer moved on, and a later "yes" must not answer it.
    A thank-you answers "did that solve it?" (it means yes) but not the offer of a person.
    """
    if intent in ("affirm", "deny"):
        return True
    return intent == "thank_you" and pending in ("resolution_check", "tech_step")


def _language_hint(metadata: Any) -> str | None:
    if isinstance(metadata, dict):
        hint = metadata.get("language_code") or metadata.get("language")
        return str(hint) if hint else None
    return None


def _first_name(metadata: Any) -> str | None:
    if isinstance(metadata, dict) and metadata.get("first_name"):
        return str(metadata["first_name"]).strip()[:64] or None
    return None


class ActionObserveTurn(Action):
    def name(self) -> str:
        return "action_observe_turn"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        message = tracker.latest_message
        handoff = await self._handoff_state(tracker)
        events: list[EventType] = []
        if handoff != tracker.get_slot("handoff"):
            events.append(SlotSet("handoff", handoff))
        if (message.get("metadata") or {}).get("is_external"):
            # Triggered by Köprü itself (the agent desk), not typed by the customer.
            return events
        events += await abandon_if_moved_on(tracker)
        current = tracker.get_slot("language")
        language = choose_language(
            str(message.get("text") or ""),
            current=current,
            hint=_language_hint(message.get("metadata")),
        )
        intent = latest_intent(tracker)
        if language != current:
            events.append(SlotSet("language", language))
        name = _first_name(message.get("metadata"))
        if name and name != tracker.get_slot("customer_name"):
            events.append(SlotSet("customer_name", name))
        pending = tracker.get_slot("pending")
        if pending is not None and not question_still_open(pending, intent):
            events.append(SlotSet("pending", None))

        turn = TurnRecord(
            sender_id=tracker.sender_id,
            session_started_at=session_started_at(tracker.events),
            channel=tracker.get_latest_input_channel() or "unknown",
            language=language,
            intent=intent or None,
            at=time.time(),
            first_answer_seconds=first_answer_seconds(tracker.events),
        )
        try:
            await asyncio.to_thread(get_services().store.record_turn, turn)
        except StoreError:
            # The customer still gets an answer; the gap in the log is reported.
            logger.exception("could not record a turn of %s", tracker.sender_id)
        return events

    @staticmethod
    async def _handoff_state(tracker: Tracker) -> str | None:
        """`queued` or `claimed` while a person has the conversation, as the database says."""
        try:
            handoff = await get_services().handoffs.active_for(tracker.sender_id)
        except StoreError:
            logger.exception("could not read the handoff state of %s", tracker.sender_id)
            return tracker.get_slot("handoff")  # type: ignore[no-any-return]
        return handoff.state.value if handoff else None

"""The survey at the end of a conversation: NPS (0-10), an optional reason, CSAT (1-5)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import language_of, latest_intent
from actions.services import get_services
from bot.desk.handoff import State
from bot.desk.transcript import session_started_at, user_intents
from bot.errors import KopruError
from bot.insights.survey import Interpretation, Kind, Step, SurveyRepository, interpret
from bot.insights.topics import SELF_SERVICE_INTENTS

__all__ = [
    "ActionGoodbye",
    "ActionSurveyAnswer",
    "abandon_if_moved_on",
    "start_survey",
]

logger = logging.getLogger(__name__)

_QUESTIONS = {Step.NPS: "utter_ask_nps", Step.REASON: "utter_ask_survey_reason",
              Step.CSAT: "utter_ask_csat"}  # fmt: skip
_AGAIN = {Step.NPS: "utter_survey_invalid_nps", Step.REASON: "utter_survey_invalid_reason",
          Step.CSAT: "utter_survey_invalid_csat"}  # fmt: skip


def _repository() -> SurveyRepository:
    return SurveyRepository(get_services().store)


def _message(tracker: Tracker) -> tuple[str, str, float]:
    latest = tracker.latest_message
    intent = latest.get("intent") or {}
    return (
        str(latest.get("text") or ""),
        latest_intent(tracker),
        float(intent.get("confidence") or 0.0),
    )


async def start_survey(
    dispatcher: CollectingDispatcher, tracker: Tracker, resolver: str
) -> list[EventType]:
    """Ask the NPS question, unless the customer was asked within the cool-down."""
    services = get_services()
    repository = _repository()
    now = time.time()
    try:
        last = await asyncio.to_thread(repository.last_asked, tracker.sender_id)
        started = session_started_at(tracker.events)
        # At most once per conversation, and once per cool-down.
        if last is not None and (now - last < services.business.survey.cooldown or last >= started):
            return []
        conversation = await asyncio.to_thread(
            services.store.conversation, tracker.sender_id, started
        )
        await asyncio.to_thread(
            repository.start,
            sender_id=tracker.sender_id,
            conversation_id=conversation.id if conversation else None,
            channel=tracker.get_latest_input_channel() or "unknown",
            language=language_of(tracker),
            intents=[i for i in user_intents(tracker.events) if i],
            resolver=resolver,
            at=now,
        )
    except KopruError:
        # Without a place to keep the answers there is no point in asking.
        logger.exception("could not start the survey for %s", tracker.sender_id)
        return []
    dispatcher.utter_message(response=_QUESTIONS[Step.NPS])
    return [SlotSet("survey", Step.NPS.value), SlotSet("survey_retry", False)]


async def abandon_if_moved_on(tracker: Tracker) -> list[EventType]:
    """Called for every message: drop the survey when the customer asks something new."""
    step = tracker.get_slot("survey")
    if step not in {s.value for s in Step}:
        return []
    if await _asked_in_an_earlier_session(tracker):
        # The slots were carried over into a new session: that survey is over.
        await _end(tracker.sender_id)
        return [SlotSet("survey", None), SlotSet("survey_retry", None)]
    text, intent, confidence = _message(tracker)
    if interpret(Step(step), text, intent, confidence).kind is not Kind.NEW_TOPIC:
        return []
    await _end(tracker.sender_id)
    return [SlotSet("survey", None), SlotSet("survey_retry", None)]


async def _asked_in_an_earlier_session(tracker: Tracker) -> bool:
    try:
        survey = await asyncio.to_thread(_repository().open_for, tracker.sender_id)
    except KopruError:
        return False
    return survey is None or survey.asked_at < session_started_at(tracker.events)


async def _end(sender_id: str, **values: Any) -> None:
    repository = _repository()
    try:
        survey = await asyncio.to_thread(repository.open_for, sender_id)
        if survey is not None:
            await asyncio.to_thread(repository.update, survey.id, status="ended", **values)
    except KopruError:
        logger.exception("could not end the survey of %s", sender_id)


class ActionSurveyAnswer(Action):
    """Takes the answer to the current survey question and asks the next one."""

    def name(self) -> str:
        return "action_survey_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        step = Step(tracker.get_slot("survey") or Step.NPS.value)
        text, intent, confidence = _message(tracker)
        answer = interpret(step, text, intent, confidence)
        if answer.kind in (Kind.INVALID, Kind.NEW_TOPIC):
            if tracker.get_slot("survey_retry"):
                await _end(tracker.sender_id)
                dispatcher.utter_message(response="utter_survey_end")
                return [SlotSet("survey", None), SlotSet("survey_retry", None)]
            dispatcher.utter_message(response=_AGAIN[step])
            return [SlotSet("survey_retry", True)]
        try:
            await self._store(tracker.sender_id, step, answer)
        except KopruError:
            logger.exception("could not store a survey answer of %s", tracker.sender_id)
        following = {Step.NPS: Step.REASON, Step.REASON: Step.CSAT}.get(step)
        if following is None:
            dispatcher.utter_message(response="utter_survey_thanks")
            return [SlotSet("survey", None), SlotSet("survey_retry", None)]
        dispatcher.utter_message(response=_QUESTIONS[following])
        return [SlotSet("survey", following.value), SlotSet("survey_retry", False)]

    @staticmethod
    async def _store(sender_id: str, step: Step, answer: Interpretation) -> None:
        repository = _repository()
        survey = await asyncio.to_thread(repository.open_for, sender_id)
        if survey is None:
            return
        now = time.time()
        if step is Step.NPS:
            values: dict[str, Any] = {"nps": answer.score, "answered_at": now}
        elif step is Step.REASON:
            values = {"reason": answer.text}
        else:
            values = {"csat": answer.score, "answered_at": now, "status": "completed"}
        await asyncio.to_thread(repository.update, survey.id, **values)


class ActionGoodbye(Action):
    """Goodbye; after the bot helped with something, the survey ends the conversation."""

    def name(self) -> str:
        return "action_goodbye"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_goodbye")
        # A goodbye after a self-service question ends the conversation with the survey.
        helped = SELF_SERVICE_INTENTS.intersection(user_intents(tracker.events))
        if not helped or tracker.get_slot("handoff"):
            return []
        return await start_survey(dispatcher, tracker, await resolver_of(tracker))


async def resolver_of(tracker: Tracker) -> str:
    """Who resolved the conversation: the agent of a resolved handoff in it, or the bot."""
    repo = get_services().handoffs.repo
    started = session_started_at(tracker.events)
    try:
        handoffs = await asyncio.to_thread(repo.of_sender, tracker.sender_id)
    except KopruError:
        return "bot"
    for handoff in reversed(handoffs):
        if handoff.session_started_at == started and handoff.state is State.RESOLVED:
            return handoff.ended_by or handoff.agent_id or "agent"
    return "bot"

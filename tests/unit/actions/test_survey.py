"""The end-of-conversation survey in the actions: when it starts, each answer, how it ends."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoffNotice, ActionResolvedByBot
from actions.services import Services, use_services
from actions.survey import ActionGoodbye, ActionSurveyAnswer, abandon_if_moved_on, resolver_of
from actions.turn import ActionObserveTurn
from bot.desk.escalation import EscalationRequest, Reason
from bot.desk.handoff import Handoff, State
from bot.insights.survey import SurveyConfig, SurveyRecord, SurveyRepository
from bot.storage.store import Outcome, Store, TurnRecord
from tests.unit.actions.conftest import DOMAIN, assert_renders, make_tracker, responses

SENDER = "customer-1"  # make_tracker's sender
EXTERNAL = {"is_external": True}
SESSION = 100.0
CLEARED = [SlotSet("survey", None), SlotSet("survey_retry", None)]


def user(text: str, intent: str, at: float, channel: str = "rest") -> dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": at, "input_channel": channel,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}}}  # fmt: skip


def external(intent: str, at: float, channel: str = "rest") -> dict[str, Any]:
    """What Rasa's trigger_intent adds (UserUttered.create_external)."""
    return {"event": "user", "text": f"EXTERNAL: {intent}", "timestamp": at,
            "input_channel": channel, "metadata": {"is_external": True},
            "parse_data": {"intent": {"name": intent}}}  # fmt: skip


def conversation(
    *turns: tuple[str, str], channel: str = "rest", session: float = SESSION
) -> list[dict[str, Any]]:
    """A session started at `session` with the customer's (text, intent) turns."""
    events: list[dict[str, Any]] = [{"event": "session_started", "timestamp": session}]
    for index, (text, intent) in enumerate(turns, start=1):
        events.append(user(text, intent, session + index, channel))
        events.append({"event": "bot", "text": "…", "timestamp": session + index + 0.5})
    return events


SOLVED_FAQ = conversation(("when are you open?", "faq"), ("yes", "affirm"))


def resolved_tracker(
    language: str = "en", channel: str = "rest", session: float = SESSION, **slots: Any
) -> Tracker:
    return make_tracker(
        "yes", "affirm", events=conversation(("when are you open?", "faq"), ("yes", "affirm"),
                                             channel=channel, session=session),
        channel=channel, slots={"language": language, "pending": "resolution_check", **slots},
    )  # fmt: skip


def surveys(services: Services, sender: str = SENDER) -> list[SurveyRecord]:
    return SurveyRepository(services.store).of_sender(sender)


def only_survey(services: Services, sender: str = SENDER) -> SurveyRecord:
    (survey,) = surveys(services, sender)
    return survey


@pytest.fixture
def no_cooldown(services: Services) -> Iterator[Services]:
    changed = dataclasses.replace(
        services, business=dataclasses.replace(services.business, survey=SurveyConfig(cooldown=0))
    )
    with use_services(changed):
        yield changed


ASKED = [SlotSet("survey", "nps"), SlotSet("survey_retry", False)]


# --- starting the survey -------------------------------------------------------------------


async def test_resolution_by_the_bot_asks_the_nps_question(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    recorded = services.store.record_turn(
        TurnRecord(sender_id=SENDER, session_started_at=SESSION, channel="rest", language="tr",
                   intent="faq", at=SESSION + 1)
    )  # fmt: skip
    before = time.time()
    result = await ActionResolvedByBot().run(dispatcher, resolved_tracker("tr"), DOMAIN)

    assert responses(dispatcher) == ["utter_glad_resolved", "utter_ask_nps"]
    assert result == [SlotSet("pending", None), SlotSet("tech_step", None), *ASKED]
    survey = only_survey(services)
    assert survey.status == "asked"
    assert survey.resolver == "bot"
    assert survey.channel == "rest"
    assert survey.language == "tr"
    assert survey.intents == ["faq", "affirm"]
    assert survey.conversation_id == recorded.id
    assert before <= survey.asked_at <= time.time()
    assert (survey.nps, survey.reason, survey.csat, survey.answered_at) == (None,) * 4
    stored = services.store.conversation(SENDER, SESSION)
    assert stored is not None and stored.outcome == Outcome.RESOLVED_BOT


async def test_without_a_recorded_conversation_the_survey_has_no_conversation_id(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    await ActionResolvedByBot().run(dispatcher, resolved_tracker("pl", "telegram"), DOMAIN)
    survey = only_survey(services)
    assert survey.conversation_id is None
    assert (survey.channel, survey.language) == ("telegram", "pl")


async def test_a_second_resolution_within_the_cooldown_asks_nothing(
    services: Services,
) -> None:
    await ActionResolvedByBot().run(CollectingDispatcher(), resolved_tracker(), DOMAIN)
    again = CollectingDispatcher()
    result = await ActionResolvedByBot().run(again, resolved_tracker(), DOMAIN)
    assert responses(again) == ["utter_glad_resolved"]
    assert result == [SlotSet("pending", None), SlotSet("tech_step", None)]
    assert only_survey(services).status == "asked"


async def test_the_cooldown_is_per_customer(services: Services) -> None:
    await ActionResolvedByBot().run(CollectingDispatcher(), resolved_tracker(), DOMAIN)
    other = CollectingDispatcher()
    tracker = make_tracker("yes", "affirm", events=SOLVED_FAQ, sender="customer-2")
    await ActionResolvedByBot().run(other, tracker, DOMAIN)
    assert responses(other) == ["utter_glad_resolved", "utter_ask_nps"]
    assert only_survey(services, "customer-2").status == "asked"


async def test_an_old_survey_does_not_block_a_new_one(services: Services) -> None:
    SurveyRepository(services.store).start(
        sender_id=SENDER, conversation_id=None, channel="rest", language="en", intents=["faq"],
        resolver="bot", at=time.time() - services.business.survey.cooldown - 60,
    )  # fmt: skip
    dispatcher = CollectingDispatcher()
    await ActionResolvedByBot().run(dispatcher, resolved_tracker(session=time.time()), DOMAIN)
    assert responses(dispatcher) == ["utter_glad_resolved", "utter_ask_nps"]
    assert [s.status for s in surveys(services)] == ["ended", "asked"]


async def test_with_no_cooldown_the_customer_is_asked_again_in_the_next_conversation(
    no_cooldown: Services,
) -> None:
    await ActionResolvedByBot().run(CollectingDispatcher(), resolved_tracker(), DOMAIN)
    same = CollectingDispatcher()
    await ActionResolvedByBot().run(same, resolved_tracker(), DOMAIN)
    assert responses(same) == ["utter_glad_resolved"], "one survey per conversation"
    again = CollectingDispatcher()
    result = await ActionResolvedByBot().run(again, resolved_tracker(session=time.time()), DOMAIN)
    assert responses(again) == ["utter_glad_resolved", "utter_ask_nps"]
    assert result[-2:] == ASKED
    # the unanswered first survey ends when the second starts
    assert [s.status for s in surveys(no_cooldown)] == ["ended", "asked"]


async def test_without_a_working_store_the_survey_is_not_asked(
    services: Services, tmp_path: Path
) -> None:
    no_tables = Store(f"sqlite:///{tmp_path / 'empty.db'}")  # schema never created
    dispatcher = CollectingDispatcher()
    with use_services(dataclasses.replace(services, store=no_tables)):
        result = await ActionResolvedByBot().run(dispatcher, resolved_tracker(), DOMAIN)
    assert responses(dispatcher) == ["utter_glad_resolved"]
    assert result == [SlotSet("pending", None), SlotSet("tech_step", None)]


# --- answering -------------------------------------------------------------------------------


async def answer(
    text: str, intent: str, step: str, retry: bool = False, language: str = "en"
) -> tuple[list[str], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    slots = {"survey": step, "survey_retry": retry, "language": language}
    tracker = make_tracker(text, intent, events=SOLVED_FAQ, slots=slots)
    events = await ActionSurveyAnswer().run(dispatcher, tracker, DOMAIN)
    for message in dispatcher.messages:
        assert_renders(message)
    return responses(dispatcher), events


async def ask(services: Services, language: str = "en") -> None:
    dispatcher = CollectingDispatcher()
    await ActionResolvedByBot().run(dispatcher, resolved_tracker(language), DOMAIN)
    assert responses(dispatcher)[-1] == "utter_ask_nps"


async def test_a_whole_survey(services: Services) -> None:
    await ask(services)

    said, events = await answer("9", "inform", "nps")
    assert said == ["utter_ask_survey_reason"]
    assert events == [SlotSet("survey", "reason"), SlotSet("survey_retry", False)]
    survey = only_survey(services)
    assert (survey.nps, survey.reason, survey.csat, survey.status) == (9, None, None, "asked")
    assert survey.answered_at is not None
    nps_answered_at = survey.answered_at

    said, events = await answer("  fast delivery ", "inform", "reason")
    assert said == ["utter_ask_csat"]
    assert events == [SlotSet("survey", "csat"), SlotSet("survey_retry", False)]
    survey = only_survey(services)
    assert (survey.nps, survey.reason, survey.csat, survey.status) == (9, "fast delivery", None,
                                                                        "asked")  # fmt: skip

    said, events = await answer("5", "inform", "csat")
    assert said == ["utter_survey_thanks"]
    assert events == CLEARED
    survey = only_survey(services)
    assert (survey.nps, survey.reason, survey.csat) == (9, "fast delivery", 5)
    assert survey.status == "completed"
    assert survey.answered_at is not None and survey.answered_at >= nps_answered_at
    assert (survey.channel, survey.language, survey.resolver) == ("rest", "en", "bot")
    assert survey.intents == ["faq", "affirm"]


async def test_scores_typed_as_words(services: Services) -> None:
    await ask(services, "tr")
    assert (await answer("sekiz", "inform", "nps", language="tr"))[0] == ["utter_ask_survey_reason"]
    await answer("geç", "inform", "reason", language="tr")
    assert (await answer("dört", "inform", "csat", language="tr"))[0] == ["utter_survey_thanks"]
    survey = only_survey(services)
    assert (survey.nps, survey.reason, survey.csat, survey.status) == (8, None, 4, "completed")
    assert survey.language == "tr"


@pytest.mark.parametrize(
    ("text", "intent"), [("/skip", "skip"), ("pomiń", "inform"), ("skip", "deny")]
)
async def test_the_reason_can_be_skipped(services: Services, text: str, intent: str) -> None:
    await ask(services, "pl")
    await answer("10", "inform", "nps", language="pl")
    said, events = await answer(text, intent, "reason", language="pl")
    assert said == ["utter_ask_csat"]
    assert events == [SlotSet("survey", "csat"), SlotSet("survey_retry", False)]
    await answer("4", "inform", "csat", language="pl")
    survey = only_survey(services)
    assert (survey.nps, survey.reason, survey.csat, survey.status) == (10, None, 4, "completed")


@pytest.mark.parametrize(
    ("step", "text", "intent", "again"),
    [
        ("nps", "great", "affirm", "utter_survey_invalid_nps"),
        ("nps", "11", "inform", "utter_survey_invalid_nps"),
        ("reason", "   ", "inform", "utter_survey_invalid_reason"),
        ("reason", "/greet", "greet", "utter_survey_invalid_reason"),
        ("csat", "6", "inform", "utter_survey_invalid_csat"),
        ("csat", "0", "inform", "utter_survey_invalid_csat"),
    ],
)
async def test_an_invalid_answer_is_asked_again_once_then_the_survey_ends(
    services: Services, step: str, text: str, intent: str, again: str
) -> None:
    await ask(services)
    said, events = await answer(text, intent, step)
    assert said == [again]
    assert events == [SlotSet("survey_retry", True)]
    assert only_survey(services).status == "asked"

    said, events = await answer(text, intent, step, retry=True)
    assert said == ["utter_survey_end"]
    assert events == CLEARED
    survey = only_survey(services)
    assert survey.status == "ended"
    assert (survey.nps, survey.csat) == (None, None)


async def test_a_valid_answer_after_a_re_ask_goes_on(services: Services) -> None:
    await ask(services)
    await answer("eleven", "inform", "nps")
    said, events = await answer("7", "inform", "nps", retry=True)
    assert said == ["utter_ask_survey_reason"]
    assert events == [SlotSet("survey", "reason"), SlotSet("survey_retry", False)]
    assert only_survey(services).nps == 7


async def test_ending_at_the_csat_step_keeps_the_earlier_answers(services: Services) -> None:
    await ask(services)
    await answer("3", "inform", "nps")
    await answer("slow", "inform", "reason")
    await answer("6", "inform", "csat")
    assert (await answer("7", "inform", "csat", retry=True))[0] == ["utter_survey_end"]
    survey = only_survey(services)
    assert (survey.nps, survey.reason, survey.csat, survey.status) == (3, "slow", None, "ended")


async def test_an_answer_without_a_stored_survey_still_moves_on(services: Services) -> None:
    said, events = await answer("9", "inform", "nps")
    assert said == ["utter_ask_survey_reason"]
    assert events[0] == SlotSet("survey", "reason")
    assert surveys(services) == []


async def test_an_answer_the_store_cannot_keep_still_moves_on(
    services: Services, tmp_path: Path
) -> None:
    no_tables = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    with use_services(dataclasses.replace(services, store=no_tables)):
        said, events = await answer("9", "inform", "nps")
    assert said == ["utter_ask_survey_reason"]
    assert events[0] == SlotSet("survey", "reason")


# --- moving on instead of answering ----------------------------------------------------------


def moved_on(text: str, intent: str, step: str = "nps", confidence: float = 0.9) -> Tracker:
    tracker = make_tracker(text, intent, events=SOLVED_FAQ,
                           slots={"survey": step, "survey_retry": False})  # fmt: skip
    tracker.latest_message["intent"]["confidence"] = confidence
    return tracker


async def test_a_new_question_drops_the_survey(services: Services) -> None:
    await ask(services)
    tracker = moved_on("where is my order 204518?", "order_status")
    assert await abandon_if_moved_on(tracker) == CLEARED
    assert only_survey(services).status == "ended"


async def test_a_new_question_at_the_csat_step_keeps_the_score(services: Services) -> None:
    await ask(services)
    await answer("8", "inform", "nps")
    await answer("/skip", "skip", "reason")
    assert await abandon_if_moved_on(moved_on("bye", "goodbye", "csat")) == CLEARED
    survey = only_survey(services)
    assert (survey.nps, survey.status) == (8, "ended")


@pytest.mark.parametrize(
    ("text", "intent", "step", "confidence"),
    [
        ("7", "inform", "nps", 0.9),
        ("7", "order_status", "nps", 0.9),  # a number is an answer, whatever the intent
        ("where is my order?", "order_status", "nps", 0.3),  # not sure it is something new
        ("yes", "affirm", "nps", 0.99),
        ("where is my order?", "order_status", "reason", 0.99),  # taken as the reason
        ("4", "inform", "csat", 0.9),
    ],
)
async def test_an_answer_keeps_the_survey(
    services: Services, text: str, intent: str, step: str, confidence: float
) -> None:
    await ask(services)
    assert await abandon_if_moved_on(moved_on(text, intent, step, confidence)) == []
    assert only_survey(services).status == "asked"


@pytest.mark.parametrize("slot", [None, "", "done"])
async def test_without_a_survey_nothing_is_abandoned(services: Services, slot: str | None) -> None:
    tracker = make_tracker("where is my order?", "order_status", slots={"survey": slot})
    assert await abandon_if_moved_on(tracker) == []


async def test_observe_turn_drops_the_survey(services: Services) -> None:
    await ask(services)
    # Fewer than three letters: the language stays, lingua's models are not loaded.
    tracker = moved_on("hi", "greet")
    events = await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN)
    assert CLEARED[0] in events and CLEARED[1] in events
    assert only_survey(services).status == "ended"


async def test_observe_turn_leaves_an_answer_to_the_survey_action(services: Services) -> None:
    await ask(services)
    events = await ActionObserveTurn().run(CollectingDispatcher(), moved_on("9", "inform"), DOMAIN)
    assert [e for e in events if e.get("name") in ("survey", "survey_retry")] == []
    assert only_survey(services).status == "asked"


# --- goodbye -------------------------------------------------------------------------------


def goodbye_tracker(*turns: tuple[str, str], **slots: Any) -> Tracker:
    events = conversation(*turns, ("bye", "goodbye"), channel="webchat")
    return make_tracker("bye", "goodbye", events=events, channel="webchat",
                        slots={"language": "pl", **slots})  # fmt: skip


async def test_goodbye_after_help_asks_the_survey(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = goodbye_tracker(("hi", "greet"), ("where is my order 204518", "order_status"))
    result = await ActionGoodbye().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_goodbye", "utter_ask_nps"]
    assert result == ASKED
    survey = only_survey(services)
    assert survey.resolver == "bot"
    assert (survey.channel, survey.language) == ("webchat", "pl")
    assert survey.intents == ["greet", "order_status", "goodbye"]


@pytest.mark.parametrize(
    "turns",
    [[], [("hi", "greet")], [("hi", "greet"), ("what's the weather", "out_of_scope")],
     [("I want a person", "request_human")]],
)  # fmt: skip
async def test_goodbye_without_help_is_just_goodbye(
    services: Services, dispatcher: CollectingDispatcher, turns: list[tuple[str, str]]
) -> None:
    result = await ActionGoodbye().run(dispatcher, goodbye_tracker(*turns), DOMAIN)
    assert responses(dispatcher) == ["utter_goodbye"]
    assert result == []
    assert surveys(services) == []


async def test_goodbye_from_an_earlier_session_does_not_count(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    events = [
        {"event": "session_started", "timestamp": 10.0},
        user("where is my order 204518", "order_status", 11.0),
        *conversation(("bye", "goodbye")),
    ]
    tracker = make_tracker("bye", "goodbye", events=events)
    assert await ActionGoodbye().run(dispatcher, tracker, DOMAIN) == []
    assert responses(dispatcher) == ["utter_goodbye"]


@pytest.mark.parametrize("handoff", ["queued", "claimed"])
async def test_goodbye_while_a_person_has_the_conversation_asks_nothing(
    services: Services, dispatcher: CollectingDispatcher, handoff: str
) -> None:
    tracker = goodbye_tracker(("where is my order", "order_status"), handoff=handoff)
    assert await ActionGoodbye().run(dispatcher, tracker, DOMAIN) == []
    assert responses(dispatcher) == ["utter_goodbye"]
    assert surveys(services) == []


async def test_goodbye_right_after_a_survey_within_the_cooldown_asks_nothing(
    services: Services,
) -> None:
    await ask(services)
    await abandon_if_moved_on(moved_on("bye", "goodbye"))
    dispatcher = CollectingDispatcher()
    assert await ActionGoodbye().run(dispatcher, goodbye_tracker(("q", "faq")), DOMAIN) == []
    assert responses(dispatcher) == ["utter_goodbye"]
    assert [s.status for s in surveys(services)] == ["ended"]


async def test_one_survey_per_conversation_even_without_a_cooldown(
    no_cooldown: Services,
) -> None:
    await ask(no_cooldown)
    await abandon_if_moved_on(moved_on("bye", "goodbye"))  # the customer ignores the survey
    dispatcher = CollectingDispatcher()
    await ActionGoodbye().run(dispatcher, goodbye_tracker(("q", "faq")), DOMAIN)
    assert responses(dispatcher) == ["utter_goodbye"]


# --- who resolved it -----------------------------------------------------------------------


async def handed_over(
    services: Services, session: float = SESSION, resolved_by: str | None = "U7"
) -> Handoff:
    escalation = await services.handoffs.escalate(
        EscalationRequest(sender_id=SENDER, session_started_at=session, channel="telegram",
                          language="pl", reason=Reason.CUSTOMER_REQUEST)
    )  # fmt: skip
    reference = escalation.handoff.reference
    await services.handoffs.claim(reference, "U7", "Ayşe")
    if resolved_by is None:
        return await services.handoffs.return_to_bot(reference, "U7")
    return await services.handoffs.resolve(reference, resolved_by)


def handoff_events(*closing: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"event": "session_started", "timestamp": SESSION},
        user("gdzie jest moja paczka", "order_status", SESSION + 1, "telegram"),
        user("chcę rozmawiać z człowiekiem", "request_human", SESSION + 2, "telegram"),
        *closing,
    ]


async def test_the_resolved_notice_asks_the_survey_for_the_agent(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    handoff = await handed_over(services)
    assert handoff.state is State.RESOLVED
    events = handoff_events(external("EXTERNAL_handoff_resolved", SESSION + 30, "telegram"))
    tracker = make_tracker("", "EXTERNAL_handoff_resolved", events=events,
                           metadata={"is_external": True},
                           slots={"handoff": "claimed", "language": "pl"})  # fmt: skip
    result = await ActionHandoffNotice().run(dispatcher, tracker, DOMAIN)

    assert responses(dispatcher) == ["utter_handoff_resolved", "utter_ask_nps"]
    assert result == [SlotSet("handoff", None), *ASKED]
    survey = only_survey(services)
    assert survey.resolver == "U7"
    assert survey.channel == "telegram"
    assert survey.language == "pl"
    assert survey.intents == ["order_status", "request_human"]  # not the EXTERNAL_ intent
    assert survey.status == "asked"


async def test_the_agent_who_resolved_it_is_the_resolver(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    await handed_over(services, resolved_by="U9")  # claimed by U7, resolved by U9
    events = handoff_events(external("EXTERNAL_handoff_resolved", SESSION + 30, "telegram"))
    tracker = make_tracker("", "EXTERNAL_handoff_resolved", events=events,
                           metadata=EXTERNAL, slots={"handoff": "claimed"})  # fmt: skip
    await ActionHandoffNotice().run(dispatcher, tracker, DOMAIN)
    assert only_survey(services).resolver == "U9"


async def test_an_agent_handing_back_to_the_bot_asks_no_survey(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    await handed_over(services, resolved_by=None)
    events = handoff_events(external("EXTERNAL_agent_left", SESSION + 30, "telegram"))
    tracker = make_tracker("", "EXTERNAL_agent_left", events=events,
                           metadata=EXTERNAL, slots={"handoff": "claimed"})  # fmt: skip
    result = await ActionHandoffNotice().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_agent_left"]
    assert result == [SlotSet("handoff", None)]
    assert surveys(services) == []


async def test_resolver_of(services: Services) -> None:
    tracker = make_tracker("bye", "goodbye", events=handoff_events(user("bye", "goodbye", 140.0)))
    assert await resolver_of(tracker) == "bot"
    await handed_over(services, session=50.0)  # a handoff of an earlier session
    assert await resolver_of(tracker) == "bot"
    await handed_over(services, resolved_by=None)  # handed back to the bot
    assert await resolver_of(tracker) == "bot"
    await handed_over(services, resolved_by="U3")
    assert await resolver_of(tracker) == "U3"


async def test_goodbye_after_an_agent_resolved_it_names_the_agent(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    await handed_over(services)
    events = handoff_events(
        external("EXTERNAL_handoff_resolved", SESSION + 30, "telegram"),
        user("dziękuję, do widzenia", "goodbye", SESSION + 40, "telegram"),
    )
    tracker = make_tracker("dziękuję, do widzenia", "goodbye", events=events,
                           slots={"language": "pl"})  # fmt: skip
    assert await ActionGoodbye().run(dispatcher, tracker, DOMAIN) == ASKED
    survey = only_survey(services)
    assert survey.resolver == "U7"
    assert survey.intents == ["order_status", "request_human", "goodbye"]
    assert (survey.channel, survey.language) == ("telegram", "pl")


async def test_resolution_by_the_bot_is_the_bot_even_after_a_handoff(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    await handed_over(services)
    await ActionResolvedByBot().run(dispatcher, resolved_tracker(), DOMAIN)
    assert only_survey(services).resolver == "bot"

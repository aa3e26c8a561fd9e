"""Escalation, resolution and fallback actions: what the customer sees and what is stored."""

from __future__ import annotations

from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import (
    ActionAskResolved,
    ActionDeclineHuman,
    ActionEscalate,
    ActionFallback,
    ActionOfferHuman,
    ActionResolvedByBot,
)
from actions.services import Services
from actions.turn import ActionObserveTurn
from bot.storage.store import Outcome
from tests.unit.actions.conftest import DOMAIN, make_tracker, responses


def user(text: str, intent: str, at: float) -> dict[str, object]:
    return {"event": "user", "text": text, "timestamp": at, "input_channel": "rest",
            "parse_data": {"intent": {"name": intent, "confidence": 0.8}}}  # fmt: skip


async def test_request_for_a_person_is_stored_with_context(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    events = [
        {"event": "session_started", "timestamp": 100.0},
        user("where is my order 204518", "order_status", 101.0),
        {"event": "slot", "name": "order_number", "value": "204518", "timestamp": 101.1},
        {"event": "bot", "text": "Order 204518 is on its way", "timestamp": 101.5},
        {"event": "slot", "name": "order_number", "value": None, "timestamp": 101.6},
        user("I want to talk to a person", "request_human", 102.0),
    ]
    tracker = make_tracker("I want to talk to a person", "request_human", events=events,
                           channel="rest", slots={"language": "pl"})  # fmt: skip
    await ActionObserveTurn().run(dispatcher, tracker, DOMAIN)
    result = await ActionEscalate().run(dispatcher, tracker, DOMAIN)

    assert responses(dispatcher) == ["utter_escalated"]
    (escalation,) = services.handoffs.repo.of_sender("customer-1")
    assert dispatcher.messages[0]["reference"] == escalation.reference
    assert dispatcher.messages[0]["place"] == 1
    assert dispatcher.messages[0]["wait"] == "około 3 minut"
    assert escalation.state.value == "queued"
    assert escalation.card_ts is not None
    assert escalation.reason == "customer_request"
    assert escalation.channel == "rest"
    assert escalation.context["slots"] == {"order_number": "204518"}
    assert [line["text"] for line in escalation.context["transcript"]] == [
        "where is my order 204518",
        "Order 204518 is on its way",
        "I want to talk to a person",
    ]
    assert {i["name"] for i in escalation.context["intents"]} == {"order_status", "request_human"}
    assert services.store.conversation("customer-1", 100.0).outcome == Outcome.ESCALATED  # type: ignore[union-attr]
    assert SlotSet("pending", None) in result
    assert SlotSet("handoff", "queued") in result


async def test_complaint_is_apologised_for_first(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("this is a disgrace", "complaint")
    await ActionEscalate().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_complaint_sorry", "utter_escalated"]
    assert services.handoffs.repo.of_sender("customer-1")[0].reason == "complaint"


async def test_escalation_inside_a_form_leaves_the_form(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("agent please", "request_human", active_loop="order_status_form")
    result = await ActionEscalate().run(dispatcher, tracker, DOMAIN)
    assert ActiveLoop(None) in result
    assert SlotSet("requested_slot", None) in result


async def test_accepted_offer_escalates_for_the_offered_reason(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker(
        "yes", "affirm", slots={"pending": "offer_human", "handoff_reason": "failed_guided_flow"}
    )
    await ActionEscalate().run(dispatcher, tracker, DOMAIN)
    assert services.handoffs.repo.of_sender("customer-1")[0].reason == "failed_guided_flow"


async def test_store_failure_gives_a_polite_answer(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    services.store.engine.dispose()
    services.store._engine = None
    services.store.url = "sqlite:////proc/forbidden/kopru.db"
    tracker = make_tracker("human", "request_human")
    await ActionEscalate().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_escalation_failed"]


async def test_first_fallback_lists_options_second_escalates(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    once = [{"event": "session_started", "timestamp": 1.0}, user("blorp", "nlu_fallback", 2.0)]
    result = await ActionFallback().run(dispatcher, make_tracker(events=once), DOMAIN)
    assert responses(dispatcher) == ["utter_fallback"]
    assert result == []
    assert services.handoffs.repo.of_sender("customer-1") == []

    twice = [
        *once,
        {"event": "bot", "text": "Sorry", "timestamp": 2.5},
        user("zxq", "nlu_fallback", 3.0),
    ]
    second = CollectingDispatcher()
    await ActionFallback().run(second, make_tracker(events=twice), DOMAIN)
    assert responses(second) == ["utter_escalated"]
    assert services.handoffs.repo.of_sender("customer-1")[0].reason == "repeated_fallback"


async def test_fallback_after_an_understood_message_does_not_escalate(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    events = [
        {"event": "session_started", "timestamp": 1.0},
        user("blorp", "nlu_fallback", 2.0),
        user("hello", "greet", 3.0),
        user("zxq", "nlu_fallback", 4.0),
    ]
    await ActionFallback().run(dispatcher, make_tracker(events=events), DOMAIN)
    assert responses(dispatcher) == ["utter_fallback"]


async def test_resolution_question_and_answers(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("thanks that works", "affirm")
    await ActionObserveTurn().run(dispatcher, tracker, DOMAIN)
    assert await ActionAskResolved().run(dispatcher, tracker, DOMAIN) == [
        SlotSet("pending", "resolution_check")
    ]
    await ActionResolvedByBot().run(dispatcher, tracker, DOMAIN)
    # The survey ends the conversation (tests/unit/actions/test_survey.py).
    assert responses(dispatcher) == ["utter_ask_resolved", "utter_glad_resolved", "utter_ask_nps"]
    assert services.store.conversation("customer-1", 100.0).outcome == Outcome.RESOLVED_BOT  # type: ignore[union-attr]


async def test_offer_and_decline(services: Services, dispatcher: CollectingDispatcher) -> None:
    tracker = make_tracker("no", "deny", slots={"pending": "resolution_check"})
    offered = await ActionOfferHuman().run(dispatcher, tracker, DOMAIN)
    assert offered == [SlotSet("pending", "offer_human"), SlotSet("handoff_reason", "not_helped")]
    declined = await ActionDeclineHuman().run(dispatcher, tracker, DOMAIN)
    assert declined == [SlotSet("pending", None), SlotSet("handoff_reason", None)]
    assert responses(dispatcher) == ["utter_offer_human", "utter_human_declined"]
    assert services.handoffs.repo.of_sender("customer-1") == []

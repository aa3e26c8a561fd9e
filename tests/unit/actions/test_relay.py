"""Actions while a person has the conversation: the handoff slot, relaying, notices, tickets."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import (
    UNSUPPORTED_NOTE,
    ActionEscalate,
    ActionHandoffNotice,
    ActionRelayToAgent,
)
from actions.services import Services
from actions.turn import ActionObserveTurn
from bot.desk.escalation import EscalationRequest, Reason
from bot.desk.handoff import Handoff, State
from bot.desk.hours import parse_agent_desk
from bot.desk.service import HandoffService
from tests.fakes.desk import RecordingDesk
from tests.unit.actions.conftest import (
    ALWAYS_OPEN,
    DOMAIN,
    assert_renders,
    make_tracker,
    responses,
)

SENDER = "customer-1"  # make_tracker's sender
SATURDAY_NOON = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc).timestamp()


def desk_of(services: Services) -> RecordingDesk:
    desk = services.handoffs.desk
    assert isinstance(desk, RecordingDesk)
    return desk


async def queue(services: Services, sender: str = SENDER) -> Handoff:
    escalation = await services.handoffs.escalate(
        EscalationRequest(
            sender_id=sender,
            session_started_at=100.0,
            channel="webchat",
            language="en",
            reason=Reason.CUSTOMER_REQUEST,
        )
    )
    assert escalation.handoff.state is State.QUEUED
    return escalation.handoff


# --- action_observe_turn mirrors the database ---------------------------------------------------
# Messages of fewer than three letters keep the language without loading lingua's models
# (about 2 s on first use), so these tests stay fast when run on their own.


async def test_observe_turn_sets_the_handoff_slot_from_the_database(services: Services) -> None:
    await queue(services)
    tracker = make_tracker("hi?", "ask_status")
    events = await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN)
    assert SlotSet("handoff", "queued") in events
    (conversation,) = services.store.conversations_of(SENDER)
    assert conversation.intents == ["ask_status"]


async def test_observe_turn_follows_a_claim(services: Services) -> None:
    handoff = await queue(services)
    await services.handoffs.claim(handoff.reference, "U1", "Ayşe")
    tracker = make_tracker("hi?", "greet", slots={"handoff": "queued"})
    events = await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN)
    assert SlotSet("handoff", "claimed") in events


async def test_observe_turn_clears_a_stale_slot(services: Services) -> None:
    tracker = make_tracker("hi?", "greet", slots={"handoff": "claimed"})
    events = await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN)
    assert SlotSet("handoff", None) in events


async def test_observe_turn_leaves_a_correct_slot_alone(services: Services) -> None:
    await queue(services)
    tracker = make_tracker("hi?", "greet", slots={"handoff": "queued"})
    events = await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN)
    assert [e for e in events if e["name"] == "handoff"] == []


async def test_observe_turn_does_not_record_external_messages(services: Services) -> None:
    handoff = await queue(services)
    await services.handoffs.claim(handoff.reference, "U1", "Ayşe")
    tracker = make_tracker(
        "", "EXTERNAL_agent_joined", metadata={"is_external": True}, slots={"handoff": "queued"}
    )
    events = await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN)
    assert events == [SlotSet("handoff", "claimed")]
    assert services.store.conversations_of(SENDER) == []


# --- action_relay_to_agent ------------------------------------------------------------------------


async def test_relay_passes_the_text_and_says_nothing(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    handoff = await queue(services)
    tracker = make_tracker("my parcel is still missing", "order_status",
                           slots={"handoff": "queued"})  # fmt: skip
    result = await ActionRelayToAgent().run(dispatcher, tracker, DOMAIN)
    assert result == []
    assert dispatcher.messages == []
    assert desk_of(services).relayed == [(handoff.reference, "my parcel is still missing")]


@pytest.mark.parametrize(
    ("text", "intent"),
    [("/unsupported_message", "unsupported_message"), ("", "unsupported_message"),
     ("/greet", "greet")],
)  # fmt: skip
async def test_relay_replaces_what_is_not_text_with_a_note(
    services: Services, dispatcher: CollectingDispatcher, text: str, intent: str
) -> None:
    handoff = await queue(services)
    tracker = make_tracker(text, intent, slots={"handoff": "queued"})
    assert await ActionRelayToAgent().run(dispatcher, tracker, DOMAIN) == []
    assert desk_of(services).relayed == [(handoff.reference, UNSUPPORTED_NOTE)]
    assert dispatcher.messages == []


async def test_relay_with_the_desk_down_asks_to_send_again(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    await queue(services)
    desk_of(services).down = True
    tracker = make_tracker("hello?", "greet", slots={"handoff": "queued"})
    result = await ActionRelayToAgent().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_relay_failed"]
    assert result == []
    assert desk_of(services).relayed == []


async def test_relay_after_the_handoff_ended_gives_the_bot_back(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    handoff = await queue(services)
    await services.handoffs.claim(handoff.reference, "U1", "Ayşe")
    await services.handoffs.resolve(handoff.reference, "U1")
    tracker = make_tracker("one more thing", "inform", slots={"handoff": "claimed"})
    result = await ActionRelayToAgent().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_fallback"]
    assert result == [SlotSet("handoff", None)]
    assert desk_of(services).relayed == []


# --- action_handoff_notice ------------------------------------------------------------------------


async def _claim(services: Services, handoff: Handoff) -> None:
    await services.handoffs.claim(handoff.reference, "U1", "Ayşe")


async def _return(services: Services, handoff: Handoff) -> None:
    await _claim(services, handoff)
    await services.handoffs.return_to_bot(handoff.reference, "U1")


async def _resolve(services: Services, handoff: Handoff) -> None:
    await _claim(services, handoff)
    await services.handoffs.resolve(handoff.reference, "U1")


@pytest.mark.parametrize(
    ("intent", "move", "response", "slot"),
    [
        ("EXTERNAL_agent_joined", _claim, ["utter_agent_joined"], "claimed"),
        ("EXTERNAL_agent_left", _return, ["utter_agent_left"], None),
        # After a resolution the survey follows.
        ("EXTERNAL_handoff_resolved", _resolve, ["utter_handoff_resolved", "utter_ask_nps"], None),
    ],
)
async def test_notice_after_an_agent_acted(
    services: Services,
    dispatcher: CollectingDispatcher,
    intent: str,
    move: Callable[[Services, Handoff], Awaitable[None]],
    response: list[str],
    slot: str | None,
) -> None:
    handoff = await queue(services)
    await move(services, handoff)
    tracker = make_tracker("", intent, metadata={"is_external": True},
                           slots={"handoff": "queued"})  # fmt: skip
    result = await ActionHandoffNotice().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == response
    message = dispatcher.messages[0]
    assert message["agent_name"] == "Ayşe"
    assert_renders(message)
    assert result[0] == SlotSet("handoff", slot)


async def test_notice_after_the_queue_timed_out(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    handoff, _new = services.handoffs.repo.open(
        sender_id=SENDER, session_started_at=100.0, conversation_id=None, channel="webchat",
        language="en", reason="customer_request", context={},
        at=time.time() - 2 * ALWAYS_OPEN.queue_timeout,
    )  # fmt: skip
    (ticket,) = await services.handoffs.expire_queue()
    assert ticket.id == handoff.id
    tracker = make_tracker("", "EXTERNAL_handoff_ticket", metadata={"is_external": True},
                           slots={"handoff": "queued"})  # fmt: skip
    result = await ActionHandoffNotice().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_queue_timeout"]
    (message,) = dispatcher.messages
    assert message["ticket"] == ticket.ticket_reference
    assert message["ticket"].startswith("T-")
    assert isinstance(message["answer_by"], str) and message["answer_by"]
    assert_renders(message)
    assert result == [SlotSet("handoff", None)]


async def test_notice_without_a_handoff_says_nothing(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("", "EXTERNAL_agent_joined", metadata={"is_external": True})
    assert await ActionHandoffNotice().run(dispatcher, tracker, DOMAIN) == []
    assert dispatcher.messages == []


# --- escalation outside business hours ------------------------------------------------------------


async def test_escalation_outside_hours_opens_a_ticket(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    weekdays = parse_agent_desk(
        {"timezone": "UTC", "days": ["mon", "tue", "wed", "thu", "fri"], "hours": "09:00-17:00"}
    )
    desk = RecordingDesk()
    services.handoffs = HandoffService(services.store, weekdays, desk, clock=lambda: SATURDAY_NOON)
    tracker = make_tracker("I want to talk to a person", "request_human")
    result = await ActionEscalate().run(dispatcher, tracker, DOMAIN)

    assert responses(dispatcher) == ["utter_ticket_opened"]
    (message,) = dispatcher.messages
    (ticket,) = services.handoffs.repo.of_sender(SENDER)
    assert ticket.state is State.TICKET
    assert message["ticket"] == ticket.ticket_reference
    assert message["ticket"].startswith("T-")
    # Four business hours after Saturday noon: Monday 13:00 (UTC, the desk's time zone).
    assert message["answer_by"].endswith("13:00")
    assert_renders(message)
    assert SlotSet("handoff", None) in result
    assert desk.shown == [(ticket.reference, "ticket")]

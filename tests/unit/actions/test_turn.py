"""The per-message action: language, expiring questions, conversation log."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import Services
from actions.turn import ActionObserveTurn, question_still_open
from tests.unit.actions.conftest import DOMAIN, make_tracker


@pytest.mark.parametrize(
    ("text", "current", "events"),
    [
        ("kargom hala gelmedi, nerede acaba?", "en", [SlotSet("language", "tr")]),
        ("gdzie jest moja paczka?", "tr", [SlotSet("language", "pl")]),
        ("where is my parcel?", "pl", [SlotSet("language", "en")]),
        ("where is my parcel?", "en", []),
        ("204518", "tr", []),
        ("Wo ist meine Bestellung, bitte?", "pl", [SlotSet("language", "en")]),
    ],
)
async def test_language_follows_the_customer(
    services: Services, text: str, current: str, events: list[SlotSet]
) -> None:
    tracker = make_tracker(text, "order_status", slots={"language": current})
    assert await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN) == events


async def test_first_message_uses_the_channel_hint(services: Services) -> None:
    tracker = make_tracker("/start", "greet", slots={"language": None},
                           metadata={"language_code": "pl-PL"})  # fmt: skip
    assert await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN) == [
        SlotSet("language", "pl")
    ]


@pytest.mark.parametrize(
    ("intent", "expires"), [("affirm", False), ("deny", False), ("order_status", True)]
)
async def test_pending_question_expires_unless_answered(
    services: Services, intent: str, expires: bool
) -> None:
    tracker = make_tracker("text", intent, slots={"pending": "resolution_check"})
    events = await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN)
    assert (SlotSet("pending", None) in events) is expires


async def test_turns_are_recorded(services: Services) -> None:
    tracker = make_tracker("hello there", "greet", channel="telegram")
    await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN)
    (conversation,) = services.store.conversations_of("customer-1")
    assert conversation.channel == "telegram"
    assert conversation.intents == ["greet"]
    assert conversation.language == "en"


async def test_a_broken_store_does_not_stop_the_conversation(services: Services) -> None:
    services.store._engine = None
    services.store.url = "sqlite:////proc/forbidden/kopru.db"
    tracker = make_tracker("merhaba, siparişim nerede?", "order_status")
    events = await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN)
    assert events == [SlotSet("language", "tr")]


@pytest.mark.parametrize(
    ("pending", "intent", "still_open"),
    [
        ("resolution_check", "affirm", True),
        ("resolution_check", "deny", True),
        ("resolution_check", "thank_you", True),
        ("tech_step", "thank_you", True),
        ("offer_human", "thank_you", False),
        ("offer_human", "affirm", True),
        ("resolution_check", "order_status", False),
        ("tech_step", "greet", False),
    ],
)
def test_which_answers_keep_the_question_open(pending: str, intent: str, still_open: bool) -> None:
    assert question_still_open(pending, intent) is still_open


async def test_the_channel_first_name_becomes_the_customer_name(services: Services) -> None:
    metadata = {"first_name": "Ayşe", "language_code": "tr"}
    tracker = make_tracker("/greet", "greet", metadata=metadata, slots={"language": None})
    events = await ActionObserveTurn().run(CollectingDispatcher(), tracker, DOMAIN)
    assert SlotSet("customer_name", "Ayşe") in events
    assert SlotSet("language", "tr") in events

"""The greeting uses the customer's name when the channel gave it."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.greeting import ActionGreet
from tests.unit.actions.conftest import DOMAIN, make_tracker


async def test_greeting_by_name() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("/greet", "greet", slots={"customer_name": "Ayşe"})
    assert await ActionGreet().run(dispatcher, tracker, DOMAIN) == []
    assert dispatcher.messages[0]["response"] == "utter_greet_name"
    assert dispatcher.messages[0]["customer_name"] == "Ayşe"


async def test_greeting_without_a_name() -> None:
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, make_tracker("hello", "greet"), DOMAIN)
    assert [m["response"] for m in dispatcher.messages] == ["utter_greet"]

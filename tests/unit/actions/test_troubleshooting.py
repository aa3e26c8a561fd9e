"""Guided troubleshooting: one step per "no", a person after the last, restart on a new problem."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import Services
from actions.troubleshooting import ActionTroubleshoot
from tests.unit.actions.conftest import DOMAIN, make_tracker, responses

STEPS = [
    "utter_tech_step_restart",
    "utter_tech_step_update",
    "utter_tech_step_cache",
    "utter_tech_step_reset",
]

OFFER = [
    SlotSet("tech_step", None),
    SlotSet("pending", "offer_human"),
    SlotSet("handoff_reason", "failed_guided_flow"),
]


def test_steps_are_those_of_kopru_yml(services: Services) -> None:
    assert list(services.business.troubleshooting_steps) == STEPS


async def test_a_new_problem_starts_with_the_first_step(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("the app keeps crashing", "tech_problem")
    events = await ActionTroubleshoot().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_tech_step_restart", "utter_ask_step_helped"]
    assert events == [SlotSet("tech_step", 1.0), SlotSet("pending", "tech_step")]


@pytest.mark.parametrize("shown", [1, 2, 3])
async def test_no_shows_the_next_step(
    services: Services, dispatcher: CollectingDispatcher, shown: int
) -> None:
    tracker = make_tracker("no", "deny", slots={"tech_step": float(shown), "pending": "tech_step"})
    events = await ActionTroubleshoot().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == [STEPS[shown], "utter_ask_step_helped"]
    assert events == [SlotSet("tech_step", float(shown + 1)), SlotSet("pending", "tech_step")]


async def test_no_after_the_last_step_offers_a_person(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("still broken", "deny", slots={"tech_step": 4.0, "pending": "tech_step"})
    events = await ActionTroubleshoot().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_offer_human"]
    assert events == OFFER


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        # A new problem in the middle of the flow.
        ("now the printer fails too", "tech_problem", {"tech_step": 2.0, "pending": "tech_step"}),
        ("it crashes again", "tech_problem", {"tech_step": 4.0, "pending": "tech_step"}),
        # A "no" that answers another question is no step answer.
        ("no", "deny", {"tech_step": 3.0, "pending": "resolution_check"}),
        ("no", "deny", {"tech_step": 3.0, "pending": None}),
    ],
)
async def test_flow_restarts_unless_a_step_was_answered(
    services: Services,
    dispatcher: CollectingDispatcher,
    text: str,
    intent: str,
    slots: dict[str, Any],
) -> None:
    tracker = make_tracker(text, intent, slots=slots)
    events = await ActionTroubleshoot().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_tech_step_restart", "utter_ask_step_helped"]
    assert events == [SlotSet("tech_step", 1.0), SlotSet("pending", "tech_step")]


async def test_whole_flow_from_problem_to_offer(services: Services) -> None:
    slots: dict[str, Any] = {"tech_step": None, "pending": None}
    seen: list[list[str]] = []
    for text, intent in [("my app crashes", "tech_problem")] + [("no", "deny")] * 4:
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(text, intent, slots=slots)
        events = await ActionTroubleshoot().run(dispatcher, tracker, DOMAIN)
        slots.update({e["name"]: e["value"] for e in events})
        seen.append(responses(dispatcher))
    assert seen == [[step, "utter_ask_step_helped"] for step in STEPS] + [["utter_offer_human"]]
    assert slots == {
        "tech_step": None,
        "pending": "offer_human",
        "handoff_reason": "failed_guided_flow",
    }

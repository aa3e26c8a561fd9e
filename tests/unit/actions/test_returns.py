"""Returns: the return form's slots and creating the return with the demo backend."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.returns import MAX_ITEM, MAX_REASON, ActionCreateReturn, ValidateReturnForm
from actions.services import Services
from tests.unit.actions.conftest import (
    DOMAIN,
    assert_renders,
    form_tracker,
    make_tracker,
    responses,
)

RESET = [
    SlotSet("order_number", None),
    SlotSet("return_item", None),
    SlotSet("return_reason", None),
]


# --- order number: single-item orders need no item question ----------------------------


async def test_single_item_order_prefills_the_item(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("#512704", "inform", active_loop="return_form")
    result = await ValidateReturnForm().validate_order_number(
        "#512704", dispatcher, tracker, DOMAIN
    )
    assert result == {"order_number": "512704", "return_item": "Smart watch SW-3"}
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("number", "response"),
    [
        ("204518", "utter_return_not_possible"),
        ("558120", "utter_return_not_possible"),
        ("100234", "utter_return_not_possible"),
        ("640055", "utter_return_not_possible"),
        ("777001", "utter_return_cancelled"),
    ],
)
async def test_undelivered_order_is_refused_before_asking_item_and_reason(
    services: Services, dispatcher: CollectingDispatcher, number: str, response: str
) -> None:
    tracker = make_tracker(number, "inform", active_loop="return_form")
    result = await ValidateReturnForm().validate_order_number(number, dispatcher, tracker, DOMAIN)
    assert result == {"order_number": None}
    assert responses(dispatcher) == [response]
    assert dispatcher.messages[0]["order_number"] == number


@pytest.mark.parametrize("number", ["331907", "415926"])
async def test_multi_item_order_leaves_the_item_to_ask(
    services: Services, dispatcher: CollectingDispatcher, number: str
) -> None:
    tracker = make_tracker(number, "inform", active_loop="return_form")
    result = await ValidateReturnForm().validate_order_number(number, dispatcher, tracker, DOMAIN)
    assert result == {"order_number": number}
    assert dispatcher.messages == []


async def test_item_already_named_is_kept(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("512704", "inform", slots={"return_item": "the strap"})
    result = await ValidateReturnForm().validate_order_number("512704", dispatcher, tracker, DOMAIN)
    assert result == {"order_number": "512704"}


@pytest.mark.parametrize(
    ("typed", "response"),
    [("1234", "utter_invalid_order_number"), ("999999", "utter_order_not_found")],
)
async def test_bad_order_number_in_the_return_form(
    services: Services, dispatcher: CollectingDispatcher, typed: str, response: str
) -> None:
    tracker = make_tracker(typed, "inform", active_loop="return_form")
    result = await ValidateReturnForm().validate_order_number(typed, dispatcher, tracker, DOMAIN)
    assert result == {"order_number": None}
    assert responses(dispatcher) == [response]


async def test_backend_down_accepts_the_number_without_prefilling(
    backend_offline: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("204518", "inform", active_loop="return_form")
    result = await ValidateReturnForm().validate_order_number("204518", dispatcher, tracker, DOMAIN)
    assert result == {"order_number": "204518"}
    assert dispatcher.messages == []


async def test_form_run_returns_number_and_prefilled_item(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker("#512704", "return_form")
    result = await ValidateReturnForm().run(dispatcher, tracker, DOMAIN)
    assert result == [
        SlotSet("order_number", "512704"),
        SlotSet("return_item", "Smart watch SW-3"),
    ]
    assert dispatcher.messages == []


# --- item and reason: free text --------------------------------------------------------

FREE_TEXT = [
    ("Running shoes, size 42", "Running shoes, size 42"),
    ("  Running   shoes,\n\tsize 42  ", "Running shoes, size 42"),
    ("ok", "ok"),
    ("Koşu ayakkabısı", "Koşu ayakkabısı"),
    ("x", None),
    ("  y  ", None),
    ("", None),
    (None, None),
    ("/affirm", None),
    ('/inform{"order_number": "204518"}', None),
]


@pytest.mark.parametrize(("typed", "kept"), FREE_TEXT)
async def test_return_item_is_cleaned(
    services: Services, dispatcher: CollectingDispatcher, typed: str | None, kept: str | None
) -> None:
    tracker = make_tracker(typed or "", "inform", active_loop="return_form")
    result = await ValidateReturnForm().validate_return_item(typed, dispatcher, tracker, DOMAIN)
    assert result == {"return_item": kept}
    assert dispatcher.messages == []  # a rejected answer is simply asked again


@pytest.mark.parametrize(("typed", "kept"), FREE_TEXT)
async def test_return_reason_is_cleaned(
    services: Services, dispatcher: CollectingDispatcher, typed: str | None, kept: str | None
) -> None:
    tracker = make_tracker(typed or "", "inform", active_loop="return_form")
    result = await ValidateReturnForm().validate_return_reason(typed, dispatcher, tracker, DOMAIN)
    assert result == {"return_reason": kept}
    assert dispatcher.messages == []


async def test_long_answers_are_cut_to_the_limits(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("", "inform", active_loop="return_form")
    form = ValidateReturnForm()
    item = await form.validate_return_item("i" * 1000, dispatcher, tracker, DOMAIN)
    reason = await form.validate_return_reason("r" * 1000, dispatcher, tracker, DOMAIN)
    assert (MAX_ITEM, MAX_REASON) == (200, 500)
    assert item == {"return_item": "i" * MAX_ITEM}
    assert reason == {"return_reason": "r" * MAX_REASON}


async def test_cut_answer_has_no_trailing_space(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("", "inform", active_loop="return_form")
    result = await ValidateReturnForm().validate_return_item(
        "word " * 100, dispatcher, tracker, DOMAIN
    )
    assert result == {"return_item": ("word " * 40).strip()}


# --- creating the return ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "item", "return_number", "carrier"),
    [
        ("331907", "Running shoes, size 42", "R-331907-001", "InPost"),
        ("415926", "USB-C cable", "R-415926-001", "Aras Kargo"),
    ],
)
async def test_return_is_created_for_a_delivered_order(
    services: Services,
    dispatcher: CollectingDispatcher,
    number: str,
    item: str,
    return_number: str,
    carrier: str,
) -> None:
    slots = {"order_number": number, "return_item": item, "return_reason": "Too small"}
    tracker = make_tracker("Too small", "inform", slots=slots)
    events = await ActionCreateReturn().run(dispatcher, tracker, DOMAIN)

    assert responses(dispatcher) == ["utter_return_created", "utter_ask_resolved"]
    created = dispatcher.messages[0]
    assert (
        created["return_number"],
        created["return_item"],
        created["order_number"],
        created["carrier"],
    ) == (return_number, item, number, carrier)
    assert_renders(created)
    assert events == [*RESET, SlotSet("pending", "resolution_check")]


async def test_each_return_gets_its_own_number(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    for item in ("Running shoes, size 42", "Sports socks (3 pairs)"):
        slots = {"order_number": "331907", "return_item": item, "return_reason": "Not needed"}
        await ActionCreateReturn().run(dispatcher, make_tracker(slots=slots), DOMAIN)
    numbers = [m["return_number"] for m in dispatcher.messages if "return_number" in m]
    assert numbers == ["R-331907-001", "R-331907-002"]


@pytest.mark.parametrize("number", ["204518", "558120", "100234", "777001"])
async def test_undelivered_order_cannot_be_returned_yet(
    services: Services, dispatcher: CollectingDispatcher, number: str
) -> None:
    slots = {"order_number": number, "return_item": "the thing", "return_reason": "Broken"}
    events = await ActionCreateReturn().run(dispatcher, make_tracker(slots=slots), DOMAIN)

    assert responses(dispatcher) == ["utter_return_not_possible", "utter_offer_human_q"]
    assert dispatcher.messages[0]["order_number"] == number
    assert_renders(dispatcher.messages[0])
    assert events == [
        *RESET,
        SlotSet("pending", "offer_human"),
        SlotSet("handoff_reason", "not_helped"),
    ]


async def test_return_for_an_unknown_order(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    slots = {"order_number": "999999", "return_item": "lamp", "return_reason": "Broken"}
    events = await ActionCreateReturn().run(dispatcher, make_tracker(slots=slots), DOMAIN)
    assert responses(dispatcher) == ["utter_order_not_found"]
    assert dispatcher.messages[0]["order_number"] == "999999"
    assert events == RESET


async def test_return_while_the_backend_is_down(
    backend_offline: Services, dispatcher: CollectingDispatcher
) -> None:
    slots = {"order_number": "331907", "return_item": "socks", "return_reason": "Too small"}
    events = await ActionCreateReturn().run(dispatcher, make_tracker(slots=slots), DOMAIN)
    assert responses(dispatcher) == ["utter_backend_unavailable", "utter_offer_human_q"]
    assert events == [
        *RESET,
        SlotSet("pending", "offer_human"),
        SlotSet("handoff_reason", "backend_unavailable"),
    ]

"""Order status and invoice re-sending: order numbers, what the customer sees, backend down."""

from __future__ import annotations

import datetime as dt

import pytest
from rasa_sdk import Action
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import (
    ActionOrderStatus,
    ActionResendInvoice,
    ValidateInvoiceForm,
    ValidateOrderStatusForm,
)
from actions.services import Services
from bot.shop.orders import ORDER_STATUSES
from tests.conftest import TODAY
from tests.unit.actions.conftest import (
    DOMAIN,
    assert_renders,
    form_tracker,
    make_tracker,
    responses,
)


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


ORDER_FORMS = [ValidateOrderStatusForm, ValidateInvoiceForm]


# --- order number validation ---------------------------------------------------------


@pytest.mark.parametrize("form", ORDER_FORMS)
@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("204518", "204518"),
        ("#204518", "204518"),
        ("204 518", "204518"),
        ("204-518", "204518"),
        ("my order is #331907, thanks", "331907"),
        ("siparişim 558120 nerede?", "558120"),
        ("204518 / 204518", "204518"),
    ],
)
async def test_valid_order_number_is_accepted_quietly(
    services: Services,
    dispatcher: CollectingDispatcher,
    form: type[ValidateOrderStatusForm | ValidateInvoiceForm],
    typed: str,
    number: str,
) -> None:
    tracker = make_tracker(typed, "inform", active_loop=form().form_name())
    result = await form().validate_order_number(typed, dispatcher, tracker, DOMAIN)
    assert result == {"order_number": number}
    assert dispatcher.messages == []


@pytest.mark.parametrize("form", ORDER_FORMS)
@pytest.mark.parametrize(
    "typed",
    ["1234", "12345678", "204518 and 331907", "204 518 or 331 907", "my order", "", None],
)
async def test_malformed_order_number_is_asked_again(
    services: Services,
    dispatcher: CollectingDispatcher,
    form: type[ValidateOrderStatusForm | ValidateInvoiceForm],
    typed: str | None,
) -> None:
    tracker = make_tracker(typed or "", "inform")
    result = await form().validate_order_number(typed, dispatcher, tracker, DOMAIN)
    assert result == {"order_number": None}
    assert responses(dispatcher) == ["utter_invalid_order_number"]


@pytest.mark.parametrize("form", ORDER_FORMS)
@pytest.mark.parametrize("typed", ["999999", "#999 999"])
async def test_unknown_order_is_named_back(
    services: Services,
    dispatcher: CollectingDispatcher,
    form: type[ValidateOrderStatusForm | ValidateInvoiceForm],
    typed: str,
) -> None:
    tracker = make_tracker(typed, "inform")
    result = await form().validate_order_number(typed, dispatcher, tracker, DOMAIN)
    assert result == {"order_number": None}
    assert responses(dispatcher) == ["utter_order_not_found"]
    assert dispatcher.messages[0]["order_number"] == "999999"
    assert_renders(dispatcher.messages[0])


@pytest.mark.parametrize("form", ORDER_FORMS)
async def test_number_is_accepted_while_the_backend_is_down(
    backend_offline: Services,
    dispatcher: CollectingDispatcher,
    form: type[ValidateOrderStatusForm | ValidateInvoiceForm],
) -> None:
    # The action after the form tells the customer; the form must not loop on it.
    tracker = make_tracker("#204518", "inform")
    result = await form().validate_order_number("#204518", dispatcher, tracker, DOMAIN)
    assert result == {"order_number": "204518"}
    assert dispatcher.messages == []


async def test_form_run_validates_the_extracted_number(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker("204 518", "order_status_form")
    result = await ValidateOrderStatusForm().run(dispatcher, tracker, DOMAIN)
    assert result == [SlotSet("order_number", "204518")]
    assert dispatcher.messages == []


# --- order status ----------------------------------------------------------------------

# number -> status, carrier, tracking number, eta, delivered on (as the customer sees them)
DEMO_ORDERS = [
    ("204518", "shipped", "DHL", "JD014600006281234567", day(2), "-"),
    ("331907", "delivered", "InPost", "-", "-", day(-3)),
    ("558120", "processing", "Yurtiçi Kargo", "-", day(1), "-"),
    ("100234", "out_for_delivery", "DPD", "01234567890123", day(0), "-"),
    ("777001", "cancelled", "", "-", "-", "-"),
    ("640055", "shipped", "InPost", "640055112233445566778899", day(1), "-"),
    ("415926", "delivered", "Aras Kargo", "-", "-", day(-6)),
]


def test_demo_orders_cover_every_status() -> None:
    assert {status for _n, status, *_rest in DEMO_ORDERS} == set(ORDER_STATUSES)


@pytest.mark.parametrize(
    ("number", "status", "carrier", "tracking_number", "eta", "delivered_on"), DEMO_ORDERS
)
async def test_order_status_is_told_then_resolution_asked(
    services: Services,
    dispatcher: CollectingDispatcher,
    number: str,
    status: str,
    carrier: str,
    tracking_number: str,
    eta: str,
    delivered_on: str,
) -> None:
    tracker = make_tracker(number, "inform", slots={"order_number": number})
    events = await ActionOrderStatus().run(dispatcher, tracker, DOMAIN)

    assert responses(dispatcher) == [f"utter_order_status_{status}", "utter_ask_resolved"]
    shown = dispatcher.messages[0]
    assert (
        shown["order_number"],
        shown["carrier"],
        shown["tracking_number"],
        shown["eta"],
        shown["delivered_on"],
    ) == (number, carrier, tracking_number, eta, delivered_on)
    assert_renders(shown)
    assert events == [SlotSet("order_number", None), SlotSet("pending", "resolution_check")]


async def test_order_status_of_an_unknown_order(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    # Accepted while the backend was down, unknown once it is back.
    tracker = make_tracker("999999", "inform", slots={"order_number": "999999"})
    events = await ActionOrderStatus().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_order_not_found"]
    assert dispatcher.messages[0]["order_number"] == "999999"
    assert events == [SlotSet("order_number", None)]


BACKEND_DOWN_EVENTS = [
    SlotSet("order_number", None),
    SlotSet("pending", "offer_human"),
    SlotSet("handoff_reason", "backend_unavailable"),
]


@pytest.mark.parametrize("action", [ActionOrderStatus, ActionResendInvoice])
async def test_backend_down_offers_a_person(
    backend_offline: Services, dispatcher: CollectingDispatcher, action: type[Action]
) -> None:
    tracker = make_tracker("204518", "inform", slots={"order_number": "204518"})
    events = await action().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_backend_unavailable", "utter_offer_human_q"]
    assert events == BACKEND_DOWN_EVENTS


# --- invoice re-send -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked", "full"),
    [
        ("204518", "a***@example.com", "anna.smith@example.com"),
        ("331907", "k***@example.com", "k.nowak@example.com"),
        ("100234", "j***@example.org", "john.doe@example.org"),
    ],
)
async def test_invoice_is_resent_to_the_masked_address(
    services: Services, dispatcher: CollectingDispatcher, number: str, masked: str, full: str
) -> None:
    tracker = make_tracker(number, "inform", slots={"order_number": number})
    events = await ActionResendInvoice().run(dispatcher, tracker, DOMAIN)

    assert responses(dispatcher) == ["utter_invoice_sent", "utter_ask_resolved"]
    sent = dispatcher.messages[0]
    assert (sent["order_number"], sent["email"]) == (number, masked)
    assert_renders(sent)
    assert full not in repr(dispatcher.messages)
    assert events == [SlotSet("order_number", None), SlotSet("pending", "resolution_check")]


async def test_invoice_of_an_unknown_order(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("999999", "inform", slots={"order_number": "999999"})
    events = await ActionResendInvoice().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_order_not_found"]
    assert dispatcher.messages[0]["order_number"] == "999999"
    assert events == [SlotSet("order_number", None)]

"""Order status and invoice re-sending, through the order backend."""

from __future__ import annotations

import abc
import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import ask_resolved, offer_human, reset_form
from actions.services import get_services
from bot.desk.escalation import Reason
from bot.errors import BackendError, BackendUnavailable, NotFound
from bot.shop.orders import Order, normalize_order_number

__all__ = [
    "ActionOrderStatus",
    "ActionResendInvoice",
    "ValidateInvoiceForm",
    "ValidateOrderStatusForm",
    "validate_order_number",
]

logger = logging.getLogger(__name__)


async def validate_order_number(
    value: Any, dispatcher: CollectingDispatcher
) -> tuple[str | None, Order | None]:
    """Check an order number's form and that the order exists.

    Returns the normalised number (None when the customer must be asked again) and the
    order when the backend could be asked. When the backend is down the number is
    accepted: the action after the form tells the customer.
    """
    number = normalize_order_number(str(value) if value is not None else None)
    if number is None:
        dispatcher.utter_message(response="utter_invalid_order_number")
        return None, None
    try:
        order = await get_services().orders.get_order(number)
    except NotFound:
        dispatcher.utter_message(response="utter_order_not_found", order_number=number)
        return None, None
    except BackendError:
        logger.warning("order backend unavailable while validating %s", number, exc_info=True)
        return number, None
    return number, order


def backend_down(dispatcher: CollectingDispatcher) -> list[EventType]:
    """Tell the customer the backend is unreachable and offer a person."""
    dispatcher.utter_message(response="utter_backend_unavailable")
    return offer_human(dispatcher, Reason.BACKEND_UNAVAILABLE.value, "utter_offer_human_q")


class _OrderNumberForm(FormValidationAction):
    """A form that only needs an existing order's number."""

    # Abstract, so that the action server does not register this base class itself.
    @abc.abstractmethod
    def name(self) -> str: ...

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number, _order = await validate_order_number(value, dispatcher)
        return {"order_number": number}


class ValidateOrderStatusForm(_OrderNumberForm):
    def name(self) -> str:
        return "validate_order_status_form"


class ActionOrderStatus(Action):
    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = str(tracker.get_slot("order_number") or "")
        events = reset_form(domain, "order_status_form")
        try:
            order = await get_services().orders.get_order(number)
        except NotFound:
            dispatcher.utter_message(response="utter_order_not_found", order_number=number)
            return events
        except BackendError:
            logger.warning("order backend failed for %s", number, exc_info=True)
            return events + backend_down(dispatcher)
        dispatcher.utter_message(
            response=f"utter_order_status_{order.status}",
            order_number=order.number,
            carrier=order.carrier,
            tracking_number=order.tracking_number or "-",
            eta=order.eta or "-",
            delivered_on=order.delivered_on or "-",
        )
        return events + ask_resolved(dispatcher)


class ValidateInvoiceForm(_OrderNumberForm):
    def name(self) -> str:
        return "validate_invoice_form"


class ActionResendInvoice(Action):
    def name(self) -> str:
        return "action_resend_invoice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = str(tracker.get_slot("order_number") or "")
        events = reset_form(domain, "invoice_form")
        try:
            sent_to = await get_services().orders.resend_invoice(number)
        except NotFound:
            dispatcher.utter_message(response="utter_order_not_found", order_number=number)
            return events
        except (BackendUnavailable, BackendError):
            logger.warning("invoice re-send failed for %s", number, exc_info=True)
            return events + backend_down(dispatcher)
        dispatcher.utter_message(response="utter_invoice_sent", order_number=number, email=sent_to)
        return events + ask_resolved(dispatcher)

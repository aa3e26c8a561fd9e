"""Returns and exchanges: order number, item and reason, then a return label."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import ask_resolved, offer_human, reset_form
from actions.orders import backend_down, validate_order_number
from actions.services import get_services
from bot.desk.escalation import Reason
from bot.errors import BackendError, Conflict, NotFound

__all__ = ["ActionCreateReturn", "ValidateReturnForm"]

logger = logging.getLogger(__name__)

MAX_ITEM = 200
MAX_REASON = 500


def _clean(value: Any, limit: int) -> str | None:
    text = " ".join(str(value or "").split())
    if len(text) < 2 or text.startswith("/"):
        return None
    return text[:limit].rstrip()


class ValidateReturnForm(FormValidationAction):
    def name(self) -> str:
        return "validate_return_form"

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number, order = await validate_order_number(value, dispatcher)
        if order is not None and order.status != "delivered":
            # Say so before asking which item and why, and let the customer name another order.
            response = (
                "utter_return_cancelled"
                if order.status == "cancelled"
                else "utter_return_not_possible"
            )
            dispatcher.utter_message(response=response, order_number=order.number)
            return {"order_number": None}
        slots: dict[str, Any] = {"order_number": number}
        # An order with a single item needs no question about which item it is.
        if order is not None and len(order.items) == 1 and not tracker.get_slot("return_item"):
            slots["return_item"] = order.items[0]
        return slots

    async def validate_return_item(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"return_item": _clean(value, MAX_ITEM)}

    async def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"return_reason": _clean(value, MAX_REASON)}


class ActionCreateReturn(Action):
    def name(self) -> str:
        return "action_create_return"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = str(tracker.get_slot("order_number") or "")
        item = str(tracker.get_slot("return_item") or "")
        reason = str(tracker.get_slot("return_reason") or "")
        events = reset_form(domain, "return_form")
        try:
            receipt = await get_services().orders.create_return(number, item, reason)
        except NotFound:
            dispatcher.utter_message(response="utter_order_not_found", order_number=number)
            return events
        except Conflict:
            dispatcher.utter_message(response="utter_return_not_possible", order_number=number)
            return events + offer_human(dispatcher, Reason.NOT_HELPED.value, "utter_offer_human_q")
        except BackendError:
            logger.warning("return creation failed for %s", number, exc_info=True)
            return events + backend_down(dispatcher)
        dispatcher.utter_message(
            response="utter_return_created",
            return_number=receipt.return_number,
            return_item=item,
            order_number=number,
            carrier=receipt.carrier,
        )
        return events + ask_resolved(dispatcher)

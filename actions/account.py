"""Account help (password reset guidance) and account deletion requests."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import ask_resolved, offer_human, reset_form
from actions.services import get_services
from bot.desk.escalation import Reason
from bot.errors import KopruError

__all__ = ["ActionAccountHelp", "ActionRecordDeletion", "ValidateDeletionForm", "find_email"]

logger = logging.getLogger(__name__)

# Unicode local parts are allowed (RFC 6531: "łukasz@wp.pl"); the look-behind makes sure
# the match is the whole address, never the ASCII tail of a longer word.
_EMAIL_RE = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")


def find_email(text: str | None) -> str | None:
    """The e-mail address in what the customer typed, lower-cased, or None."""
    found = _EMAIL_RE.search(text or "")
    return found.group(0).lower() if found and len(found.group(0)) <= 254 else None


class ActionAccountHelp(Action):
    def name(self) -> str:
        return "action_account_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_account_help")
        return ask_resolved(dispatcher)


class ValidateDeletionForm(FormValidationAction):
    def name(self) -> str:
        return "validate_deletion_form"

    async def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        email = find_email(str(value) if value is not None else None)
        if email is None:
            dispatcher.utter_message(response="utter_invalid_email")
        return {"email": email}


class ActionRecordDeletion(Action):
    """Record the deletion request; a person confirms it with the customer."""

    def name(self) -> str:
        return "action_record_deletion"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        email = str(tracker.get_slot("email") or "")
        events = reset_form(domain, "deletion_form")
        try:
            reference = await asyncio.to_thread(
                get_services().store.add_deletion_request, tracker.sender_id, email, time.time()
            )
        except KopruError:
            logger.exception("could not record a deletion request of %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_escalation_failed")
            return events
        dispatcher.utter_message(
            response="utter_deletion_recorded", email=email, reference=reference
        )
        return events + offer_human(
            dispatcher, Reason.ACCOUNT_DELETION.value, "utter_offer_human_q"
        )

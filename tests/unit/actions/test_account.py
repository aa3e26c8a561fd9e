"""Account help and deletion requests: e-mail validation, what is stored, the offer."""

from __future__ import annotations

import re

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionAccountHelp, ActionRecordDeletion, ValidateDeletionForm
from actions.services import Services
from tests.unit.actions.conftest import DOMAIN, assert_renders, make_tracker, responses


async def test_password_help_then_resolution_question(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    tracker = make_tracker("I forgot my password", "account_help")
    events = await ActionAccountHelp().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_account_help", "utter_ask_resolved"]
    assert events == [SlotSet("pending", "resolution_check")]


# --- e-mail ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "email"),
    [
        ("anna.smith@example.com", "anna.smith@example.com"),
        ("Jan.Kowalski@Example.COM", "jan.kowalski@example.com"),
        (
            "my e-mail is K.Nowak+shop@Mail.Example.co.uk, thanks.",
            "k.nowak+shop@mail.example.co.uk",
        ),
        ("e-postam: ayse_yilmaz@example.com.tr", "ayse_yilmaz@example.com.tr"),
    ],
)
async def test_valid_email_is_kept_lower_cased(
    services: Services, dispatcher: CollectingDispatcher, typed: str, email: str
) -> None:
    tracker = make_tracker(typed, "inform", active_loop="deletion_form")
    result = await ValidateDeletionForm().validate_email(typed, dispatcher, tracker, DOMAIN)
    assert result == {"email": email}
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "typed",
    ["not an address", "jan@", "@example.com", "jan@example", "jan@example.c", "", None,
     "a" * 250 + "@example.com"],
)  # fmt: skip
async def test_invalid_email_is_asked_again(
    services: Services, dispatcher: CollectingDispatcher, typed: str | None
) -> None:
    tracker = make_tracker(typed or "", "inform", active_loop="deletion_form")
    result = await ValidateDeletionForm().validate_email(typed, dispatcher, tracker, DOMAIN)
    assert result == {"email": None}
    assert responses(dispatcher) == ["utter_invalid_email"]


@pytest.mark.parametrize("typed", ["łukasz@wp.pl", "ayşe.yılmaz@gmail.com"])
async def test_email_is_never_a_fragment_of_what_was_typed(
    services: Services, dispatcher: CollectingDispatcher, typed: str
) -> None:
    tracker = make_tracker(typed, "inform", active_loop="deletion_form")
    result = await ValidateDeletionForm().validate_email(typed, dispatcher, tracker, DOMAIN)
    assert result["email"] == typed.lower()


# --- deletion request --------------------------------------------------------------------


async def test_deletion_is_recorded_then_a_person_offered(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    email = "anna.smith@example.com"
    tracker = make_tracker(email, "inform", slots={"email": email})
    events = await ActionRecordDeletion().run(dispatcher, tracker, DOMAIN)

    assert responses(dispatcher) == ["utter_deletion_recorded", "utter_offer_human_q"]
    recorded = dispatcher.messages[0]
    assert recorded["email"] == "anna.smith@example.com"
    assert re.fullmatch(r"D-[0-9A-F]{6}", recorded["reference"])
    assert_renders(recorded)
    assert services.store.deletion_requests_of("customer-1") == [
        (recorded["reference"], "anna.smith@example.com")
    ]
    assert events == [
        SlotSet("email", None),
        SlotSet("pending", "offer_human"),
        SlotSet("handoff_reason", "account_deletion"),
    ]


async def test_each_request_has_its_own_reference(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    for email in ("anna.smith@example.com", "k.nowak@example.com"):
        tracker = make_tracker(email, "inform", slots={"email": email}, sender="customer-2")
        await ActionRecordDeletion().run(dispatcher, tracker, DOMAIN)
    references = [m["reference"] for m in dispatcher.messages if "reference" in m]
    assert services.store.deletion_requests_of("customer-2") == [
        (references[0], "anna.smith@example.com"),
        (references[1], "k.nowak@example.com"),
    ]
    assert references[0] != references[1]
    assert services.store.deletion_requests_of("customer-1") == []


async def test_store_failure_gives_a_polite_answer_and_no_offer(
    services: Services, dispatcher: CollectingDispatcher
) -> None:
    services.store.engine.dispose()
    services.store._engine = None  # simulate a store that cannot be opened
    services.store.url = "sqlite:////proc/forbidden/kopru.db"
    tracker = make_tracker("x@example.com", "inform", slots={"email": "x@example.com"})
    events = await ActionRecordDeletion().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_escalation_failed"]
    assert events == [SlotSet("email", None)]

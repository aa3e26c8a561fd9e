"""Billing questions: payment methods in the customer's language, then the resolution question."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.billing import ActionBillingInfo
from actions.services import Services
from tests.unit.actions.conftest import DOMAIN, make_tracker, responses

EN = "Visa, Mastercard, American Express, PayPal, bank transfer, cash on delivery"
TR = "Visa, Mastercard, American Express, PayPal, kredi kartına taksit, havale/EFT, kapıda ödeme"
PL = "Visa, Mastercard, American Express, PayPal, BLIK, przelew bankowy, płatność przy odbiorze"


@pytest.mark.parametrize(
    ("language", "methods"),
    [("en", EN), ("tr", TR), ("pl", PL), (None, EN), ("de", EN)],
)
async def test_payment_methods_in_the_customers_language(
    services: Services, dispatcher: CollectingDispatcher, language: str | None, methods: str
) -> None:
    tracker = make_tracker("how can I pay?", "billing_question", slots={"language": language})
    events = await ActionBillingInfo().run(dispatcher, tracker, DOMAIN)
    assert responses(dispatcher) == ["utter_billing_info", "utter_ask_resolved"]
    assert dispatcher.messages[0]["payment_methods"] == methods
    assert events == [SlotSet("pending", "resolution_check")]


@pytest.mark.parametrize(("language", "local_method"), [("pl", "BLIK"), ("tr", "taksit")])
async def test_local_methods_are_only_offered_locally(
    services: Services, language: str, local_method: str
) -> None:
    shown: dict[str, str] = {}
    for lang in ("en", "tr", "pl"):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker("payment?", "billing_question", slots={"language": lang})
        await ActionBillingInfo().run(dispatcher, tracker, DOMAIN)
        shown[lang] = dispatcher.messages[0]["payment_methods"]
    assert [lang for lang, methods in shown.items() if local_method in methods] == [language]

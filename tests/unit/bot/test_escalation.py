"""should_escalate: every rule, table-driven."""

from __future__ import annotations

import pytest

from bot.desk.escalation import EscalationRequest, Reason, should_escalate
from bot.desk.transcript import IntentSeen, Line


@pytest.mark.parametrize(
    ("intents", "pending", "offered_for", "expected"),
    [
        ([], None, None, None),
        (["greet"], None, None, None),
        (["order_status", "request_human"], None, None, Reason.CUSTOMER_REQUEST),
        (["complaint"], None, None, Reason.COMPLAINT),
        (["nlu_fallback"], None, None, None),
        (["nlu_fallback", "nlu_fallback"], None, None, Reason.REPEATED_FALLBACK),
        (["nlu_fallback", "greet", "nlu_fallback"], None, None, None),
        (["faq", "deny", "affirm"], "offer_human", "not_helped", Reason.NOT_HELPED),
        (
            ["tech_problem", "deny", "affirm"],
            "offer_human",
            "failed_guided_flow",
            Reason.FAILED_GUIDED_FLOW,
        ),
        (
            ["delete_account", "inform", "affirm"],
            "offer_human",
            "account_deletion",
            Reason.ACCOUNT_DELETION,
        ),
        (["affirm"], "offer_human", None, Reason.NOT_HELPED),
        (["affirm"], "offer_human", "nonsense", Reason.NOT_HELPED),
        (["affirm"], "resolution_check", None, None),
        (["deny"], "offer_human", "not_helped", None),
        (["request_human"], "resolution_check", None, Reason.CUSTOMER_REQUEST),
    ],
)
def test_should_escalate(
    intents: list[str], pending: str | None, offered_for: str | None, expected: Reason | None
) -> None:
    assert should_escalate(intents, pending=pending, offered_for=offered_for) is expected


def test_context_keeps_what_an_agent_needs_and_drops_empty_slots() -> None:
    request = EscalationRequest(
        sender_id="c1",
        session_started_at=100.0,
        channel="webchat",
        language="tr",
        reason=Reason.COMPLAINT,
        intents=[IntentSeen("order_status", 0.91), IntentSeen("complaint", 0.88)],
        slots={"order_number": "204518", "email": None, "country": ""},
        transcript=[Line("customer", "kargom nerede", 101.0), Line("bot", "...", 101.5)],
        customer_name="Ayşe",
    )
    context = request.context()
    assert context["reason"] == "complaint"
    assert context["language"] == "tr"
    assert context["slots"] == {"order_number": "204518"}
    assert context["intents"][0] == {"name": "order_status", "confidence": 0.91}
    assert context["transcript"][0] == {"speaker": "customer", "text": "kargom nerede", "at": 101.0}
    assert context["customer_name"] == "Ayşe"

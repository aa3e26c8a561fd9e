"""When to hand a conversation to a person, and what the person is told about it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from bot.desk.transcript import IntentSeen, Line

__all__ = ["EscalationRequest", "Reason", "should_escalate"]


class Reason(str, Enum):
    CUSTOMER_REQUEST = "customer_request"
    COMPLAINT = "complaint"
    REPEATED_FALLBACK = "repeated_fallback"
    FAILED_GUIDED_FLOW = "failed_guided_flow"
    NOT_HELPED = "not_helped"
    ACCOUNT_DELETION = "account_deletion"
    BACKEND_UNAVAILABLE = "backend_unavailable"

    @classmethod
    def parse(cls, value: str | None, default: Reason) -> Reason:
        try:
            return cls(value) if value else default
        except ValueError:
            return default


def should_escalate(
    intents: Sequence[str], *, pending: str | None = None, offered_for: str | None = None
) -> Reason | None:
    """Why the conversation must go to a person now, or None if the bot carries on.

    `intents` are the customer's intents in order (the last one is the message being
    answered); `pending` is the yes/no question the bot asked before it, and
    `offered_for` why the bot offered a person when that question was the offer.
    """
    if not intents:
        return None
    latest = intents[-1]
    if latest == "request_human":
        return Reason.CUSTOMER_REQUEST
    if latest == "complaint":
        return Reason.COMPLAINT
    if latest == "nlu_fallback" and len(intents) >= 2 and intents[-2] == "nlu_fallback":
        return Reason.REPEATED_FALLBACK
    if latest == "affirm" and pending == "offer_human":
        return Reason.parse(offered_for, Reason.NOT_HELPED)
    return None


@dataclass(frozen=True)
class EscalationRequest:
    """Everything a person needs to take over without asking the customer again."""

    sender_id: str
    session_started_at: float
    channel: str
    language: str
    reason: Reason
    intents: Sequence[IntentSeen] = ()
    slots: Mapping[str, Any] = field(default_factory=dict)
    transcript: Sequence[Line] = ()
    customer_name: str | None = None

    def context(self) -> dict[str, Any]:
        return {
            "customer_name": self.customer_name,
            "channel": self.channel,
            "language": self.language,
            "reason": self.reason.value,
            "intents": [asdict(i) for i in self.intents],
            "slots": {k: v for k, v in self.slots.items() if v not in (None, "", [])},
            "transcript": [asdict(line) for line in self.transcript],
            "conversation_started_at": self.session_started_at,
        }

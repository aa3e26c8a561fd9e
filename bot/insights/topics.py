"""The self-service topics customers come with, by the intents that name them."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["SELF_SERVICE_INTENTS", "TOPICS"]

# Intent -> the topic reports group it under.
TOPICS: Mapping[str, str] = {
    "order_status": "order status",
    "return_request": "returns",
    "billing_question": "billing",
    "request_invoice": "billing",
    "account_help": "account",
    "delete_account": "account",
    "delivery_question": "delivery",
    "tech_problem": "troubleshooting",
    "faq": "faq",
}

# Intents of a self-service question the bot answers.
SELF_SERVICE_INTENTS = frozenset(TOPICS)

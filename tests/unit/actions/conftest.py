"""Fixtures for action tests: real services on a temporary store and the demo backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.services import Services, use_services
from bot.business import load_business_config
from bot.escalation import StoreEscalator
from bot.orders import OrdersClient
from bot.settings import PROJECT_ROOT, Settings
from bot.store import Store

DOMAIN: dict[str, Any] = {
    "forms": {
        "order_status_form": {"required_slots": ["order_number"]},
        "return_form": {"required_slots": ["order_number", "return_item", "return_reason"]},
        "invoice_form": {"required_slots": ["order_number"]},
        "delivery_form": {"required_slots": ["country"]},
        "deletion_form": {"required_slots": ["email"]},
    }
}


@pytest.fixture
async def services(demo_backend_url: str, tmp_database_url: str) -> AsyncIterator[Services]:
    settings = Settings(
        database_url=tmp_database_url,
        orders_url=demo_backend_url,
        orders_timeout=2.0,
        business_config=PROJECT_ROOT / "kopru.yml",
    )
    store = Store(settings.database_url)
    store.create_schema()
    built = Services(
        settings=settings,
        business=load_business_config(settings.business_config),
        store=store,
        orders=OrdersClient(demo_backend_url, timeout=2.0),
        escalator=StoreEscalator(store),
    )
    with use_services(built):
        yield built
    await built.orders.aclose()


def make_tracker(
    text: str = "",
    intent: str = "",
    *,
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    channel: str = "webchat",
    active_loop: str | None = None,
    metadata: dict[str, Any] | None = None,
    sender: str = "customer-1",
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": [],
        "metadata": metadata or {},
    }
    history = events if events is not None else [
        {"event": "session_started", "timestamp": 100.0},
        {"event": "user", "text": text, "timestamp": 101.0, "input_channel": channel,
         "parse_data": latest},
    ]  # fmt: skip
    return Tracker(
        sender_id=sender,
        slots={"language": "en", "pending": None, **(slots or {})},
        latest_message=latest,
        events=history,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


TrackerFactory = Callable[..., Tracker]


@pytest.fixture
def tmp_root(tmp_path: Path) -> Path:
    return tmp_path

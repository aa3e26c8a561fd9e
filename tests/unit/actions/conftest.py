"""Fixtures for action tests: real services on a temporary store and the demo backend."""

from __future__ import annotations

import dataclasses
import re
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.services import Services, use_services
from bot.desk.hours import parse_agent_desk
from bot.desk.service import HandoffService
from bot.settings import PROJECT_ROOT, Settings
from bot.shop.business import load_business_config
from bot.shop.orders import OrdersClient
from bot.storage.store import Store
from tests.fakes.desk import RecordingDesk

DOMAIN: dict[str, Any] = {
    "forms": {
        "order_status_form": {"required_slots": ["order_number"]},
        "return_form": {"required_slots": ["order_number", "return_item", "return_reason"]},
        "invoice_form": {"required_slots": ["order_number"]},
        "delivery_form": {"required_slots": ["country"]},
        "deletion_form": {"required_slots": ["email"]},
    }
}


# Agents at their desks around the clock, so that tests do not depend on when they run.
ALWAYS_OPEN = parse_agent_desk(
    {"timezone": "UTC", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
     "hours": "00:00-24:00"}
)  # fmt: skip


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
    business = load_business_config(settings.business_config)
    built = Services(
        settings=settings,
        business=business,
        store=store,
        orders=OrdersClient(demo_backend_url, timeout=2.0),
        handoffs=HandoffService(store, ALWAYS_OPEN, RecordingDesk()),
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


RESPONSES: dict[str, Any] = yaml.safe_load(
    (PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8")
)["responses"]


def template_variables(response: str) -> set[str]:
    """The {variables} used by a response's texts, over all languages."""
    texts = " ".join(str(variation.get("text", "")) for variation in RESPONSES[response])
    return set(re.findall(r"\{(\w+)\}", texts))


def assert_renders(message: dict[str, Any]) -> None:
    """The response exists and every variable its texts use was passed with it."""
    assert template_variables(message["response"]) <= message.keys()


@pytest.fixture
async def backend_offline(services: Services) -> AsyncIterator[Services]:
    """The same services, but the order backend is a closed port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = dataclasses.replace(
        services, orders=OrdersClient(f"http://127.0.0.1:{port}", timeout=2.0)
    )
    with use_services(down):
        yield down
    await down.orders.aclose()


def form_tracker(typed: str, form: str, slot: str = "order_number") -> Tracker:
    """A form waiting for `slot`, just after the customer typed `typed` for it."""
    events = [
        {"event": "session_started", "timestamp": 100.0},
        {"event": "user", "text": typed, "timestamp": 101.0,
         "parse_data": {"intent": {"name": "inform", "confidence": 0.9}}},
        {"event": "slot", "name": slot, "value": typed, "timestamp": 101.1},
    ]  # fmt: skip
    return make_tracker(
        typed, "inform", slots={slot: typed, "requested_slot": slot}, events=events,
        active_loop=form,
    )  # fmt: skip

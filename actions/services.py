"""The services actions use (store, order backend, handoffs), built lazily once per process."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bot.desk.service import AgentDesk, HandoffService
from bot.settings import Settings
from bot.shop.business import BusinessConfig, load_business_config
from bot.shop.orders import OrdersClient
from bot.storage.store import Store
from channels.slack_desk import SlackDesk

__all__ = ["Services", "get_services", "use_services"]

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    business: BusinessConfig
    store: Store
    orders: OrdersClient
    handoffs: HandoffService

    @classmethod
    def from_settings(cls, settings: Settings, desk: AgentDesk | None = None) -> Services:
        store = Store(settings.database_url)
        store.create_schema()
        business = load_business_config(settings.business_config)
        return cls(
            settings=settings,
            business=business,
            store=store,
            orders=OrdersClient(settings.orders_url, timeout=settings.orders_timeout),
            handoffs=HandoffService(store, business.agent_desk, desk),
        )


_override: list[Services] = []


@functools.cache
def _from_environment() -> Services:
    settings = Settings.from_env()
    # Without SLACK_BOT_TOKEN there is no agent desk and escalations become tickets.
    desk = SlackDesk.from_env(os.environ)
    logger.info("Köprü actions: store %s, orders %s, agent desk %s",
                _safe_url(settings.database_url), settings.orders_url,
                "Slack" if desk else "none (tickets only)")  # fmt: skip
    return Services.from_settings(settings, desk)


def get_services() -> Services:
    """The services for this process: the test override if one is set, else from the env."""
    return _override[-1] if _override else _from_environment()


@contextmanager
def use_services(services: Services) -> Iterator[Services]:
    """Run actions against other services (tests, benchmarks)."""
    _override.append(services)
    try:
        yield services
    finally:
        _override.pop()


def _safe_url(url: str) -> str:
    # Never log database passwords.
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest

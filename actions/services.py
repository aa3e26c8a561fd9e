"""The services actions use (store, order backend, escalator), built lazily once per process."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bot.business import BusinessConfig, load_business_config
from bot.escalation import Escalator, StoreEscalator
from bot.orders import OrdersClient
from bot.settings import Settings
from bot.store import Store

__all__ = ["Services", "get_services", "use_services"]

logger = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    business: BusinessConfig
    store: Store
    orders: OrdersClient
    escalator: Escalator

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        store = Store(settings.database_url)
        store.create_schema()
        return cls(
            settings=settings,
            business=load_business_config(settings.business_config),
            store=store,
            orders=OrdersClient(settings.orders_url, timeout=settings.orders_timeout),
            escalator=StoreEscalator(store),
        )


_override: list[Services] = []


@functools.cache
def _from_environment() -> Services:
    settings = Settings.from_env()
    logger.info("Köprü actions: store %s, orders %s", _safe_url(settings.database_url),
                settings.orders_url)  # fmt: skip
    return Services.from_settings(settings)


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

"""Köprü's Prometheus metrics: their names and labels, and the `/metrics` listener of each process.

The metrics live on a registry of their own (`metrics().registry`), not prometheus_client's
global one, so that a test can build a fresh :class:`KopruMetrics` and Rasa's or a
library's metrics never mix in. Nothing is created at import: :func:`metrics` builds the
process's set on first use.

Each process serves them on a listener of its own, started only when its variable names
a port (off by default), and only on 127.0.0.1 (Prometheus scrapes from this machine or
through a tunnel or a local agent; the figures are not for the public):

==========================  =========================================================
KOPRU_METRICS_PORT          the Rasa server (messages, their answer times, errors)
KOPRU_ACTIONS_METRICS_PORT  the action server (errors, handoffs and surveys)
KOPRU_WEB_METRICS_PORT      the admin web app (trainings, handoffs and surveys)
KOPRU_EVENTS_METRICS_PORT   the event consumer (`kopru events`, scaled mode)
==========================  =========================================================

In the scaled mode the Rasa replicas serve on KOPRU_METRICS_PORT, KOPRU_METRICS_PORT + 1,
and so on (bot/serving/runner.py).

Figures read from the database (the handoff queue, answered surveys) are read when
Prometheus scrapes, by a :class:`DatabaseGauges` collector: the message path writes
nothing for them.

This module sits at the bottom of bot/'s layers (it imports only bot.errors), so that
channels, the trainer and the servers above can all count into it.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from bot.errors import ConfigError

__all__ = [
    "ACTIONS_PORT_ENV",
    "EVENTS_PORT_ENV",
    "LISTEN_ADDRESS",
    "MESSAGE_BUCKETS",
    "RASA_PORT_ENV",
    "WEB_PORT_ENV",
    "DatabaseGauges",
    "KopruMetrics",
    "metrics",
    "metrics_port",
    "start_metrics_listener",
]

logger = logging.getLogger(__name__)

RASA_PORT_ENV = "KOPRU_METRICS_PORT"
ACTIONS_PORT_ENV = "KOPRU_ACTIONS_METRICS_PORT"
WEB_PORT_ENV = "KOPRU_WEB_METRICS_PORT"
EVENTS_PORT_ENV = "KOPRU_EVENTS_METRICS_PORT"
LISTEN_ADDRESS = "127.0.0.1"

# From a cached rule's answer (a few ms) to a slow action behind a slow backend (seconds).
MESSAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A training with the shipped config takes minutes on 2 cores; an up-to-date one, none.
TRAINING_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)


@dataclass(frozen=True)
class KopruMetrics:
    """Köprü's metrics, all on ``registry``."""

    registry: CollectorRegistry
    messages_received: Counter
    messages_sent: Counter
    message_seconds: Histogram
    errors: Counter
    training_runs: Counter
    training_seconds: Histogram

    @classmethod
    def build(cls, registry: CollectorRegistry | None = None) -> KopruMetrics:
        registry = CollectorRegistry() if registry is None else registry
        return cls(
            registry=registry,
            messages_received=Counter(
                "kopru_messages_received",
                "Customer messages given to the bot, by channel.",
                ["channel"],
                registry=registry,
            ),
            messages_sent=Counter(
                "kopru_messages_sent",
                "Messages the bot said to customers (apologies included), by channel.",
                ["channel"],
                registry=registry,
            ),
            message_seconds=Histogram(
                "kopru_message_seconds",
                "Seconds from a customer's message reaching the bot to the bot's answer.",
                ["channel"],
                buckets=MESSAGE_BUCKETS,
                registry=registry,
            ),
            errors=Counter(
                "kopru_errors",
                "Errors Köprü logged, by component (action, tracker_store, action_server, "
                "metrics).",
                ["component"],
                registry=registry,
            ),
            training_runs=Counter(
                "kopru_training_runs",
                "Trainings started from the admin pages, by result (succeeded, failed, "
                "cancelled, up_to_date).",
                ["result"],
                registry=registry,
            ),
            training_seconds=Histogram(
                "kopru_training_seconds",
                "Seconds a training took (trainings that ran only).",
                buckets=TRAINING_BUCKETS,
                registry=registry,
            ),
        )

    def message_received(self, channel: str) -> None:
        self.messages_received.labels(channel=channel).inc()

    def message_answered(self, channel: str, sent: int, seconds: float) -> None:
        if sent > 0:
            self.messages_sent.labels(channel=channel).inc(sent)
        self.message_seconds.labels(channel=channel).observe(seconds)

    def error(self, component: str) -> None:
        self.errors.labels(component=component).inc()

    def training_finished(self, result: str, seconds: float | None) -> None:
        self.training_runs.labels(result=result).inc()
        if seconds is not None:
            self.training_seconds.observe(seconds)


@functools.cache
def metrics() -> KopruMetrics:
    """This process's metrics, built on first use, with the process's CPU and memory."""
    built = KopruMetrics.build()
    ProcessCollector(registry=built.registry)
    PlatformCollector(registry=built.registry)
    return built


class DatabaseGauges(Collector):
    """``kopru_handoffs{state}`` and ``kopru_surveys_answered{kind}``, read at scrape time.

    ``handoffs`` and ``surveys`` read the database (bot.serving.gauges has the queries;
    this module is below the store). A read that fails is logged and counted as an error
    of component ``metrics``; that family is then missing from the scrape, which
    Prometheus tells apart from a zero.
    """

    def __init__(
        self,
        handoffs: Callable[[], Mapping[str, int]],
        surveys: Callable[[], Mapping[str, int]],
        *,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self._handoffs = handoffs
        self._surveys = surveys
        self._on_error = on_error

    def describe(self) -> Iterable[Metric]:
        # Registering must not query the database.
        return [
            GaugeMetricFamily("kopru_handoffs", _HANDOFFS_HELP, labels=["state"]),
            GaugeMetricFamily("kopru_surveys_answered", _SURVEYS_HELP, labels=["kind"]),
        ]

    def collect(self) -> Iterator[Metric]:
        handoffs = self._read(self._handoffs, "handoffs")
        if handoffs is not None:
            family = GaugeMetricFamily("kopru_handoffs", _HANDOFFS_HELP, labels=["state"])
            for state, count in sorted(handoffs.items()):
                family.add_metric([state], count)
            yield family
        surveys = self._read(self._surveys, "surveys")
        if surveys is not None:
            family = GaugeMetricFamily("kopru_surveys_answered", _SURVEYS_HELP, labels=["kind"])
            for kind, count in sorted(surveys.items()):
                family.add_metric([kind], count)
            yield family

    def _read(self, read: Callable[[], Mapping[str, int]], what: str) -> Mapping[str, int] | None:
        try:
            return read()
        except Exception:  # a scrape must answer even when the database does not
            logger.warning("could not read the %s for /metrics", what, exc_info=True)
            if self._on_error is not None:
                self._on_error()
            return None


_HANDOFFS_HELP = "Handoffs to people, by state (bot, queued, claimed, resolved, ticket)."
_SURVEYS_HELP = "Surveys with an answer, by kind (nps, csat)."


def metrics_port(env_name: str, env: Mapping[str, str] | None = None) -> int | None:
    """The port ``env_name`` asks for; None when it is unset or empty (no listener)."""
    env = os.environ if env is None else env
    raw = (env.get(env_name) or "").strip()
    if not raw:
        return None
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{env_name} must be a port number, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{env_name} must be a port number 0-65535, got {port}")
    return port


def start_metrics_listener(
    env_name: str,
    env: Mapping[str, str] | None = None,
    *,
    collectors: Iterable[Collector] = (),
    registry: CollectorRegistry | None = None,
) -> Any | None:
    """Serve ``/metrics`` on 127.0.0.1 at the port ``env_name`` names, in a daemon thread,
    with ``collectors`` added to the registry; returns the server (its ``server_port``,
    ``shutdown()``), or None when the variable is unset."""
    port = metrics_port(env_name, env)
    if port is None:
        return None
    registry = metrics().registry if registry is None else registry
    for collector in collectors:
        registry.register(collector)
    try:
        server, _thread = start_http_server(port, addr=LISTEN_ADDRESS, registry=registry)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve metrics on {LISTEN_ADDRESS}:{port} ({env_name}): {exc}"
        ) from exc
    logger.info("Metrics on http://%s:%s/metrics", LISTEN_ADDRESS, server.server_port)
    return server

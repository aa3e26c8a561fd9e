"""bot/observability.py and bot/serving/gauges.py: Köprü's Prometheus metrics.

Names and labels, the counts of a message through the REST channel's code path, the
handoff and survey gauges read from a real SQLite store, and the /metrics listener.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic

from bot.desk.handoff import HandoffRepository, State
from bot.errors import ConfigError
from bot.observability import (
    LISTEN_ADDRESS,
    MESSAGE_BUCKETS,
    WEB_PORT_ENV,
    DatabaseGauges,
    KopruMetrics,
    metrics,
    metrics_port,
    start_metrics_listener,
)
from bot.serving.gauges import database_gauges, handoff_counts, survey_counts
from bot.storage.store import Store
from bot.storage.tables import surveys
from channels.processing import ActionFailureWatch
from channels.rest import RestInput

BOT_TEXTS = ("Order 204518 is on its way.", "Anything else?")


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


# --- names and labels -----------------------------------------------------------------


def test_the_metrics_have_their_documented_names_and_labels() -> None:
    built = KopruMetrics.build()
    built.message_received("rest")
    built.message_answered("rest", 2, 0.03)
    built.error("action")
    built.training_finished("succeeded", 95.0)
    families = {f.name: f for f in built.registry.collect()}
    assert set(families) == {
        "kopru_messages_received",
        "kopru_messages_sent",
        "kopru_message_seconds",
        "kopru_errors",
        "kopru_training_runs",
        "kopru_training_seconds",
    }
    registry = built.registry
    assert sample(registry, "kopru_messages_received_total", channel="rest") == 1
    assert sample(registry, "kopru_messages_sent_total", channel="rest") == 2
    assert sample(registry, "kopru_message_seconds_count", channel="rest") == 1
    assert sample(registry, "kopru_errors_total", component="action") == 1
    assert sample(registry, "kopru_training_runs_total", result="succeeded") == 1
    assert sample(registry, "kopru_training_seconds_sum") == 95.0
    buckets = [
        float(s.labels["le"])
        for s in families["kopru_message_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["le"] != "+Inf"
    ]
    assert buckets == list(MESSAGE_BUCKETS)
    assert (buckets[0], buckets[-1]) == (0.005, 10.0)


def test_a_fresh_set_counts_apart_from_the_process_one() -> None:
    first, second = KopruMetrics.build(), KopruMetrics.build()
    first.message_received("telegram")
    assert sample(second.registry, "kopru_messages_received_total", channel="telegram") == 0
    assert metrics() is metrics()
    assert metrics().registry is not first.registry


def test_an_up_to_date_training_counts_without_seconds() -> None:
    built = KopruMetrics.build()
    built.training_finished("up_to_date", None)
    assert sample(built.registry, "kopru_training_runs_total", result="up_to_date") == 1
    assert sample(built.registry, "kopru_training_seconds_count") == 0


@pytest.mark.parametrize(
    ("raw", "port"), [(None, None), ("", None), ("  ", None), ("0", 0), ("9464", 9464)]
)
def test_metrics_port(raw: str | None, port: int | None) -> None:
    env = {} if raw is None else {WEB_PORT_ENV: raw}
    assert metrics_port(WEB_PORT_ENV, env) == port


@pytest.mark.parametrize("raw", ["nine", "-1", "70000"])
def test_a_bad_metrics_port_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match=WEB_PORT_ENV):
        metrics_port(WEB_PORT_ENV, {WEB_PORT_ENV: raw})


def test_no_listener_without_its_variable() -> None:
    assert start_metrics_listener(WEB_PORT_ENV, {}) is None


# --- a message through the REST channel -------------------------------------------------


class FakeAgent:
    """Stands in for Rasa's agent: says BOT_TEXTS; optionally an action fails."""

    def __init__(self) -> None:
        self.action_fails = False
        self.tracker_store = self

    async def retrieve(self, _sender_id: str) -> None:
        return None

    async def handle_message(self, message: UserMessage) -> None:
        await asyncio.sleep(0.006)  # past the first bucket
        for text in BOT_TEXTS:
            await message.output_channel.send_response(message.sender_id, {"text": text})
        if self.action_fails:
            logging.getLogger("rasa.core.processor").error(
                "Encountered an exception while running action 'action_order_status'."
            )


@pytest.fixture(autouse=True)
def no_watch_left_behind() -> Iterator[None]:
    yield
    processor = logging.getLogger("rasa.core.processor")
    for handler in list(processor.handlers):
        if isinstance(handler, ActionFailureWatch):
            processor.removeHandler(handler)


@pytest.fixture
async def rest(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeAgent, Any]]:
    monkeypatch.setattr(Sanic, "test_mode", True)
    agent = FakeAgent()
    app = Sanic(f"prometheus_test_{uuid.uuid4().hex}")
    app.ctx.agent = agent
    register([RestInput.from_credentials(None)], app, route="/webhooks/")
    await app._startup()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield agent, client


async def test_a_rest_message_is_counted_received_sent_and_timed(
    rest: tuple[FakeAgent, httpx.AsyncClient],
) -> None:
    _agent, client = rest
    registry = metrics().registry
    before = {
        name: sample(registry, name, channel="rest")
        for name in (
            "kopru_messages_received_total",
            "kopru_messages_sent_total",
            "kopru_message_seconds_count",
            "kopru_message_seconds_sum",
        )
    }
    fast_before = sample(registry, "kopru_message_seconds_bucket", channel="rest", le="0.005")
    response = await client.post(
        "/webhooks/rest/webhook", json={"sender": "ayşe", "message": "where is my order?"}
    )
    assert response.status_code == 200
    assert [m["text"] for m in response.json()] == list(BOT_TEXTS)
    after = {name: sample(registry, name, channel="rest") for name in before}
    assert after["kopru_messages_received_total"] - before["kopru_messages_received_total"] == 1
    assert after["kopru_messages_sent_total"] - before["kopru_messages_sent_total"] == 2
    assert after["kopru_message_seconds_count"] - before["kopru_message_seconds_count"] == 1
    assert after["kopru_message_seconds_sum"] - before["kopru_message_seconds_sum"] >= 0.005
    fast_after = sample(registry, "kopru_message_seconds_bucket", channel="rest", le="0.005")
    assert fast_after == fast_before  # it took longer than 5 ms


async def test_a_failed_action_counts_an_error_and_the_apology_as_sent(
    rest: tuple[FakeAgent, httpx.AsyncClient],
) -> None:
    agent, client = rest
    agent.action_fails = True
    registry = metrics().registry
    errors = sample(registry, "kopru_errors_total", component="action")
    sent = sample(registry, "kopru_messages_sent_total", channel="rest")
    response = await client.post(
        "/webhooks/rest/webhook", json={"sender": "ayşe", "message": "where is my order?"}
    )
    assert response.status_code == 200
    assert len(response.json()) == 3  # the bot's two and the apology
    assert sample(registry, "kopru_errors_total", component="action") - errors == 1
    assert sample(registry, "kopru_messages_sent_total", channel="rest") - sent == 3


# --- the database gauges ------------------------------------------------------------------


@pytest.fixture
def store(tmp_database_url: str) -> Iterator[Store]:
    store = Store(tmp_database_url)
    store.create_schema()
    yield store
    store.close()


def open_handoff(repo: HandoffRepository, sender: str) -> Any:
    handoff, new = repo.open(
        sender_id=sender,
        session_started_at=1.0,
        conversation_id=None,
        channel="webchat",
        language="en",
        reason="customer_request",
        context={},
        at=10.0,
    )
    assert new
    return handoff


def add_survey(store: Store, nps: int | None, csat: int | None) -> None:
    with store.transaction() as conn:
        conn.execute(
            surveys.insert().values(
                sender_id="s", channel="webchat", language="en", intents="[]", resolver="bot",
                asked_at=1.0, nps=nps, csat=csat, status="completed" if csat else "asked",
            )
        )  # fmt: skip


def test_handoff_counts_come_from_the_store(store: Store) -> None:
    assert handoff_counts(store) == {state.value: 0 for state in State}
    repo = HandoffRepository(store)
    for sender in ("alice", "bora", "cem"):
        open_handoff(repo, sender)
    claimed = repo.move(
        open_handoff(repo, "deniz"), State.CLAIMED, agent_id="U1", agent_name="ece", claimed_at=11.0
    )
    repo.move(claimed, State.RESOLVED, ended_at=12.0, ended_by="U1")
    repo.move(open_handoff(repo, "filiz"), State.TICKET, ticket_reference="T-1", ended_at=12.0)
    assert handoff_counts(store) == {
        "bot": 0, "queued": 3, "claimed": 0, "resolved": 1, "ticket": 1,
    }  # fmt: skip


def test_the_collector_reports_the_queue_and_surveys_at_scrape_time(
    store: Store, tmp_database_url: str
) -> None:
    registry = CollectorRegistry()
    registry.register(database_gauges(tmp_database_url))
    assert registry.get_sample_value("kopru_handoffs", {"state": "queued"}) == 0
    repo = HandoffRepository(store)
    open_handoff(repo, "alice")
    repo.move(
        open_handoff(repo, "bora"), State.CLAIMED, agent_id="U1", agent_name="ece", claimed_at=11.0
    )
    add_survey(store, nps=9, csat=5)
    add_survey(store, nps=3, csat=None)
    add_survey(store, nps=None, csat=None)
    assert registry.get_sample_value("kopru_handoffs", {"state": "queued"}) == 1
    assert registry.get_sample_value("kopru_handoffs", {"state": "claimed"}) == 1
    assert registry.get_sample_value("kopru_handoffs", {"state": "resolved"}) == 0
    assert survey_counts(store) == {"nps": 2, "csat": 1}
    assert registry.get_sample_value("kopru_surveys_answered", {"kind": "nps"}) == 2
    assert registry.get_sample_value("kopru_surveys_answered", {"kind": "csat"}) == 1


def test_registering_the_collector_reads_nothing() -> None:
    reads: list[str] = []

    def handoffs() -> dict[str, int]:
        reads.append("handoffs")
        return {}

    CollectorRegistry().register(DatabaseGauges(handoffs, dict))
    assert reads == []


def test_a_failed_read_leaves_the_family_out_and_counts_an_error() -> None:
    def broken() -> dict[str, int]:
        raise OSError("database is down")

    errors: list[int] = []
    registry = CollectorRegistry()
    registry.register(DatabaseGauges(broken, lambda: {"nps": 4}, on_error=lambda: errors.append(1)))
    names = {f.name for f in registry.collect()}
    assert names == {"kopru_surveys_answered"}
    assert errors == [1]


# --- the listener ---------------------------------------------------------------------------


def test_the_listener_serves_the_text_format_on_loopback(tmp_database_url: str) -> None:
    built = KopruMetrics.build()
    built.message_received("webchat")
    server = start_metrics_listener(
        WEB_PORT_ENV,
        {WEB_PORT_ENV: "0"},
        registry=built.registry,
        collectors=[database_gauges(tmp_database_url)],
    )
    assert server is not None
    try:
        host, port = server.server_address[:2]
        assert host == LISTEN_ADDRESS
        url = f"http://{LISTEN_ADDRESS}:{port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:
            content_type = answer.headers["Content-Type"]
            text = answer.read().decode("utf-8")
    finally:
        server.shutdown()
        server.server_close()
    assert content_type.startswith("text/plain")
    assert 'kopru_messages_received_total{channel="webchat"} 1.0' in text
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"kopru_messages_received", "kopru_handoffs", "kopru_surveys_answered"} <= names

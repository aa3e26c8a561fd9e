"""The event broker's consumer: Rasa's events through a real RabbitMQ into the store."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.serving.events import FirstAnswer, FirstAnswers, consume
from bot.storage.store import Store, TurnRecord
from tests import services
from tests.waiting import wait_until

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _events(sender: str, start: float) -> list[dict[str, object]]:
    """One message and its answer, as Rasa's tracker store streams them to the broker."""
    return [
        {"sender_id": sender, "event": "action", "name": "action_session_start",
         "timestamp": start},
        {"sender_id": sender, "event": "session_started", "timestamp": start + 0.001},
        {"sender_id": sender, "event": "action", "name": "action_listen",
         "timestamp": start + 0.002},
        {"sender_id": sender, "event": "user", "text": "where is my order?",
         "timestamp": start + 0.003, "parse_data": {"intent": {"name": "order_status"}}},
        {"sender_id": sender, "event": "action", "name": "utter_ask_order_number",
         "timestamp": start + 0.4},
        {"sender_id": sender, "event": "bot", "text": "What is your order number?",
         "timestamp": start + 0.753},
    ]  # fmt: skip


def test_the_first_answer_is_found_once_per_session() -> None:
    answers = FirstAnswers()
    found = [answers.feed(e) for e in _events("s1", 1000.0)]
    assert found[:-1] == [None] * 5
    # the conversation starts with Rasa's session_started event, as the action server sees it
    assert found[-1] == FirstAnswer("s1", 1000.0 + 0.001, 0.75)
    # a second answer in the same session is no news
    assert answers.feed({"sender_id": "s1", "event": "bot", "timestamp": 1002.0}) is None
    # a new session is followed again
    found = [answers.feed(e) for e in _events("s1", 2000.0)]
    assert found[-1] == FirstAnswer("s1", 2000.0 + 0.001, 0.75)


def test_senders_are_followed_apart_and_junk_is_ignored() -> None:
    answers = FirstAnswers(max_senders=10)
    a, b = _events("a", 10.0), _events("b", 20.0)
    results = [answers.feed(e) for pair in zip(a, b, strict=True) for e in pair]
    assert [r for r in results if r] == [
        FirstAnswer("a", 10.0 + 0.001, 0.75),
        FirstAnswer("b", 20.0 + 0.001, 0.75),
    ]
    assert answers.feed({"event": "bot"}) is None
    assert answers.feed({"sender_id": 5, "event": "bot"}) is None


def test_external_messages_are_not_a_customer_asking() -> None:
    answers = FirstAnswers()
    events = _events("x", 0.0)
    events[3] = {**events[3], "metadata": {"is_external": True}}
    assert all(answers.feed(e) is None for e in events)


async def _publish(queue: str, bodies: list[bytes]) -> None:
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ, timeout=10)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        for body in bodies:
            await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)


async def _delete(queue: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ, timeout=10)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'kopru.db'}")
    store.create_schema()
    yield store
    store.close()


def test_the_consumer_fills_the_first_answer_from_rabbitmq(store: Store) -> None:
    services.require(services.RABBITMQ)  # started by scripts/services.sh, never by the tests
    queue = "kopru_events_test_" + uuid.uuid4().hex[:8]
    sender = "web-" + uuid.uuid4().hex[:6]
    start = time.time()
    # The action server saw the first message only: no first answer yet.
    session = start + 0.001  # the session_started event's time
    store.record_turn(TurnRecord(sender, session, "rest", "en", "order_status", start + 0.003))
    bodies = [json.dumps(event).encode() for event in _events(sender, start)]
    asyncio.run(_publish(queue, [b"not json", *bodies]))
    stop = threading.Event()
    recorded: list[FirstAnswer] = []

    def record(answer: FirstAnswer) -> None:
        store.record_first_answer(answer.sender_id, answer.session_started_at, answer.seconds)
        recorded.append(answer)

    consumer = threading.Thread(target=consume, args=(RABBITMQ, record),
                                kwargs={"queue": queue, "stop": stop})  # fmt: skip
    consumer.start()
    try:
        wait_until(lambda: recorded, 20, what="the first answer from RabbitMQ")
    finally:
        stop.set()
        consumer.join(10)
        asyncio.run(_delete(queue))
    assert not consumer.is_alive()
    conversation = store.conversation(sender, session)
    assert conversation is not None
    assert conversation.first_answer_seconds == pytest.approx(0.75, abs=0.001)
    # written once: a second figure for the same session changes nothing
    assert not store.record_first_answer(sender, session, 9.0)

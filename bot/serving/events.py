"""Köprü's metrics fed by Rasa's event broker (RabbitMQ), in the scaled mode.

The action server records a conversation as it sees it, which is one step behind: the
bot's first answer of a session is only visible to it at the customer's second message,
so a conversation of one message had no time to first answer. Rasa's event broker
publishes every event of every replica once it is saved; `kopru events` consumes the
queue, follows each conversation's current session, and writes the time from the
customer's first message to the bot's first answer as soon as that answer is published.

`FirstAnswers` is the pure part; `consume` is the RabbitMQ loop (aio-pika; a message is
acknowledged after its figure was written, and writing only fills an empty value, so a
message read twice changes nothing). A figure the store refuses is logged and skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_fixed

from bot.desk.transcript import first_answer_seconds, session_started_at
from bot.observability import EVENTS_PORT_ENV, start_metrics_listener

__all__ = ["EVENTS_QUEUE", "FirstAnswer", "FirstAnswers", "consume"]

logger = logging.getLogger(__name__)

EVENTS_QUEUE = "kopru_events"  # Rasa publishes here (bot/serving/scaled.py's event broker section)
MAX_EVENTS_PER_SENDER = 200  # a first answer comes within the first few events
MAX_SENDERS = 100_000  # the least recently seen are forgotten first


@dataclass(frozen=True)
class FirstAnswer:
    sender_id: str
    session_started_at: float
    seconds: float


class FirstAnswers:
    """Follows the current session of each sender; yields its first answer once."""

    def __init__(self, max_senders: int = MAX_SENDERS) -> None:
        self._sessions: OrderedDict[str, list[dict[str, Any]] | None] = OrderedDict()
        self._max_senders = max_senders

    def feed(self, event: dict[str, Any]) -> FirstAnswer | None:
        sender = event.get("sender_id")
        kind = event.get("event")
        if not isinstance(sender, str) or not isinstance(kind, str):
            return None
        if kind == "session_started" or sender not in self._sessions:
            self._sessions[sender] = []
        self._sessions.move_to_end(sender)
        while len(self._sessions) > self._max_senders:
            self._sessions.popitem(last=False)
        events = self._sessions[sender]
        if events is None:  # this session's first answer is known already
            return None
        events.append(event)
        seconds = first_answer_seconds(events)
        if seconds is not None:
            self._sessions[sender] = None
            return FirstAnswer(sender, session_started_at(events), round(seconds, 3))
        if len(events) >= MAX_EVENTS_PER_SENDER:
            self._sessions[sender] = None  # no answer in all this time: stop following
        return None


def consume(
    url: str,
    record: Callable[[FirstAnswer], None],
    *,
    queue: str = EVENTS_QUEUE,
    stop: threading.Event | None = None,
    retry_seconds: float = 5.0,
) -> None:
    """Consume Rasa's events from RabbitMQ until `stop` is set, reconnecting after a
    broken connection. `record` writes one figure; a message is acknowledged after it.
    Blocking (aio-pika, the client Rasa's own broker uses, on an event loop of its own).
    Serves /metrics on 127.0.0.1 when KOPRU_EVENTS_METRICS_PORT is set."""
    start_metrics_listener(EVENTS_PORT_ENV)
    asyncio.run(_consume(url, record, queue, stop or threading.Event(), retry_seconds))


async def _consume(
    url: str,
    record: Callable[[FirstAnswer], None],
    queue_name: str,
    stop: threading.Event,
    retry_seconds: float,
) -> None:
    import aio_pika
    import aio_pika.exceptions

    broken = retry_if_exception_type((aio_pika.exceptions.AMQPError, OSError, asyncio.TimeoutError))
    answers = FirstAnswers()
    # Until `stop` is set: connecting is tried every `retry_seconds`; a connection lost
    # while reading is connected again after a second.
    connecting = AsyncRetrying(
        retry=broken,
        wait=wait_fixed(retry_seconds),
        stop=lambda _state: stop.is_set(),
        before_sleep=_log_broken("RabbitMQ is not reachable (%s); trying again"),
        retry_error_callback=lambda _state: None,
    )
    reading = AsyncRetrying(
        retry=broken,
        wait=wait_fixed(1.0),
        stop=lambda _state: stop.is_set(),
        before_sleep=_log_broken("Lost RabbitMQ (%s); reconnecting"),
        retry_error_callback=lambda _state: None,
    )

    async def read() -> None:
        if stop.is_set():
            return
        connection: aio_pika.abc.AbstractConnection | None = await connecting(
            aio_pika.connect, url, timeout=10
        )
        if connection is None:  # `stop` was set while RabbitMQ was unreachable
            return
        async with connection:
            channel = await connection.channel()
            # Rasa's PikaEventBroker declares the same durable queue.
            queue = await channel.declare_queue(queue_name, durable=True)
            while not stop.is_set():
                message = await queue.get(no_ack=False, fail=False, timeout=10)
                if message is None:
                    await asyncio.sleep(0.2)  # nothing waiting: look at `stop` again
                    continue
                _handle(message.body, answers, record)
                await message.ack()

    await reading(read)


def _log_broken(text: str) -> Callable[[RetryCallState], None]:
    """A tenacity `before_sleep` logging `text` with the failure's type name."""

    def log(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        logger.warning(text, type(exc).__name__)

    return log


def _handle(body: bytes, answers: FirstAnswers, record: Callable[[FirstAnswer], None]) -> None:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        logger.warning("Skipped an event that is not JSON (%d bytes)", len(body))
        return
    if not isinstance(event, dict):
        return
    found = answers.feed(event)
    if found is None:
        return
    try:
        record(found)
    except Exception:  # a metrics figure is not worth stopping the consumer for
        logger.exception("Could not record the first answer of %r", found.sender_id)

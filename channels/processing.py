"""Hands one customer message to Rasa for any Köprü channel and says what became of it.

Every channel calls :func:`process` around Rasa's ``on_new_message``:

* When an action fails (the action server is down, a bug), Rasa's processor logs
  "Encountered an exception while running action ..." and carries on, and the customer
  would get no answer. A logging handler on that logger (:func:`watch_action_failures`,
  attached by each channel's ``blueprint``) flags the message being processed through a
  ContextVar; Rasa logs synchronously inside the same asyncio task, so the flag lands on
  the right message. The customer then gets an apology in their language, through the
  same output channel, after whatever the bot did say.
* When the conversation store cannot be read or written, Köprü's tracker store raises
  :class:`~bot.errors.TrackerStoreUnavailable` (a BaseException, so Rasa does not swallow
  it). It becomes :attr:`Outcome.UNAVAILABLE`, which channels answer with 503 and
  ``Retry-After`` so the sender delivers the message again.
* Each message is counted for Prometheus (bot.observability): received and sent per
  channel, the seconds to the bot's answer, and the failed actions and store outages.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import UserMessage
from sanic import response
from sanic.response import HTTPResponse

from bot.errors import TrackerStoreUnavailable
from bot.nlu.language import choose_language
from bot.observability import metrics
from bot.phrases import action_failed_apology, message_too_long

__all__ = [
    "ACTION_FAILED_MESSAGE",
    "DEFAULT_RETRY_AFTER",
    "PROCESSOR_LOGGER",
    "ActionFailureWatch",
    "LanguageLookup",
    "Outcome",
    "Result",
    "process",
    "reply_language",
    "too_long_reply",
    "tracker_language",
    "unavailable_response",
    "watch_action_failures",
]

logger = logging.getLogger(__name__)

# Where and how rasa.core.processor.MessageProcessor._run_action reports an action that
# raised (Rasa 3.6); it then goes on without the action's events.
PROCESSOR_LOGGER = "rasa.core.processor"
ACTION_FAILED_MESSAGE = "Encountered an exception while running action"

# Seconds a sender should wait before delivering a refused message again.
DEFAULT_RETRY_AFTER = 5

# Language detection reads at most this much of a message: enough to tell the language.
_DETECTION_CHARS = 1000

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
# The conversation's language so far (the tracker's `language` slot), by sender id.
LanguageLookup = Callable[[str], Awaitable[str | None]]


class Outcome(enum.Enum):
    ANSWERED = "answered"
    # An action failed; the bot apologised after whatever it did say.
    APOLOGISED = "apologised"
    # The conversation store is unavailable: nothing was stored; refuse the message.
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    retry_after: int = 0  # seconds; for UNAVAILABLE
    language: str | None = None  # of the apology, if there was one


class _Turn:
    """What happened while one message was processed; mutable, shared through the ContextVar."""

    __slots__ = ("action_failed",)

    def __init__(self) -> None:
        self.action_failed = False


_current_turn: ContextVar[_Turn | None] = ContextVar("kopru_current_turn", default=None)


class ActionFailureWatch(logging.Handler):
    """Flags the message being processed when Rasa reports that one of its actions failed."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        turn = _current_turn.get()
        if turn is None:
            return
        message = record.msg if isinstance(record.msg, str) else str(record.msg)
        if message.startswith(ACTION_FAILED_MESSAGE):
            turn.action_failed = True


def watch_action_failures() -> ActionFailureWatch:
    """Attaches the watch to Rasa's processor logger, once however often it is called."""
    processor_logger = logging.getLogger(PROCESSOR_LOGGER)
    for handler in processor_logger.handlers:
        if isinstance(handler, ActionFailureWatch):
            return handler
    watch = ActionFailureWatch()
    processor_logger.addHandler(watch)
    return watch


def _hint(metadata: Any) -> str | None:
    # The same hint action_observe_turn uses (Telegram's language_code, the web page's).
    if isinstance(metadata, dict):
        hint = metadata.get("language_code") or metadata.get("language")
        return str(hint) if hint else None
    return None


async def reply_language(
    sender_id: str, text: str, metadata: Any, lookup: LanguageLookup | None = None
) -> str:
    """The language to answer ``text`` in when the bot itself could not: the one
    action_observe_turn would choose from the conversation's language so far (if the
    store can tell), the message itself and the client's hint."""
    current: str | None = None
    if lookup is not None:
        try:
            current = await lookup(sender_id)
        except (Exception, TrackerStoreUnavailable):
            logger.warning("could not read the language of %s", sender_id, exc_info=True)
    return await asyncio.to_thread(
        choose_language, text[:_DETECTION_CHARS], current, _hint(metadata)
    )


def tracker_language(app: Any) -> LanguageLookup:
    """Reads the `language` slot from the tracker store of the Rasa agent in ``app.ctx``."""

    async def lookup(sender_id: str) -> str | None:
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return None
        tracker = await store.retrieve(sender_id)
        if tracker is None:
            return None
        value = tracker.get_slot("language")
        return str(value) if value else None

    return lookup


async def process(
    on_new_message: OnNewMessage, message: UserMessage, lookup: LanguageLookup | None = None
) -> Result:
    """Runs ``on_new_message(message)``; apologises if an action failed.

    Other exceptions (and cancellation) propagate: the channel decides what they mean.
    """
    watch_action_failures()
    channel, counts = _channel_name(message), metrics()
    counts.message_received(channel)
    started, said_before = time.perf_counter(), _said(message.output_channel)
    turn = _Turn()
    token = _current_turn.set(turn)
    try:
        await on_new_message(message)
    except TrackerStoreUnavailable as exc:
        retry_after = getattr(exc, "retry_after", None) or DEFAULT_RETRY_AFTER
        logger.error(
            "conversation store unavailable; message of %s refused (%s)", message.sender_id, exc
        )
        counts.error("tracker_store")
        return Result(Outcome.UNAVAILABLE, retry_after=int(retry_after))
    finally:
        _current_turn.reset(token)
    if not turn.action_failed:
        said = _said(message.output_channel) - said_before
        counts.message_answered(channel, said, time.perf_counter() - started)
        return Result(Outcome.ANSWERED)
    counts.error("action")
    language = await reply_language(message.sender_id, message.text or "", message.metadata, lookup)
    logger.warning("an action failed for %s; apologising in %s", message.sender_id, language)
    await message.output_channel.send_response(
        message.sender_id, {"text": action_failed_apology(language)}
    )
    said = _said(message.output_channel) - said_before
    counts.message_answered(channel, said, time.perf_counter() - started)
    return Result(Outcome.APOLOGISED, language=language)


def _channel_name(message: UserMessage) -> str:
    if message.input_channel:
        return str(message.input_channel)
    return str(message.output_channel.name()) if message.output_channel else "unknown"


def _said(output: Any) -> int:
    """How many messages the output channel holds for the customer so far. Every channel
    that calls :func:`process` collects the turn's messages before sending them (REST and
    the web chat in the HTTP answer, Telegram until the turn is stored)."""
    for attribute in ("messages", "held"):
        collected = getattr(output, attribute, None)
        if isinstance(collected, list):
            return len(collected)
    return 0


async def too_long_reply(
    sender_id: str, text: str, metadata: Any, limit: int, lookup: LanguageLookup | None = None
) -> str:
    """What the customer is told instead of an answer to a message over ``limit`` characters,
    which no channel gives to the bot."""
    language = await reply_language(sender_id, text, metadata, lookup)
    logger.info("message of %d characters from %s not processed", len(text), sender_id)
    return message_too_long(language, limit)


def unavailable_response(retry_after: int, **extra: Any) -> HTTPResponse:
    """503 with ``Retry-After``: the message was not processed; deliver it again later."""
    body = {
        "error": "The conversation store is unavailable; the message was not processed. "
        f"Send it again in {retry_after} seconds.",
        "retry_after": retry_after,
        **extra,
    }
    return response.json(body, status=503, headers={"Retry-After": str(retry_after)})

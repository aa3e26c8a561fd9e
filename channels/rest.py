"""Köprü's REST channel: Rasa's ``rest`` channel, same URL and format, hardened.

Register it in ``credentials.yml`` as ``channels.rest.RestInput:`` (instead of ``rest:``).
``POST /webhooks/rest/webhook`` takes ``{"sender", "message", "metadata"?}`` and answers
the bot's messages as a JSON list, exactly like Rasa's own channel. In addition:

* bad requests are refused before the bot sees them, with ``{"error": "..."}``: a body
  over 128 KB (413, while it arrives), a content type other than JSON (415), invalid
  UTF-8, malformed JSON or a missing, empty or non-string ``sender``/``message`` (400);
  control characters are stripped from the text;
* a message over 4,096 characters is not given to the bot: the answer (200) asks the
  customer, in their language, for a shorter one;
* when an action fails (e.g. the action server is down) the customer gets an apology
  in their language after whatever the bot said;
* when the conversation store is unavailable: 503 with ``Retry-After`` and
  ``{"error", "retry_after"}``; nothing was processed, so the client sends it again;
* the input channel is always ``rest`` (Rasa lets the body choose one; here a client
  cannot pass itself off as another channel);
* Rasa's streaming mode (``?stream=true``) is not supported and answered with 400.
"""

from __future__ import annotations

import inspect
import logging
from asyncio import CancelledError
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.inbound import (
    MAX_MESSAGE_CHARS,
    BadRequest,
    Inbound,
    error_response,
    inbound_message,
    parse_json_object,
    read_inbound,
)
from channels.processing import (
    DEFAULT_RETRY_AFTER,
    Outcome,
    process,
    reply_language,
    too_long_reply,
    tracker_language,
    unavailable_response,
    watch_action_failures,
)

__all__ = ["RestInput", "answer_in_response", "too_long_answer"]

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


async def too_long_answer(inbound: Inbound, app: Any) -> list[dict[str, Any]]:
    """The answer to a message over the limit, as the bot's messages (REST, web chat)."""
    text = await too_long_reply(
        inbound.sender, inbound.text, inbound.metadata, MAX_MESSAGE_CHARS, tracker_language(app)
    )
    return [{"recipient_id": inbound.sender, "text": text}]


async def answer_in_response(
    on_new_message: OnNewMessage,
    inbound: Inbound,
    input_channel: str,
    app: Any,
    *,
    tell_language: bool = False,
) -> HTTPResponse:
    """The bot's answers to one checked message in the HTTP response (REST, web chat): the
    polite answer to an over-long message, the apology when an action failed, 503 with
    Retry-After when the conversation store is unavailable (with the customer's language
    when `tell_language`, for a page that says so), 500 and 503 for the rest."""
    if inbound.too_long:
        return response.json(await too_long_answer(inbound, app))
    collector = CollectingOutputChannel()
    message = UserMessage(
        inbound.text, collector, inbound.sender, input_channel=input_channel,
        metadata=inbound.metadata,
    )  # fmt: skip
    try:
        result = await process(on_new_message, message, tracker_language(app))
    except CancelledError:
        # The request timed out or the client went away (as in Rasa's channel).
        logger.error("%s.message.received.timeout sender=%s", input_channel, inbound.sender)
        return response.json(
            {"error": "The assistant took too long to answer. Please try again."},
            status=503,
            headers={"Retry-After": str(DEFAULT_RETRY_AFTER)},
        )
    except Exception:
        logger.exception("%s.message.received.failure sender=%s", input_channel, inbound.sender)
        return response.json({"error": "The assistant could not process the message."}, status=500)
    if result.outcome is Outcome.UNAVAILABLE:
        if not tell_language:
            return unavailable_response(result.retry_after)
        language = await reply_language(inbound.sender, inbound.text, inbound.metadata)
        return unavailable_response(result.retry_after, language=language)
    return response.json(collector.messages)


class RestInput(RasaRestInput):  # type: ignore[misc]
    """Rasa's REST channel with Köprü's checks, apology and 503 on a store outage."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def status_line(cls, env: Mapping[str, str], base_url: str) -> tuple[str, str]:
        """`kopru run`'s line for the REST channel (bot.serving.channel_status)."""
        return "REST channel", f"POST {base_url}/webhooks/rest/webhook"

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        """The request's ``metadata`` object, or None if the body is not acceptable."""
        try:
            return inbound_message(parse_json_object(request.body or b"")).metadata
        except BadRequest:
            return None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """``GET /`` (health) and ``POST /webhook``, as Rasa's REST channel."""
        watch_action_failures()
        module = inspect.getmodule(self)
        rest = Blueprint(
            f"custom_webhook_{type(self).__name__}",
            module.__name__ if module is not None else None,
        )

        @rest.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        # stream=True: the body is read here, under our size limit, not by Sanic first.
        @rest.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                return error_response(
                    BadRequest("Streaming (stream=true) is not supported by this channel.")
                )
            try:
                inbound = await read_inbound(request)
            except BadRequest as refused:
                return error_response(refused)
            return await answer_in_response(on_new_message, inbound, self.name(), request.app)

        return rest

"""Web chat input channel for Köprü.

``WebChatInput`` is a Rasa custom input channel (modelled on Rasa's own
``RestInput``) that serves a small, dependency-free chat page and a JSON webhook.
Register it in ``credentials.yml`` with no parameters::

    channels.webchat.WebChatInput:

Its routes live under ``/webhooks/webchat/``:

* ``GET  /webhooks/webchat/``                  the chat page (``webchat_static/index.html``)
* ``GET  /webhooks/webchat/static/<file>``     ``webchat.css`` and ``webchat.js`` only
* ``GET  /webhooks/webchat/health``            ``{"status": "ok"}``
* ``POST /webhooks/webchat/webhook``           ``{"sender", "message", "metadata"?}`` ->
  the bot's messages as Rasa's ``CollectingOutputChannel`` collects them.
* ``GET  /webhooks/webchat/updates?sender=<id>&after=<n>``  messages that did not answer
  one of the customer's (an agent's replies, handoff notices), from Köprü's outbox:
  ``{"messages": [{"id", ...message}], "last": <id>}``. Also for REST clients.

Invalid requests are answered with ``{"error": "..."}`` and never reach the bot: a body
over 128 KB 413, not JSON 415, invalid UTF-8 or JSON or bad fields 400. A message over
4,096 characters is answered (200) with a request for a shorter one, without the bot.
When an action fails the customer gets an apology; when the conversation store is
unavailable, 503 with ``Retry-After`` and ``{"error", "retry_after", "language"}`` (the
page retries); a failure inside the bot is logged and answered with ``500 {"error"}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import (
    InputChannel,
    OutputChannel,
    UserMessage,
)
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.errors import StoreError
from bot.settings import Settings
from bot.storage.store import Store
from channels.inbound import (
    MAX_MESSAGE_CHARS,
    BadRequest,
    Inbound,
    error_response,
    inbound_message,
    parse_json_object,
    read_inbound,
    require_json,
)
from channels.processing import (
    watch_action_failures,
)
from channels.rest import answer_in_response

logger = logging.getLogger(__name__)

CHANNEL_NAME = "webchat"

MAX_SENDER_LENGTH = 128
MAX_MESSAGE_LENGTH = MAX_MESSAGE_CHARS
# Generous upper bound for a whole request: 4096 characters JSON-escaped as
# surrogate pairs plus room for metadata. Larger bodies are refused while they arrive.
MAX_BODY_BYTES = 128 * 1024

SENDER_PATTERN = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")

STATIC_DIR = Path(__file__).resolve().parent / "webchat_static"

_INDEX_FILE = "index.html"
# The only files reachable under /static/: name -> content type.
_STATIC_FILES: dict[str, str] = {
    "webchat.css": "text/css; charset=utf-8",
    "webchat.js": "text/javascript; charset=utf-8",
}
_HTML_CONTENT_TYPE = "text/html; charset=utf-8"

_PAGE_CACHE_CONTROL = "no-cache"
_STATIC_CACHE_CONTROL = "public, max-age=3600, must-revalidate"

_SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # for browsers without CSP's frame-ancestors
}
_PAGE_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' https: http: data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",  # no other site may frame the chat (clickjacking)
    ]
)


# Kept for callers of the old names; the checks themselves live in channels.inbound.
WebChatRequestError = BadRequest
WebChatPayload = Inbound


def _check_sender(payload: Inbound) -> Inbound:
    if len(payload.sender) > MAX_SENDER_LENGTH or not SENDER_PATTERN.fullmatch(payload.sender):
        raise BadRequest(
            f"'sender' must be 1-{MAX_SENDER_LENGTH} characters from "
            "A-Z, a-z, 0-9, '_', '-', '.', ':'."
        )
    return payload


def parse_payload(content_type: str | None, body: bytes) -> Inbound:
    """Validates a webhook request body that has been read already.

    Args:
        content_type: the request's ``Content-Type`` header.
        body: the raw request body.

    Returns:
        The validated payload (``text`` is cleaned; it may be ``too_long``).

    Raises:
        BadRequest: if the request is not acceptable (400, 413 or 415).
    """
    require_json(content_type)
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"Request body is too large (at most {MAX_BODY_BYTES} bytes).", 413)
    return _check_sender(inbound_message(parse_json_object(body)))


@dataclass(frozen=True)
class _Asset:
    body: bytes
    content_type: str
    cache_control: str
    etag: str


def _load_asset(filename: str, content_type: str, cache_control: str) -> _Asset:
    body = (STATIC_DIR / filename).read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:32]
    return _Asset(body, content_type, cache_control, f'"{digest}"')


def _error(message: str, status: int) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    candidates = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in candidates or "*" in candidates


class WebChatInput(InputChannel):
    """Browser chat page plus a JSON webhook, answered synchronously like ``RestInput``."""

    def __init__(self, store: Store | None = None) -> None:
        """Creates the channel; static files are read lazily on first request."""
        self._assets: dict[str, _Asset] = {}
        self._store = store

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(Settings.from_env().database_url)
            self._store.create_schema()
        return self._store

    def get_output_channel(self) -> OutputChannel | None:
        # Nothing can be pushed to a browser: messages wait in the outbox (/updates).
        return None

    @classmethod
    def name(cls) -> str:
        """Channel name, also the URL prefix (``/webhooks/webchat/``)."""
        return CHANNEL_NAME

    @classmethod
    def status_line(cls, env: Mapping[str, str], base_url: str) -> tuple[str, str]:
        """`kopru run`'s line for the web chat page (bot.serving.channel_status)."""
        return "Web chat", f"{base_url}/webhooks/{CHANNEL_NAME}/"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebChatInput:
        """Creates the channel; it takes no credentials."""
        return cls()

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        """Returns the validated ``metadata`` object of a webhook request, if any."""
        try:
            return parse_payload(request.headers.get("content-type"), request.body).metadata
        except WebChatRequestError:
            return None

    def _asset(self, filename: str) -> _Asset:
        asset = self._assets.get(filename)
        if asset is None:
            if filename == _INDEX_FILE:
                asset = _load_asset(filename, _HTML_CONTENT_TYPE, _PAGE_CACHE_CONTROL)
            else:
                asset = _load_asset(filename, _STATIC_FILES[filename], _STATIC_CACHE_CONTROL)
            self._assets[filename] = asset
        return asset

    def _serve(self, request: Request, filename: str) -> HTTPResponse:
        try:
            asset = self._asset(filename)
        except OSError:
            logger.exception("webchat.static.missing file=%s", filename)
            return _error("The chat page is not available.", 500)
        headers = {
            "Cache-Control": asset.cache_control,
            "ETag": asset.etag,
            **_SECURITY_HEADERS,
        }
        if filename == _INDEX_FILE:
            headers["Content-Security-Policy"] = _PAGE_CSP
        if _etag_matches(request, asset.etag):
            return response.empty(status=304, headers=headers)
        return response.raw(asset.body, content_type=asset.content_type, headers=headers)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Defines the chat page, static files, health and webhook routes."""
        watch_action_failures()
        module = inspect.getmodule(self)
        webchat = Blueprint(
            f"custom_webhook_{type(self).__name__}",
            module.__name__ if module is not None else None,
        )

        @webchat.route("/", methods=["GET"])
        async def index(request: Request) -> HTTPResponse:
            # The page posts to the relative URL "webhook", so it must be served
            # with a trailing slash. A relative redirect keeps any proxy prefix.
            if not request.path.endswith("/"):
                target = request.path.rstrip("/").rsplit("/", 1)[-1] + "/"
                if request.query_string:
                    target += "?" + request.query_string
                return response.redirect(target, status=301)
            return self._serve(request, _INDEX_FILE)

        @webchat.route("/static/<filename:str>", methods=["GET"])
        async def static(request: Request, filename: str) -> HTTPResponse:
            if filename not in _STATIC_FILES:
                return _error("Not found.", 404)
            return self._serve(request, filename)

        @webchat.route("/health", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webchat.route("/updates", methods=["GET"])
        async def updates(request: Request) -> HTTPResponse:
            sender = request.args.get("sender") or ""
            if not SENDER_PATTERN.fullmatch(sender):
                return _error("sender must be 1-128 letters, digits or _.:-", 400)
            try:
                after = int(request.args.get("after") or "0")
            except ValueError:
                return _error("after must be a whole number", 400)
            try:
                rows = await asyncio.to_thread(self.store.outbox_after, sender, after)
            except StoreError:
                logger.exception("webchat.updates.failure sender=%s", sender)
                return _error("Messages are not available right now.", 503)
            messages = [{"id": row_id, **message} for row_id, message in rows]
            last = rows[-1][0] if rows else after
            return response.json({"messages": messages, "last": last})

        # stream=True: the body is read here, under our size limit, not by Sanic first.
        @webchat.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            try:
                payload = _check_sender(await read_inbound(request, MAX_BODY_BYTES))
            except BadRequest as e:
                return error_response(e)
            # On a 503 the page says "could not send, retrying" in the customer's language.
            return await answer_in_response(
                on_new_message, payload, self.name(), request.app, tell_language=True
            )

        return webchat

"""Refuse (400) a request whose Content-Length or Transfer-Encoding Sanic would mishandle,
before Sanic reads a byte of its body, in every Köprü server.

Sanic 21.12 (pinned by Rasa 3.6) takes ``int(headers["content-length"])`` as it comes:
``-1`` makes it wait for a body that can never end, spinning at 100% CPU on empty reads
until the process is restarted; ``abc`` (or ``1_0``, ``+5``, Arabic digits) raises past
its parser and answers 500; two different values are read as the first (the request
smuggling that RFC 9112 section 6.3 forbids). Rasa 3.6 pins Sanic 21.12, so Köprü cannot
take a newer Sanic for this and checks the header itself.

The check runs on Sanic's ``http.lifecycle.request`` signal, which Sanic dispatches right
after the header is parsed and before the body is prepared. Its public signal is used
rather than a replacement of ``Http.http1_request_header``: Sanic recompiles that method
from its own source at start-up (``sanic.touchup``), which a wrapper would not survive.
:func:`guard` adds the check to one app (the web app, the action server);
:func:`install` to every app started in this process (the Rasa server, whose app Rasa
builds). :func:`framing_problem` is the pure decision, also used by
``channels.inbound.read_body``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from sanic import Request, Sanic
from sanic.exceptions import InvalidUsage
from sanic.response import HTTPResponse, json

from bot.errors import KopruError

__all__ = [
    "MAX_LENGTH_DIGITS",
    "BadFraming",
    "framing_problem",
    "guard",
    "install",
    "installed",
]

logger = logging.getLogger(__name__)

# 10^18 bytes is far past any limit; more digits can only be an attack on int().
MAX_LENGTH_DIGITS = 18
_DIGITS = re.compile(rf"[0-9]{{1,{MAX_LENGTH_DIGITS}}}")
_GUARDED = "_kopru_http_guard"
_state = {"installed": False}


def framing_problem(
    content_lengths: Iterable[str], transfer_encodings: Iterable[str] = ()
) -> str | None:
    """Why a request's body framing is refused (a message for the client), None when it
    is sound: at most one Content-Length of ASCII digits, or one ``chunked`` encoding
    without any Content-Length."""
    lengths = [value.strip(" \t") for value in content_lengths]
    # Exactly as Sanic compares it: anything else would be read as Content-Length.
    encodings = list(transfer_encodings)
    if encodings:
        if encodings != ["chunked"]:
            return "Transfer-Encoding must be chunked, once."
        if lengths:
            return "Send Content-Length or Transfer-Encoding, not both."
        return None
    if len(lengths) > 1:
        return "Send one Content-Length header."
    if lengths and not _DIGITS.fullmatch(lengths[0]):
        return f"Content-Length must be a number of bytes ({MAX_LENGTH_DIGITS} digits at most)."
    return None


class BadFraming(KopruError, InvalidUsage):
    """A request refused by the check; answered 400 ``{"error": ...}``, then hung up on."""


async def _check_framing(request: Request, **_context: Any) -> None:
    headers = request.headers
    problem = framing_problem(
        headers.getall("content-length", []), headers.getall("transfer-encoding", [])
    )
    if problem is not None:
        # Raised while Sanic parses the header: it answers and closes the connection.
        raise BadFraming(problem)


def _refuse(request: Request, exception: BaseException) -> HTTPResponse:
    # The path only: a query string may carry a token.
    logger.warning("Refused a request to %s: %s", getattr(request, "path", "?"), exception)
    return json({"error": str(exception)}, status=400)


def guard(app: Sanic) -> Sanic:
    """Add the check to `app` before it starts (idempotent); returns `app`."""
    if not getattr(app.ctx, _GUARDED, False):
        app.signal("http.lifecycle.request")(_check_framing)
        # Its own handler: rasa-sdk answers every exception it handles with 500.
        app.error_handler.add(BadFraming, _refuse)
        setattr(app.ctx, _GUARDED, True)
    return app


def install() -> None:
    """Guard every Sanic app this process starts from now on (idempotent)."""
    if _state["installed"]:
        return
    original: Any = Sanic._startup

    async def _startup(self: Sanic) -> None:
        guard(self)  # before Sanic finalizes its signal router in the original
        await original(self)

    Sanic._startup = _startup  # type: ignore[method-assign]
    _state["installed"] = True


def installed() -> bool:
    return _state["installed"]

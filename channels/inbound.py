"""What customers' HTTP clients may post to Köprü's channels, checked before the bot sees it.

The order of the checks is the order a request is answered in: a body over the size limit
is refused (413) while it arrives, before anything is parsed; then the content type (415),
UTF-8 and JSON (400), and the fields (400). Refusals are :class:`BadRequest` with a
message meant for the client's developer; channels answer them as ``{"error": "..."}``.

Only :func:`read_body` does I/O; everything else is pure.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from sanic import response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.errors import KopruError
from bot.serving.http_guard import framing_problem

__all__ = [
    "DRAIN_LIMIT_BYTES",
    "MAX_BODY_BYTES",
    "MAX_MESSAGE_CHARS",
    "MAX_SENDER_CHARS",
    "BadRequest",
    "Inbound",
    "clean_text",
    "error_response",
    "inbound_message",
    "parse_json_object",
    "read_body",
    "read_inbound",
    "require_json",
]

# A message body is a few KB: 4,096 characters JSON-escaped as surrogate pairs are 48 KB.
MAX_BODY_BYTES = 128 * 1024
# Telegram's own limit for a text message, in characters.
MAX_MESSAGE_CHARS = 4096
# Köprü's tables and Rasa's SQL tracker store keep the sender id in 255 characters.
MAX_SENDER_CHARS = 255
# A refused body is still read (and thrown away) up to this size, so the client, still
# sending, gets to read the 413 instead of a connection reset. Beyond it, we hang up.
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024

# C0 and C1 control characters other than tab and line feed, and lone surrogates (which
# JSON's \\ud800 escapes can produce and which no encoder can write out).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class BadRequest(KopruError):
    """A request refused before it reaches the bot; ``message`` is shown to the client."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Inbound:
    """A checked message request: ``text`` is cleaned; ``too_long`` ones go to no NLU."""

    sender: str
    text: str
    metadata: dict[str, Any] | None

    @property
    def too_long(self) -> bool:
        return len(self.text) > MAX_MESSAGE_CHARS


def error_response(error: BadRequest, headers: dict[str, str] | None = None) -> HTTPResponse:
    """``{"error": message}`` with the refusal's status."""
    return response.json({"error": error.message}, status=error.status, headers=headers)


def _too_large(limit: int) -> BadRequest:
    return BadRequest(f"Request body is too large (at most {limit} bytes).", status=413)


def require_json(content_type: str | None) -> None:
    """Refuses (415) anything but ``application/json`` (with any parameters)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise BadRequest(
            f"Content-Type must be application/json, not {media_type or 'missing'}.", 415
        )


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed ``limit`` bytes.

    Meant for routes declared with ``stream=True``, whose body Sanic has not read (up to
    its own ``REQUEST_MAX_SIZE``, 100 MB) before the handler runs; on other routes the
    body is already in memory and only its size is checked. The body read is stored in
    ``request.body`` for code that reads it there.
    """
    lengths = request.headers.getall("content-length", [])
    # A negative or repeated length would have Sanic wait forever for the body.
    problem = framing_problem(lengths, request.headers.getall("transfer-encoding", []))
    if problem is not None:
        raise BadRequest(problem)
    if lengths:
        length = int(lengths[0])
        if length > limit:
            await _drain(request, limit=DRAIN_LIMIT_BYTES if length <= DRAIN_LIMIT_BYTES else 0)
            raise _too_large(limit)
    if request.body:
        if len(request.body) > limit:
            raise _too_large(limit)
        return bytes(request.body)
    stream = request.stream
    if stream is None:
        return b""
    # Sanic lifts the size limit for streaming routes; ours applies while reading. It is
    # set to the drain limit so that the rest of a refused body can still be read.
    with contextlib.suppress(AttributeError):
        stream.request_max_size = DRAIN_LIMIT_BYTES
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            size += len(chunk)
            if size > limit:
                await _drain(request, limit=DRAIN_LIMIT_BYTES)
                raise _too_large(limit)
            chunks.append(chunk)
    except PayloadTooLarge:
        raise _too_large(limit) from None
    body = b"".join(chunks)
    request.body = body
    return body


async def _drain(request: Request, limit: int) -> None:
    """Reads and drops what is left of the body, up to ``limit`` bytes."""
    stream = request.stream
    if stream is None:
        return
    with contextlib.suppress(AttributeError):
        stream.request_max_size = max(limit, 0)
    with contextlib.suppress(PayloadTooLarge):
        async for _chunk in stream:
            pass


class _NotJsonNumber(KopruError, ValueError):
    """A number JSON cannot hold (NaN, Infinity, or one too large for a float): stored, it
    would be written back as ``Infinity``, which no JSON reader accepts."""


def _refuse_constant(name: str) -> Any:
    raise _NotJsonNumber(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise _NotJsonNumber(f"the number {literal[:20]} is too large")
    return number


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; refuses (400) empty, non-UTF-8 and malformed bodies."""
    if not body.strip():
        raise BadRequest("Request body is empty; send a JSON object.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"Request body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NotJsonNumber as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}.") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"Request body is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    except (ValueError, RecursionError):
        raise BadRequest("Request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object.")
    return data


def clean_text(text: str) -> str:
    """Text without control characters (tab and line breaks stay), NULs or lone
    surrogates, with Windows and old Mac line ends made ``\\n``, and stripped."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def inbound_message(data: dict[str, Any], sender_pattern: re.Pattern[str] | None = None) -> Inbound:
    """Checks ``sender``, ``message`` and ``metadata`` of a request (Rasa's REST format).

    ``sender`` must be a non-empty string of at most ``MAX_SENDER_CHARS`` characters
    without control characters (and match ``sender_pattern`` when given); ``message`` a
    string that is not empty once cleaned; ``metadata``, if given, an object. A message
    longer than ``MAX_MESSAGE_CHARS`` passes: the channel answers it without the bot.
    """
    if "sender" not in data or data["sender"] is None:
        raise BadRequest("'sender' is missing: give the conversation's id as a string.")
    sender = data["sender"]
    if not isinstance(sender, str):
        raise BadRequest("'sender' must be a string.")
    if not sender.strip():
        raise BadRequest("'sender' must not be empty.")
    if len(sender) > MAX_SENDER_CHARS:
        raise BadRequest(f"'sender' is too long (at most {MAX_SENDER_CHARS} characters).")
    if _CONTROL.search(sender) or "\t" in sender or "\n" in sender:
        raise BadRequest("'sender' must not contain control characters.")
    if sender_pattern is not None and not sender_pattern.fullmatch(sender):
        raise BadRequest("'sender' has characters that are not allowed here.")

    if "message" not in data or data["message"] is None:
        raise BadRequest("'message' is missing: give the customer's text as a string.")
    message = data["message"]
    if not isinstance(message, str):
        raise BadRequest("'message' must be a string.")
    text = clean_text(message)
    if not text:
        raise BadRequest("'message' must not be empty.")

    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest("'metadata' must be a JSON object if given.")
    return Inbound(sender=sender, text=text, metadata=metadata)


async def read_inbound(
    request: Request,
    limit: int = MAX_BODY_BYTES,
    sender_pattern: re.Pattern[str] | None = None,
) -> Inbound:
    """The checked message of a request (size, content type, JSON, fields), or BadRequest."""
    require_json(request.headers.get("content-type"))
    body = await read_body(request, limit)
    return inbound_message(parse_json_object(body), sender_pattern)

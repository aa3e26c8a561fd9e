"""A local fake of the Telegram Bot API for Köprü's tests.

It speaks the Bot API's HTTP protocol (https://core.telegram.org/bots/api#making-requests) on
127.0.0.1 the way ``api.telegram.org`` answers it, so the real python-telegram-bot client (or any
other client) can be pointed at it with ``Bot(token, base_url=fake.base_url)``:

* requests arrive at ``/bot<TOKEN>/<method>`` as GET (query string) or POST with a JSON body, an
  ``application/x-www-form-urlencoded`` body or a ``multipart/form-data`` body; in the two form
  encodings nested values (``reply_markup``, ``allowed_updates`` ...) are JSON-encoded strings,
  which is what python-telegram-bot's ``HTTPXRequest`` sends. Method names are case-insensitive;
* answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description":
  "..."}`` with the same HTTP status, plus ``"parameters": {"retry_after": S}`` for 429.

Implemented methods: getMe, setWebhook, deleteWebhook, getWebhookInfo, getUpdates (offset, limit,
long-poll timeout, allowed_updates, 409 while a webhook is set or when a newer poll supersedes a
waiting one), sendMessage, sendPhoto, sendChatAction, answerCallbackQuery,
editMessageReplyMarkup, editMessageText and setMyCommands. ``parse_mode="HTML"`` is parsed the way
Telegram's own parser (tdlib ``parse_html``) does it, so broken markup gets the real
``400 Bad Request: can't parse entities: ...``; Markdown modes are echoed without parsing.

Everything the client sends is recorded (:attr:`FakeTelegram.records`, :attr:`FakeTelegram.calls`)
with monotonic timestamps; :meth:`FakeTelegram.fail_next` injects 429/5xx answers. The module also
builds realistic incoming updates (:func:`text_update`, :func:`callback_update` ...) as the JSON
dicts Telegram posts to webhooks and returns from getUpdates.

:class:`FakeTelegram` runs on the caller's event loop; :class:`FakeTelegramThread` runs the same
server on a background thread for synchronous tests that drive a bot running in a subprocess.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeAlias, TypeVar

from aiohttp import ClientSession, ClientTimeout, web
from yarl import URL

from tests.fakes.server import HOST, BackgroundServer, listen

JSONDict: TypeAlias = dict[str, Any]
_T = TypeVar("_T")

DEFAULT_TOKEN = "123456:TEST"
BOT_FIRST_NAME = "Köprü Test"
BOT_USERNAME = "kopru_test_bot"
DEFAULT_BOT_ID = 123456  # Telegram bot ids are the part of the token before the colon.

MAX_MESSAGE_LENGTH = 4096  # UTF-16 code units, after entity parsing
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_CALLBACK_DATA_BYTES = 64

# Updates getUpdates/webhooks deliver when allowed_updates was never given (or given as []).
_NOT_DELIVERED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Parameters that are plain strings even when they look like JSON ("123", "true", "[1]").
# Everything else arriving as a string is JSON-decoded when it is valid JSON.
_STRING_PARAMS = frozenset(
    {
        "action",
        "animation",
        "audio",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "description",
        "document",
        "emoji",
        "inline_message_id",
        "ip_address",
        "language_code",
        "message_effect_id",
        "name",
        "parse_mode",
        "photo",
        "secret_token",
        "short_description",
        "sticker",
        "text",
        "thumbnail",
        "title",
        "url",
        "video",
        "video_note",
        "voice",
    }
)
_CHAT_ID_PARAMS = frozenset({"chat_id", "from_chat_id"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_INT_RE = re.compile(r"-?\d+")


class ApiError(Exception):
    """An error answer of the Bot API (``ok: false``) with its HTTP status."""

    def __init__(
        self, status: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = dict(parameters) if parameters else None

    def body(self) -> JSONDict:
        answer: JSONDict = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            answer["parameters"] = self.parameters
        return answer


def _bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


@dataclass
class Call:
    """One request that reached the fake (including rejected and fault-injected ones)."""

    method: str
    """The method name as the client spelled it in the URL (e.g. ``sendMessage``)."""
    params: JSONDict
    """Decoded parameters: JSON-encoded form values are parsed, numeric chat ids become ints."""
    at: float
    """``time.monotonic()`` when the request arrived."""
    status: int | None = None
    """HTTP status of the answer (``None`` while the request is still being answered)."""
    injected: bool = False
    """True if the answer was a failure injected with :meth:`FakeTelegram.fail_next`."""
    result: Any = None
    """The ``result`` of a successful answer."""
    description: str | None = None
    """The ``description`` of an error answer."""

    @property
    def ok(self) -> bool:
        return self.status == HTTPStatus.OK


@dataclass
class _Fault:
    status: int
    retry_after: int
    description: str | None
    remaining: int


@dataclass
class UploadedFile:
    """A file part of a multipart request (e.g. ``send_photo(chat_id, photo=open(...))``)."""

    field_name: str
    filename: str | None
    content_type: str
    content: bytes = field(repr=False)


# --------------------------------------------------------------------------------------------
# Small helpers shared by the server and the update builders
# --------------------------------------------------------------------------------------------


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode("utf-8")).digest()


def _file_ids(prefix: str, unique_prefix: str, *seed: object) -> tuple[str, str]:
    """Deterministic identifiers shaped like Telegram's ``file_id``/``file_unique_id``."""
    raw = _digest(*seed)
    body = base64.urlsafe_b64encode(raw + _digest(raw)).decode("ascii").rstrip("=")
    return prefix + body[:64], unique_prefix + body[-12:]


def _now() -> int:
    return int(time.time())


def _bot_id_from_token(token: str) -> int:
    head = token.split(":", 1)[0]
    return int(head) if head.isdigit() else DEFAULT_BOT_ID


def normalize_chat_id(value: Any) -> int | str:
    """``42``, ``"42"`` and ``" 42 "`` are the same chat; ``"@channel"`` stays a string."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if _INT_RE.fullmatch(text) else text


def _coerce_param(name: str, value: Any) -> Any:
    if name in _CHAT_ID_PARAMS:
        return normalize_chat_id(value)
    if isinstance(value, str) and name not in _STRING_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


# --------------------------------------------------------------------------------------------
# HTML parse mode: a port of tdlib's parse_html (what the Bot API runs for parse_mode=HTML)
# --------------------------------------------------------------------------------------------

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_TAG_ENTITIES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_HTML_NAMED_ENTITIES = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}
_SPACE_BYTES = frozenset(b" \t\r\n\v\f\x00")
_HEX_BYTES = frozenset(b"0123456789abcdefABCDEF")
_DIGIT_BYTES = frozenset(b"0123456789")
_ALPHA_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_TOKEN_BYTES = _ALPHA_BYTES | _DIGIT_BYTES | frozenset(b".-")


class _HTMLScanner:
    """Byte-level scanner over UTF-8 text; reading past the end yields NUL like a C string."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __getitem__(self, index: int) -> int:
        return self.data[index] if index < len(self.data) else 0

    def decode_entity(self, pos: int) -> tuple[int, int]:
        """Decode ``&...;`` at ``pos``; returns (code point or 0, position after it)."""
        end = pos + 1
        code = 0
        if self[pos + 1] == ord("#"):
            end += 1
            if self[pos + 2] == ord("x"):
                end += 1
                while self[end] in _HEX_BYTES:
                    code = code * 16 + int(chr(self[end]), 16)
                    end += 1
            else:
                while self[end] in _DIGIT_BYTES:
                    code = code * 10 + self[end] - 0x30
                    end += 1
            if code == 0 or code >= 0x10FFFF or end - pos >= 10:
                return 0, pos
        else:
            while self[end] in _ALPHA_BYTES:
                end += 1
            code = _HTML_NAMED_ENTITIES.get(self.data[pos + 1 : end], 0)
            if code == 0:
                return 0, pos
        if self[end] == ord(";"):
            end += 1
        return code, end


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Bot API HTML markup into (plain text, Bot API MessageEntity dicts).

    Raises :class:`ApiError` (400 ``can't parse entities: ...``) exactly where Telegram does.
    """
    scan = _HTMLScanner(text.encode("utf-8"))
    size = len(scan.data)
    out = bytearray()
    utf16 = 0
    entities: list[JSONDict] = []
    # (tag name, argument, utf-16 offset of the entity, byte offset in ``out``)
    open_tags: list[tuple[str, str, int, int]] = []

    def fail(reason: str) -> ApiError:
        return _bad_request(f"can't parse entities: {reason}")

    i = 0
    while i < size:
        c = scan[i]
        if c == ord("&"):
            code, after = scan.decode_entity(i)
            if code:
                if 0xD800 <= code <= 0xDFFF:
                    raise fail(
                        "Text contains invalid Unicode characters after decoding HTML entities, "
                        "check for unmatched surrogate code units"
                    )
                out += chr(code).encode("utf-8")
                utf16 += 2 if code > 0xFFFF else 1
                i = after
                continue
        if c != ord("<"):
            if c & 0xC0 != 0x80:  # first byte of a UTF-8 sequence
                utf16 += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if scan[i] != ord("/"):
            while scan[i] not in _SPACE_BYTES and scan[i] != ord(">"):
                i += 1
            if scan[i] == 0:
                raise fail(f"Unclosed start tag at byte offset {begin}")
            tag = scan.data[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _HTML_TAGS:
                raise fail(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            expandable = False
            while scan[i] != ord(">"):
                while scan[i] != 0 and scan[i] in _SPACE_BYTES:
                    i += 1
                if scan[i] == ord(">"):
                    break
                attribute_begin = i
                while scan[i] not in _SPACE_BYTES and scan[i] not in (ord("="), ord(">")):
                    i += 1
                attribute = scan.data[attribute_begin:i].decode("utf-8", "replace")
                if not attribute:
                    raise fail(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
                while scan[i] != 0 and scan[i] in _SPACE_BYTES:
                    i += 1
                if tag == "blockquote" and attribute == "expandable" and scan[i] != ord("="):
                    expandable = True
                    continue
                if scan[i] != ord("="):
                    raise fail(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {begin}'
                    )
                i += 1
                while scan[i] != 0 and scan[i] in _SPACE_BYTES:
                    i += 1
                if scan[i] == 0:
                    raise fail(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if scan[i] not in (ord("'"), ord('"')):
                    token_begin = i
                    while scan[i] in _NAME_TOKEN_BYTES:
                        i += 1
                    value = scan.data[token_begin:i].decode("ascii").lower()
                    if scan[i] not in _SPACE_BYTES and scan[i] != ord(">"):
                        raise fail(f"Unexpected end of name token at byte offset {token_begin}")
                else:
                    quote = scan[i]
                    i += 1
                    raw = bytearray()
                    while scan[i] != quote and scan[i] != 0:
                        if scan[i] == ord("&"):
                            code, after = scan.decode_entity(i)
                            if code:
                                raw += chr(code).encode("utf-8", "surrogatepass")
                                i = after
                                continue
                        raw.append(scan[i])
                        i += 1
                    if scan[i] == quote:
                        i += 1
                    value = raw.decode("utf-8", "replace")
                if scan[i] == 0:
                    raise fail(f"Unclosed start tag at byte offset {begin}")
                if tag == "a" and attribute == "href":
                    argument = value
                elif tag == "code" and attribute == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attribute == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise fail(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
            if expandable:
                argument = "expandable"
            open_tags.append((tag, argument, utf16, len(out)))
        else:
            if not open_tags:
                raise fail(f"Unexpected end tag at byte offset {begin}")
            while scan[i] not in _SPACE_BYTES and scan[i] != ord(">"):
                i += 1
            end_tag = scan.data[begin + 2 : i].decode("utf-8", "replace").lower()
            while scan[i] != 0 and scan[i] in _SPACE_BYTES:
                i += 1
            if scan[i] != ord(">"):
                raise fail(f"Unclosed end tag at byte offset {begin}")
            tag, argument, offset, out_begin = open_tags[-1]
            if end_tag and end_tag != tag:
                raise fail(
                    f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", '
                    f'found "</{end_tag}>"'
                )
            if utf16 > offset:
                _close_html_entity(
                    entities, tag, argument, offset, utf16 - offset, bytes(out[out_begin:])
                )
            open_tags.pop()
        i += 1  # past '>'
    if open_tags:
        raise fail(f"Can't find end tag corresponding to start tag {open_tags[-1][0]}")
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return out.decode("utf-8"), entities


def _close_html_entity(
    entities: list[JSONDict], tag: str, argument: str, offset: int, length: int, inner: bytes
) -> None:
    last = entities[-1] if entities else None
    same_range = last is not None and (last["offset"], last["length"]) == (offset, length)
    if tag in _SIMPLE_TAG_ENTITIES:
        entities.append({"offset": offset, "length": length, "type": _SIMPLE_TAG_ENTITIES[tag]})
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise _bad_request("can't parse entities: Invalid custom emoji identifier specified")
        entities.append(
            {
                "offset": offset,
                "length": length,
                "type": "custom_emoji",
                "custom_emoji_id": argument,
            }
        )
    elif tag == "a":
        url = argument or inner.decode("utf-8", "replace")
        if url and "://" not in url and not url.startswith(("tg:", "mailto:")):
            url = f"http://{url}"
        if url:
            entities.append({"offset": offset, "length": length, "type": "text_link", "url": url})
    elif tag == "pre":
        if last is not None and same_range and last["type"] == "code" and last.get("language"):
            last["type"] = "pre"
        else:
            entities.append({"offset": offset, "length": length, "type": "pre"})
    elif tag == "code":
        if last is not None and same_range and last["type"] == "pre" and argument:
            last["language"] = argument
        elif argument:
            # Kept until a surrounding <pre> claims it; a bare <code> drops its language.
            entities.append({"offset": offset, "length": length, "type": "code"})
            entities[-1]["language"] = argument
        else:
            entities.append({"offset": offset, "length": length, "type": "code"})
    elif tag == "blockquote":
        kind = "expandable_blockquote" if argument == "expandable" else "blockquote"
        entities.append({"offset": offset, "length": length, "type": kind})


def _finish_entities(entities: list[JSONDict]) -> None:
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Telegram strips leading/trailing whitespace from texts and captions."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = _utf16_len(text[: len(text) - len(text.lstrip())])
    limit = _utf16_len(stripped)
    kept: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def format_text(
    text: str, parse_mode: str | None, entities: Any, *, allow_empty: bool = False
) -> tuple[str, list[JSONDict]]:
    """Apply ``parse_mode``/``entities`` as the Bot API does for ``text`` and ``caption``."""
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        plain, parsed = parse_html(text)
        _finish_entities(parsed)
    elif mode in ("", "markdown", "markdownv2"):
        # Markdown modes are not parsed by the fake: the text is echoed as sent.
        plain = text
        parsed = [dict(entity) for entity in entities] if isinstance(entities, list) else []
    else:
        raise _bad_request("unsupported parse_mode")
    plain, parsed = _trim(plain, parsed)
    if not plain and not allow_empty:
        raise _bad_request("message text is empty")
    return plain, parsed


# --------------------------------------------------------------------------------------------
# Builders for incoming updates (the JSON Telegram posts to webhooks / returns from getUpdates)
# --------------------------------------------------------------------------------------------

_BOT_COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")
_MENTION_RE = re.compile(r"(?<!\w)@[A-Za-z0-9_]{2,32}(?!\w)")
_URL_RE = re.compile(r"(?<![\w@])https?://[^\s<>\"]+[^\s<>\".,;:!?)\]']")


def detect_entities(text: str) -> list[JSONDict]:
    """Entities Telegram adds to incoming texts: bot commands, @mentions and URLs."""
    found: list[JSONDict] = []
    for kind, pattern in (("bot_command", _BOT_COMMAND_RE), ("mention", _MENTION_RE)):
        for match in pattern.finditer(text):
            found.append(
                {
                    "offset": _utf16_len(text[: match.start()]),
                    "length": _utf16_len(match.group()),
                    "type": kind,
                }
            )
    for match in _URL_RE.finditer(text):
        found.append(
            {
                "offset": _utf16_len(text[: match.start()]),
                "length": _utf16_len(match.group()),
                "type": "url",
            }
        )
    found.sort(key=lambda entity: entity["offset"])
    return found


def user_dict(
    user_id: int,
    first_name: str = "Ayşe",
    *,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "tr",
    is_bot: bool = False,
) -> JSONDict:
    """A ``User`` as Telegram serialises it (absent optionals are omitted, not null)."""
    user: JSONDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if last_name:
        user["last_name"] = last_name
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    return user


def bot_user_dict(
    bot_id: int = DEFAULT_BOT_ID,
    first_name: str = BOT_FIRST_NAME,
    username: str = BOT_USERNAME,
) -> JSONDict:
    """The bot as it appears in ``from`` of its own messages."""
    return {"id": bot_id, "is_bot": True, "first_name": first_name, "username": username}


def chat_dict(
    chat_id: int,
    chat_type: str = "private",
    *,
    first_name: str | None = "Ayşe",
    last_name: str | None = None,
    username: str | None = None,
    title: str | None = None,
) -> JSONDict:
    """A ``Chat``: private chats carry the user's names, groups and channels a title."""
    chat: JSONDict = {"id": chat_id}
    if chat_type == "private":
        chat["first_name"] = first_name or "Ayşe"
        if last_name:
            chat["last_name"] = last_name
    else:
        if chat_id >= 0:
            raise ValueError(f"{chat_type} chats have negative ids, got {chat_id}")
        chat["title"] = title or "Köprü Destek"
    if username:
        chat["username"] = username
    chat["type"] = chat_type
    return chat


def _message(
    message_id: int,
    sender: JSONDict,
    chat: JSONDict,
    date: int | None,
    **content: Any,
) -> JSONDict:
    message: JSONDict = {
        "message_id": message_id,
        "from": sender,
        "chat": chat,
        "date": _now() if date is None else date,
    }
    message.update({key: value for key, value in content.items() if value is not None})
    return message


def _chat_and_sender(
    chat_id: int,
    *,
    chat_type: str,
    user_id: int | None,
    first_name: str,
    last_name: str | None,
    username: str | None,
    language_code: str | None,
    title: str | None,
) -> tuple[JSONDict, JSONDict]:
    if chat_type == "private":
        if user_id is not None and user_id != chat_id:
            raise ValueError("in a private chat the chat id is the user's id")
        user_id = chat_id
    elif user_id is None:
        user_id = 700_000_000 + abs(chat_id) % 100_000_000
    sender = user_dict(
        user_id,
        first_name,
        last_name=last_name,
        username=username,
        language_code=language_code,
    )
    chat = chat_dict(
        chat_id,
        chat_type,
        first_name=first_name,
        last_name=last_name,
        username=username if chat_type == "private" else None,
        title=title,
    )
    return chat, sender


def text_update(
    update_id: int,
    chat_id: int,
    text: str,
    first_name: str = "Ayşe",
    language_code: str | None = "tr",
    username: str | None = None,
    chat_type: str = "private",
    *,
    user_id: int | None = None,
    last_name: str | None = None,
    message_id: int | None = None,
    date: int | None = None,
    title: str | None = None,
) -> JSONDict:
    """A user's text message; commands, mentions and URLs carry entities as Telegram adds them."""
    chat, sender = _chat_and_sender(
        chat_id,
        chat_type=chat_type,
        user_id=user_id,
        first_name=first_name,
        last_name=last_name,
        username=username,
        language_code=language_code,
        title=title,
    )
    message = _message(
        update_id if message_id is None else message_id,
        sender,
        chat,
        date,
        text=text,
        entities=detect_entities(text) or None,
    )
    return {"update_id": update_id, "message": message}


def group_text_update(
    update_id: int,
    chat_id: int,
    text: str,
    user_id: int = 700_000_001,
    first_name: str = "Ayşe",
    language_code: str | None = "tr",
    username: str | None = None,
    *,
    title: str = "Köprü Destek",
    chat_type: str = "supergroup",
    message_id: int | None = None,
    date: int | None = None,
) -> JSONDict:
    """A member's text message in a group (``chat_type="group"``) or supergroup."""
    if chat_type not in ("group", "supergroup"):
        raise ValueError(f"not a group chat type: {chat_type!r}")
    return text_update(
        update_id,
        chat_id,
        text,
        first_name,
        language_code,
        username,
        chat_type,
        user_id=user_id,
        message_id=message_id,
        date=date,
        title=title,
    )


def callback_update(
    update_id: int,
    chat_id: int,
    data: str,
    message_id: int,
    first_name: str = "Ayşe",
    language_code: str | None = "tr",
    username: str | None = None,
    *,
    message_text: str = "Size nasıl yardımcı olabilirim?",
    reply_markup: JSONDict | None = None,
    bot_id: int = DEFAULT_BOT_ID,
    bot_username: str = BOT_USERNAME,
    date: int | None = None,
) -> JSONDict:
    """A press of an inline button with ``callback_data=data`` under the bot's message."""
    chat, sender = _chat_and_sender(
        chat_id,
        chat_type="private",
        user_id=None,
        first_name=first_name,
        last_name=None,
        username=username,
        language_code=language_code,
        title=None,
    )
    if reply_markup is None:
        reply_markup = {"inline_keyboard": [[{"text": data, "callback_data": data}]]}
    sent = _now() if date is None else date
    message = _message(
        message_id,
        bot_user_dict(bot_id, username=bot_username),
        chat,
        sent - 5,
        text=message_text,
        reply_markup=reply_markup,
    )
    query_id = str(int.from_bytes(_digest("callback", update_id, chat_id)[:8], "big") >> 1)
    chat_instance = str(int.from_bytes(_digest("instance", chat_id)[:8], "big", signed=True))
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id,
            "from": sender,
            "message": message,
            "chat_instance": chat_instance,
            "data": data,
        },
    }


def edited_message_update(
    update_id: int,
    chat_id: int,
    text: str,
    message_id: int,
    first_name: str = "Ayşe",
    language_code: str | None = "tr",
    username: str | None = None,
    *,
    date: int | None = None,
    edit_date: int | None = None,
) -> JSONDict:
    """The user edited an earlier message of theirs (``edited_message``)."""
    chat, sender = _chat_and_sender(
        chat_id,
        chat_type="private",
        user_id=None,
        first_name=first_name,
        last_name=None,
        username=username,
        language_code=language_code,
        title=None,
    )
    edited = _now() if edit_date is None else edit_date
    message = _message(
        message_id,
        sender,
        chat,
        edited - 30 if date is None else date,
        edit_date=edited,
        text=text,
        entities=detect_entities(text) or None,
    )
    return {"update_id": update_id, "edited_message": message}


def sticker_update(
    update_id: int,
    chat_id: int,
    emoji: str = "👍",
    first_name: str = "Ayşe",
    language_code: str | None = "tr",
    username: str | None = None,
    *,
    set_name: str = "KopruTestStickers",
    is_animated: bool = False,
    is_video: bool = False,
    message_id: int | None = None,
    date: int | None = None,
) -> JSONDict:
    """A sticker message (static WEBP by default, ``is_animated`` TGS or ``is_video`` WEBM)."""
    chat, sender = _chat_and_sender(
        chat_id,
        chat_type="private",
        user_id=None,
        first_name=first_name,
        last_name=None,
        username=username,
        language_code=language_code,
        title=None,
    )
    file_id, unique_id = _file_ids("CAACAgIAAxkBAAI", "AgAD", "sticker", set_name, emoji)
    thumb_id, thumb_unique_id = _file_ids("AAMCAgADGQEAAI", "AQAD", "thumb", set_name, emoji)
    sticker: JSONDict = {
        "width": 512,
        "height": 512,
        "emoji": emoji,
        "set_name": set_name,
        "is_animated": is_animated,
        "is_video": is_video,
        "type": "regular",
        "thumbnail": {
            "file_id": thumb_id,
            "file_unique_id": thumb_unique_id,
            "file_size": 5416,
            "width": 128,
            "height": 128,
        },
        "file_id": file_id,
        "file_unique_id": unique_id,
        "file_size": 23810 if is_animated else 41272,
    }
    message = _message(
        update_id if message_id is None else message_id, sender, chat, date, sticker=sticker
    )
    return {"update_id": update_id, "message": message}


def photo_sizes(seed: object, *, largest: tuple[int, int] = (1280, 960)) -> list[JSONDict]:
    """The ``photo`` array Telegram sends: the same picture in increasing sizes."""
    width, height = largest
    sizes: list[JSONDict] = []
    for side, file_size in ((90, 1423), (320, 19863), (800, 72515), (1280, 128004)):
        scale = min(side / max(width, height), 1.0)
        file_id, unique_id = _file_ids("AgACAgIAAxkBAAI", "AQAD", "photo", seed, side)
        sizes.append(
            {
                "file_id": file_id,
                "file_unique_id": unique_id,
                "file_size": file_size,
                "width": max(1, round(width * scale)),
                "height": max(1, round(height * scale)),
            }
        )
        if scale == 1.0:
            break
    return sizes


def photo_update(
    update_id: int,
    chat_id: int,
    caption: str | None = None,
    first_name: str = "Ayşe",
    language_code: str | None = "tr",
    username: str | None = None,
    *,
    message_id: int | None = None,
    date: int | None = None,
) -> JSONDict:
    """A photo message (e.g. a picture of a damaged parcel), optionally with a caption."""
    chat, sender = _chat_and_sender(
        chat_id,
        chat_type="private",
        user_id=None,
        first_name=first_name,
        last_name=None,
        username=username,
        language_code=language_code,
        title=None,
    )
    message = _message(
        update_id if message_id is None else message_id,
        sender,
        chat,
        date,
        photo=photo_sizes(("update", update_id, chat_id)),
        caption=caption,
        caption_entities=(detect_entities(caption) or None) if caption else None,
    )
    return {"update_id": update_id, "message": message}


def voice_update(
    update_id: int,
    chat_id: int,
    duration: int = 4,
    first_name: str = "Ayşe",
    language_code: str | None = "tr",
    username: str | None = None,
    *,
    message_id: int | None = None,
    date: int | None = None,
) -> JSONDict:
    """A voice note (OGG/Opus) of ``duration`` seconds."""
    chat, sender = _chat_and_sender(
        chat_id,
        chat_type="private",
        user_id=None,
        first_name=first_name,
        last_name=None,
        username=username,
        language_code=language_code,
        title=None,
    )
    file_id, unique_id = _file_ids("AwACAgIAAxkBAAI", "AgAD", "voice", update_id, chat_id)
    voice = {
        "duration": duration,
        "mime_type": "audio/ogg",
        "file_id": file_id,
        "file_unique_id": unique_id,
        "file_size": 2400 * max(duration, 1),
    }
    message = _message(
        update_id if message_id is None else message_id, sender, chat, date, voice=voice
    )
    return {"update_id": update_id, "message": message}


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

_Handler = Callable[[JSONDict], Any]


class FakeTelegram:
    """The fake Bot API server, on the running event loop. See the module docstring.

    ``base_url`` (returned by :meth:`start`) is ``http://127.0.0.1:PORT/bot`` for
    ``telegram.Bot(token, base_url=...)``. Recordings are guarded by a lock, so they may be read
    from other threads; :meth:`queue_update` and :meth:`fail_next` may be called from any thread.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_first_name: str = BOT_FIRST_NAME,
        bot_username: str = BOT_USERNAME,
    ) -> None:
        self.token = token
        self.bot_id = _bot_id_from_token(token)
        self.bot_first_name = bot_first_name
        self.bot_username = bot_username
        self.webhook: JSONDict = {"url": "", "secret_token": None, "allowed_updates": None}

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._records: list[Call] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._updates: list[JSONDict] = []
        self._last_update_id = 0
        self._allowed_updates: list[str] = []
        self._chats: dict[int | str, JSONDict] = {}
        self._messages: dict[tuple[int | str, int], JSONDict] = {}
        # Messages edits referred to that the fake never saw: their old markup is unknown.
        self._unverified: set[tuple[int | str, int]] = set()
        self._next_message_id = 1000
        self._poll_generation = 0

        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._activity: asyncio.Event | None = None
        self._updates_changed: asyncio.Event | None = None
        self._closing = False
        self._port: int | None = None

        self._methods: dict[str, _Handler] = {
            "getme": self._get_me,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "sendchataction": self._send_chat_action,
            "answercallbackquery": self._answer_callback_query,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "editmessagetext": self._edit_message_text,
            "setmycommands": self._set_my_commands,
        }

    # -- lifecycle -----------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", r"/bot{token}/{method}", self._handle)
        return app

    async def start(self) -> str:
        """Listen on 127.0.0.1 (a free port) and return :attr:`base_url`."""
        if self._runner is not None:
            raise RuntimeError("FakeTelegram is already running")
        self._loop = asyncio.get_running_loop()
        self._activity = asyncio.Event()
        self._updates_changed = asyncio.Event()
        self._closing = False
        self._runner, self._port = await listen(self.make_app())
        return self.base_url

    async def stop(self) -> None:
        """Answer pending long polls (with no updates) and shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        self._wake()
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self._port = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not running")
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot``: PTB appends the token itself."""
        return f"{self.root_url}/bot"

    @property
    def file_base_url(self) -> str:
        """For ``Bot(base_file_url=...)``, so nothing ever falls back to api.telegram.org."""
        return f"{self.root_url}/file/bot"

    @property
    def bot_user(self) -> JSONDict:
        """What getMe returns."""
        return {
            **bot_user_dict(self.bot_id, self.bot_first_name, self.bot_username),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # -- test controls ---------------------------------------------------------------------------

    def queue_update(self, update: Mapping[str, Any]) -> int:
        """Queue an update for getUpdates; returns its update_id (assigned if missing)."""
        item = copy.deepcopy(dict(update))
        with self._lock:
            if "update_id" not in item:
                item["update_id"] = max(self._last_update_id, 0) + 1
            self._last_update_id = max(self._last_update_id, int(item["update_id"]))
            self._remember(item)
            self._updates.append(item)
            self._changed.notify_all()
        self._wake()
        return int(item["update_id"])

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with an error instead of running it.

        429 answers carry ``parameters.retry_after`` (python-telegram-bot raises ``RetryAfter``);
        other statuses (500, 502, 400, 403 ...) get ``description`` or Telegram's usual one.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.setdefault(method.lower(), deque()).append(
                _Fault(status, retry_after, description, times)
            )

    def register_chat(self, chat: Mapping[str, Any]) -> None:
        """Make replies to ``chat["id"]`` carry this chat object (queued updates do it too)."""
        with self._lock:
            self._chats[normalize_chat_id(chat["id"])] = dict(chat)

    def reset_recordings(self) -> None:
        """Forget recorded calls (not the webhook, queued updates or pending faults)."""
        with self._lock:
            self._records.clear()

    # -- recordings ------------------------------------------------------------------------------

    @property
    def records(self) -> list[Call]:
        """Every request in arrival order, with status, timestamps and fault flags."""
        with self._lock:
            return list(self._records)

    @property
    def calls(self) -> list[tuple[str, JSONDict]]:
        """``(method, params)`` of every request in arrival order (failed ones included)."""
        with self._lock:
            return [(call.method, copy.deepcopy(call.params)) for call in self._records]

    def attempts(self, method: str) -> list[Call]:
        """All requests for ``method`` (case-insensitive), failed and injected ones included."""
        wanted = method.lower()
        with self._lock:
            return [call for call in self._records if call.method.lower() == wanted]

    def successful(self, method: str) -> list[Call]:
        return [call for call in self.attempts(method) if call.ok]

    def sent_messages(self, chat_id: int | str | None = None) -> list[JSONDict]:
        """Parameters of each successful sendMessage (plus the ``message_id`` it got)."""
        return self._sent("sendMessage", chat_id)

    def sent_photos(self, chat_id: int | str | None = None) -> list[JSONDict]:
        """Parameters of each successful sendPhoto (plus the ``message_id`` it got)."""
        return self._sent("sendPhoto", chat_id)

    def answered_callbacks(self) -> list[JSONDict]:
        return [copy.deepcopy(call.params) for call in self.successful("answerCallbackQuery")]

    def edited_markups(self) -> list[JSONDict]:
        return [copy.deepcopy(call.params) for call in self.successful("editMessageReplyMarkup")]

    def _sent(self, method: str, chat_id: int | str | None) -> list[JSONDict]:
        wanted = None if chat_id is None else normalize_chat_id(chat_id)
        sent: list[JSONDict] = []
        for call in self.successful(method):
            if wanted is not None and call.params.get("chat_id") != wanted:
                continue
            params = copy.deepcopy(call.params)
            if isinstance(call.result, dict):
                params["message_id"] = call.result["message_id"]
            sent.append(params)
        return sent

    async def wait_for_messages(
        self, n: int, timeout: float = 5.0, chat_id: int | str | None = None
    ) -> list[JSONDict]:
        """Wait until at least ``n`` messages were sent (to ``chat_id``); returns them all."""
        found = await self._wait_async(lambda: self._at_least(n, chat_id), timeout)
        if found is None:
            raise TimeoutError(self._timeout_message(n, timeout, chat_id))
        return found

    async def wait_for_calls(self, method: str, n: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until ``method`` was requested ``n`` times (any outcome); returns the attempts."""
        found = await self._wait_async(lambda: self._attempts_at_least(method, n), timeout)
        if found is None:
            raise TimeoutError(f"{method} was requested {len(self.attempts(method))} of {n} times")
        return found

    def wait_for_messages_sync(
        self, n: int, timeout: float = 5.0, chat_id: int | str | None = None
    ) -> list[JSONDict]:
        """Blocking :meth:`wait_for_messages`; never call it on the server's own loop."""
        found = self._wait_sync(lambda: self._at_least(n, chat_id), timeout)
        if found is None:
            raise TimeoutError(self._timeout_message(n, timeout, chat_id))
        return found

    def wait_for_calls_sync(self, method: str, n: int = 1, timeout: float = 5.0) -> list[Call]:
        found = self._wait_sync(lambda: self._attempts_at_least(method, n), timeout)
        if found is None:
            raise TimeoutError(f"{method} was requested {len(self.attempts(method))} of {n} times")
        return found

    def _at_least(self, n: int, chat_id: int | str | None) -> list[JSONDict] | None:
        sent = self.sent_messages(chat_id)
        return sent if len(sent) >= n else None

    def _attempts_at_least(self, method: str, n: int) -> list[Call] | None:
        attempts = [call for call in self.attempts(method) if call.status is not None]
        return attempts if len(attempts) >= n else None

    def _timeout_message(self, n: int, timeout: float, chat_id: int | str | None) -> str:
        texts = [message.get("text") for message in self.sent_messages(chat_id)]
        where = "" if chat_id is None else f" to chat {chat_id}"
        seen = [(call.method, call.status) for call in self.records]
        return (
            f"expected {n} message(s){where} within {timeout}s, got {len(texts)}: {texts!r}; "
            f"requests so far: {seen!r}"
        )

    async def _wait_async(self, probe: Callable[[], _T | None], timeout: float) -> _T | None:
        if self._activity is None:
            raise RuntimeError("FakeTelegram is not running")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._activity.clear()
            found = probe()
            remaining = deadline - loop.time()
            if found is not None or remaining <= 0:
                return found
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._activity.wait(), remaining)

    def _wait_sync(self, probe: Callable[[], _T | None], timeout: float) -> _T | None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = probe()
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    return found
                self._changed.wait(remaining)

    # -- webhook delivery --------------------------------------------------------------------------

    async def deliver_webhook(self, update: Mapping[str, Any], timeout: float = 10.0) -> int:
        """POST ``update`` to the webhook set with setWebhook, as Telegram does; returns the status.

        Sends ``X-Telegram-Bot-Api-Secret-Token`` when a secret token was set. Only loopback
        webhook URLs are accepted, so nothing leaves the machine.
        """
        with self._lock:
            url = self.webhook["url"]
            secret = self.webhook["secret_token"]
            self._remember(dict(update))
        if not url:
            raise RuntimeError("no webhook is set")
        if URL(url).host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"refusing to deliver to a non-loopback webhook: {url}")
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        body = json.dumps(update, ensure_ascii=False).encode("utf-8")
        async with (
            ClientSession(timeout=ClientTimeout(total=timeout)) as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            await response.read()
            return response.status

    # -- HTTP plumbing ---------------------------------------------------------------------------

    def _wake(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._set_events()
        else:
            loop.call_soon_threadsafe(self._set_events)

    def _set_events(self) -> None:
        for event in (self._activity, self._updates_changed):
            if event is not None:
                event.set()

    def _record_done(
        self, call: Call, status: int, *, result: Any = None, description: str | None = None
    ) -> None:
        with self._lock:
            call.status = status
            call.result = result
            call.description = description
            self._changed.notify_all()
        if self._activity is not None:
            self._activity.set()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        call = Call(method=method, params={}, at=time.monotonic())
        with self._lock:
            self._records.append(call)
        try:
            if request.match_info["token"] != self.token:
                with contextlib.suppress(ApiError):
                    call.params = await self._read_params(request)
                raise ApiError(401, "Unauthorized")
            call.params = await self._read_params(request)
            fault = self._take_fault(method)
            if fault is not None:
                call.injected = True
                raise fault
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            outcome = handler(copy.deepcopy(call.params))
            result = await outcome if asyncio.iscoroutine(outcome) else outcome
        except ApiError as error:
            self._record_done(call, error.status, description=error.description)
            return self._json(error.body(), error.status)
        answer: JSONDict = {"ok": True, "result": result}
        self._record_done(call, 200, result=copy.deepcopy(result))
        return self._json(answer, 200)

    @staticmethod
    def _json(body: JSONDict, status: int) -> web.Response:
        return web.Response(
            status=status,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            content_type="application/json",
        )

    async def _read_params(self, request: web.Request) -> JSONDict:
        params: JSONDict = {}
        for name, value in request.query.items():
            params[name] = _coerce_param(name, value)
        if not request.body_exists:
            return params
        content_type = request.content_type
        if content_type == "application/json":
            raw = await request.read()
            if not raw.strip():
                return params
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise _bad_request("can't parse JSON object") from exc
            if not isinstance(body, dict):
                raise _bad_request("JSON object expected")
            for name, value in body.items():
                params[name] = _coerce_param(name, value)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, part in form.items():
                if isinstance(part, web.FileField):
                    with part.file:
                        content = part.file.read()
                    params[name] = UploadedFile(
                        field_name=name,
                        filename=part.filename,
                        content_type=part.content_type,
                        content=content,
                    )
                else:
                    params[name] = _coerce_param(name, part)
        return params

    def _take_fault(self, method: str) -> ApiError | None:
        with self._lock:
            queue = self._faults.get(method.lower())
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
        if fault.status == 429:
            return ApiError(
                429,
                fault.description or f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        try:
            phrase = HTTPStatus(fault.status).phrase
        except ValueError:
            phrase = "Error"
        return ApiError(
            fault.status,
            fault.description or _ERROR_DESCRIPTIONS.get(fault.status, phrase),
        )

    # -- state helpers -------------------------------------------------------------------------

    def _remember(self, update: Mapping[str, Any]) -> None:
        for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
            message = update.get(kind)
            if isinstance(message, dict) and isinstance(message.get("chat"), dict):
                self._chats[normalize_chat_id(message["chat"]["id"])] = message["chat"]
        query = update.get("callback_query")
        if isinstance(query, dict) and isinstance(query.get("message"), dict):
            message = query["message"]
            if isinstance(message.get("chat"), dict) and "message_id" in message:
                chat_id = normalize_chat_id(message["chat"]["id"])
                self._chats[chat_id] = message["chat"]
                # The bot's own message under the pressed button: edits refer to it.
                message_key = (chat_id, int(message["message_id"]))
                if message_key not in self._messages or message_key in self._unverified:
                    self._messages[message_key] = copy.deepcopy(message)
                    self._unverified.discard(message_key)

    def _chat(self, chat_id: Any) -> JSONDict:
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        key = normalize_chat_id(chat_id)
        with self._lock:
            known = self._chats.get(key)
        if known is not None:
            return copy.deepcopy(known)
        if isinstance(key, str):
            if not key.startswith("@"):
                raise _bad_request("chat not found")
            channel_id = -1_000_000_000_000 - int.from_bytes(_digest(key)[:4], "big")
            return {"id": channel_id, "title": key[1:], "username": key[1:], "type": "channel"}
        if key > 0:
            return {"id": key, "first_name": "Ayşe", "type": "private"}
        if key <= -1_000_000_000_000:
            return {"id": key, "title": "Köprü Destek", "type": "supergroup"}
        return {"id": key, "title": "Köprü Destek", "type": "group"}

    def _new_message(self, chat: JSONDict, **content: Any) -> JSONDict:
        with self._lock:
            self._next_message_id += 1
            message_id = self._next_message_id
        message: JSONDict = {"message_id": message_id}
        if chat["type"] == "channel":
            message["sender_chat"] = chat
        else:
            message["from"] = bot_user_dict(self.bot_id, self.bot_first_name, self.bot_username)
        message["chat"] = chat
        message["date"] = _now()
        message.update({key: value for key, value in content.items() if value not in (None, [])})
        with self._lock:
            self._messages[(chat["id"], message_id)] = message
        return copy.deepcopy(message)

    @staticmethod
    def _reply_markup(raw: Any) -> JSONDict | None:
        if raw is None or raw == "":
            return None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise _bad_request("can't parse reply keyboard markup JSON object") from exc
        if not isinstance(raw, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in raw:
            rows = raw["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad_request(
                    'field "inline_keyboard" of the InlineKeyboardMarkup '
                    "should be an Array of Arrays"
                )
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise _bad_request('can\'t find field "text"')
                    if set(button) == {"text"}:
                        raise _bad_request("text buttons are unallowed in the inline keyboard")
                    data = button.get("callback_data")
                    if data is not None and not (
                        0 < len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
                    ):
                        raise _bad_request("BUTTON_DATA_INVALID")
        return raw

    @staticmethod
    def _inline_only(markup: JSONDict | None) -> JSONDict | None:
        """Sent messages echo inline keyboards only (reply keyboards are not part of Message)."""
        if markup and "inline_keyboard" in markup and markup["inline_keyboard"]:
            return markup
        return None

    # -- methods ---------------------------------------------------------------------------------

    def _get_me(self, params: JSONDict) -> JSONDict:
        return self.bot_user

    def _set_webhook(self, params: JSONDict) -> bool:
        url = str(params.get("url") or "")
        if url and URL(url).scheme not in ("http", "https"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        with self._lock:
            allowed = params.get("allowed_updates")
            if isinstance(allowed, list):
                self._allowed_updates = [str(kind) for kind in allowed]
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self.webhook = {
                "url": url,
                "secret_token": str(secret) if secret is not None and url else None,
                "allowed_updates": allowed if isinstance(allowed, list) else None,
                "max_connections": params.get("max_connections"),
                "drop_pending_updates": bool(params.get("drop_pending_updates")),
            }
        return True

    def _delete_webhook(self, params: JSONDict) -> bool:
        with self._lock:
            if params.get("drop_pending_updates"):
                self._updates.clear()
            self.webhook = {"url": "", "secret_token": None, "allowed_updates": None}
        return True

    def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        with self._lock:
            info: JSONDict = {
                "url": self.webhook["url"],
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self.webhook["url"]:
                info["max_connections"] = self.webhook.get("max_connections") or 40
                info["ip_address"] = HOST
                if self._allowed_updates:
                    info["allowed_updates"] = list(self._allowed_updates)
        return info

    def _deliverable(self, update: JSONDict) -> bool:
        kind = _update_type(update)
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _NOT_DELIVERED_BY_DEFAULT

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [u for u in self._updates if int(u["update_id"]) >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook["url"]:
            raise ApiError(409, _WEBHOOK_CONFLICT)
        try:
            offset = int(params.get("offset") or 0)
            limit = min(max(int(params.get("limit") or 100), 1), 100)
            timeout = max(float(params.get("timeout") or 0), 0.0)
        except (TypeError, ValueError) as exc:
            raise _bad_request("wrong parameter value") from exc
        allowed = params.get("allowed_updates")
        assert self._loop is not None and self._updates_changed is not None
        with self._lock:
            if isinstance(allowed, list):
                self._allowed_updates = [str(kind) for kind in allowed]
            self._poll_generation += 1
            generation = self._poll_generation
        self._updates_changed.set()  # a newer poll ends older ones with 409
        deadline = self._loop.time() + timeout
        while True:
            self._updates_changed.clear()
            with self._lock:
                if generation != self._poll_generation:
                    raise ApiError(409, _ERROR_DESCRIPTIONS[409])
                self._confirm(offset)
                batch = [u for u in self._updates if self._deliverable(u)][:limit]
            remaining = deadline - self._loop.time()
            if batch or remaining <= 0 or self._closing:
                return copy.deepcopy(batch)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._updates_changed.wait(), remaining)

    def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params.get("chat_id"))
        raw_text = params.get("text")
        if raw_text is None or str(raw_text) == "":
            raise _bad_request("message text is empty")
        text, entities = format_text(
            str(raw_text), params.get("parse_mode"), params.get("entities")
        )
        if _utf16_len(text) > MAX_MESSAGE_LENGTH:
            raise _bad_request("message is too long")
        markup = self._reply_markup(params.get("reply_markup"))
        return self._new_message(
            chat, text=text, entities=entities, reply_markup=self._inline_only(markup)
        )

    def _send_photo(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params.get("chat_id"))
        photo = params.get("photo")
        if photo is None or photo == "":
            raise _bad_request("there is no photo in the request")
        caption = params.get("caption")
        caption_entities: list[JSONDict] = []
        if caption:
            caption, caption_entities = format_text(
                str(caption),
                params.get("parse_mode"),
                params.get("caption_entities"),
                allow_empty=True,
            )
            if _utf16_len(caption) > MAX_CAPTION_LENGTH:
                raise _bad_request("message caption is too long")
        markup = self._reply_markup(params.get("reply_markup"))
        seed = (
            hashlib.sha256(photo.content).hexdigest() if isinstance(photo, UploadedFile) else photo
        )
        return self._new_message(
            chat,
            photo=photo_sizes(seed),
            caption=caption or None,
            caption_entities=caption_entities,
            reply_markup=self._inline_only(markup),
        )

    def _send_chat_action(self, params: JSONDict) -> bool:
        self._chat(params.get("chat_id"))
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    def _answer_callback_query(self, params: JSONDict) -> bool:
        if not params.get("callback_query_id"):
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        return True

    def _target_message(self, params: JSONDict) -> tuple[JSONDict | None, bool]:
        """The message an edit refers to (``None`` for inline messages: the result is ``True``)
        and whether its current content is known (else "not modified" cannot be judged)."""
        if params.get("inline_message_id"):
            return None, False
        if params.get("chat_id") in (None, "") or params.get("message_id") in (None, ""):
            raise _bad_request("message identifier is not specified")
        chat = self._chat(params["chat_id"])
        message_id = int(params["message_id"])
        with self._lock:
            key = (chat["id"], message_id)
            known = self._messages.get(key)
            if known is None:
                # A message the fake did not send (e.g. one from callback_update()):
                # assume it is the bot's own text message.
                known = {
                    "message_id": message_id,
                    "from": bot_user_dict(self.bot_id, self.bot_first_name, self.bot_username),
                    "chat": chat,
                    "date": _now() - 60,
                    "text": "…",
                }
                self._messages[key] = known
                self._unverified.add(key)
            verified = key not in self._unverified
            self._unverified.discard(key)
            return known, verified

    def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        markup = self._inline_only(self._reply_markup(params.get("reply_markup")))
        message, verified = self._target_message(params)
        if message is None:
            return True
        with self._lock:
            if verified and message.get("reply_markup") == markup:
                raise _bad_request(
                    "message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
            if markup is None:
                message.pop("reply_markup", None)
            else:
                message["reply_markup"] = markup
            message["edit_date"] = _now()
            return copy.deepcopy(message)

    def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        raw_text = params.get("text")
        if raw_text is None or str(raw_text) == "":
            raise _bad_request("message text is empty")
        text, entities = format_text(
            str(raw_text), params.get("parse_mode"), params.get("entities")
        )
        if _utf16_len(text) > MAX_MESSAGE_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        markup = self._inline_only(self._reply_markup(params.get("reply_markup")))
        message, verified = self._target_message(params)
        if message is None:
            return True
        with self._lock:
            if "text" not in message:
                raise _bad_request("there is no text in the message to edit")
            if (
                verified
                and message.get("text") == text
                and message.get("entities", []) == entities
                and message.get("reply_markup") == markup
            ):
                raise _bad_request(
                    "message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
            message["text"] = text
            if entities:
                message["entities"] = entities
            else:
                message.pop("entities", None)
            if markup is None:
                message.pop("reply_markup", None)
            else:
                message["reply_markup"] = markup
            message["edit_date"] = _now()
            return copy.deepcopy(message)

    def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(name)):
                raise _bad_request("BOT_COMMAND_INVALID")
        return True


# --------------------------------------------------------------------------------------------
# A synchronous wrapper: the same server on a background thread with its own event loop
# --------------------------------------------------------------------------------------------


class FakeTelegramThread(BackgroundServer[FakeTelegram]):
    """:class:`FakeTelegram` on a background thread, for plain synchronous tests.

    Typical use with a bot running in a subprocess::

        with FakeTelegramThread() as telegram:
            env["TELEGRAM_API_BASE_URL"] = telegram.base_url
            ...start the bot...
            telegram.queue_update(text_update(1, 42, "merhaba"))
            replies = telegram.wait_for_messages(1, timeout=30)
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_first_name: str = BOT_FIRST_NAME,
        bot_username: str = BOT_USERNAME,
    ) -> None:
        fake = FakeTelegram(token, bot_first_name=bot_first_name, bot_username=bot_username)
        super().__init__(fake, name="fake-telegram")

    # Delegation (all thread-safe).

    @property
    def token(self) -> str:
        return self.fake.token

    @property
    def base_url(self) -> str:
        return self.fake.base_url

    @property
    def file_base_url(self) -> str:
        return self.fake.file_base_url

    @property
    def webhook(self) -> JSONDict:
        with self.fake._lock:
            return copy.deepcopy(self.fake.webhook)

    @property
    def records(self) -> list[Call]:
        return self.fake.records

    @property
    def calls(self) -> list[tuple[str, JSONDict]]:
        return self.fake.calls

    def attempts(self, method: str) -> list[Call]:
        return self.fake.attempts(method)

    def sent_messages(self, chat_id: int | str | None = None) -> list[JSONDict]:
        return self.fake.sent_messages(chat_id)

    def sent_photos(self, chat_id: int | str | None = None) -> list[JSONDict]:
        return self.fake.sent_photos(chat_id)

    def answered_callbacks(self) -> list[JSONDict]:
        return self.fake.answered_callbacks()

    def edited_markups(self) -> list[JSONDict]:
        return self.fake.edited_markups()

    def queue_update(self, update: Mapping[str, Any]) -> int:
        return self.fake.queue_update(update)

    def queue_updates(self, updates: Sequence[Mapping[str, Any]]) -> list[int]:
        return [self.fake.queue_update(update) for update in updates]

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        self.fake.fail_next(method, status, retry_after, times, description)

    def register_chat(self, chat: Mapping[str, Any]) -> None:
        self.fake.register_chat(chat)

    def reset_recordings(self) -> None:
        self.fake.reset_recordings()

    def wait_for_messages(
        self, n: int, timeout: float = 5.0, chat_id: int | str | None = None
    ) -> list[JSONDict]:
        """Block until at least ``n`` messages were sent (to ``chat_id``); returns them all."""
        return self.fake.wait_for_messages_sync(n, timeout, chat_id)

    def wait_for_calls(self, method: str, n: int = 1, timeout: float = 5.0) -> list[Call]:
        return self.fake.wait_for_calls_sync(method, n, timeout)

    def deliver_webhook(self, update: Mapping[str, Any], timeout: float = 10.0) -> int:
        """Blocking :meth:`FakeTelegram.deliver_webhook`."""
        return int(self._run(self.fake.deliver_webhook(update, timeout), timeout + 1))

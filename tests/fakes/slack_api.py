"""A local fake of the Slack Web API for Köprü's tests.

It speaks the Web API's HTTP protocol (https://api.slack.com/web) on 127.0.0.1 the way
``slack.com/api`` answers it, so the real slack_sdk clients can be pointed at it unchanged with
``AsyncWebClient(token=..., base_url=fake.base_url)`` or ``WebClient(...)``:

* requests arrive at ``/api/<method>`` as GET (query string) or POST with a form-encoded or a JSON
  body (slack_sdk sends chat.* as JSON, users.info and conversations.members as GET); the token
  comes in ``Authorization: Bearer xoxb-...`` (or, for form and query requests, a ``token``
  parameter). ``blocks``/``attachments`` may be JSON strings or lists;
* answers are HTTP 200 ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``; rate limiting
  is HTTP 429 with ``Retry-After: <seconds>`` and ``{"ok": false, "error": "ratelimited"}``;
  no token gives ``not_authed``, a wrong one ``invalid_auth``, an unknown method HTTP 404
  ``unknown_method`` (with ``req_method``), as Slack does.

Implemented methods: auth.test, chat.postMessage (channel ids, ``#names`` and user ids, which post
to the bot's DM with that user), chat.update, chat.delete, chat.postEphemeral, users.info and
conversations.members (with Slack's cursor pagination). Every request is recorded
(:attr:`FakeSlack.records`, :meth:`FakeSlack.calls`) with its headers and a monotonic timestamp;
:meth:`FakeSlack.fail_next` injects 429, 5xx or ``ok: false`` answers. Interactivity
``response_url``\\ s point at the fake too (``/response_url/<id>``) and act on the stored messages
like Slack's do (``replace_original``, ``delete_original``, ``response_type``).

For requests Slack sends *to* the bot, the module builds realistic bodies
(:func:`event_callback`, :func:`message_event`, :func:`url_verification`, :func:`block_actions`)
and signs them with slack_sdk's own :class:`~slack_sdk.signature.SignatureVerifier`
(:func:`signed_headers`, :func:`send_signed`).

Socket Mode (https://docs.slack.dev/apis/events-api/using-socket-mode): ``apps.connections.open``
takes only the app-level token (``xapp-...``, the ``app_token`` argument; a bot token gets
``not_allowed_token_type``, which an app token gets from every other method) and answers
``ws://127.0.0.1:PORT/socket/<ticket>``, a single-use URL. On that WebSocket the fake sends
``hello``, then whatever envelopes the test pushes (:meth:`FakeSlack.send_envelope`,
:meth:`~FakeSlack.send_event`, :meth:`~FakeSlack.send_message_event`,
:meth:`~FakeSlack.send_block_actions`) and ``disconnect`` messages
(:meth:`~FakeSlack.send_disconnect`); it records the acknowledgements
(``{"envelope_id": ..., "payload"?: ...}``, :meth:`~FakeSlack.acks`,
:meth:`~FakeSlack.wait_for_ack`) and the client's pings, and answers pings with pongs.

:class:`FakeSlack` runs on the caller's event loop; :class:`FakeSlackThread` runs the same server
on a background thread for synchronous tests (e.g. driving a bot running in a subprocess).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import datetime as dt
import hashlib
import itertools
import json
import re
import threading
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeAlias, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import ClientSession, ClientTimeout, WSCloseCode, WSMsgType, web
from slack_sdk.signature import SignatureVerifier
from yarl import URL

from tests.fakes.server import HOST, BackgroundServer, listen

JSONDict: TypeAlias = dict[str, Any]
_T = TypeVar("_T")

DEFAULT_TOKEN = "xoxb-test"
DEFAULT_BOT_USER_ID = "UBOT"
DEFAULT_BOT_ID = "BKOPRU"
DEFAULT_TEAM_ID = "T0001"
DEFAULT_API_APP_ID = "A0KOPRU"
DEFAULT_TEAM_NAME = "Köprü Test"
DEFAULT_TEAM_DOMAIN = "kopru-test"
DEFAULT_BOT_NAME = "kopru"
DEFAULT_VERIFICATION_TOKEN = "kOpRuVeRiFiCaTiOnToKeN0"
DEFAULT_TZ = "Europe/Istanbul"
DEFAULT_APP_TOKEN = "xapp-test"
SOCKET_MODE_HOST = "applink-kopru-test"  # debug_info.host of hello and disconnect
SOCKET_MODE_CONNECTION_TIME = 3600  # hello's approximate_connection_time (seconds)
MAX_SOCKET_CONNECTIONS = 10  # "up to 10 open WebSocket connections at the same time"

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

MAX_TEXT_LENGTH = 40_000  # chat.postMessage truncates/refuses beyond this (msg_too_long)
MAX_BLOCKS = 50
MAX_MEMBERS_PAGE = 1000
DEFAULT_MEMBERS_PAGE = 100
RESPONSE_URL_MAX_USES = 5  # "up to 5 times within 30 minutes"
BLOCKS_ONLY_TEXT = "This content can't be displayed."

# Parameters Slack accepts as JSON-encoded strings in form and query requests.
_JSON_PARAMS = frozenset({"blocks", "attachments", "metadata"})
_BEARER_RE = re.compile(r"Bearer\s+(\S+)", re.IGNORECASE)
_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Web API methods that take an app-level token (and only that).
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


class SlackError(Exception):
    """An ``{"ok": false, "error": ...}`` answer (HTTP 200 unless ``status`` says otherwise)."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = dict(extra) if extra else {}
        self.headers = dict(headers) if headers else {}

    def body(self) -> JSONDict:
        return {"ok": False, "error": self.error, **self.extra}


@dataclass
class Call:
    """One request that reached the fake (rejected and fault-injected ones included)."""

    method: str
    """The Web API method (``chat.postMessage``), or ``response_url`` for response_url posts."""
    params: JSONDict
    """Query, form and JSON parameters merged; ``blocks``/``attachments`` parsed to lists.
    A ``token`` parameter is moved to :attr:`token`."""
    headers: dict[str, str]
    """Request headers (``Authorization``, ``Content-Type``, ``User-Agent`` ...)."""
    at: float
    """``time.monotonic()`` when the request arrived."""
    token: str | None = None
    """The token the request carried (Bearer header or ``token`` parameter)."""
    status: int | None = None
    """HTTP status of the answer (``None`` while it is still being answered)."""
    error: str | None = None
    """The ``error`` of an ``ok: false`` answer."""
    response: JSONDict | None = None
    """The JSON body of the answer."""
    injected: bool = False
    """True if the answer came from :meth:`FakeSlack.fail_next`."""

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass
class _Fault:
    status: int
    retry_after: int
    error: str | None
    remaining: int


@dataclass
class _Channel:
    id: str
    name: str
    members: list[str]
    bot_member: bool = True
    is_im: bool = False
    messages: list[JSONDict] = field(default_factory=list)
    history: dict[str, list[JSONDict]] = field(default_factory=dict)
    ephemeral: list[JSONDict] = field(default_factory=list)


@dataclass
class _ResponseUrl:
    channel: str
    user_id: str
    message_ts: str | None
    thread_ts: str | None
    uses: int = 0


@dataclass
class Envelope:
    """One Socket Mode envelope the fake sent to a client."""

    envelope_id: str
    type: str
    """``events_api``, ``interactive`` or ``slash_commands``."""
    payload: JSONDict
    connection_id: str
    """The connection it went to (see :meth:`FakeSlack.sockets`)."""
    frame: JSONDict
    """The whole message as sent (``envelope_id``, ``payload``, ``type``,
    ``accepts_response_payload`` and, for ``events_api``, ``retry_attempt``/``retry_reason``)."""
    sent_at: float
    """``time.monotonic()`` when it was sent."""


@dataclass
class Ack:
    """An acknowledgement a Socket Mode client sent: ``{"envelope_id": ..., "payload"?: ...}``."""

    envelope_id: str
    payload: JSONDict | None
    """The optional response payload (``None`` when the client sent only the envelope_id)."""
    connection_id: str
    at: float
    """``time.monotonic()`` when it arrived."""
    raw: str
    """The text frame as received."""
    known: bool
    """Whether the fake had sent an envelope with this id."""


@dataclass
class SocketConnection:
    """One Socket Mode WebSocket connection (open or closed)."""

    id: str
    """The ticket of the URL it was opened with (``/socket/<id>``)."""
    opened_at: float
    hello: JSONDict
    closed_at: float | None = None
    close_code: int | None = None
    pings: int = 0
    """Pings the client sent (answered with pongs carrying the same data)."""
    frames: list[JSONDict | str] = field(default_factory=list)
    """Text frames from the client that were not acknowledgements (parsed when JSON)."""

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass
class _Socket:
    info: SocketConnection
    ws: web.WebSocketResponse


_Handler: TypeAlias = Callable[[JSONDict], JSONDict]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _now() -> int:
    return int(time.time())


def _ts_from_micros(micros: int) -> str:
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _micros_from_ts(ts: str) -> int:
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def _now_ts() -> str:
    return _ts_from_micros(time.time_ns() // 1000)


def _short_id(*seed: object, length: int = 5) -> str:
    number = int.from_bytes(hashlib.sha256(repr(seed).encode("utf-8")).digest()[:8], "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_BASE62))
        chars.append(_BASE62[index])
    return "".join(chars)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _ascii_fold(text: str) -> str:
    """Slack's ``*_normalized`` names: diacritics stripped (``Ayşe Yılmaz`` -> ``Ayse Yilmaz``)."""
    text = text.replace("ı", "i").replace("İ", "I")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _decode_json_param(name: str, value: Any) -> Any:
    if name in _JSON_PARAMS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value  # validated (invalid_blocks_format ...) by the method
    return value


def _channel_type(channel: str) -> str:
    if channel.startswith("D"):
        return "im"
    if channel.startswith("G"):
        return "group"
    return "channel"


def _members_cursor(user_id: str) -> str:
    return base64.b64encode(f"user:{user_id}".encode()).decode("ascii")


def _rich_text_blocks(text: str, seed: object) -> list[JSONDict]:
    """The ``rich_text`` block Slack clients attach to typed messages (mentions become users)."""
    elements: list[JSONDict] = []
    position = 0
    for match in _MENTION_RE.finditer(text):
        if match.start() > position:
            elements.append({"type": "text", "text": text[position : match.start()]})
        elements.append({"type": "user", "user_id": match.group(1)})
        position = match.end()
    if position < len(text):
        elements.append({"type": "text", "text": text[position:]})
    return [
        {
            "type": "rich_text",
            "block_id": _short_id("rich_text", seed, length=4),
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
    ]


# --------------------------------------------------------------------------------------------
# Requests Slack sends to the bot: signatures and payload builders
# --------------------------------------------------------------------------------------------


def signed_headers(
    signing_secret: str,
    body: str,
    timestamp: int | None = None,
    content_type: str | None = None,
) -> dict[str, str]:
    """Headers of a request from Slack, signed with slack_sdk's ``SignatureVerifier``.

    ``content_type`` defaults to form encoding for ``payload=...`` bodies (interactivity,
    slash commands) and to JSON otherwise (Events API).
    """
    stamp = str(_now() if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=stamp, body=body)
    if signature is None:  # only when the timestamp is None, which it never is here
        raise ValueError("could not sign the request")
    if content_type is None:
        content_type = JSON_CONTENT_TYPE if body.lstrip().startswith("{") else FORM_CONTENT_TYPE
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


def new_event_id() -> str:
    """An Events API ``event_id`` shaped like Slack's (``Ev`` + 9-11 upper-case characters)."""
    return "Ev" + uuid.uuid4().hex[:10].upper()


def event_callback(
    event: Mapping[str, Any],
    event_id: str | None = None,
    team_id: str = DEFAULT_TEAM_ID,
    api_app_id: str = DEFAULT_API_APP_ID,
    *,
    bot_user_id: str = DEFAULT_BOT_USER_ID,
    verification_token: str = DEFAULT_VERIFICATION_TOKEN,
    event_time: int | None = None,
) -> JSONDict:
    """The Events API envelope (``type: event_callback``) Slack posts to the request URL."""
    return {
        "token": verification_token,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": copy.deepcopy(dict(event)),
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": _now() if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + base64.b64encode(uuid.uuid4().bytes).decode("ascii"),
    }


def message_event(
    channel: str,
    user: str,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    bot_id: str | None = None,
    subtype: str | None = None,
    *,
    team_id: str = DEFAULT_TEAM_ID,
    channel_type: str | None = None,
    parent_user_id: str | None = None,
    api_app_id: str = DEFAULT_API_APP_ID,
) -> JSONDict:
    """A ``message`` event as the Events API delivers it (wrap it with :func:`event_callback`).

    Human messages carry ``client_msg_id`` and a ``rich_text`` block; with ``bot_id`` the event
    looks like a bot's chat.postMessage (``bot_id``, ``app_id``, ``bot_profile``).
    ``channel_type`` follows the channel id (``D`` -> ``im``, ``G`` -> ``group``, else
    ``channel``) unless given.
    """
    ts = ts or _now_ts()
    event: JSONDict = {"type": "message"}
    if subtype:
        event["subtype"] = subtype
    if bot_id is None:
        event["client_msg_id"] = str(uuid.uuid4())
    event.update({"text": text, "user": user, "ts": ts})
    if bot_id is not None:
        event["bot_id"] = bot_id
        event["app_id"] = api_app_id
        event["bot_profile"] = _bot_profile(bot_id, api_app_id, DEFAULT_BOT_NAME, team_id)
    event["blocks"] = _rich_text_blocks(text, (channel, ts))
    event["team"] = team_id
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = parent_user_id or user
    event["channel"] = channel
    event["event_ts"] = ts
    event["channel_type"] = channel_type or _channel_type(channel)
    return event


def url_verification(
    challenge: str, *, verification_token: str = DEFAULT_VERIFICATION_TOKEN
) -> JSONDict:
    """The handshake Slack sends when the Events API request URL is saved."""
    return {"token": verification_token, "challenge": challenge, "type": "url_verification"}


def new_trigger_id() -> str:
    digits = str(uuid.uuid4().int)
    return f"{digits[:13]}.{digits[13:26]}.{uuid.uuid4().hex}"


def _find_action(
    message: Mapping[str, Any] | None, action_id: str
) -> tuple[str | None, JSONDict | None]:
    """(block_id, element) of the element with ``action_id`` in a message's blocks."""
    if not message:
        return None, None
    for block in message.get("blocks") or []:
        if not isinstance(block, dict):
            continue
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, None


def block_actions_payload(
    user_id: str,
    user_name: str,
    channel: str,
    message_ts: str,
    action_id: str,
    value: str,
    *,
    block_id: str | None = None,
    button_text: str | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
    message: Mapping[str, Any] | None = None,
    channel_name: str | None = None,
    thread_ts: str | None = None,
    is_ephemeral: bool = False,
    team_id: str = DEFAULT_TEAM_ID,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_API_APP_ID,
    verification_token: str = DEFAULT_VERIFICATION_TOKEN,
    action_ts: str | None = None,
) -> JSONDict:
    """The ``block_actions`` payload of a button press (see :func:`block_actions`).

    When ``message`` (the message holding the button, e.g. from :meth:`FakeSlack.message`) is
    given, ``block_id`` and ``button_text`` default to the pressed button's.
    """
    found_block_id, element = _find_action(message, action_id)
    if button_text is None and element is not None:
        label = element.get("text")
        button_text = label.get("text") if isinstance(label, dict) else None
    text_object = {"type": "plain_text", "text": button_text or value, "emoji": True}
    if message is None:
        message = {
            "user": DEFAULT_BOT_USER_ID,
            "type": "message",
            "ts": message_ts,
            "bot_id": DEFAULT_BOT_ID,
            "app_id": api_app_id,
            "text": "…",
            "team": team_id,
            "blocks": [],
        }
    container: JSONDict = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": is_ephemeral,
    }
    if thread_ts is not None:
        container["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": verification_token,
        "container": container,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel_name or channel.lower()},
        "message": copy.deepcopy(dict(message)),
        "state": {"values": {}},
        "response_url": response_url
        or f"https://hooks.slack.com/actions/{team_id}/{uuid.uuid4().int % 10**13}/"
        + uuid.uuid4().hex[:24],
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id or found_block_id or _short_id(action_id, message_ts),
                "text": text_object,
                "value": value,
                "type": "button",
                "action_ts": action_ts or _now_ts(),
            }
        ],
    }


def block_actions(
    user_id: str,
    user_name: str,
    channel: str,
    message_ts: str,
    action_id: str,
    value: str,
    **kwargs: Any,
) -> str:
    """The form body (``payload=<urlencoded JSON>``) Slack posts when a button is pressed.

    Keyword arguments are those of :func:`block_actions_payload`; pass ``response_url`` from
    :meth:`FakeSlack.new_response_url` (or use :meth:`FakeSlack.block_actions`) to make
    ``respond()`` reach the fake.
    """
    payload = block_actions_payload(
        user_id, user_name, channel, message_ts, action_id, value, **kwargs
    )
    return form_body(payload)


def form_body(payload: Mapping[str, Any]) -> str:
    """``payload=<urlencoded JSON>``, the way Slack encodes interactivity requests."""
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":"))})


def json_body(payload: Mapping[str, Any]) -> str:
    """A compact JSON body, the way Slack encodes Events API requests."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


@dataclass
class BotResponse:
    """What the bot answered to a request sent with :func:`send_signed`."""

    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def _check_loopback(url: str) -> None:
    if URL(url).host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"refusing to send to a non-loopback URL: {url}")


async def send_signed(
    url: str,
    body: str | Mapping[str, Any],
    signing_secret: str,
    *,
    content_type: str | None = None,
    timestamp: int | None = None,
    timeout: float = 10.0,
) -> BotResponse:
    """POST a signed request to the bot like Slack does (loopback URLs only).

    A mapping ``body`` is sent as JSON (Events API); use :func:`block_actions` for form bodies.
    """
    _check_loopback(url)
    text = json_body(body) if isinstance(body, Mapping) else body
    headers = signed_headers(signing_secret, text, timestamp, content_type)
    async with (
        ClientSession(timeout=ClientTimeout(total=timeout)) as session,
        session.post(url, data=text.encode("utf-8"), headers=headers) as response,
    ):
        return BotResponse(response.status, dict(response.headers), await response.text())


def _bot_profile(bot_id: str, app_id: str, name: str, team_id: str) -> JSONDict:
    return {
        "id": bot_id,
        "app_id": app_id,
        "name": name,
        "icons": {
            "image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png",
            "image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png",
            "image_72": "https://a.slack-edge.com/80588/img/plugins/app/service_72.png",
        },
        "deleted": False,
        "updated": 1_700_000_000,
        "team_id": team_id,
    }


# --------------------------------------------------------------------------------------------
# The fake Web API server
# --------------------------------------------------------------------------------------------


class FakeSlack:
    """The fake Web API server, on the running event loop. See the module docstring.

    ``base_url`` is ``http://127.0.0.1:PORT/api/`` for ``AsyncWebClient(base_url=...)``.
    State is guarded by a lock: accessors, ``add_*`` and :meth:`fail_next` may be used from any
    thread.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_user_id: str = DEFAULT_BOT_USER_ID,
        team_id: str = DEFAULT_TEAM_ID,
        *,
        bot_id: str = DEFAULT_BOT_ID,
        bot_name: str = DEFAULT_BOT_NAME,
        api_app_id: str = DEFAULT_API_APP_ID,
        team_name: str = DEFAULT_TEAM_NAME,
        team_domain: str = DEFAULT_TEAM_DOMAIN,
        app_token: str | None = DEFAULT_APP_TOKEN,
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.api_app_id = api_app_id
        self.team_name = team_name
        self.team_domain = team_domain

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._records: list[Call] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._channels: dict[str, _Channel] = {}
        self._users: dict[str, JSONDict] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._response_url_ids = itertools.count(1)
        self._last_ts = 0
        self._tickets: set[str] = set()
        self._sockets: dict[str, _Socket] = {}
        self._connections: list[SocketConnection] = []
        self._envelopes: dict[str, Envelope] = {}
        self._acks: list[Ack] = []
        self._accepting_sockets = True

        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        self._methods: dict[str, _Handler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "users.info": self._users_info,
            "conversations.members": self._conversations_members,
            "apps.connections.open": self._apps_connections_open,
        }
        self.add_user(bot_user_id, bot_name, name=bot_name, is_bot=True)

    # -- lifecycle -----------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_route("POST", "/response_url/{id}", self._handle_response_url)
        app.router.add_route("GET", "/socket/{ticket}", self._handle_socket)
        return app

    async def start(self) -> str:
        """Listen on 127.0.0.1 (a free port) and return :attr:`base_url`."""
        if self._runner is not None:
            raise RuntimeError("FakeSlack is already running")
        self._accepting_sockets = True
        self._runner, self._port = await listen(self.make_app())
        return self.base_url

    async def stop(self) -> None:
        if self._runner is None:
            return
        with self._lock:
            self._accepting_sockets = False  # clients that reconnect now are turned away
            self._tickets.clear()
        await self.close_sockets(WSCloseCode.GOING_AWAY)
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self._port = None

    async def __aenter__(self) -> FakeSlack:
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
            raise RuntimeError("FakeSlack is not running")
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/`` (slack_sdk appends the method name)."""
        return f"{self.root_url}/api/"

    # -- test controls ---------------------------------------------------------------------------

    def add_channel(
        self,
        channel_id: str,
        members: Sequence[str],
        *,
        name: str | None = None,
        bot_member: bool = True,
    ) -> None:
        """Create (or reset the members of) a channel.

        ``members`` is exactly what conversations.members lists. The bot may post when
        ``bot_member`` (otherwise chat.postMessage answers ``not_in_channel``).
        """
        with self._lock:
            existing = self._channels.get(channel_id)
            if existing is not None:
                existing.members = list(members)
                existing.bot_member = bot_member
                existing.name = name or existing.name
            else:
                self._channels[channel_id] = _Channel(
                    channel_id,
                    name or channel_id.lower(),
                    list(members),
                    bot_member=bot_member,
                    is_im=channel_id.startswith("D"),
                )
            self._changed.notify_all()

    def add_user(
        self,
        user_id: str,
        first_name: str,
        last_name: str = "",
        real_name: str | None = None,
        *,
        name: str | None = None,
        display_name: str = "",
        email: str | None = None,
        tz: str = DEFAULT_TZ,
        is_bot: bool = False,
    ) -> JSONDict:
        """Register a user for users.info; returns the user object Slack would answer."""
        real = real_name if real_name is not None else f"{first_name} {last_name}".strip()
        handle = name or ".".join(
            part for part in _ascii_fold(f"{first_name} {last_name}").lower().split() if part
        )
        zone = ZoneInfo(tz)
        offset = dt.datetime.now(zone).utcoffset() or dt.timedelta(0)
        seconds = int(offset.total_seconds())
        sign = "+" if seconds >= 0 else "-"
        hours, minutes = divmod(abs(seconds) // 60, 60)
        avatar = _short_id("avatar", user_id, length=12)
        profile: JSONDict = {
            "title": "",
            "phone": "",
            "skype": "",
            "real_name": real,
            "real_name_normalized": _ascii_fold(real),
            "display_name": display_name,
            "display_name_normalized": _ascii_fold(display_name),
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "status_emoji_display_info": [],
            "status_expiration": 0,
            "avatar_hash": "g" + avatar[:11],
            "first_name": first_name,
            "last_name": last_name,
            "image_24": f"https://secure.gravatar.com/avatar/{avatar}.jpg?s=24",
            "image_48": f"https://secure.gravatar.com/avatar/{avatar}.jpg?s=48",
            "image_72": f"https://secure.gravatar.com/avatar/{avatar}.jpg?s=72",
            "team": self.team_id,
        }
        if email is not None:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id
            profile["api_app_id"] = self.api_app_id
            profile["always_active"] = False
        user: JSONDict = {
            "id": user_id,
            "team_id": self.team_id,
            "name": handle or user_id.lower(),
            "deleted": False,
            "color": "9f69e7",
            "real_name": real,
            "tz": tz,
            "tz_label": f"GMT{sign}{hours:02d}:{minutes:02d}",
            "tz_offset": seconds,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": _now(),
            "is_email_confirmed": not is_bot,
            "who_can_share_contact_card": "EVERYONE",
        }
        with self._lock:
            self._users[user_id] = user
            self._changed.notify_all()
        return copy.deepcopy(user)

    def add_message(
        self,
        channel: str,
        user: str,
        text: str,
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> JSONDict:
        """Store a message a person wrote (e.g. the one a :func:`message_event` describes), so
        threads under it and edits of it behave as in Slack. Returns the stored message."""
        with self._lock:
            target = self._channel_or_raise(channel, posting=False)
            if ts is None:
                ts = self._next_ts()
            else:
                self._last_ts = max(self._last_ts, _micros_from_ts(ts))
            message: JSONDict = {
                "client_msg_id": str(uuid.uuid4()),
                "type": "message",
                "text": text,
                "user": user,
                "ts": ts,
                "blocks": _rich_text_blocks(text, (target.id, ts)),
                "team": self.team_id,
            }
            self._insert(target, message, thread_ts)
            return self._public(target, message)

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        count: int = 1,
        error: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with an error instead of running it.

        * ``status=429``: ``Retry-After: <retry_after>`` and ``error: ratelimited``;
        * ``status=200``: ``{"ok": false, "error": error}`` (e.g. ``"channel_not_found"``,
          default ``"internal_error"``);
        * any other status (500, 503 ...): that status with ``error`` or ``"fatal_error"``.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.setdefault(method, deque()).append(
                _Fault(status, retry_after, error, count)
            )

    def reset_records(self) -> None:
        """Forget recorded calls (not channels, users, messages or pending faults)."""
        with self._lock:
            self._records.clear()

    def new_response_url(
        self,
        channel: str,
        user_id: str,
        message_ts: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """A ``response_url`` on the fake for an interaction by ``user_id`` in ``channel``."""
        with self._lock:
            key = f"{self.team_id}-{next(self._response_url_ids)}-{uuid.uuid4().hex[:12]}"
            self._response_urls[key] = _ResponseUrl(channel, user_id, message_ts, thread_ts)
        return f"{self.root_url}/response_url/{key}"

    def block_actions(
        self,
        user_id: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        **kwargs: Any,
    ) -> str:
        """:func:`block_actions` for a button of a stored message, with a response_url on the
        fake. ``value`` defaults to the button's; the user name comes from :meth:`add_user`."""
        return form_body(
            self.block_actions_payload(user_id, channel, message_ts, action_id, value, **kwargs)
        )

    def block_actions_payload(
        self,
        user_id: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        **kwargs: Any,
    ) -> JSONDict:
        """The payload (a dict) behind :meth:`block_actions`, as Socket Mode delivers it."""
        message = self.message(channel, message_ts)
        if message is None:
            raise KeyError(f"no message {message_ts} in {channel}")
        message.pop("channel", None)
        message.pop("history", None)
        _, element = _find_action(message, action_id)
        if value is None:
            value = str(element.get("value", "")) if element else ""
        with self._lock:
            user = self._users.get(user_id)
            target = self._resolve(channel)
            name = user["name"] if user else user_id.lower()
            kwargs.setdefault("channel_name", target.name if target else None)
        thread_ts = message.get("thread_ts")
        kwargs.setdefault("thread_ts", thread_ts if thread_ts != message_ts else None)
        kwargs.setdefault(
            "response_url", self.new_response_url(channel, user_id, message_ts, thread_ts)
        )
        kwargs.setdefault("team_id", self.team_id)
        kwargs.setdefault("team_domain", self.team_domain)
        kwargs.setdefault("api_app_id", self.api_app_id)
        return block_actions_payload(
            user_id, name, channel, message_ts, action_id, value, message=message, **kwargs
        )

    # -- Socket Mode -----------------------------------------------------------------------------

    async def send_envelope(
        self,
        type: str,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
        connection: str | None = None,
    ) -> str:
        """Send an envelope over Socket Mode; returns its ``envelope_id``.

        It goes to ``connection`` (an id from :meth:`sockets`) or else to the most recently
        opened connection; ``RuntimeError`` if none is open. ``accepts_response_payload``
        defaults to ``False`` for ``events_api`` and ``True`` otherwise (as in Slack's examples);
        ``retry_attempt``/``retry_reason`` are sent with ``events_api`` envelopes only. Call it
        on the fake's own loop (:class:`FakeSlackThread` does that for you).
        """
        envelope_id = envelope_id or str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = type != "events_api"
        frame: JSONDict = {
            "envelope_id": envelope_id,
            "payload": copy.deepcopy(dict(payload)),
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            frame["retry_attempt"] = retry_attempt
            frame["retry_reason"] = retry_reason
        with self._lock:
            target = self._socket_or_raise(connection)
            self._envelopes[envelope_id] = Envelope(
                envelope_id=envelope_id,
                type=type,
                payload=copy.deepcopy(frame["payload"]),
                connection_id=target.info.id,
                frame=copy.deepcopy(frame),
                sent_at=time.monotonic(),
            )
        await target.ws.send_str(json_body(frame))
        return envelope_id

    async def send_event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
        connection: str | None = None,
    ) -> str:
        """An ``events_api`` envelope whose payload is the :func:`event_callback` body of
        ``event``. A redelivery carries the same ``event_id`` and ``retry_attempt`` > 0."""
        body = event_callback(
            event,
            event_id,
            self.team_id,
            self.api_app_id,
            bot_user_id=self.bot_user_id,
        )
        return await self.send_envelope(
            "events_api",
            body,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            envelope_id=envelope_id,
            connection=connection,
        )

    async def send_message_event(
        self,
        channel: str,
        user: str,
        text: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        *,
        store: bool = True,
        event_id: str | None = None,
        **kwargs: Any,
    ) -> str:
        """A person's message as an ``events_api`` envelope (see :meth:`send_event`).

        With ``store`` (the default) the message is first stored in ``channel`` like
        :meth:`add_message`, so it shows in :meth:`thread` as it would in Slack. Other keyword
        arguments go to :meth:`send_event` (``retry_attempt``, ``connection`` ...).
        """
        if store:
            stored = self.add_message(channel, user, text, ts, thread_ts)
            ts = stored["ts"]
        else:
            ts = ts or self._new_ts()
        parent_user_id = None
        if thread_ts:
            parent = self.message(channel, thread_ts)
            parent_user_id = parent.get("user") if parent else None
        event = message_event(
            channel,
            user,
            text,
            ts=ts,
            thread_ts=thread_ts,
            team_id=self.team_id,
            parent_user_id=parent_user_id,
            api_app_id=self.api_app_id,
        )
        return await self.send_event(event, event_id=event_id, **kwargs)

    async def send_block_actions(
        self,
        user_id: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        *,
        connection: str | None = None,
        **kwargs: Any,
    ) -> str:
        """A button press on a stored message as an ``interactive`` envelope (the payload of
        :meth:`block_actions_payload`, a dict, not form-encoded)."""
        payload = self.block_actions_payload(
            user_id, channel, message_ts, action_id, value, **kwargs
        )
        return await self.send_envelope("interactive", payload, connection=connection)

    async def send_disconnect(
        self, reason: str = "refresh_requested", *, connection: str | None = None
    ) -> str:
        """Send ``{"type": "disconnect", "reason": ...}`` (``warning``, ``refresh_requested``,
        ``link_disabled``); returns the connection id. The fake does not close the socket: a
        client is expected to open a new connection and close this one."""
        with self._lock:
            target = self._socket_or_raise(connection)
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": SOCKET_MODE_HOST}}
        await target.ws.send_str(json_body(message))
        return target.info.id

    async def close_sockets(
        self, code: int = WSCloseCode.GOING_AWAY, *, connection: str | None = None
    ) -> int:
        """Close ``connection`` (all open connections if ``None``) from the server side, as
        Slack does after a ``disconnect``; returns how many were closed."""
        with self._lock:
            if connection is None:
                targets = list(self._sockets.values())
            else:
                found = self._sockets.get(connection)
                targets = [found] if found is not None else []
        for target in targets:
            await target.ws.close(code=code, message=b"closed by the fake")
        return len(targets)

    def socket_connections(self) -> int:
        """How many Socket Mode connections are open."""
        with self._lock:
            return len(self._sockets)

    def sockets(self, *, open_only: bool = False) -> list[SocketConnection]:
        """Socket Mode connections in the order they were opened (copies)."""
        with self._lock:
            found = [c for c in self._connections if c.id in self._sockets or not open_only]
            return copy.deepcopy(found)

    def envelopes(self, type: str | None = None) -> list[Envelope]:
        """Envelopes sent (of ``type``, or all), in order."""
        with self._lock:
            found = [e for e in self._envelopes.values() if type is None or e.type == type]
            return copy.deepcopy(found)

    def acks(self, envelope_id: str | None = None) -> list[Ack]:
        """Acknowledgements received (for ``envelope_id``, or all), in arrival order."""
        with self._lock:
            found = [a for a in self._acks if envelope_id is None or a.envelope_id == envelope_id]
            return copy.deepcopy(found)

    def _socket_or_raise(self, connection: str | None) -> _Socket:
        """The connection to send to (lock held)."""
        if connection is not None:
            found = self._sockets.get(connection)
            if found is None:
                raise RuntimeError(f"Socket Mode connection {connection} is not open")
            return found
        if not self._sockets:
            raise RuntimeError("no Socket Mode connection is open")
        return max(self._sockets.values(), key=lambda s: s.info.opened_at)

    def _new_ts(self) -> str:
        with self._lock:
            return self._next_ts()

    # -- recordings ------------------------------------------------------------------------------

    @property
    def records(self) -> list[Call]:
        """Every request in arrival order (failed and injected ones included)."""
        with self._lock:
            return list(self._records)

    def calls(self, method: str) -> list[Call]:
        """The records of ``method`` (e.g. ``"chat.postMessage"`` or ``"response_url"``)."""
        with self._lock:
            return [call for call in self._records if call.method == method]

    def messages(self, channel: str | None = None) -> list[JSONDict]:
        """Messages in ``channel`` (all channels if ``None``), thread replies included, in ts
        order; each is Slack's message object plus ``channel`` and, once edited, ``history``
        (the earlier versions, oldest first)."""
        with self._lock:
            if channel is None:
                found = [
                    self._public(target, message)
                    for target in self._channels.values()
                    for message in target.messages
                ]
                return sorted(found, key=lambda message: _micros_from_ts(message["ts"]))
            target = self._resolve(channel)
            if target is None:
                return []
            return [self._public(target, message) for message in target.messages]

    def message(self, channel: str, ts: str) -> JSONDict | None:
        with self._lock:
            target = self._resolve(channel)
            if target is None:
                return None
            found = self._find(target, ts)
            return None if found is None else self._public(target, found)

    def thread(self, channel: str, ts: str) -> list[JSONDict]:
        """Replies in the thread under ``ts`` (the parent excluded), in order."""
        return [
            message
            for message in self.messages(channel)
            if message.get("thread_ts") == ts and message["ts"] != ts
        ]

    def ephemerals(self, channel: str | None = None) -> list[JSONDict]:
        """chat.postEphemeral (and ephemeral response_url) messages: ``channel``, ``user`` (who
        saw it), ``message_ts``, ``text``, ``blocks``, ``thread_ts``."""
        with self._lock:
            targets = list(self._channels.values())
            if channel is not None:
                resolved = self._resolve(channel)
                targets = [resolved] if resolved is not None else []
            found = [copy.deepcopy(item) for target in targets for item in target.ephemeral]
        return sorted(found, key=lambda item: _micros_from_ts(item["message_ts"]))

    # -- waiting ---------------------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[], _T], timeout: float = 5.0, what: str | None = None
    ) -> _T:
        """Poll ``predicate`` until it returns something truthy; returns that value."""
        deadline = time.monotonic() + timeout
        while True:
            found = predicate()
            if found:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(self._timeout_message(what, timeout))
            await asyncio.sleep(0.01)

    def wait_for_sync(
        self, predicate: Callable[[], _T], timeout: float = 5.0, what: str | None = None
    ) -> _T:
        """Blocking :meth:`wait_for`; never call it on the server's own loop."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = predicate()
                remaining = deadline - time.monotonic()
                if found:
                    return found
                if remaining <= 0:
                    raise TimeoutError(self._timeout_message(what, timeout))
                self._changed.wait(min(remaining, 0.1))

    async def wait_for_messages(
        self, channel: str | None = None, n: int = 1, timeout: float = 5.0
    ) -> list[JSONDict]:
        """Wait until ``channel`` holds at least ``n`` messages; returns them all."""
        return await self.wait_for(
            lambda: self._at_least(channel, n), timeout, f"{n} message(s) in {channel or 'any'}"
        )

    def wait_for_messages_sync(
        self, channel: str | None = None, n: int = 1, timeout: float = 5.0
    ) -> list[JSONDict]:
        return self.wait_for_sync(
            lambda: self._at_least(channel, n), timeout, f"{n} message(s) in {channel or 'any'}"
        )

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        """Wait for the (first) acknowledgement of ``envelope_id``."""
        found = await self.wait_for(
            lambda: self.acks(envelope_id), timeout, f"the ack of envelope {envelope_id}"
        )
        return found[0]

    def wait_for_ack_sync(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        found = self.wait_for_sync(
            lambda: self.acks(envelope_id), timeout, f"the ack of envelope {envelope_id}"
        )
        return found[0]

    async def wait_for_sockets(self, n: int = 1, timeout: float = 5.0) -> list[SocketConnection]:
        """Wait until at least ``n`` Socket Mode connections are open; returns them."""
        return await self.wait_for(
            lambda: self._open_sockets(n), timeout, f"{n} Socket Mode connection(s)"
        )

    def wait_for_sockets_sync(self, n: int = 1, timeout: float = 5.0) -> list[SocketConnection]:
        return self.wait_for_sync(
            lambda: self._open_sockets(n), timeout, f"{n} Socket Mode connection(s)"
        )

    def _open_sockets(self, n: int) -> list[SocketConnection]:
        found = self.sockets(open_only=True)
        return found if len(found) >= n else []

    def _at_least(self, channel: str | None, n: int) -> list[JSONDict]:
        found = self.messages(channel)
        return found if len(found) >= n else []

    def _timeout_message(self, what: str | None, timeout: float) -> str:
        seen = [(call.method, call.status, call.error) for call in self.records]
        message = f"waited {timeout}s for {what or 'the condition'}; requests so far: {seen!r}"
        with self._lock:
            if self._connections:
                acked = {ack.envelope_id for ack in self._acks}
                pending = [
                    e.envelope_id for e in self._envelopes.values() if e.envelope_id not in acked
                ]
                message += (
                    f"; Socket Mode: {len(self._sockets)} open of {len(self._connections)}, "
                    f"{len(self._envelopes)} envelope(s) sent, not acknowledged: {pending!r}"
                )
        return message

    # -- state helpers (call with the lock held) ---------------------------------------------------

    def _next_ts(self) -> str:
        self._last_ts = max(self._last_ts + 1, time.time_ns() // 1000)
        return _ts_from_micros(self._last_ts)

    def _resolve(self, channel: str) -> _Channel | None:
        channel = channel.strip()
        if channel in self._channels:
            return self._channels[channel]
        if channel in self._users:  # a user id: the bot's DM with that user
            dm_id = "D" + channel[1:]
            if dm_id not in self._channels:
                self._channels[dm_id] = _Channel(
                    dm_id, dm_id.lower(), [channel, self.bot_user_id], is_im=True
                )
            return self._channels[dm_id]
        name = channel.removeprefix("#")
        return next((c for c in self._channels.values() if c.name == name), None)

    def _channel_or_raise(self, channel: Any, *, posting: bool = True) -> _Channel:
        if not isinstance(channel, str) or not channel.strip():
            raise SlackError("channel_not_found")
        target = self._resolve(channel)
        if target is None:
            raise SlackError("channel_not_found")
        if posting and not target.bot_member:
            raise SlackError("not_in_channel")
        return target

    @staticmethod
    def _find(target: _Channel, ts: str) -> JSONDict | None:
        return next((m for m in target.messages if m["ts"] == ts), None)

    def _insert(self, target: _Channel, message: JSONDict, thread_ts: str | None) -> None:
        if thread_ts:
            message["thread_ts"] = thread_ts
            parent = self._find(target, thread_ts)
            if parent is not None:
                message["parent_user_id"] = parent.get("user")
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
                users = list(parent.get("reply_users", []))
                if message.get("user") not in users:
                    users.append(message.get("user"))
                parent["reply_users"] = users
                parent["reply_users_count"] = len(users)
                parent["latest_reply"] = message["ts"]
                parent.setdefault("is_locked", False)
                parent.setdefault("subscribed", False)
        target.messages.append(message)
        target.messages.sort(key=lambda m: _micros_from_ts(m["ts"]))
        self._changed.notify_all()

    def _public(self, target: _Channel, message: JSONDict) -> JSONDict:
        public = copy.deepcopy(message)
        public["channel"] = target.id
        history = target.history.get(message["ts"])
        if history:
            public["history"] = copy.deepcopy(history)
        return public

    def _bot_message(self, ts: str) -> JSONDict:
        return {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.api_app_id,
            "text": "",
            "team": self.team_id,
            "bot_profile": _bot_profile(self.bot_id, self.api_app_id, self.bot_name, self.team_id),
        }

    def _content(
        self, params: Mapping[str, Any], ts: str, *, required: bool = True
    ) -> tuple[str | None, list[JSONDict] | None, list[JSONDict] | None]:
        """Validated (text, blocks, attachments) of a message-producing call."""
        text = params.get("text")
        text = None if text is None else str(text)
        blocks = self._blocks(params.get("blocks"), ts)
        attachments = params.get("attachments")
        if isinstance(attachments, str):
            if attachments.strip():
                raise SlackError("invalid_attachments")
            attachments = None
        if attachments is not None and not isinstance(attachments, list):
            raise SlackError("invalid_attachments")
        if required and not text and not blocks and not attachments:
            raise SlackError("no_text")
        if text is not None and len(text) > MAX_TEXT_LENGTH:
            raise SlackError("msg_too_long")
        return text, blocks, attachments

    @staticmethod
    def _blocks(raw: Any, ts: str) -> list[JSONDict] | None:
        if raw is None or raw == "":
            return None
        if isinstance(raw, str):  # still a string: it was not valid JSON
            raise SlackError("invalid_blocks_format")
        if not isinstance(raw, list):
            raise SlackError("invalid_blocks_format")
        if len(raw) > MAX_BLOCKS:
            raise SlackError(
                "invalid_blocks",
                extra={
                    "response_metadata": {
                        "messages": [
                            f"[ERROR] no more than {MAX_BLOCKS} items allowed "
                            "[json-pointer:/blocks]"
                        ]
                    }
                },
            )
        blocks: list[JSONDict] = []
        for index, block in enumerate(raw):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise SlackError(
                    "invalid_blocks",
                    extra={
                        "response_metadata": {
                            "messages": [
                                "[ERROR] missing required field: type "
                                f"[json-pointer:/blocks/{index}]"
                            ]
                        }
                    },
                )
            block = copy.deepcopy(block)
            block.setdefault("block_id", _short_id(ts, index))  # Slack fills in block ids
            blocks.append(block)
        return blocks

    # -- Web API methods -------------------------------------------------------------------------

    def _auth_test(self, params: JSONDict) -> JSONDict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: JSONDict) -> JSONDict:
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets.add(ticket)
        return {"url": f"ws://{HOST}:{self.port}/socket/{ticket}"}

    def _chat_post_message(self, params: JSONDict) -> JSONDict:
        with self._lock:
            target = self._channel_or_raise(params.get("channel"))
            ts = self._next_ts()
            text, blocks, attachments = self._content(params, ts)
            message = self._bot_message(ts)
            message["text"] = text if text else (BLOCKS_ONLY_TEXT if blocks else "")
            if blocks is not None:
                message["blocks"] = blocks
            if attachments is not None:
                message["attachments"] = copy.deepcopy(attachments)
            if isinstance(params.get("metadata"), dict):
                message["metadata"] = copy.deepcopy(params["metadata"])
            thread_ts = params.get("thread_ts")
            thread_ts = str(thread_ts) if thread_ts not in (None, "") else None
            if thread_ts and _truthy(params.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
                message["root"] = {"ts": thread_ts}
            self._insert(target, message, thread_ts)
            answer = copy.deepcopy(message)
        return {"channel": target.id, "ts": ts, "message": answer}

    def _chat_update(self, params: JSONDict) -> JSONDict:
        with self._lock:
            target = self._channel_or_raise(params.get("channel"), posting=False)
            ts = params.get("ts")
            message = self._find(target, str(ts)) if ts else None
            if message is None:
                raise SlackError("message_not_found")
            if message.get("bot_id") != self.bot_id:
                raise SlackError("cant_update_message")
            text, blocks, attachments = self._content(params, str(ts))
            target.history.setdefault(message["ts"], []).append(copy.deepcopy(message))
            if blocks is not None:
                if blocks:
                    message["blocks"] = blocks
                else:  # "include an empty array to remove previous blocks"
                    message.pop("blocks", None)
            if text is not None:
                message["text"] = text
            elif blocks and not message.get("text"):
                message["text"] = BLOCKS_ONLY_TEXT
            if attachments is not None:
                message["attachments"] = copy.deepcopy(attachments)
            message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
            self._changed.notify_all()
            return {
                "channel": target.id,
                "ts": message["ts"],
                "text": message["text"],
                "message": copy.deepcopy(message),
            }

    def _chat_delete(self, params: JSONDict) -> JSONDict:
        with self._lock:
            target = self._channel_or_raise(params.get("channel"), posting=False)
            ts = str(params.get("ts") or "")
            message = self._find(target, ts)
            if message is None:
                raise SlackError("message_not_found")
            if message.get("bot_id") != self.bot_id:
                raise SlackError("cant_delete_message")
            target.messages.remove(message)
            self._changed.notify_all()
        return {"channel": target.id, "ts": ts}

    def _chat_post_ephemeral(self, params: JSONDict) -> JSONDict:
        with self._lock:
            target = self._channel_or_raise(params.get("channel"))
            user = params.get("user")
            if not user:
                raise SlackError("user_not_found")
            if user not in target.members:
                raise SlackError("user_not_in_channel")
            ts = self._next_ts()
            text, blocks, _ = self._content(params, ts)
            self._add_ephemeral(target, str(user), ts, text, blocks, params.get("thread_ts"))
        return {"message_ts": ts}

    def _add_ephemeral(
        self,
        target: _Channel,
        user: str,
        ts: str,
        text: str | None,
        blocks: list[JSONDict] | None,
        thread_ts: Any,
    ) -> None:
        target.ephemeral.append(
            {
                "channel": target.id,
                "user": user,
                "message_ts": ts,
                "text": text or (BLOCKS_ONLY_TEXT if blocks else ""),
                "blocks": blocks or [],
                "thread_ts": str(thread_ts) if thread_ts else None,
            }
        )
        self._changed.notify_all()

    def _users_info(self, params: JSONDict) -> JSONDict:
        with self._lock:
            user = self._users.get(str(params.get("user") or ""))
            if user is None:
                raise SlackError("user_not_found")
            answer = copy.deepcopy(user)
        if _truthy(params.get("include_locale")):
            answer["locale"] = "tr-TR"
        return {"user": answer}

    def _conversations_members(self, params: JSONDict) -> JSONDict:
        raw_limit = params.get("limit")
        try:
            limit = int(raw_limit) if raw_limit not in (None, "") else DEFAULT_MEMBERS_PAGE
        except (TypeError, ValueError) as exc:
            raise SlackError("invalid_limit") from exc
        if limit <= 0:
            limit = DEFAULT_MEMBERS_PAGE
        limit = min(limit, MAX_MEMBERS_PAGE)
        with self._lock:
            target = self._channel_or_raise(params.get("channel"), posting=False)
            members = list(target.members)
        start = 0
        cursor = params.get("cursor")
        if cursor:
            try:
                decoded = base64.b64decode(str(cursor), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise SlackError("invalid_cursor") from exc
            kind, _, user_id = decoded.partition(":")
            if kind != "user" or user_id not in members:
                raise SlackError("invalid_cursor")
            start = members.index(user_id)
        page = members[start : start + limit]
        rest = members[start + limit :]
        next_cursor = _members_cursor(rest[0]) if rest else ""
        return {"members": page, "response_metadata": {"next_cursor": next_cursor}}

    # -- HTTP plumbing ---------------------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> tuple[JSONDict, bool]:
        """(params, whether the body was JSON)."""
        params: JSONDict = {k: _decode_json_param(k, v) for k, v in request.query.items()}
        if not request.body_exists:
            return params, False
        content_type = request.content_type
        if content_type == JSON_CONTENT_TYPE:
            raw = await request.read()
            if not raw.strip():
                return params, True
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise SlackError("invalid_json") from exc
            if not isinstance(body, dict):
                raise SlackError("json_not_object")
            params.update({k: _decode_json_param(k, v) for k, v in body.items()})
            return params, True
        if content_type in (FORM_CONTENT_TYPE, "multipart/form-data"):
            try:
                form = await request.post()
            except ValueError as exc:
                raise SlackError("invalid_form_data") from exc
            for name, part in form.items():
                if isinstance(part, web.FileField):
                    params[name] = {"filename": part.filename, "content_type": part.content_type}
                else:
                    params[name] = _decode_json_param(name, part)
        return params, False

    def _finish(
        self,
        call: Call,
        status: int,
        body: JSONDict,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        with self._lock:
            call.status = status
            call.error = None if body.get("ok") else str(body.get("error"))
            call.response = copy.deepcopy(body)
            self._changed.notify_all()
        return web.Response(
            status=status,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            content_type=JSON_CONTENT_TYPE,
            charset="utf-8",
            headers=dict(headers or {}),
        )

    def _take_fault(self, method: str) -> SlackError | None:
        with self._lock:
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
        if fault.status == 429:
            return SlackError(
                fault.error or "ratelimited",
                status=429,
                headers={"Retry-After": str(fault.retry_after)},
            )
        if fault.status == 200:
            return SlackError(fault.error or "internal_error")
        return SlackError(fault.error or "fatal_error", status=fault.status)

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        call = Call(method=method, params={}, headers=dict(request.headers), at=time.monotonic())
        with self._lock:
            self._records.append(call)
        try:
            params, is_json = await self._read_params(request)
            body_token = params.pop("token", None)
            call.params = params
            match = _BEARER_RE.fullmatch(request.headers.get("Authorization", "").strip())
            # Slack ignores a token inside a JSON body: JSON requests need the header.
            token = match.group(1) if match else (None if is_json else body_token)
            call.token = str(token) if token else None
            handler = self._methods.get(method)
            if handler is None:
                raise SlackError("unknown_method", status=404, extra={"req_method": method})
            if not call.token:
                raise SlackError("not_authed")
            self._check_token(method, call.token)
            fault = self._take_fault(method)
            if fault is not None:
                call.injected = True
                raise fault
            result = handler(copy.deepcopy(params))
        except SlackError as error:
            return self._finish(call, error.status, error.body(), error.headers)
        return self._finish(call, 200, {"ok": True, **result})

    def _check_token(self, method: str, token: str) -> None:
        """Slack's token checks: the bot token for Web API methods, the app-level token for
        ``apps.connections.*``; a valid token of the other kind is ``not_allowed_token_type``."""
        is_app_token = self.app_token is not None and token == self.app_token
        if method in _APP_TOKEN_METHODS:
            if token == self.token:
                raise SlackError("not_allowed_token_type")
            if not is_app_token:
                raise SlackError("invalid_auth")
        elif token != self.token:
            raise SlackError("not_allowed_token_type" if is_app_token else "invalid_auth")

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        """A Socket Mode WebSocket: ``hello``, then envelopes out and acknowledgements in."""
        ticket = request.match_info["ticket"]
        # autoping off: pings are counted, then answered below; the close handshake is bounded.
        ws = web.WebSocketResponse(autoping=False, timeout=2.0)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="expected a WebSocket upgrade")
        with self._lock:
            if not self._accepting_sockets:
                return web.Response(status=503, text="shutting down")
            if ticket not in self._tickets:
                return web.Response(status=401, text="unknown or already used Socket Mode URL")
            if len(self._sockets) >= MAX_SOCKET_CONNECTIONS:
                return web.Response(status=429, text="too many Socket Mode connections")
            self._tickets.discard(ticket)  # a URL from apps.connections.open is single-use
        await ws.prepare(request)
        with self._lock:
            hello: JSONDict = {
                "type": "hello",
                "num_connections": len(self._sockets) + 1,
                "debug_info": {
                    "host": SOCKET_MODE_HOST,
                    "build_number": 1,
                    "approximate_connection_time": SOCKET_MODE_CONNECTION_TIME,
                },
                "connection_info": {"app_id": self.api_app_id},
            }
            info = SocketConnection(id=ticket, opened_at=time.monotonic(), hello=hello)
            self._connections.append(info)
        try:
            await ws.send_str(json_body(hello))
            with self._lock:
                # Greeted: from now on envelopes may be sent to this connection.
                self._sockets[ticket] = _Socket(info, ws)
                self._changed.notify_all()
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_socket_text(info, str(message.data))
                elif message.type == WSMsgType.PING:
                    with self._lock:
                        info.pings += 1
                    await ws.pong(message.data)
        finally:
            with self._lock:
                self._sockets.pop(ticket, None)
                info.closed_at = time.monotonic()
                info.close_code = ws.close_code
                self._changed.notify_all()
        return ws

    def _on_socket_text(self, info: SocketConnection, raw: str) -> None:
        try:
            frame: Any = json.loads(raw)
        except ValueError:
            frame = None
        with self._lock:
            if isinstance(frame, dict) and isinstance(frame.get("envelope_id"), str):
                payload = frame.get("payload")
                self._acks.append(
                    Ack(
                        envelope_id=frame["envelope_id"],
                        payload=copy.deepcopy(payload) if isinstance(payload, dict) else None,
                        connection_id=info.id,
                        at=time.monotonic(),
                        raw=raw,
                        known=frame["envelope_id"] in self._envelopes,
                    )
                )
            else:
                info.frames.append(frame if isinstance(frame, dict) else raw)
            self._changed.notify_all()

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        key = request.match_info["id"]
        call = Call(
            method="response_url",
            params={},
            headers=dict(request.headers),
            at=time.monotonic(),
        )
        with self._lock:
            self._records.append(call)
        try:
            params, _ = await self._read_params(request)
            call.params = params
            with self._lock:
                target_url = self._response_urls.get(key)
                if target_url is None:
                    raise SlackError("expired_url", status=404)
                target_url.uses += 1
                if target_url.uses > RESPONSE_URL_MAX_USES:
                    raise SlackError("used_url", status=404)
                self._respond(target_url, params)
        except SlackError as error:
            return self._finish(call, error.status, error.body())
        return self._finish(call, 200, {"ok": True})

    def _respond(self, origin: _ResponseUrl, params: JSONDict) -> None:
        """What Slack does with a response_url post (lock held)."""
        target = self._channel_or_raise(origin.channel, posting=False)
        if _truthy(params.get("delete_original")):
            message = self._find(target, origin.message_ts or "")
            if message is None:
                raise SlackError("message_not_found", status=404)
            target.messages.remove(message)
            self._changed.notify_all()
            return
        if _truthy(params.get("replace_original")):
            message = self._find(target, origin.message_ts or "")
            if message is None:
                raise SlackError("message_not_found", status=404)
            text, blocks, attachments = self._content(params, message["ts"])
            target.history.setdefault(message["ts"], []).append(copy.deepcopy(message))
            message["text"] = text if text else (BLOCKS_ONLY_TEXT if blocks else "")
            # A replacement is a whole new message: what it does not carry is gone.
            if blocks:
                message["blocks"] = blocks
            else:
                message.pop("blocks", None)
            if attachments is not None:
                message["attachments"] = copy.deepcopy(attachments)
            else:
                message.pop("attachments", None)
            message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
            self._changed.notify_all()
            return
        ts = self._next_ts()
        text, blocks, attachments = self._content(params, ts)
        thread_ts = params.get("thread_ts") or origin.thread_ts
        if params.get("response_type") == "in_channel":
            message = self._bot_message(ts)
            message["text"] = text if text else (BLOCKS_ONLY_TEXT if blocks else "")
            if blocks is not None:
                message["blocks"] = blocks
            if attachments is not None:
                message["attachments"] = copy.deepcopy(attachments)
            self._insert(target, message, str(thread_ts) if thread_ts else None)
        else:
            self._add_ephemeral(target, origin.user_id, ts, text, blocks, thread_ts)


# --------------------------------------------------------------------------------------------
# A synchronous wrapper: the same server on a background thread with its own event loop
# --------------------------------------------------------------------------------------------


class FakeSlackThread(BackgroundServer[FakeSlack]):
    """:class:`FakeSlack` on a background thread, for plain synchronous tests::

    with FakeSlackThread() as slack:
        slack.add_channel("C1", ["U1"])
        client = WebClient(token=slack.token, base_url=slack.base_url)
        client.chat_postMessage(channel="C1", text="merhaba")
        slack.wait_for(lambda: slack.messages("C1"))
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_user_id: str = DEFAULT_BOT_USER_ID,
        team_id: str = DEFAULT_TEAM_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(FakeSlack(token, bot_user_id, team_id, **kwargs), name="fake-slack")

    # Delegation (all thread-safe).

    @property
    def token(self) -> str:
        return self.fake.token

    @property
    def bot_user_id(self) -> str:
        return self.fake.bot_user_id

    @property
    def base_url(self) -> str:
        return self.fake.base_url

    @property
    def root_url(self) -> str:
        return self.fake.root_url

    @property
    def app_token(self) -> str | None:
        return self.fake.app_token

    @property
    def records(self) -> list[Call]:
        return self.fake.records

    def calls(self, method: str) -> list[Call]:
        return self.fake.calls(method)

    def messages(self, channel: str | None = None) -> list[JSONDict]:
        return self.fake.messages(channel)

    def message(self, channel: str, ts: str) -> JSONDict | None:
        return self.fake.message(channel, ts)

    def thread(self, channel: str, ts: str) -> list[JSONDict]:
        return self.fake.thread(channel, ts)

    def ephemerals(self, channel: str | None = None) -> list[JSONDict]:
        return self.fake.ephemerals(channel)

    def add_channel(
        self,
        channel_id: str,
        members: Sequence[str],
        *,
        name: str | None = None,
        bot_member: bool = True,
    ) -> None:
        self.fake.add_channel(channel_id, members, name=name, bot_member=bot_member)

    def add_user(
        self,
        user_id: str,
        first_name: str,
        last_name: str = "",
        real_name: str | None = None,
        **kwargs: Any,
    ) -> JSONDict:
        return self.fake.add_user(user_id, first_name, last_name, real_name, **kwargs)

    def add_message(
        self,
        channel: str,
        user: str,
        text: str,
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> JSONDict:
        return self.fake.add_message(channel, user, text, ts, thread_ts)

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 1,
        count: int = 1,
        error: str | None = None,
    ) -> None:
        self.fake.fail_next(method, status, retry_after, count, error)

    def reset_records(self) -> None:
        self.fake.reset_records()

    def new_response_url(
        self,
        channel: str,
        user_id: str,
        message_ts: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        return self.fake.new_response_url(channel, user_id, message_ts, thread_ts)

    def block_actions(
        self,
        user_id: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        **kwargs: Any,
    ) -> str:
        return self.fake.block_actions(user_id, channel, message_ts, action_id, value, **kwargs)

    def wait_for(
        self, predicate: Callable[[], _T], timeout: float = 5.0, what: str | None = None
    ) -> _T:
        """Block until ``predicate()`` is truthy; returns its value (``TimeoutError`` if not)."""
        return self.fake.wait_for_sync(predicate, timeout, what)

    def wait_for_messages(
        self, channel: str | None = None, n: int = 1, timeout: float = 5.0
    ) -> list[JSONDict]:
        return self.fake.wait_for_messages_sync(channel, n, timeout)

    def send_signed(
        self,
        url: str,
        body: str | Mapping[str, Any],
        signing_secret: str,
        *,
        content_type: str | None = None,
        timestamp: int | None = None,
        timeout: float = 10.0,
    ) -> BotResponse:
        """Blocking :func:`send_signed` (run on the fake's loop)."""
        coroutine = send_signed(
            url,
            body,
            signing_secret,
            content_type=content_type,
            timestamp=timestamp,
            timeout=timeout,
        )
        return self._run(coroutine, timeout + 1)

    def block_actions_payload(
        self,
        user_id: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        **kwargs: Any,
    ) -> JSONDict:
        return self.fake.block_actions_payload(
            user_id, channel, message_ts, action_id, value, **kwargs
        )

    # Socket Mode: the sending runs on the fake's loop; these block until it is done.

    def send_envelope(self, type: str, payload: Mapping[str, Any], **kwargs: Any) -> str:
        """Blocking :meth:`FakeSlack.send_envelope`; returns the envelope_id."""
        return self._run(self.fake.send_envelope(type, payload, **kwargs))

    def send_event(self, event: Mapping[str, Any], **kwargs: Any) -> str:
        return self._run(self.fake.send_event(event, **kwargs))

    def send_message_event(
        self,
        channel: str,
        user: str,
        text: str,
        ts: str | None = None,
        thread_ts: str | None = None,
        **kwargs: Any,
    ) -> str:
        return self._run(self.fake.send_message_event(channel, user, text, ts, thread_ts, **kwargs))

    def send_block_actions(
        self,
        user_id: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        **kwargs: Any,
    ) -> str:
        return self._run(
            self.fake.send_block_actions(user_id, channel, message_ts, action_id, value, **kwargs)
        )

    def send_disconnect(
        self, reason: str = "refresh_requested", *, connection: str | None = None
    ) -> str:
        return self._run(self.fake.send_disconnect(reason, connection=connection))

    def close_sockets(
        self, code: int = WSCloseCode.GOING_AWAY, *, connection: str | None = None
    ) -> int:
        return self._run(self.fake.close_sockets(code, connection=connection), timeout=15.0)

    def socket_connections(self) -> int:
        return self.fake.socket_connections()

    def sockets(self, *, open_only: bool = False) -> list[SocketConnection]:
        return self.fake.sockets(open_only=open_only)

    def envelopes(self, type: str | None = None) -> list[Envelope]:
        return self.fake.envelopes(type)

    def acks(self, envelope_id: str | None = None) -> list[Ack]:
        return self.fake.acks(envelope_id)

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        return self.fake.wait_for_ack_sync(envelope_id, timeout)

    def wait_for_sockets(self, n: int = 1, timeout: float = 5.0) -> list[SocketConnection]:
        return self.fake.wait_for_sockets_sync(n, timeout)

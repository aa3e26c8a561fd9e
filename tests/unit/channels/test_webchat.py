"""Tests for the web chat input channel (channels/webchat.py) and its static page.

The channel is mounted the way Rasa mounts it (``rasa.core.channels.channel.register``
under ``/webhooks/``) on a fresh Sanic app with a fake agent, and requests go through
Sanic's ASGI interface with httpx (sanic-testing is not installed with Rasa 3.6).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage, register
from sanic import Sanic

from channels import webchat as webchat_module
from channels.webchat import MAX_MESSAGE_LENGTH, WebChatInput

STATIC_DIR = Path(webchat_module.__file__).resolve().parent / "webchat_static"
PREFIX = "/webhooks/webchat"
WEBHOOK = f"{PREFIX}/webhook"

BOT_TEXT = "Hello! How can I help?\nSee https://example.com/help"
BOT_BUTTONS = [
    {"title": "Track my order", "payload": "/track_order"},
    {"title": "Talk to a human", "payload": "/human_handoff"},
]
BOT_IMAGE = "https://example.com/logo.png"


@dataclass
class FakeAgent:
    """Stands in for ``rasa.core.agent.Agent``: ``register`` calls ``handle_message``."""

    received: list[UserMessage] = field(default_factory=list)
    error: BaseException | None = None

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.error is not None:
            raise self.error
        await message.output_channel.send_response(
            message.sender_id, {"text": BOT_TEXT, "buttons": list(BOT_BUTTONS)}
        )
        await message.output_channel.send_response(message.sender_id, {"image": BOT_IMAGE})


@dataclass
class WebChat:
    app: Sanic
    agent: FakeAgent
    client: httpx.AsyncClient


async def start(app: Sanic) -> None:
    """Finalizes routes the way sanic-testing's ASGI client does.

    (Sanic 21.12's own ASGI lifespan handler fails once the lifespan scope ends.)
    """
    await app._startup()


@pytest.fixture
async def webchat(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[WebChat]:
    # As sanic-testing does: lets several apps start in one process.
    monkeypatch.setattr(Sanic, "test_mode", True)
    agent = FakeAgent()
    app = Sanic(f"webchat_test_{uuid.uuid4().hex}")
    app.ctx.agent = agent
    register([WebChatInput.from_credentials(None)], app, route="/webhooks/")
    await start(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield WebChat(app, agent, client)


async def raw_get(app: Sanic, raw_path: str) -> tuple[int, bytes]:
    """GET with the path sent verbatim (httpx would normalise ``..`` away)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 12345),
        "server": ("testserver", 80),
    }
    requests = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return requests.pop(0) if requests else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body


def post_json(client: httpx.AsyncClient, payload: Any) -> Any:
    return client.post(WEBHOOK, json=payload)


# --------------------------------------------------------------------------- channel


def test_channel_name_and_prefix() -> None:
    channel = WebChatInput.from_credentials(None)
    assert isinstance(channel, WebChatInput)
    assert WebChatInput.name() == "webchat"
    assert channel.url_prefix() == "webchat"


def test_get_metadata_returns_validated_metadata() -> None:
    channel = WebChatInput()
    body = json.dumps({"sender": "s1", "message": "hi", "metadata": {"k": 1}}).encode()
    request: Any = SimpleNamespace(headers={"content-type": "application/json"}, body=body)
    assert channel.get_metadata(request) == {"k": 1}
    request = SimpleNamespace(headers={"content-type": "application/json"}, body=b"{")
    assert channel.get_metadata(request) is None


# ------------------------------------------------------------------------ page/static


async def test_page_is_served_as_html(webchat: WebChat) -> None:
    response = await webchat.client.get(f"{PREFIX}/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "charset=utf-8" in response.headers["content-type"]
    assert "no-cache" in response.headers["cache-control"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script src="static/webchat.js"' in response.text
    assert '<link rel="stylesheet" href="static/webchat.css">' in response.text
    assert "<title>Köprü</title>" in response.text


async def test_no_other_site_may_frame_the_page(webchat: WebChat) -> None:
    for response in (
        await webchat.client.get(f"{PREFIX}/"),
        await webchat.client.get(f"{PREFIX}/", headers={"If-None-Match": "*"}),
    ):
        policy = [p.strip() for p in response.headers["content-security-policy"].split(";")]
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-frame-options"] == "DENY"


async def test_page_without_trailing_slash_redirects_relatively(webchat: WebChat) -> None:
    response = await webchat.client.get(PREFIX)
    assert response.status_code == 301
    # Relative, so it also works behind a reverse proxy that adds a prefix.
    assert response.headers["location"] == "webchat/"


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("webchat.css", "text/css"), ("webchat.js", "text/javascript")],
)
async def test_static_files_are_served(webchat: WebChat, filename: str, content_type: str) -> None:
    response = await webchat.client.get(f"{PREFIX}/static/{filename}")
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{content_type}; charset=utf-8"
    assert "max-age=" in response.headers["cache-control"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == (STATIC_DIR / filename).read_bytes()


async def test_static_file_revalidates_with_etag(webchat: WebChat) -> None:
    first = await webchat.client.get(f"{PREFIX}/static/webchat.js")
    etag = first.headers["etag"]
    second = await webchat.client.get(
        f"{PREFIX}/static/webchat.js", headers={"If-None-Match": etag}
    )
    assert second.status_code == 304
    assert second.content == b""


@pytest.mark.parametrize(
    "filename", ["missing.js", "index.html", "webchat.py", "WEBCHAT.CSS", "webchat.css.map"]
)
async def test_unknown_static_file_is_404(webchat: WebChat, filename: str) -> None:
    response = await webchat.client.get(f"{PREFIX}/static/{filename}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "raw_path",
    [
        f"{PREFIX}/static/../webchat.py",
        f"{PREFIX}/static/../../webchat.py",
        f"{PREFIX}/static/..%2Fwebchat.py",
        f"{PREFIX}/static/%2e%2e%2fwebchat.py",
        f"{PREFIX}/static/%2e%2e/%2e%2e/webchat.py",
        f"{PREFIX}/static//etc/passwd",
        f"{PREFIX}/webchat.py",
    ],
)
async def test_path_traversal_is_404(webchat: WebChat, raw_path: str) -> None:
    status, body = await raw_get(webchat.app, raw_path)
    assert status == 404
    assert b"WebChatInput" not in body
    assert b"root:" not in body


async def test_health(webchat: WebChat) -> None:
    response = await webchat.client.get(f"{PREFIX}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# --------------------------------------------------------------------------- webhook


async def test_webhook_returns_bot_messages(webchat: WebChat) -> None:
    response = await post_json(
        webchat.client,
        {"sender": "user-1.a:b_c", "message": "  Merhaba  ", "metadata": {"page": "/help"}},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == [
        {"recipient_id": "user-1.a:b_c", "text": BOT_TEXT, "buttons": BOT_BUTTONS},
        {"recipient_id": "user-1.a:b_c", "image": BOT_IMAGE},
    ]

    [message] = webchat.agent.received
    assert message.sender_id == "user-1.a:b_c"
    assert message.text == "Merhaba"
    assert message.input_channel == "webchat"
    assert message.metadata == {"page": "/help"}
    assert isinstance(message.output_channel, CollectingOutputChannel)


async def test_webhook_without_metadata(webchat: WebChat) -> None:
    response = await post_json(webchat.client, {"sender": "s", "message": "hi"})
    assert response.status_code == 200
    [message] = webchat.agent.received
    assert message.metadata is None


async def test_webhook_accepts_json_with_charset(webchat: WebChat) -> None:
    response = await webchat.client.post(
        WEBHOOK,
        content=json.dumps({"sender": "s", "message": "Dzień dobry"}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
    assert webchat.agent.received[0].text == "Dzień dobry"


async def test_client_cannot_choose_the_input_channel(webchat: WebChat) -> None:
    response = await post_json(
        webchat.client, {"sender": "s", "message": "hi", "input_channel": "telegram"}
    )
    assert response.status_code == 200
    assert webchat.agent.received[0].input_channel == "webchat"


async def test_message_of_max_length_is_accepted(webchat: WebChat) -> None:
    text = "a" * MAX_MESSAGE_LENGTH
    assert MAX_MESSAGE_LENGTH == 4096
    response = await post_json(webchat.client, {"sender": "s", "message": text})
    assert response.status_code == 200
    assert webchat.agent.received[0].text == text


async def test_length_is_counted_after_strip(webchat: WebChat) -> None:
    text = "ğ" * 4096
    response = await post_json(webchat.client, {"sender": "s", "message": f"  {text}\n"})
    assert response.status_code == 200
    assert webchat.agent.received[0].text == text


async def test_message_over_max_length_is_answered_without_the_bot(webchat: WebChat) -> None:
    response = await post_json(webchat.client, {"sender": "s", "message": "a" * 4097})
    assert response.status_code == 200
    [answer] = response.json()
    assert answer["recipient_id"] == "s"
    assert "shorter message" in answer["text"]
    assert "4,096" in answer["text"]
    assert webchat.agent.received == []


async def test_sender_of_max_length_is_accepted(webchat: WebChat) -> None:
    response = await post_json(webchat.client, {"sender": "x" * 128, "message": "hi"})
    assert response.status_code == 200


def _json(payload: Any) -> tuple[bytes, str | None]:
    return json.dumps(payload).encode(), "application/json"


BAD_REQUESTS: dict[str, tuple[bytes, str | None]] = {
    "not json": (b"sender=s&message=hi", "application/json"),
    "truncated json": (b'{"sender": "s", "message": "hi"', "application/json"),
    "empty body": (b"", "application/json"),
    "invalid utf-8": (b'{"sender": "s", "message": "\xff"}', "application/json"),
    "json array": _json([{"sender": "s", "message": "hi"}]),
    "json string": _json("hi"),
    "missing sender": _json({"message": "hi"}),
    "empty sender": _json({"sender": "", "message": "hi"}),
    "null sender": _json({"sender": None, "message": "hi"}),
    "numeric sender": _json({"sender": 42, "message": "hi"}),
    "sender too long": _json({"sender": "x" * 129, "message": "hi"}),
    "sender with space": _json({"sender": "a b", "message": "hi"}),
    "sender with slash": _json({"sender": "../x", "message": "hi"}),
    "sender with newline": _json({"sender": "abc\n", "message": "hi"}),
    "sender non-ascii": _json({"sender": "kullanıcı", "message": "hi"}),
    "missing message": _json({"sender": "s"}),
    "empty message": _json({"sender": "s", "message": ""}),
    "blank message": _json({"sender": "s", "message": " \n\t "}),
    "null message": _json({"sender": "s", "message": None}),
    "message not a string": _json({"sender": "s", "message": ["hi"]}),
    "metadata list": _json({"sender": "s", "message": "hi", "metadata": [1, 2]}),
    "metadata string": _json({"sender": "s", "message": "hi", "metadata": "x"}),
    "metadata number": _json({"sender": "s", "message": "hi", "metadata": 1}),
}


@pytest.mark.parametrize(("body", "content_type"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
async def test_bad_request_is_refused_and_not_processed(
    webchat: WebChat, body: bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await webchat.client.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error, str)
    assert error
    assert webchat.agent.received == []


WRONG_CONTENT_TYPES = {
    "text/plain": "text/plain",
    "form content type": "application/x-www-form-urlencoded",
    "no content type": None,
}


@pytest.mark.parametrize("content_type", WRONG_CONTENT_TYPES.values(), ids=WRONG_CONTENT_TYPES)
async def test_wrong_content_type_is_415(webchat: WebChat, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = json.dumps({"sender": "s", "message": "hi"}).encode()
    response = await webchat.client.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]
    assert webchat.agent.received == []


async def test_oversized_body_is_refused(webchat: WebChat) -> None:
    payload = {"sender": "s", "message": "hi", "metadata": {"blob": "x" * 200_000}}
    response = await post_json(webchat.client, payload)
    assert response.status_code == 413
    assert "error" in response.json()
    assert webchat.agent.received == []


async def test_get_on_webhook_is_not_allowed(webchat: WebChat) -> None:
    response = await webchat.client.get(WEBHOOK)
    assert response.status_code == 405
    assert webchat.agent.received == []


async def test_bot_failure_gives_500_without_traceback(
    webchat: WebChat, caplog: pytest.LogCaptureFixture
) -> None:
    webchat.agent.error = RuntimeError("database password is hunter2")
    with caplog.at_level(logging.ERROR, logger="channels.webchat"):
        response = await post_json(webchat.client, {"sender": "s", "message": "hi"})
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"error"}
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert len(webchat.agent.received) == 1
    failures = [
        r for r in caplog.records
        if r.getMessage().startswith("webchat.message.received.failure") and r.exc_info
    ]  # fmt: skip
    assert failures, "the failure must be logged with its traceback"


async def test_bot_timeout_gives_503_json(webchat: WebChat) -> None:
    webchat.agent.error = asyncio.CancelledError()
    response = await post_json(webchat.client, {"sender": "s", "message": "hi"})
    assert response.status_code == 503
    assert set(response.json()) == {"error"}


# ------------------------------------------------------------------- page contents


def test_page_is_self_contained() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    css = (STATIC_DIR / "webchat.css").read_text(encoding="utf-8")
    js = (STATIC_DIR / "webchat.js").read_text(encoding="utf-8")
    # No CDN, external fonts or absolute URLs: the page works offline and behind any prefix.
    assert not re.search(r"(https?:)?//[a-z0-9]", html, re.IGNORECASE)
    assert "url(" not in css
    assert "@import" not in css
    assert 'src="static/webchat.js"' in html
    assert 'aria-live="polite"' in html
    assert '<label class="visually-hidden" for="chat-input">' in html
    for language in ("English", "Türkçe", "Polski"):
        assert language in html
    assert 'var ENDPOINT = "webhook";' in js


def test_script_never_uses_html_injection() -> None:
    js = (STATIC_DIR / "webchat.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js
    assert "textContent" in js
    assert 'rel = "noopener noreferrer"' in js
    assert 'target = "_blank"' in js
    assert "randomUUID" in js
    assert "localStorage" in js

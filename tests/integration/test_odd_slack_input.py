"""Odd requests to the Slack agent desk's events URL (issue 15, item 7), over HTTP against the
desk's blueprint served by Sanic on 127.0.0.1 (the Web API is the fake Slack).

None of them may get a 5xx: an unsigned request with a signature or timestamp header bolt
cannot read is 401 before bolt parses it (bolt's verifier does ``int(timestamp)`` and
``hmac.compare_digest`` on the raw header), a missing or non-numeric Content-Length 400;
each refusal is logged as a warning. A well-signed request is still answered.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from rasa.core.channels.channel import register
from sanic import Sanic

from bot.serving import http_guard
from bot.storage.store import Store
from channels.slack import SlackDeskInput
from channels.slack_desk import SlackConfig
from tests.fakes.slack_api import FakeSlack, json_body, signed_headers

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
AGENTS = "CAGENTS01"
EVENTS = "/webhooks/slack/events"
CHALLENGE = json_body({"type": "url_verification", "challenge": "c-123", "token": "t"})
EVENT = json_body({"type": "event_callback", "event_id": "Ev1", "event": {"type": "message"}})


@dataclass
class Served:
    client: httpx.AsyncClient
    port: int

    async def raw(self, head: str, body: bytes = b"") -> bytes:
        """What the server answers to a request written byte by byte (no client checks)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(head.encode() + body)
            await writer.drain()
            return await asyncio.wait_for(reader.read(), timeout=20)
        finally:
            writer.close()


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    monkeypatch.setattr(Sanic, "test_mode", True)
    async with FakeSlack() as fake:
        fake.add_channel(AGENTS, ["U0AGENT1"], name="support-agents")
        config = SlackConfig(
            bot_token=fake.token,
            signing_secret=SIGNING_SECRET,
            app_token=None,
            agent_channel=AGENTS,
            api_base_url=fake.base_url,
        )
        store = Store(f"sqlite:///{tmp_path / 'kopru.db'}")
        store.create_schema()
        app = Sanic(f"odd_slack_{uuid.uuid4().hex}")
        register([SlackDeskInput(config, store=store)], app, route="/webhooks/")
        http_guard.guard(app)  # as `kopru run` does (http_guard.install)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
        assert server is not None
        await server.startup()
        await server.before_start()
        await server.after_start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                yield Served(client, port)
        finally:
            await server.before_stop()
            server.close()
            await server.wait_closed()
            await server.after_stop()
            sock.close()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def refusal_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "channels.slack" and r.levelno == logging.WARNING
    ]


def as_bytes(headers: dict[str, str]) -> dict[str, bytes]:
    """Header values as UTF-8 (httpx would refuse non-ASCII text)."""
    return {name: value.encode() for name, value in headers.items()}


def good_signature(body: str, timestamp: str) -> str:
    return signed_headers(SIGNING_SECRET, body, timestamp=int(timestamp))["X-Slack-Signature"]


NOW = str(int(time.time()))

# Each is sent as is, without a valid signature unless it says so.
ODD_SIGNATURE_HEADERS: dict[str, dict[str, str]] = {
    "timestamp abc": {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=" + "0" * 64},
    "timestamp abc, no signature": {"X-Slack-Request-Timestamp": "abc"},
    "timestamp 1e10": {"X-Slack-Request-Timestamp": "1e10", "X-Slack-Signature": "v0=" + "0" * 64},
    "timestamp of 5,000 digits": {
        "X-Slack-Request-Timestamp": "9" * 5000,
        "X-Slack-Signature": "v0=" + "0" * 64,
    },
    "empty timestamp": {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": "v0=" + "0" * 64},
    "non-ASCII signature": {"X-Slack-Request-Timestamp": NOW, "X-Slack-Signature": "v0=çok"},
    "non-ASCII signature of a good length": {
        "X-Slack-Request-Timestamp": NOW,
        "X-Slack-Signature": "v0=" + "ş" * 64,
    },
}

# Odd too, but bolt refused them with 401 already: they must stay 401 (and not reach bolt).
STILL_401: dict[str, dict[str, str]] = {
    "no headers at all": {},
    "empty signature": {"X-Slack-Request-Timestamp": NOW, "X-Slack-Signature": ""},
    "signature without v0=": {
        "X-Slack-Request-Timestamp": NOW,
        "X-Slack-Signature": good_signature(CHALLENGE, NOW)[3:],
    },
    "signature v1=": {
        "X-Slack-Request-Timestamp": NOW,
        "X-Slack-Signature": "v1=" + good_signature(CHALLENGE, NOW)[3:],
    },
    "timestamp negative": {"X-Slack-Request-Timestamp": "-1", "X-Slack-Signature": "v0=0"},
    "timestamp far in the future": {
        "X-Slack-Request-Timestamp": "9" * 30,
        "X-Slack-Signature": "v0=" + "0" * 64,
    },
}


@pytest.mark.parametrize("headers", ODD_SIGNATURE_HEADERS.values(), ids=ODD_SIGNATURE_HEADERS)
async def test_an_unreadable_signature_header_is_401_not_500(
    served: Served, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="channels.slack")
    answer = await served.client.post(
        EVENTS,
        content=CHALLENGE.encode(),
        headers=as_bytes({"Content-Type": "application/json", **headers}),
    )
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]
    assert "c-123" not in answer.text
    (warning,) = refusal_logged(caplog)
    assert "signature" in warning


@pytest.mark.parametrize("headers", STILL_401.values(), ids=STILL_401)
async def test_other_odd_signatures_stay_401(
    served: Served, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="channels.slack")
    answer = await served.client.post(
        EVENTS,
        content=CHALLENGE.encode(),
        headers=as_bytes({"Content-Type": "application/json", **headers}),
    )
    assert answer.status_code == 401, answer.text
    assert "c-123" not in answer.text
    (warning,) = refusal_logged(caplog)
    assert "signature" in warning


async def test_a_signed_challenge_is_still_answered(served: Served) -> None:
    headers = signed_headers(SIGNING_SECRET, CHALLENGE)
    answer = await served.client.post(EVENTS, content=CHALLENGE.encode(), headers=headers)
    assert answer.status_code == 200
    assert "c-123" in answer.text
    wrong = signed_headers("not-the-secret", CHALLENGE)
    assert (await served.client.post(EVENTS, content=CHALLENGE, headers=wrong)).status_code == 401


def head(content_length: str | None, headers: dict[str, str]) -> str:
    lines = [f"POST {EVENTS} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    lines.append("Connection: close")
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.mark.parametrize("content_length", ["abc", "", "1e3", "0x10", "12, 12"], ids=repr)
async def test_a_non_numeric_content_length_is_400(served: Served, content_length: str) -> None:
    """The issue's request: unsigned, timestamp abc, Content-Length abc (and its cousins).
    Sanic would parse the length before any route: bot.serving.http_guard refuses it."""
    headers = {"X-Slack-Request-Timestamp": "abc"}
    answer = await served.raw(head(content_length, headers), EVENT.encode())
    assert status_of(answer) == 400, answer[:300]


async def test_a_missing_content_length_is_400(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="channels.slack")
    headers = signed_headers(SIGNING_SECRET, CHALLENGE)
    del headers["Content-Type"]
    answer = await served.raw(head(None, headers))
    assert status_of(answer) == 400, answer[:300]
    (warning,) = refusal_logged(caplog)
    assert "Content-Length" in warning


async def test_a_chunked_body_without_content_length_is_400(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="channels.slack")
    headers = signed_headers(SIGNING_SECRET, CHALLENGE)
    del headers["Content-Type"]
    headers["Transfer-Encoding"] = "chunked"
    body = f"{len(CHALLENGE.encode()):x}\r\n".encode() + CHALLENGE.encode() + b"\r\n0\r\n\r\n"
    answer = await served.raw(head(None, headers), body)
    assert status_of(answer) == 400, answer[:300]
    assert b"c-123" not in answer
    (warning,) = refusal_logged(caplog)
    assert "Content-Length" in warning

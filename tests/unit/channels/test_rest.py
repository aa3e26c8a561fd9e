"""channels/rest.py: Rasa's REST format on Köprü's checks, apology and 503.

The channel is mounted the way Rasa mounts it (``register`` under ``/webhooks/``) on a
fresh Sanic app with a fake agent; requests go through Sanic's ASGI interface with httpx.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import yaml
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage, register
from sanic import Sanic

from bot.errors import TrackerStoreUnavailable
from bot.phrases import action_failed_apology, message_too_long
from bot.settings import PROJECT_ROOT
from channels.inbound import MAX_BODY_BYTES, MAX_MESSAGE_CHARS
from channels.processing import ActionFailureWatch
from channels.rest import RestInput

WEBHOOK = "/webhooks/rest/webhook"
BOT_TEXT = "Order 204518 is on its way."


class FakeTracker:
    def __init__(self, language: str | None) -> None:
        self.language = language

    def get_slot(self, name: str) -> Any:
        return self.language if name == "language" else None


@dataclass
class FakeAgent:
    """Stands in for ``rasa.core.agent.Agent``: ``register`` calls ``handle_message``."""

    received: list[UserMessage] = field(default_factory=list)
    error: BaseException | None = None
    action_fails: bool = False
    languages: dict[str, str] = field(default_factory=dict)

    @property
    def tracker_store(self) -> FakeAgent:
        return self

    async def retrieve(self, sender_id: str) -> FakeTracker | None:
        language = self.languages.get(sender_id)
        return FakeTracker(language) if language else None

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_response(message.sender_id, {"text": BOT_TEXT})
        if self.action_fails:
            logging.getLogger("rasa.core.processor").error(
                "Encountered an exception while running action 'action_order_status'."
                "Bot will continue, but the actions events are lost."
            )
        if self.error is not None:
            raise self.error


@dataclass
class Rest:
    app: Sanic
    agent: FakeAgent
    client: httpx.AsyncClient


@pytest.fixture(autouse=True)
def no_watch_left_behind() -> Iterator[None]:
    yield
    processor = logging.getLogger("rasa.core.processor")
    for handler in list(processor.handlers):
        if isinstance(handler, ActionFailureWatch):
            processor.removeHandler(handler)


@pytest.fixture
async def rest(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rest]:
    monkeypatch.setattr(Sanic, "test_mode", True)
    agent = FakeAgent()
    app = Sanic(f"rest_test_{uuid.uuid4().hex}")
    app.ctx.agent = agent
    register([RestInput.from_credentials(None)], app, route="/webhooks/")
    await app._startup()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Rest(app, agent, client)


async def say(rest: Rest, sender: str, message: Any, **fields: Any) -> httpx.Response:
    return await rest.client.post(WEBHOOK, json={"sender": sender, "message": message, **fields})


def test_the_channel_keeps_rasas_name_and_url() -> None:
    channel = RestInput.from_credentials(None)
    assert isinstance(channel, RestInput)
    assert RestInput.name() == "rest"
    assert channel.url_prefix() == "rest"


def test_credentials_use_this_channel_instead_of_rasas() -> None:
    credentials = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text("utf-8"))
    assert "channels.rest.RestInput" in credentials
    assert "rest" not in credentials


async def test_health(rest: Rest) -> None:
    response = await rest.client.get("/webhooks/rest/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_answers_in_rasas_format(rest: Rest) -> None:
    response = await say(rest, "ayşe", "  where is my order?  ", metadata={"page": "/help"})
    assert response.status_code == 200
    assert response.json() == [{"recipient_id": "ayşe", "text": BOT_TEXT}]
    [message] = rest.agent.received
    assert (message.sender_id, message.text) == ("ayşe", "where is my order?")
    assert message.input_channel == "rest"
    assert message.metadata == {"page": "/help"}
    assert isinstance(message.output_channel, CollectingOutputChannel)


async def test_the_client_cannot_choose_another_input_channel(rest: Rest) -> None:
    assert (await say(rest, "s", "hi", input_channel="telegram")).status_code == 200
    assert rest.agent.received[0].input_channel == "rest"


async def test_control_characters_are_stripped(rest: Rest) -> None:
    response = await say(rest, "s", "where\x00 is my\x07 order?\r\n")
    assert response.status_code == 200
    assert rest.agent.received[0].text == "where is my order?"


def _json(payload: Any) -> tuple[bytes, str]:
    return json.dumps(payload).encode(), "application/json"


BAD_REQUESTS: dict[str, tuple[bytes, str, int, str]] = {
    "malformed json": (b'{"sender": "s", "message": "hi"', "application/json", 400, "JSON"),
    "empty body": (b"", "application/json", 400, "empty"),
    "invalid utf-8": (b'{"sender": "s", "message": "\xff"}', "application/json", 400, "UTF-8"),
    "json array": (*_json([{"sender": "s", "message": "hi"}]), 400, "object"),
    "missing sender": (*_json({"message": "hi"}), 400, "'sender'"),
    "empty sender": (*_json({"sender": "", "message": "hi"}), 400, "'sender'"),
    "numeric sender": (*_json({"sender": 7, "message": "hi"}), 400, "'sender'"),
    "missing message": (*_json({"sender": "s"}), 400, "'message'"),
    "empty message": (*_json({"sender": "s", "message": ""}), 400, "'message'"),
    "list message": (*_json({"sender": "s", "message": ["hi"]}), 400, "'message'"),
    "NUL-only message": (*_json({"sender": "s", "message": "\u0000"}), 400, "'message'"),
    "text/plain": (json.dumps({"sender": "s", "message": "hi"}).encode(), "text/plain", 415,
                   "application/json"),
    "form": (b"sender=s&message=hi", "application/x-www-form-urlencoded", 415,
             "application/json"),
}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "content_type", "status", "fragment"), BAD_REQUESTS.values(), ids=BAD_REQUESTS
)
async def test_bad_requests_are_refused_with_a_clear_json_error(
    rest: Rest, body: bytes, content_type: str, status: int, fragment: str
) -> None:
    response = await rest.client.post(WEBHOOK, content=body, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert fragment in response.json()["error"]
    assert rest.agent.received == []


async def test_no_content_type_is_415(rest: Rest) -> None:
    response = await rest.client.post(WEBHOOK, content=b'{"sender": "s", "message": "hi"}')
    assert response.status_code == 415
    assert rest.agent.received == []


def padded_body(size: int) -> bytes:
    """A valid request of exactly ``size`` bytes."""
    empty = {"sender": "s", "message": "hi", "metadata": {"p": ""}}
    padding = "x" * (size - len(json.dumps(empty)))
    return json.dumps({"sender": "s", "message": "hi", "metadata": {"p": padding}}).encode()


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 1024 * 1024])
async def test_a_body_over_the_limit_is_413(rest: Rest, size: int) -> None:
    body = padded_body(size)
    assert len(body) == size
    response = await rest.client.post(
        WEBHOOK, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "too large" in response.json()["error"]
    assert rest.agent.received == []


async def test_a_body_over_the_limit_without_length_is_413(rest: Rest) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"sender": "s", "message": "'
        for _ in range(20):
            yield b"x" * 16384
        yield b'"}'

    response = await rest.client.post(
        WEBHOOK, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert rest.agent.received == []


async def test_a_body_at_the_limit_is_read(rest: Rest) -> None:
    body = padded_body(MAX_BODY_BYTES)
    response = await rest.client.post(
        WEBHOOK, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert len(rest.agent.received) == 1


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("where is my order? " * 216, "en"),
        ("siparişim nerede, lütfen yardım edin? " * 108, "tr"),
        ("gdzie jest moja paczka, proszę o pomoc? " * 103, "pl"),
    ],
)
async def test_a_message_over_4096_characters_is_answered_without_the_bot(
    rest: Rest, text: str, language: str
) -> None:
    text = text.strip()
    assert len(text) > MAX_MESSAGE_CHARS
    response = await say(rest, "long", text)
    assert response.status_code == 200
    assert response.json() == [
        {"recipient_id": "long", "text": message_too_long(language, MAX_MESSAGE_CHARS)}
    ]
    assert rest.agent.received == []
    # The next message of the same conversation is processed as usual.
    response = await say(rest, "long", "where is my order 204518?")
    assert response.json() == [{"recipient_id": "long", "text": BOT_TEXT}]
    assert len(rest.agent.received) == 1


async def test_4097_characters_exactly(rest: Rest) -> None:
    rest.agent.languages["kasia"] = "pl"
    response = await say(rest, "kasia", "a" * 4097)
    assert response.json()[0]["text"] == message_too_long("pl", MAX_MESSAGE_CHARS)
    assert (await say(rest, "kasia", "a" * 4096)).json()[0]["text"] == BOT_TEXT


async def test_a_failed_action_adds_an_apology_in_the_conversations_language(rest: Rest) -> None:
    rest.agent.action_fails = True
    rest.agent.languages["ayse"] = "tr"
    response = await say(rest, "ayse", "ok")
    assert response.status_code == 200
    assert [m["text"] for m in response.json()] == [BOT_TEXT, action_failed_apology("tr")]


async def test_an_unavailable_store_is_503_with_retry_after(rest: Rest) -> None:
    rest.agent.error = TrackerStoreUnavailable("could not write the conversation")
    response = await say(rest, "s", "where is my order?")
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["retry_after"] == int(response.headers["retry-after"])
    assert isinstance(body["error"], str) and body["error"]
    assert BOT_TEXT not in response.text  # what the bot said was not stored: not sent
    # Delivered again once the store is back, it is answered.
    rest.agent.error = None
    response = await say(rest, "s", "where is my order?")
    assert response.json() == [{"recipient_id": "s", "text": BOT_TEXT}]


async def test_a_bot_failure_is_500_without_details(rest: Rest) -> None:
    rest.agent.error = RuntimeError("password hunter2")
    response = await say(rest, "s", "hi")
    assert response.status_code == 500
    assert set(response.json()) == {"error"}
    assert "hunter2" not in response.text


async def test_a_timeout_is_503(rest: Rest) -> None:
    rest.agent.error = asyncio.CancelledError()
    response = await say(rest, "s", "hi")
    assert response.status_code == 503
    assert "error" in response.json()


async def test_streaming_is_refused(rest: Rest) -> None:
    response = await rest.client.post(
        WEBHOOK, params={"stream": "true"}, json={"sender": "s", "message": "hi"}
    )
    assert response.status_code == 400
    assert "stream" in response.json()["error"].lower()
    assert rest.agent.received == []


@pytest.mark.parametrize("number", ["1e999", "-1e400", "NaN", "Infinity"])
async def test_a_number_json_cannot_hold_is_400(rest: Rest, number: str) -> None:
    body = '{"sender": "s", "message": "hi", "metadata": {"amount": NUMBER}}'
    headers = {"Content-Type": "application/json"}
    response = await rest.client.post(
        WEBHOOK, content=body.replace("NUMBER", number), headers=headers
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("Request body is not valid JSON: ")
    assert number.lstrip("-") in response.json()["error"]
    assert rest.agent.received == []  # never stored, so never exported as Infinity
    fine = body.replace("NUMBER", "1e300")
    answer = await rest.client.post(WEBHOOK, content=fine, headers=headers)
    assert answer.status_code == 200
    assert rest.agent.received[0].metadata == {"amount": 1e300}


def test_get_metadata_never_raises() -> None:
    channel = RestInput()

    class Request:
        def __init__(self, body: bytes) -> None:
            self.body = body

    ok = Request(json.dumps({"sender": "s", "message": "m", "metadata": {"k": 1}}).encode())
    assert channel.get_metadata(ok) == {"k": 1}
    assert channel.get_metadata(Request(b"\xff")) is None
    assert channel.get_metadata(Request(b"[]")) is None

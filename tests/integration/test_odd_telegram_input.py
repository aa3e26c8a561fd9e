"""Odd updates sent to the Telegram webhook with the right secret (issue 15, item 7), against
the channel's blueprint as test_telegram_input.py serves it (fake Bot API, fake agent).

An update Köprü cannot act on (a message without its chat or sender, a button tap without
its user, a type Köprü does not subscribe to) is answered 200 and ignored with a warning,
so Telegram stops delivering it again; a body that is not an update is 400, with a
warning too. None of them is a 500, and none reaches the bot or sends anything.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic

from bot.storage.store import Store
from channels.processing import ActionFailureWatch
from channels.telegram import TelegramConfig, TelegramInput
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram, callback_update, text_update

SECRET = "odd-input-secret"
WEBHOOK = "/webhooks/telegram/webhook"


@dataclass
class Setup:
    telegram: FakeTelegram
    received: list[UserMessage]
    client: httpx.AsyncClient

    async def post(self, body: bytes) -> httpx.Response:
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
        return await self.client.post(WEBHOOK, content=body, headers=headers)


@pytest.fixture(autouse=True)
def no_watch_left_behind() -> Iterator[None]:
    yield
    processor = logging.getLogger("rasa.core.processor")
    for handler in list(processor.handlers):
        if isinstance(handler, ActionFailureWatch):
            processor.removeHandler(handler)


@pytest.fixture
async def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Setup]:
    monkeypatch.setattr(Sanic, "test_mode", True)
    received: list[UserMessage] = []

    class Agent:
        async def handle_message(self, message: UserMessage) -> None:
            received.append(message)
            await message.output_channel.send_response(message.sender_id, {"text": "hello"})

    async with FakeTelegram() as telegram:
        config = TelegramConfig(
            token=DEFAULT_TOKEN, mode="webhook", webhook_secret=SECRET, webhook_url=None,
            api_base_url=telegram.base_url, poll_timeout=1,
        )  # fmt: skip
        store = Store(f"sqlite:///{tmp_path / 'kopru.db'}")
        store.create_schema()
        channel = TelegramInput(config, store=store)
        app = Sanic(f"odd_telegram_{uuid.uuid4().hex}")
        app.ctx.agent = Agent()
        register([channel], app, route="/webhooks/")
        await app._startup()
        await channel.bot.initialize()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Setup(telegram, received, client)
        await channel.stop()


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "channels.telegram" and r.levelno == logging.WARNING
    ]


def without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    """`data` (a copy) without the key at `path`."""
    copy = json.loads(json.dumps(data))
    here = copy
    for key in path[:-1]:
        here = here[key]
    del here[path[-1]]
    return copy


def replaced(data: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    copy = without(data, *path)
    here = copy
    for key in path[:-1]:
        here = here[key]
    here[path[-1]] = value
    return copy


TEXT = text_update(1, 601, "where is my order?", language_code="en")
TAP = callback_update(2, 602, "/affirm", message_id=1, language_code="en")
CHANNEL_POST = {
    "update_id": 8,
    "channel_post": {
        "message_id": 3, "date": 1_700_000_000, "text": "duyuru",
        "chat": {"id": -1001234567890, "type": "channel", "title": "Köprü Duyurular"},
    },
}  # fmt: skip

# Each is sent with the right secret: 200, nothing sent, the bot not asked, a warning.
IGNORED: dict[str, dict[str, Any]] = {
    "message without chat": without(TEXT, "message", "chat"),
    "message without from": without(TEXT, "message", "from"),
    "message with chat null": replaced(TEXT, None, "message", "chat"),
    "chat id not an integer": replaced(TEXT, "601; drop", "message", "chat", "id"),
    "chat id an object": replaced(TEXT, {"id": 601}, "message", "chat", "id"),
    "chat id a boolean": replaced(TEXT, True, "message", "chat", "id"),
    "edited message without chat": {
        "update_id": 3,
        "edited_message": without(TEXT, "message", "chat")["message"],
    },
    "button tap without from": without(TAP, "callback_query", "from"),
    "button tap without message": without(TAP, "callback_query", "message"),
    "button tap whose message has no chat": without(TAP, "callback_query", "message", "chat"),
    "button tap whose chat id is text": replaced(
        TAP, "602x", "callback_query", "message", "chat", "id"
    ),
    "channel post": CHANNEL_POST,
    "unknown update type": {"update_id": 9, "something_new": {"id": 1}},
    "update_id alone": {"update_id": 10},
}


@pytest.mark.parametrize("update", IGNORED.values(), ids=IGNORED)
async def test_an_update_kopru_cannot_act_on_is_200_and_ignored(
    setup: Setup, update: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="channels.telegram")
    response = await setup.post(json.dumps(update).encode())
    assert response.status_code == 200, response.text
    assert setup.received == []
    assert setup.telegram.sent_messages() == []
    (warning,) = warnings_logged(caplog)
    assert f"update {update['update_id']} ignored" in warning


async def test_an_edited_message_is_ignored_quietly(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram sends these for every edit: 200 and nothing done, but no warning."""
    caplog.set_level(logging.INFO, logger="channels.telegram")
    edited = {"update_id": 11, "edited_message": TEXT["message"]}
    response = await setup.post(json.dumps(edited).encode())
    assert response.status_code == 200
    assert setup.received == []
    assert warnings_logged(caplog) == []
    assert any("ignored" in r.getMessage() for r in caplog.records)


NOT_UPDATES: dict[str, bytes] = {
    "not JSON": b"update_id=1&message=hi",
    "a JSON array": json.dumps([TEXT]).encode(),
    "update_id text": json.dumps(replaced(TEXT, "1", "update_id")).encode(),
    "update_id a float": json.dumps(replaced(TEXT, 1.5, "update_id")).encode(),
    "date past the year 9999": json.dumps(replaced(TEXT, 10**20, "message", "date")).encode(),
    "date of 400 digits": json.dumps(replaced(TEXT, 10**400, "message", "date")).encode(),
    "date text": json.dumps(replaced(TEXT, "yesterday", "message", "date")).encode(),
}


@pytest.mark.parametrize("body", NOT_UPDATES.values(), ids=NOT_UPDATES)
async def test_what_is_not_an_update_is_400_with_a_warning(
    setup: Setup, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="channels.telegram")
    response = await setup.post(body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    assert setup.received == []
    (warning,) = warnings_logged(caplog)
    assert "refused" in warning


async def test_a_good_update_after_odd_ones_is_answered(setup: Setup) -> None:
    for update in IGNORED.values():
        assert (await setup.post(json.dumps(update).encode())).status_code == 200
    assert (await setup.post(json.dumps(TEXT).encode())).status_code == 200
    assert [m.text for m in setup.received] == ["where is my order?"]
    assert [m["text"] for m in setup.telegram.sent_messages(601)] == ["hello"]

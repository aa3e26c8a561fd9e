"""TelegramInput (python-telegram-bot) against the fake Bot API, with a fake Rasa agent:
bad webhook bodies, over-long texts, the apology after a failed action, and refusing an
update (webhook 503, polling keeps its offset) while the conversation store is down."""

from __future__ import annotations

import html
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic
from telegram import Bot

from bot.errors import TrackerStoreUnavailable
from bot.phrases import action_failed_apology, message_too_long
from bot.storage.store import Store
from channels.inbound import BadRequest
from channels.processing import ActionFailureWatch
from channels.telegram import (
    UNSUPPORTED_PAYLOAD,
    TelegramConfig,
    TelegramInput,
    check_update,
)
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram, callback_update, text_update

SECRET = "integration-secret"
WEBHOOK = "/webhooks/telegram/webhook"
BOT_TEXT = "Your order 204518 is on its way."


@dataclass
class FakeAgent:
    received: list[UserMessage] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)  # raised one per message
    action_fails: bool = False

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        await message.output_channel.send_response(message.sender_id, {"text": BOT_TEXT})
        if self.action_fails:
            logging.getLogger("rasa.core.processor").error(
                "Encountered an exception while running action 'action_order_status'."
            )
        if self.errors:
            raise self.errors.pop(0)


@dataclass
class Setup:
    telegram: FakeTelegram
    channel: TelegramInput
    agent: FakeAgent
    client: httpx.AsyncClient

    async def post(self, body: bytes, content_type: str | None = "application/json",
                   secret: str = SECRET) -> httpx.Response:  # fmt: skip
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        if content_type:
            headers["Content-Type"] = content_type
        return await self.client.post(WEBHOOK, content=body, headers=headers)

    async def deliver(self, update: dict[str, Any]) -> httpx.Response:
        return await self.post(json.dumps(update).encode())

    def replies(self, chat_id: int) -> list[str]:
        return [html.unescape(m["text"]) for m in self.telegram.sent_messages(chat_id)]


@pytest.fixture(autouse=True)
def no_watch_left_behind() -> Iterator[None]:
    yield
    processor = logging.getLogger("rasa.core.processor")
    for handler in list(processor.handlers):
        if isinstance(handler, ActionFailureWatch):
            processor.removeHandler(handler)


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def make_channel(telegram: FakeTelegram, tmp_path: Path, mode: str = "webhook") -> TelegramInput:
    config = TelegramConfig(
        token=DEFAULT_TOKEN, mode=mode, webhook_secret=SECRET, webhook_url=None,
        api_base_url=telegram.base_url, poll_timeout=1,
    )  # fmt: skip
    store = Store(f"sqlite:///{tmp_path / 'kopru.db'}")
    store.create_schema()
    return TelegramInput(config, store=store)


@pytest.fixture
async def setup(
    telegram: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Setup]:
    monkeypatch.setattr(Sanic, "test_mode", True)
    agent = FakeAgent()
    channel = make_channel(telegram, tmp_path)
    app = Sanic(f"telegram_test_{uuid.uuid4().hex}")
    app.ctx.agent = agent
    register([channel], app, route="/webhooks/")
    await app._startup()
    await channel.bot.initialize()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Setup(telegram, channel, agent, client)
    await channel.stop()


# --- check_update ---------------------------------------------------------------------


def _message(**fields: Any) -> dict[str, Any]:
    return {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, **fields}


NOT_UPDATES = {
    "no update_id": {"message": _message(text="hi")},
    "string update_id": {"update_id": "1", "message": _message(text="hi")},
    "bool update_id": {"update_id": True, "message": _message(text="hi")},
    "message not an object": {"update_id": 1, "message": "hi"},
    "message without date": {"update_id": 1, "message": {"chat": {"id": 5}}},
    "chat not an object": {"update_id": 1, "message": _message(chat=[], text="hi")},
    "from not an object": {"update_id": 1, "message": _message(text="hi", **{"from": "x"})},
    "text not a string": {"update_id": 1, "message": _message(text=5)},
    "data not a string": {
        "update_id": 1,
        "callback_query": {"id": "1", "chat_instance": "c", "data": 5,
                           "from": {"id": 1, "is_bot": False, "first_name": "A"}},
    },
}  # fmt: skip


@pytest.mark.parametrize("data", NOT_UPDATES.values(), ids=NOT_UPDATES)
def test_what_is_not_an_update_is_400(data: dict[str, Any]) -> None:
    with pytest.raises(BadRequest) as refused:
        check_update(data, Bot(DEFAULT_TOKEN))
    assert refused.value.status == 400
    assert "Telegram update" in refused.value.message


def test_an_update_passes() -> None:
    update = check_update(text_update(3, 77, "merhaba"), Bot(DEFAULT_TOKEN))
    assert update.message is not None and update.message.text == "merhaba"


# --- the webhook ------------------------------------------------------------------------


async def test_a_message_is_answered(setup: Setup) -> None:
    response = await setup.deliver(text_update(1, 501, "where is my order?", language_code="en"))
    assert response.status_code == 200
    assert setup.replies(501) == [BOT_TEXT]
    assert setup.agent.received[0].text == "where is my order?"


BAD_BODIES: dict[str, tuple[bytes, str | None, int]] = {
    "malformed json": (b'{"update_id": 1, "message": ', "application/json", 400),
    "invalid utf-8": (b'{"update_id": 1, "x": "\xff"}', "application/json", 400),
    "json array": (b"[1, 2]", "application/json", 400),
    "empty": (b"", "application/json", 400),
    "text/plain": (json.dumps(text_update(2, 502, "hi")).encode(), "text/plain", 415),
    "no content type": (json.dumps(text_update(3, 502, "hi")).encode(), None, 415),
    "form": (b"update_id=4", "application/x-www-form-urlencoded", 415),
    "1 MB": (json.dumps(text_update(5, 502, "x" * 1024 * 1024)).encode(), "application/json",
             413),
    "not an update": (b'{"update_id": 6, "message": "hi"}', "application/json", 400),
}  # fmt: skip


@pytest.mark.parametrize(("body", "content_type", "status"), BAD_BODIES.values(), ids=BAD_BODIES)
async def test_bad_bodies_are_refused(
    setup: Setup, body: bytes, content_type: str | None, status: int
) -> None:
    response = await setup.post(body, content_type)
    assert response.status_code == status
    assert response.json()["error"]
    assert setup.agent.received == []
    assert setup.telegram.sent_messages() == []


async def test_the_secret_is_checked_before_the_body(setup: Setup) -> None:
    response = await setup.post(b"\xff" * 10, "text/plain", secret="wrong")
    assert response.status_code == 403


async def test_a_text_over_4096_characters_gets_a_polite_answer(setup: Setup) -> None:
    long = text_update(10, 510, "gdzie jest moja paczka? " * 180, language_code="pl")
    assert (await setup.deliver(long)).status_code == 200
    assert setup.replies(510) == [message_too_long("pl", 4096)]
    assert setup.agent.received == []
    assert (await setup.deliver(text_update(11, 510, "dziękuję", language_code="pl"))).is_success
    assert setup.replies(510)[-1] == BOT_TEXT


async def test_control_characters_are_stripped(setup: Setup) -> None:
    assert (await setup.deliver(text_update(12, 512, "where\x00 is\x07 it?"))).is_success
    assert setup.agent.received[0].text == "where is it?"
    assert (await setup.deliver(text_update(13, 512, "\x00\x01"))).is_success
    assert setup.agent.received[1].text == UNSUPPORTED_PAYLOAD


async def test_a_failed_action_gets_an_apology_after_the_answer(setup: Setup) -> None:
    setup.agent.action_fails = True
    update = text_update(20, 520, "kargom nerede? sipariş numaram 204518", language_code="tr")
    assert (await setup.deliver(update)).status_code == 200
    assert setup.replies(520) == [BOT_TEXT, action_failed_apology("tr")]


async def test_an_unavailable_store_is_503_and_nothing_is_sent(setup: Setup) -> None:
    setup.agent.errors.append(TrackerStoreUnavailable("database restarting"))
    update = text_update(30, 530, "where is my order?", language_code="en")
    response = await setup.deliver(update)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["retry_after"] == int(response.headers["retry-after"])
    # The bot's answer was held back: the update will be delivered again.
    assert setup.replies(530) == []
    # Telegram delivers it again: now it is processed, and answered once.
    assert (await setup.deliver(update)).status_code == 200
    assert setup.replies(530) == [BOT_TEXT]
    assert (await setup.deliver(update)).status_code == 200
    assert setup.replies(530) == [BOT_TEXT]
    assert len(setup.agent.received) == 2


async def test_a_button_tap_delivered_again_is_processed(setup: Setup) -> None:
    setup.agent.errors.append(TrackerStoreUnavailable("database restarting"))
    tap = callback_update(40, 540, "/affirm", message_id=1, language_code="en")
    assert (await setup.deliver(tap)).status_code == 503
    assert (await setup.deliver(tap)).status_code == 200
    assert setup.replies(540) == [BOT_TEXT]
    assert [m.text for m in setup.agent.received] == ["/affirm", "/affirm"]


# --- polling ----------------------------------------------------------------------------


async def test_polling_keeps_the_offset_while_the_store_is_down(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    agent = FakeAgent()
    error = TrackerStoreUnavailable("database restarting")
    error.retry_after = 1  # type: ignore[attr-defined]
    agent.errors.append(error)
    channel = make_channel(telegram, tmp_path, mode="polling")
    telegram.queue_update(text_update(60, 560, "first", language_code="en"))
    telegram.queue_update(text_update(61, 560, "second", language_code="en"))
    await channel.start(agent.handle_message)
    try:
        await telegram.wait_for_messages(2, timeout=15, chat_id=560)
    finally:
        await channel.stop()
    # "first" was refused once, then delivered again (and "second" only after it).
    assert [m.text for m in agent.received] == ["first", "first", "second"]
    assert [html.unescape(m["text"]) for m in telegram.sent_messages(560)] == [BOT_TEXT] * 2

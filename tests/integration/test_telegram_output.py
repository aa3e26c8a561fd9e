"""TelegramOutput (python-telegram-bot) against the fake Bot API: splitting, keyboards, photos."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from channels.telegram import TelegramOutput, _Limits
from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram

CHAT = "4242"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as telegram:
        yield telegram


@pytest.fixture
async def output(fake: FakeTelegram) -> AsyncIterator[TelegramOutput]:
    bot = Bot(DEFAULT_TOKEN, base_url=fake.base_url, base_file_url=fake.file_base_url)
    async with bot:
        yield TelegramOutput(bot, _Limits())


async def test_a_long_answer_is_split_at_paragraphs(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 40 for i in range(8)]
    await output.send_text_message(CHAT, "\n\n".join(paragraphs))
    sent = [html.unescape(m["text"]) for m in fake.sent_messages(int(CHAT))]
    assert len(sent) >= 2
    assert all(len(part) <= 4096 for part in sent)
    assert "\n\n".join(sent).split() == "\n\n".join(paragraphs).split()
    assert all(part.startswith("Paragraph") for part in sent)


async def test_markup_in_text_is_escaped(fake: FakeTelegram, output: TelegramOutput) -> None:
    text = 'Order <b>204518</b> & "friends" <a href="http://x">y</a>'
    await output.send_text_message(CHAT, text)
    (message,) = fake.sent_messages(int(CHAT))
    assert message["parse_mode"] == "HTML"
    assert html.unescape(message["text"]) == text


async def test_buttons_become_an_inline_keyboard(
    fake: FakeTelegram, output: TelegramOutput
) -> None:
    buttons = [
        {"title": "Yes", "payload": "/affirm"},
        {"title": "Netherlands", "payload": "Netherlands"},
        {"title": "Long", "payload": "/inform" + "x" * 80},
    ]
    await output.send_text_with_buttons(CHAT, "Did that help?", buttons)
    (message,) = fake.sent_messages(int(CHAT))
    rows = message["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in rows] == ["/affirm", "Netherlands", "Long"]


async def test_images_are_sent_as_photos(fake: FakeTelegram, output: TelegramOutput) -> None:
    await output.send_image_url(CHAT, "https://kopru.example/label.png")
    (photo,) = fake.sent_photos(int(CHAT))
    assert photo["photo"] == "https://kopru.example/label.png"


async def test_server_errors_are_retried(fake: FakeTelegram, output: TelegramOutput) -> None:
    fake.fail_next("sendMessage", status=502, times=1)
    await output.send_text_message(CHAT, "hello")
    attempts = fake.attempts("sendMessage")
    assert [a.ok for a in attempts] == [False, True]

"""Telegram end to end: the real bot (python-telegram-bot inside the Rasa server) against a
fake Bot API server on 127.0.0.1, webhook and polling, in three languages."""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.nlu.language import choose_language
from tests.e2e.conftest import KopruProcess
from tests.fakes.telegram_api import (
    FakeTelegramThread,
    callback_update,
    edited_message_update,
    group_text_update,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

SECRET = "s3cret-token_for-tests"
_update_ids = itertools.count(1000)
_chat_ids = itertools.count(7001)


def next_update_id() -> int:
    return next(_update_ids)


@pytest.fixture(scope="module")
def kopru(
    model: Path, tmp_path_factory: pytest.TempPathFactory, telegram: FakeTelegramThread
) -> Iterator[KopruProcess]:
    process = KopruProcess(model, tmp_path_factory.mktemp("telegram"))
    process.env = {
        "TELEGRAM_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_WEBHOOK_URL": f"{process.url}/webhooks/telegram/webhook",
    }
    process.start()
    yield process
    process.stop()


def replies(telegram: FakeTelegramThread, chat_id: int) -> list[str]:
    return [html.unescape(m["text"]) for m in telegram.sent_messages(chat_id)]


def wait_replies(
    telegram: FakeTelegramThread, chat_id: int, at_least: int, timeout: float = 30
) -> list[str]:
    telegram.wait_for_messages(at_least, timeout=timeout, chat_id=chat_id)
    return replies(telegram, chat_id)


def deliver(telegram: FakeTelegramThread, update: dict[str, Any]) -> int:
    """Post the update to Köprü's webhook; Köprü answers once it has processed it (what
    the bot said to it has been sent by then)."""
    return telegram.deliver_webhook(update, timeout=60)


WRONG_SECRET = "Telegram webhook request with a wrong or missing secret"


def already_processed(kopru: KopruProcess, update: dict[str, Any]) -> bool:
    """The log of the running `kopru run` says the update was a duplicate."""
    return f"Telegram update {update['update_id']} was already processed" in kopru.log_text()


def test_the_webhook_is_registered_with_the_secret(
    kopru: KopruProcess, telegram: FakeTelegramThread
) -> None:
    assert telegram.webhook["url"] == f"{kopru.url}/webhooks/telegram/webhook"
    assert telegram.webhook["secret_token"] == SECRET


CONVERSATIONS = {
    "tr": ("tr", [("/start", ["Merhaba Ayşe"]),
                  ("kargom nerede? sipariş numaram 204518", ["204518", "DHL"])]),
    "pl": ("pl", [("/start", ["Cześć Ayşe"]),
                  ("gdzie jest moja paczka? zamówienie 204518", ["204518", "DHL"])]),
    "en": ("en", [("/start", ["Hi Ayşe"]),
                  ("where is my parcel? order 204518", ["204518", "DHL"])]),
}  # fmt: skip


@pytest.mark.parametrize("language", ["tr", "pl", "en"])
def test_a_conversation_in_each_language(
    kopru: KopruProcess, telegram: FakeTelegramThread, language: str
) -> None:
    chat_id = next(_chat_ids)
    language_code, turns = CONVERSATIONS[language]
    seen = 0
    for text, expected in turns:
        update = text_update(next_update_id(), chat_id, text, language_code=language_code)
        assert deliver(telegram, update) == 200
        answers = wait_replies(telegram, chat_id, seen + 1)
        new = answers[seen:]
        seen = len(answers)
        joined = "\n".join(new)
        for fragment in expected:
            assert fragment in joined, joined
        for answer in new:
            assert choose_language(answer, current=None) == language, answer


def test_forged_and_missing_secrets_are_refused(
    kopru: KopruProcess, telegram: FakeTelegramThread
) -> None:
    chat_id = next(_chat_ids)
    url = f"{kopru.url}/webhooks/telegram/webhook"
    update = text_update(next_update_id(), chat_id, "hello")
    forged = [
        {},
        {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
        {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1]},
        {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"},
        {"X-Telegram-Bot-Api-Secret-Token": ""},
    ]
    for headers in forged:
        response = httpx.post(url, json=update, headers=headers, timeout=10)
        assert response.status_code == 403
    # Each 403 is answered before the update is read: nothing of it is left to happen.
    wait_until(lambda: kopru.log_text().count(WRONG_SECRET) >= len(forged), what=WRONG_SECRET)
    assert replies(telegram, chat_id) == []
    # The genuine delivery of the same update is processed: nothing was recorded for it.
    assert deliver(telegram, update) == 200
    assert wait_replies(telegram, chat_id, 1)


def test_bad_bodies_are_refused(kopru: KopruProcess) -> None:
    url = f"{kopru.url}/webhooks/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    assert httpx.post(url, content=b"{not json", headers=headers).status_code == 400
    assert httpx.post(url, json={"no": "update_id"}, headers=headers).status_code == 400


def test_a_duplicate_update_is_answered_once_even_across_a_restart(
    kopru: KopruProcess, telegram: FakeTelegramThread
) -> None:
    chat_id = next(_chat_ids)
    update = text_update(next_update_id(), chat_id, "merhaba", language_code="tr")
    assert deliver(telegram, update) == 200
    first = wait_replies(telegram, chat_id, 1)
    # The webhook answers once the update is processed; the duplicate is known as one.
    assert deliver(telegram, update) == 200
    wait_until(lambda: already_processed(kopru, update), what="the duplicate seen as one")
    assert replies(telegram, chat_id) == first

    kopru.stop()
    kopru.start()
    assert deliver(telegram, update) == 200
    wait_until(lambda: already_processed(kopru, update), what="the duplicate seen as one")
    assert replies(telegram, chat_id) == first
    # and the conversation goes on after the restart
    follow_up = text_update(next_update_id(), chat_id, "teşekkürler", language_code="tr")
    assert deliver(telegram, follow_up) == 200
    assert len(wait_replies(telegram, chat_id, len(first) + 1)) == len(first) + 1


def test_a_429_is_waited_out(kopru: KopruProcess, telegram: FakeTelegramThread) -> None:
    chat_id = next(_chat_ids)
    before = len(telegram.attempts("sendMessage"))
    telegram.fail_next("sendMessage", status=429, retry_after=1)
    assert deliver(telegram, text_update(next_update_id(), chat_id, "hello there")) == 200
    assert wait_replies(telegram, chat_id, 1)
    attempts = telegram.attempts("sendMessage")[before:]
    failed = [a for a in attempts if not a.ok]
    assert len(failed) == 1
    retried = next(a for a in attempts if a.ok and a.at > failed[0].at)
    assert retried.at - failed[0].at >= 1.0


def test_buttons_round_trip(kopru: KopruProcess, telegram: FakeTelegramThread) -> None:
    chat_id = next(_chat_ids)
    ask = text_update(next_update_id(), chat_id, "where is my order 204518?", language_code="en")
    assert deliver(telegram, ask) == 200
    telegram.wait_for_messages(2, timeout=30, chat_id=chat_id)
    question = telegram.sent_messages(chat_id)[-1]
    keyboard = question["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == ["/affirm", "/deny"]
    assert [row[0]["text"] for row in keyboard] == ["Yes", "No"]

    tap = callback_update(
        next_update_id(), chat_id, "/affirm", question["message_id"], language_code="en"
    )
    assert deliver(telegram, tap) == 200
    answers = wait_replies(telegram, chat_id, 4)
    assert "glad" in answers[2]
    # The survey follows, its 0-10 scores in two rows of the inline keyboard.
    assert "recommend us" in answers[3]
    scores = telegram.sent_messages(chat_id)[3]["reply_markup"]["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in scores] == [
        ["0", "1", "2", "3", "4", "5"],
        ["6", "7", "8", "9", "10"],
    ]
    assert telegram.answered_callbacks()[-1]["callback_query_id"] == tap["callback_query"]["id"]
    assert telegram.edited_markups()[-1]["message_id"] == question["message_id"]


def test_messages_the_bot_cannot_read(kopru: KopruProcess, telegram: FakeTelegramThread) -> None:
    chat_id = next(_chat_ids)
    hello = text_update(next_update_id(), chat_id, "dzień dobry", language_code="pl")
    assert deliver(telegram, hello) == 200
    greeting = wait_replies(telegram, chat_id, 1)
    for update in (
        sticker_update(next_update_id(), chat_id),
        photo_update(next_update_id(), chat_id),
        voice_update(next_update_id(), chat_id),
    ):
        assert deliver(telegram, update) == 200
    answers = wait_replies(telegram, chat_id, len(greeting) + 3)[len(greeting) :]
    assert answers == ["Przepraszam, czytam tylko wiadomości tekstowe. Napisz proszę swoje "
                       "pytanie w kilku słowach."] * 3  # fmt: skip

    edited = edited_message_update(
        next_update_id(), chat_id, "dzień dobry!!", hello["message"]["message_id"]
    )
    group = group_text_update(next_update_id(), -100_000 - chat_id, "hello bot")
    # The webhook answers once the update is processed: ignored, as the log says.
    assert deliver(telegram, edited) == 200
    assert deliver(telegram, group) == 200
    ignored = f"Telegram update {edited['update_id']} ignored (edited message)"
    wait_until(lambda: ignored in kopru.log_text(), what=ignored)
    wait_until(lambda: "Telegram message in a supergroup chat ignored" in kopru.log_text())
    assert len(replies(telegram, chat_id)) == len(greeting) + 3
    assert replies(telegram, -100_000 - chat_id) == []


def test_polling_mode_holds_the_same_conversation(
    model: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with FakeTelegramThread() as telegram:
        process = KopruProcess(model, tmp_path_factory.mktemp("polling"))
        process.env = {
            "TELEGRAM_TOKEN": telegram.token,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "TELEGRAM_MODE": "polling",
        }
        process.start()
        try:
            chat_id = next(_chat_ids)
            telegram.queue_update(text_update(next_update_id(), chat_id, "/start",
                                              language_code="tr"))  # fmt: skip
            assert "Merhaba Ayşe" in wait_replies(telegram, chat_id, 1)[0]
            telegram.queue_update(text_update(next_update_id(), chat_id, "kargom nerede? 204518",
                                              language_code="tr"))  # fmt: skip
            answers = wait_replies(telegram, chat_id, 3)
            assert "204518" in answers[1]
            assert answers[2] == "Sorununuz çözüldü mü?"
        finally:
            process.stop()

"""Bad input against one real `kopru run`: REST, the web chat API, the Telegram webhook
(fake Bot API) and the Slack events URL (fake Slack Web API).

Every case gets a clear 4xx with ``{"error": "..."}`` or a polite answer; nothing crashes
(no unhandled exception in the server's log), nothing is half-processed (the refused
message is not in the conversation), and the next normal message is answered normally.
"""

from __future__ import annotations

import html
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.phrases import message_too_long
from tests.e2e.conftest import KopruProcess, add_agents
from tests.fakes.slack_api import FakeSlackThread, json_body, signed_headers
from tests.fakes.telegram_api import FakeTelegramThread, text_update

pytestmark = pytest.mark.e2e

TOKEN = "e2e-" + uuid.uuid4().hex
TELEGRAM_SECRET = "bad-input-telegram-secret"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
AGENTS = "CAGENTS"
ONE_MB = 1024 * 1024
TOO_LONG = 4097

_senders = itertools.count(1)
_update_ids = itertools.count(90_000)
_chat_ids = itertools.count(660_001)


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlackThread]:
    with FakeSlackThread() as fake:
        yield add_agents(fake, AGENTS)


@pytest.fixture(scope="module")
def kopru(
    model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    telegram: FakeTelegramThread,
    slack: FakeSlackThread,
) -> Iterator[KopruProcess]:
    process = KopruProcess(model, tmp_path_factory.mktemp("bad-input"))
    process.env = {
        "KOPRU_API_TOKEN": TOKEN,
        "TELEGRAM_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_WEBHOOK_URL": f"{process.url}/webhooks/telegram/webhook",
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_AGENT_CHANNEL": AGENTS,
        "SLACK_API_BASE_URL": slack.base_url,
    }
    process.start()
    yield process
    # Nothing crashed: no request ended in an unhandled exception (Sanic's 500 page).
    log = process.log_text()
    process.stop()
    assert "Exception occurred while handling uri" not in log, log[-5000:]


def sender() -> str:
    return f"bad-input-{next(_senders)}-{uuid.uuid4().hex[:6]}"


def webhook(kopru: KopruProcess, channel: str) -> str:
    return f"{kopru.url}/webhooks/{channel}/webhook"


def post(
    kopru: KopruProcess, channel: str, body: bytes | Iterator[bytes], content_type: str | None
) -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return httpx.post(webhook(kopru, channel), content=body, headers=headers, timeout=30)


def user_texts(kopru: KopruProcess, sender_id: str) -> list[str]:
    """What the conversation store has of the customer's messages."""
    tracker = httpx.get(
        f"{kopru.url}/conversations/{sender_id}/tracker", params={"token": TOKEN}, timeout=10
    )
    assert tracker.status_code == 200, tracker.text
    return [e.get("text") for e in tracker.json().get("events", []) if e["event"] == "user"]


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages if m.get("text")]


def assert_refused(response: httpx.Response, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    error = response.json()["error"]
    assert isinstance(error, str) and error
    assert fragment.lower() in error.lower(), error


CHANNELS = ["rest", "webchat"]


# --- REST and the web chat API ----------------------------------------------------------


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_1_mb_body_is_413_from_us_not_from_sanic(kopru: KopruProcess, channel: str) -> None:
    who = sender()
    body = json.dumps({"sender": who, "message": "x" * ONE_MB}).encode()
    assert_refused(post(kopru, channel, body, "application/json"), 413, "too large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: found out while reading
        yield json.dumps({"sender": who, "message": ""})[:-2].encode()
        for _ in range(2 * 64):
            yield b"y" * (16 * 1024)
        yield b'"}'

    assert_refused(post(kopru, channel, chunks(), "application/json"), 413, "too large")
    assert user_texts(kopru, who) == []


BAD_BODIES: dict[str, tuple[bytes, str | None, int, str]] = {
    "invalid utf-8": (b'{"sender": "SENDER", "message": "caf\xe9 \xff"}', "application/json",
                      400, "UTF-8"),
    "malformed json": (b'{"sender": "SENDER", "message": "hi"', "application/json", 400, "JSON"),
    "json array": (b'["SENDER", "hi"]', "application/json", 400, "object"),
    "text/plain": (b'{"sender": "SENDER", "message": "hi"}', "text/plain", 415,
                   "application/json"),
    "form": (b"sender=SENDER&message=hi", "application/x-www-form-urlencoded", 415,
             "application/json"),
    "no content type": (b'{"sender": "SENDER", "message": "hi"}', None, 415, "application/json"),
    "missing sender": (b'{"message": "hi"}', "application/json", 400, "'sender'"),
    "empty sender": (b'{"sender": "", "message": "hi"}', "application/json", 400, "'sender'"),
    "numeric sender": (b'{"sender": 42, "message": "hi"}', "application/json", 400, "'sender'"),
    "missing message": (b'{"sender": "SENDER"}', "application/json", 400, "'message'"),
    "empty message": (b'{"sender": "SENDER", "message": ""}', "application/json", 400,
                      "'message'"),
    "non-string message": (b'{"sender": "SENDER", "message": ["hi"]}', "application/json", 400,
                           "'message'"),
    "only control characters": (b'{"sender": "SENDER", "message": "\\u0000\\u0007"}',
                                "application/json", 400, "'message'"),
}  # fmt: skip


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("body", "content_type", "status", "fragment"), BAD_BODIES.values(), ids=BAD_BODIES
)
def test_bad_requests_get_a_clear_4xx_and_are_not_processed(
    kopru: KopruProcess, channel: str, body: bytes, content_type: str | None, status: int,
    fragment: str,
) -> None:  # fmt: skip
    who = sender()
    response = post(kopru, channel, body.replace(b"SENDER", who.encode()), content_type)
    assert_refused(response, status, fragment)
    assert user_texts(kopru, who) == []


LONG_MESSAGES = {
    "en": "Hello, I have a question about my order and the delivery. ",
    "tr": "Merhaba, siparişim ve teslimat hakkında bir sorum var. ",
    "pl": "Dzień dobry, mam pytanie o moje zamówienie i dostawę. ",
}
NEXT_MESSAGES = {
    "en": ("where is my order 204518?", "204518"),
    "tr": ("204518 numaralı siparişim nerede?", "204518"),
    "pl": ("gdzie jest moje zamówienie 204518?", "204518"),
}


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("language", ["en", "tr", "pl"])
def test_a_message_of_4097_characters_gets_a_polite_answer_then_the_chat_goes_on(
    kopru: KopruProcess, channel: str, language: str
) -> None:
    who = sender()
    text = (LONG_MESSAGES[language] * 100)[:TOO_LONG]
    assert len(text) == TOO_LONG
    answer = kopru.say(who, text, channel=channel)
    assert texts(answer) == [message_too_long(language, 4096)]
    assert user_texts(kopru, who) == []  # not given to the NLU

    question, fragment = NEXT_MESSAGES[language]
    answer = texts(kopru.say(who, question, channel=channel))
    assert fragment in "\n".join(answer), answer
    assert user_texts(kopru, who) == [question]


@pytest.mark.parametrize("channel", CHANNELS)
def test_nul_bytes_and_control_characters_are_stripped(kopru: KopruProcess, channel: str) -> None:
    who = sender()
    answer = texts(kopru.say(who, "where is my order\u0000 204518?\u0007\u001b", channel=channel))
    assert "204518" in "\n".join(answer), answer
    assert user_texts(kopru, who) == ["where is my order 204518?"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_channel_still_answers_after_all_that(kopru: KopruProcess, channel: str) -> None:
    answer = texts(kopru.say(sender(), "hello", channel=channel))
    assert answer and "Köprü" in "\n".join(answer)


# --- the Telegram webhook ---------------------------------------------------------------


def telegram_post(kopru: KopruProcess, body: bytes, content_type: str | None) -> httpx.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    if content_type:
        headers["Content-Type"] = content_type
    return httpx.post(webhook(kopru, "telegram"), content=body, headers=headers, timeout=30)


def replies(telegram: FakeTelegramThread, chat_id: int) -> list[str]:
    return [html.unescape(m["text"]) for m in telegram.sent_messages(chat_id)]


def update_body(text: str, chat_id: int, language_code: str = "en") -> bytes:
    update = text_update(next(_update_ids), chat_id, text, language_code=language_code)
    return json.dumps(update).encode()


def test_telegram_bad_bodies(kopru: KopruProcess, telegram: FakeTelegramThread) -> None:
    chat_id = next(_chat_ids)
    cases: list[tuple[bytes, str | None, int]] = [
        (update_body("x" * ONE_MB, chat_id), "application/json", 413),
        (update_body("hello", chat_id).replace(b"hello", b"caf\xe9"), "application/json", 400),
        (update_body("hello", chat_id)[:-5], "application/json", 400),
        (update_body("hello", chat_id), "text/plain", 415),
        (update_body("hello", chat_id), None, 415),
        (b'{"update_id": 5, "message": "hello"}', "application/json", 400),
        (b'{"update_id": 6, "message": {"date": 0, "text": "hello"}}', "application/json", 400),
        (b'{"no": "update_id"}', "application/json", 400),
        (b"[]", "application/json", 400),
    ]
    for body, content_type, status in cases:
        assert_refused(telegram_post(kopru, body, content_type), status)
    assert user_texts(kopru, str(chat_id)) == []
    assert replies(telegram, chat_id) == []


@pytest.mark.parametrize(
    ("language", "code"), [("en", "en"), ("tr", "tr"), ("pl", "pl")]
)  # fmt: skip
def test_telegram_text_of_4097_characters_gets_a_polite_answer(
    kopru: KopruProcess, telegram: FakeTelegramThread, language: str, code: str
) -> None:
    chat_id = next(_chat_ids)
    text = (LONG_MESSAGES[language] * 100)[:TOO_LONG]
    response = telegram_post(kopru, update_body(text, chat_id, code), "application/json")
    assert response.status_code == 200, response.text
    telegram.wait_for_messages(1, timeout=30, chat_id=chat_id)
    assert replies(telegram, chat_id) == [message_too_long(language, 4096)]
    assert user_texts(kopru, str(chat_id)) == []

    question, fragment = NEXT_MESSAGES[language]
    response = telegram_post(kopru, update_body(question, chat_id, code), "application/json")
    assert response.status_code == 200, response.text
    telegram.wait_for_messages(2, timeout=30, chat_id=chat_id)
    assert fragment in "\n".join(replies(telegram, chat_id)[1:])
    assert user_texts(kopru, str(chat_id)) == [question]


def test_telegram_control_characters_are_stripped(
    kopru: KopruProcess, telegram: FakeTelegramThread
) -> None:
    chat_id = next(_chat_ids)
    body = update_body("where is my order\u0000 204518?\u0007", chat_id)
    assert telegram_post(kopru, body, "application/json").status_code == 200
    telegram.wait_for_messages(1, timeout=30, chat_id=chat_id)
    assert user_texts(kopru, str(chat_id)) == ["where is my order 204518?"]


# --- the Slack events URL ---------------------------------------------------------------


def slack_post(kopru: KopruProcess, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{kopru.url}/webhooks/slack/events", content=body, headers=headers, timeout=30
    )


def signed(body: str, content_type: str | None = None) -> dict[str, str]:
    return signed_headers(SLACK_SECRET, body, content_type=content_type)


def test_slack_malformed_bodies_get_a_clear_4xx(kopru: KopruProcess) -> None:
    big = json_body({"type": "event_callback", "blob": "x" * ONE_MB})
    cases: list[tuple[bytes, dict[str, str], int]] = [
        (big.encode(), signed(big), 413),
        (big.encode(), {"Content-Type": "application/json"}, 413),
        (b'{"type": "caf\xe9"}', {"Content-Type": "application/json"}, 400),
        (b"{not json", signed("{not json", "application/json"), 400),
        (b"[1, 2]", signed("[1, 2]", "application/json"), 400),
        (b'"hello"', signed('"hello"', "application/json"), 400),
        (b"payload=%7Bbroken", signed("payload=%7Bbroken"), 400),
        (b"payload=%5B1%5D", signed("payload=%5B1%5D"), 400),
        (b"{}", signed("{}", "text/plain"), 415),
        (b"{}", {}, 415),
    ]
    for body, headers, status in cases:
        assert_refused(slack_post(kopru, body, headers), status)


def test_slack_still_verifies_and_answers_well_formed_requests(kopru: KopruProcess) -> None:
    challenge = json_body({"type": "url_verification", "challenge": "c-123", "token": "t"})
    answer = slack_post(kopru, challenge.encode(), signed(challenge))
    assert answer.status_code == 200
    assert "c-123" in answer.text
    forged = signed_headers("not-the-secret", challenge)
    assert slack_post(kopru, challenge.encode(), forged).status_code == 401


# --- the web chat page ------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


def test_the_web_chat_page_retries_a_message_the_server_refused(kopru: KopruProcess) -> None:
    """A 503 (conversation store unavailable) is retried with growing pauses, the text
    staying in its bubble, with a notice in the customer's language."""
    from playwright.sync_api import Route, expect, sync_playwright

    assert CHROMIUM.exists(), "scripts/test.sh installs Debian's chromium"
    attempts: list[float] = []

    def refuse_twice(route: Route) -> None:
        attempts.append(time.monotonic())
        if len(attempts) > 2:
            route.continue_()
            return
        body = {"error": "The conversation store is unavailable.", "retry_after": 1,
                "language": "tr"}  # fmt: skip
        route.fulfill(
            status=503, headers={"Retry-After": "1"}, content_type="application/json",
            body=json.dumps(body),
        )  # fmt: skip

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"],
        )  # fmt: skip
        try:
            page = browser.new_page()
            page.route("**/webhooks/webchat/webhook", refuse_twice)
            page.goto(f"{kopru.url}/webhooks/webchat/")
            question = "204518 numaralı siparişim nerede?"
            page.fill("#chat-input", question)
            page.press("#chat-input", "Enter")
            notice = page.locator("#chat-error")
            expect(notice).to_contain_text("yeniden deneniyor", timeout=10_000)
            expect(page.locator(".msg--user.msg--retrying")).to_contain_text(question)
            answer = page.locator(".msg--bot", has_text="DHL")
            expect(answer).to_have_count(1, timeout=30_000)
            expect(answer).to_contain_text("204518")
            expect(notice).to_be_hidden()
            expect(page.locator(".msg--user")).to_have_count(1)
            expect(page.locator(".msg--retrying")).to_have_count(0)
            assert page.input_value("#chat-input") == ""
        finally:
            browser.close()
    assert len(attempts) == 3
    # At least what the server asked, and longer each time (2 s, then 4 s).
    assert attempts[1] - attempts[0] >= 1.9
    assert attempts[2] - attempts[1] >= 3.9

"""The action server is down: `kopru run --action-url` pointing where nothing listens.

Customers on REST, the web chat and Telegram (fake Bot API) get a polite apology in
their language instead of silence, the Rasa server keeps running, and once an action
server is started at that address the same conversations go on with normal answers.
"""

from __future__ import annotations

import html
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.authoring.training import child_env
from bot.nlu.language import choose_language
from bot.phrases import action_failed_apology
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import KopruProcess, free_port
from tests.fakes.telegram_api import FakeTelegramThread, text_update

pytestmark = pytest.mark.e2e

TOKEN = "e2e-" + uuid.uuid4().hex
ACTION_SECRET = "e2e-action-secret-" + uuid.uuid4().hex
TELEGRAM_SECRET = "e2e-telegram-secret"
RUN = uuid.uuid4().hex[:8]

# Each needs the order-status form and action, both served by the action server.
QUESTIONS = {
    "en": "where is my parcel? order 204518",
    "tr": "204518 numaralı siparişim nerede?",
    "pl": "gdzie jest moja paczka? zamówienie 204518",
}
SENDERS = {language: f"down-{language}-{RUN}" for language in QUESTIONS}
WEB_SENDER = f"down-web-{RUN}"
TELEGRAM_CHAT = 880_001


@pytest.fixture(scope="module")
def action_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def kopru(
    model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    action_port: int,
    telegram: FakeTelegramThread,
) -> Iterator[KopruProcess]:
    process = KopruProcess(model, tmp_path_factory.mktemp("action-down"))
    process.env = {
        "KOPRU_API_TOKEN": TOKEN,
        "KOPRU_ACTION_SECRET": ACTION_SECRET,
        "TELEGRAM_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_WEBHOOK_URL": f"{process.url}/webhooks/telegram/webhook",
    }
    # No action server is started: it is "elsewhere", where nothing listens yet.
    process.args = ["--action-url", f"http://127.0.0.1:{action_port}/webhook"]
    process.start()
    yield process
    process.stop()


class ActionServer:
    """`kopru actions` started by hand, with the environment `kopru run` gives its own."""

    def __init__(self, kopru: KopruProcess, port: int) -> None:
        self.kopru = kopru
        self.port = port
        self.log = kopru.tmp / "actions.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> None:
        env = child_env({
            "KOPRU_DATABASE_URL": self.kopru.database_url,
            "KOPRU_ACTION_SECRET": ACTION_SECRET,
            "KOPRU_ORDERS_URL": f"http://127.0.0.1:{self.kopru.backend_port}",
            "SANIC_KEEP_ALIVE_TIMEOUT": "75",
            **{k: v for k, v in self.kopru.env.items() if k.startswith("TELEGRAM_")},
        })  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "actions", "--port", str(self.port)],
                cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail("the action server exited:\n" + self.log.read_text()[-3000:])
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail("the action server did not start:\n" + self.log.read_text()[-3000:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages if m.get("text")]


def telegram_replies(telegram: FakeTelegramThread) -> list[str]:
    return [html.unescape(m["text"]) for m in telegram.sent_messages(TELEGRAM_CHAT)]


def deliver(telegram: FakeTelegramThread, text: str, update_id: int) -> None:
    """Köprü answers the webhook once it has processed the update and sent its replies."""
    update = text_update(update_id, TELEGRAM_CHAT, text, language_code="tr")
    assert telegram.deliver_webhook(update, timeout=60) == 200


@pytest.mark.parametrize("language", ["en", "tr", "pl"])
def test_the_customer_gets_an_apology_in_their_language(kopru: KopruProcess, language: str) -> None:
    answer = texts(kopru.say(SENDERS[language], QUESTIONS[language]))
    assert answer, "no answer at all"
    assert answer[-1] == action_failed_apology(language)
    assert answer.count(action_failed_apology(language)) == 1
    for text in answer:
        assert choose_language(text, current=None) == language, text


def test_the_web_chat_customer_gets_the_apology_too(kopru: KopruProcess) -> None:
    answer = texts(kopru.say(WEB_SENDER, QUESTIONS["pl"], channel="webchat"))
    assert answer[-1] == action_failed_apology("pl")


def test_the_telegram_customer_gets_the_apology_too(
    kopru: KopruProcess, telegram: FakeTelegramThread
) -> None:
    # The webhook answers once the update is processed: what the bot said is sent by then.
    deliver(telegram, QUESTIONS["tr"], 70_001)
    telegram.wait_for_messages(1, timeout=30, chat_id=TELEGRAM_CHAT)
    replies = telegram_replies(telegram)
    assert replies[-1] == action_failed_apology("tr")


def test_the_server_keeps_running(kopru: KopruProcess) -> None:
    assert kopru.process is not None and kopru.process.poll() is None
    assert httpx.get(f"{kopru.url}/webhooks/rest/", timeout=10).status_code == 200
    status = httpx.get(f"{kopru.url}/status", params={"token": TOKEN}, timeout=10)
    assert status.status_code == 200
    assert status.json()["model_file"]
    # The failure is in the log for the operators; the customer saw only the apology.
    assert "Encountered an exception while running action" in kopru.log_text()


def test_conversations_continue_once_the_action_server_is_back(
    kopru: KopruProcess, action_port: int, telegram: FakeTelegramThread
) -> None:
    server = ActionServer(kopru, action_port)
    server.start()
    try:
        expected = {"en": "on its way", "tr": "yola çıktı", "pl": "w drodze"}
        for language, question in QUESTIONS.items():
            answer = texts(kopru.say(SENDERS[language], question))
            joined = "\n".join(answer)
            assert "204518" in joined and "DHL" in joined, joined
            assert expected[language] in joined, joined
            assert action_failed_apology(language) not in answer
            for text in answer:
                assert choose_language(text, current=None) == language, text

        web = texts(kopru.say(WEB_SENDER, "204518", channel="webchat"))
        assert "DHL" in "\n".join(web), web

        before = len(telegram_replies(telegram))
        deliver(telegram, "kargom nerede? sipariş numaram 204518", 70_002)
        telegram.wait_for_messages(before + 1, timeout=30, chat_id=TELEGRAM_CHAT)
        new = telegram_replies(telegram)[before:]
        assert any("204518" in text and "DHL" in text for text in new), new
        assert action_failed_apology("tr") not in new
    finally:
        server.stop()

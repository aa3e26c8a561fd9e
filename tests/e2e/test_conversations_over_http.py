"""End to end: `kopru run` starts the real servers; customers talk over HTTP in three languages."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.nlu.language import choose_language
from tests.e2e.conftest import KopruProcess

pytestmark = pytest.mark.e2e

TOKEN = "e2e-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def bot(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KopruProcess]:
    kopru = KopruProcess(model, tmp_path_factory.mktemp("e2e"), env={"KOPRU_API_TOKEN": TOKEN})
    yield kopru.start()
    kopru.stop()


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages if m.get("text")]


def assert_language(messages: list[dict[str, Any]], language: str) -> None:
    for text in texts(messages):
        assert choose_language(text, current=None) == language, text


CONVERSATIONS = {
    "en": [
        ("good morning!", ["Köprü"]),
        ("where is my parcel? order 204518", ["204518", "DHL", "JD014600006281234567"]),
        ("yes, thank you", ["glad"]),
        ("how much does shipping to Poland cost?", ["Poland", "3.90 EUR"]),
    ],
    "tr": [
        ("merhabalar", ["Köprü"]),
        ("204518 numaralı siparişim nerede?", ["204518", "DHL"]),
        ("evet, teşekkürler", ["sevindim"]),
        ("Almanya'ya kargo ne kadar tutuyor?", ["Almanya", "6,90 EUR"]),
    ],
    "pl": [
        ("dzień dobry", ["Köprü"]),
        ("gdzie jest moja paczka? zamówienie 204518", ["204518", "DHL"]),
        ("tak, dzięki", ["cieszę"]),
        ("ile kosztuje wysyłka do Turcji?", ["Turcja", "4,90 EUR"]),
    ],
}


@pytest.mark.parametrize("language", ["en", "tr", "pl"])
def test_a_conversation_in_each_language(bot: KopruProcess, language: str) -> None:
    sender = f"e2e-{language}-{uuid.uuid4().hex[:8]}"
    for text, expected in CONVERSATIONS[language]:
        messages = bot.say(sender, text)
        assert messages, text
        assert_language(messages, language)
        joined = "\n".join(texts(messages))
        for fragment in expected:
            assert fragment in joined, (text, joined)


def test_the_web_chat_channel_and_page(bot: KopruProcess) -> None:
    page = httpx.get(f"{bot.url}/webhooks/webchat/", timeout=10)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "http" not in page.text.split("<body", 1)[0].replace("http-equiv", "")
    messages = bot.say("web-1", "kargom nerede?", channel="webchat")
    assert_language(messages, "tr")
    answer = bot.say("web-1", "1234", channel="webchat")
    assert "204518" in "\n".join(texts(answer))  # the re-ask shows an example number


def test_switching_language_mid_conversation(bot: KopruProcess) -> None:
    sender = "switch-" + uuid.uuid4().hex[:8]
    assert_language(bot.say(sender, "hello, I have a question"), "en")
    assert_language(bot.say(sender, "kargo ücreti ne kadar?"), "tr")
    assert_language(bot.say(sender, "Polska"), "pl")
    assert_language(bot.say(sender, "ok"), "pl")  # too short to switch


def test_another_language_gets_english(bot: KopruProcess) -> None:
    messages = bot.say("de-1", "Guten Tag, wo ist meine Bestellung? Ich warte schon lange.")
    assert_language(messages, "en")


def test_buttons_come_with_their_payloads(bot: KopruProcess) -> None:
    messages = bot.say("buttons-1", "what are your opening hours?")
    buttons = [b for m in messages for b in m.get("buttons", [])]
    assert [b["payload"] for b in buttons] == ["/affirm", "/deny"]
    solved = bot.say("buttons-1", "/affirm")
    assert "glad" in "\n".join(texts(solved))


def test_without_an_agent_desk_an_escalation_opens_a_ticket(bot: KopruProcess) -> None:
    from bot.desk.handoff import HandoffRepository, State
    from bot.storage.store import Outcome, Store

    sender = "human-" + uuid.uuid4().hex[:8]
    bot.say(sender, "where is my order 331907?")
    messages = bot.say(sender, "I want to talk to a real person")
    joined = "\n".join(texts(messages))
    store = Store(bot.database_url)
    (escalation,) = HandoffRepository(store).of_sender(sender)
    assert escalation.state is State.TICKET
    assert escalation.ended_by == "no_agent_desk"
    assert escalation.ticket_reference and escalation.ticket_reference in joined
    assert "expect an answer" in joined
    assert escalation.reason == "customer_request"
    assert escalation.context["slots"]["order_number"] == "331907"
    (conversation,) = store.conversations_of(sender)
    assert conversation.outcome == Outcome.ESCALATED
    assert conversation.intents == ["order_status", "request_human"]
    assert conversation.channel == "rest"


def test_the_http_api_needs_the_token(bot: KopruProcess) -> None:
    assert httpx.get(f"{bot.url}/status", timeout=10).status_code == 401
    ok = httpx.get(f"{bot.url}/status", params={"token": TOKEN}, timeout=10)
    assert ok.status_code == 200
    assert ok.json()["model_file"]


def test_an_unknown_order_is_named_back(bot: KopruProcess) -> None:
    # The backend answers 404: the customer hears which number was not found (the
    # backend-down answer is covered against a closed port in the action tests).
    sender = "nf-" + uuid.uuid4().hex[:8]
    messages = bot.say(sender, "where is my order 999999?")
    joined = "\n".join(texts(messages))
    assert "999999" in joined
    assert "couldn't find" in joined


if os.environ.get("KOPRU_SKIP_E2E"):
    pytest.skip("KOPRU_SKIP_E2E is set", allow_module_level=True)


def test_the_dashboard_started_by_kopru_run_counts_the_conversations(bot: KopruProcess) -> None:
    import datetime as dt
    import re

    from bot.insights.analytics import Period
    from bot.insights.report import report_from_store
    from bot.storage.store import Store

    bot.say("dashboard-" + uuid.uuid4().hex[:8], "hello")  # at least one conversation today
    web = f"http://127.0.0.1:{bot.web_port}"
    with httpx.Client(base_url=web, timeout=30) as client:
        assert client.get("/dashboard").status_code == 303  # signed out: to the login form
        form = client.get("/login?next=/dashboard")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        # No account: the username empty and the HTTP API token as the password.
        signed_in = client.post(
            "/login",
            data={"username": "", "password": TOKEN, "csrf": csrf.group(1), "next": "/dashboard"},
        )
        assert signed_in.status_code == 303
        today = dt.datetime.now(dt.timezone.utc).date()
        page = client.get(f"/dashboard?from={today}&to={today}")
        assert page.status_code == 200, page.text[:500]
    expected = report_from_store(Store(bot.database_url), Period.of_dates(today, today))
    assert expected.overall.conversations > 0
    shown = re.search(r'id="tile-conversations">(\d+)<', page.text)
    assert shown is not None and int(shown.group(1)) == expected.overall.conversations

"""The Slack agent desk end to end: `kopru run` with the real slack-bolt and slack_sdk
against a fake Slack Web API on 127.0.0.1, customers on Telegram (fake Bot API), web chat
and REST, signed Slack requests made with slack_sdk's own signature code."""

from __future__ import annotations

import html
import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from bot.desk.handoff import Handoff, HandoffRepository, State
from bot.nlu.language import choose_language
from bot.settings import PROJECT_ROOT
from bot.storage.store import Store
from bot.storage.tables import handoffs
from channels.slack_card import ActionId
from tests.e2e.conftest import KopruProcess, add_agents
from tests.fakes.slack_api import (
    FakeSlackThread,
    event_callback,
    json_body,
    message_event,
    signed_headers,
)
from tests.fakes.telegram_api import FakeTelegramThread, text_update

pytestmark = pytest.mark.e2e

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
AGENTS = "CAGENTS"
TOKEN = "e2e-" + uuid.uuid4().hex
_update_ids = itertools.count(50_000)
_chat_ids = itertools.count(90_001)
_ts = itertools.count(1)

ALL_WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def desk_config(tmp: Path, agent_desk: dict[str, Any]) -> Path:
    raw = yaml.safe_load((PROJECT_ROOT / "kopru.yml").read_text(encoding="utf-8"))
    raw["agent_desk"] = agent_desk
    path = tmp / "kopru.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlackThread]:
    with FakeSlackThread() as fake:
        add_agents(fake, AGENTS)
        fake.add_channel("CRANDOM", ["UAYSE", "UOUTSIDER"], name="random")
        fake.add_user("UOUTSIDER", "Olaf", "Outsider")
        yield fake


def _env(slack: FakeSlackThread, config: Path) -> dict[str, str]:
    return {
        "KOPRU_API_TOKEN": TOKEN,
        "KOPRU_CONFIG": str(config),
        "KOPRU_QUEUE_SWEEP_SECONDS": "1",
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_AGENT_CHANNEL": AGENTS,
        "SLACK_API_BASE_URL": slack.base_url,
    }


@pytest.fixture(scope="module")
def kopru(
    model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    slack: FakeSlackThread,
    telegram: FakeTelegramThread,
) -> Iterator[KopruProcess]:
    tmp = tmp_path_factory.mktemp("slack")
    config = desk_config(
        tmp, {"timezone": "UTC", "days": ALL_WEEK, "hours": "00:00-24:00",
              "queue_timeout_minutes": 10}
    )  # fmt: skip
    process = KopruProcess(model, tmp)
    process.env = {
        **_env(slack, config),
        "TELEGRAM_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "TELEGRAM_WEBHOOK_SECRET": "telegram-secret",
        "TELEGRAM_WEBHOOK_URL": f"{process.url}/webhooks/telegram/webhook",
    }
    process.start()
    yield process
    process.stop()


# --- helpers ---------------------------------------------------------------------------


class Customer:
    """A Telegram customer talking to the bot through the fake Bot API."""

    def __init__(self, telegram: FakeTelegramThread, language: str, name: str = "Ayşe"):
        self.telegram = telegram
        self.chat_id = next(_chat_ids)
        self.language = language
        self.name = name
        self.seen = 0

    @property
    def sender(self) -> str:
        return str(self.chat_id)

    def say(self, text: str) -> None:
        update = text_update(
            next(_update_ids), self.chat_id, text, first_name=self.name,
            language_code=self.language,
        )  # fmt: skip
        assert self.telegram.deliver_webhook(update, timeout=60) == 200

    def replies(self) -> list[str]:
        return [html.unescape(m["text"]) for m in self.telegram.sent_messages(self.chat_id)]

    def wait_new(self, count: int = 1, timeout: float = 30) -> list[str]:
        self.telegram.wait_for_messages(self.seen + count, timeout=timeout, chat_id=self.chat_id)
        replies = self.replies()
        new = replies[self.seen :]
        self.seen = len(replies)
        return new

    def quiet_for(self, seconds: float) -> None:
        time.sleep(seconds)
        assert self.replies()[self.seen :] == [], "the bot spoke while an agent had the chat"


def repo(kopru: KopruProcess) -> HandoffRepository:
    return HandoffRepository(Store(kopru.database_url))


def wait_handoff(
    kopru: KopruProcess, sender: str, state: State | None = None, timeout: float = 30
) -> Handoff:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = repo(kopru).of_sender(sender)
        # A queued handoff counts once its card is in Slack.
        if (
            found
            and (state is None or found[-1].state is state)
            and (state is not State.QUEUED or found[-1].card_ts)
        ):
            return found[-1]
        time.sleep(0.2)
    raise AssertionError(f"no {state} handoff for {sender}: {repo(kopru).of_sender(sender)}")


def events_url(kopru: KopruProcess) -> str:
    return f"{kopru.url}/webhooks/slack/events"


def press(
    kopru: KopruProcess, slack: FakeSlackThread, handoff: Handoff, user: str, action: str
) -> int:
    assert handoff.card_channel and handoff.card_ts
    body = slack.block_actions(user, handoff.card_channel, handoff.card_ts, action)
    return slack.send_signed(events_url(kopru), body, SIGNING_SECRET).status


def agent_says(
    kopru: KopruProcess,
    handoff: Handoff,
    user: str,
    text: str,
    *,
    event_id: str | None = None,
    retry: int | None = None,
) -> httpx.Response:
    assert handoff.card_ts
    ts = f"{int(time.time())}.{next(_ts):06d}"
    event = message_event(AGENTS, user, text, ts=ts, thread_ts=handoff.card_ts)
    body = json_body(event_callback(event, event_id=event_id))
    headers = signed_headers(SIGNING_SECRET, body, content_type="application/json")
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return httpx.post(events_url(kopru), content=body, headers=headers, timeout=10)


def thread_texts(slack: FakeSlackThread, handoff: Handoff) -> list[str]:
    assert handoff.card_channel and handoff.card_ts
    return [str(m.get("text")) for m in slack.thread(handoff.card_channel, handoff.card_ts)]


def card_text(slack: FakeSlackThread, handoff: Handoff) -> str:
    assert handoff.card_channel and handoff.card_ts
    message = slack.message(handoff.card_channel, handoff.card_ts)
    assert message is not None
    return json.dumps(message, ensure_ascii=False)


def buttons(slack: FakeSlackThread, handoff: Handoff) -> list[str]:
    assert handoff.card_channel and handoff.card_ts
    message = slack.message(handoff.card_channel, handoff.card_ts) or {}
    return [
        element["action_id"]
        for block in message.get("blocks", [])
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


def responses_to(slack: FakeSlackThread, user: str) -> list[dict[str, Any]]:
    """Messages only `user` saw (answers to their button presses and replies)."""
    return [e for e in slack.ephemerals() if e.get("user") == user]


def escalate(customer: Customer, kopru: KopruProcess, text: str) -> tuple[Handoff, str]:
    customer.say(text)
    told = "\n".join(customer.wait_new())
    return wait_handoff(kopru, customer.sender, State.QUEUED), told


# --- the whole handoff, in each language -----------------------------------------------

ROUND_TRIP = {
    "en": ("I want to talk to a real person", "number 1 in the queue", "joined",
           "Thank you for contacting us", "my parcel 204518 has not arrived",
           "thank you, I will wait here"),
    "tr": ("bir müşteri temsilcisiyle görüşmek istiyorum", "Sıradaki yeriniz: 1", "katıldı",
           "teşekkür ederiz", "204518 numaralı kargom hâlâ gelmedi",
           "teşekkürler, burada bekliyorum"),
    "pl": ("chcę rozmawiać z konsultantem", "Miejsce w kolejce: 1", "dołącza do rozmowy",
           "Dziękujemy za kontakt", "moja paczka 204518 jeszcze nie dotarła",
           "dziękuję, poczekam tutaj na odpowiedź"),
}  # fmt: skip


@pytest.mark.parametrize("language", ["tr", "pl", "en"])
def test_escalate_claim_talk_resolve_and_the_bot_takes_over(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread, language: str
) -> None:
    ask, queued, joined, resolved, problem, wait = ROUND_TRIP[language]
    customer = Customer(telegram, language)
    customer.say("/start")
    customer.wait_new()

    handoff, told = escalate(customer, kopru, ask)
    assert handoff.reference in told and queued in told, told
    assert choose_language(told, current=None) == language
    assert buttons(slack, handoff) == [ActionId.CLAIM]
    card = card_text(slack, handoff)
    assert "Ayşe" in card and "Telegram" in card and handoff.reference in card

    # While queued, the customer's words go to the thread and the bot says nothing.
    customer.say(problem)
    slack.wait_for(lambda: any(problem in t for t in thread_texts(slack, handoff)))
    customer.quiet_for(1.0)

    assert press(kopru, slack, handoff, "UAYSE", ActionId.CLAIM) == 200
    notice = "\n".join(customer.wait_new())
    assert "Ayşe" in notice and joined in notice, notice
    claimed = wait_handoff(kopru, customer.sender, State.CLAIMED)
    assert claimed.agent_id == "UAYSE" and claimed.agent_name == "Ayşe"
    slack.wait_for(lambda: buttons(slack, handoff) == [ActionId.RESOLVE, ActionId.RETURN])

    # Both ways: the agent's thread reply reaches Telegram, the answer reaches the thread.
    reply = f"Checking parcel 204518 for you now ({language})"
    assert agent_says(kopru, claimed, "UAYSE", reply).status_code == 200
    assert customer.wait_new() == [reply]
    customer.say(wait)
    slack.wait_for(lambda: any(wait in t for t in thread_texts(slack, handoff)))
    customer.quiet_for(1.0)

    assert press(kopru, slack, handoff, "UAYSE", ActionId.RESOLVE) == 200
    closing = "\n".join(customer.wait_new())
    assert resolved in closing, closing
    done = wait_handoff(kopru, customer.sender, State.RESOLVED)
    assert done.ended_by == "UAYSE"
    slack.wait_for(lambda: buttons(slack, handoff) == [])

    # The bot has the conversation again.
    customer.say("where is my order 204518?" if language == "en" else problem)
    assert any("204518" in answer for answer in customer.wait_new(timeout=30))

    # The transcript is whole: the agent's reply is in the Rasa conversation.
    tracker = httpx.get(
        f"{kopru.url}/conversations/{customer.sender}/tracker",
        params={"token": TOKEN}, timeout=10,
    ).json()  # fmt: skip
    agent_lines = [
        e["text"] for e in tracker["events"]
        if e.get("event") == "bot" and (e.get("metadata") or {}).get("agent_id") == "UAYSE"
    ]  # fmt: skip
    assert agent_lines == [reply]


def test_return_to_bot_hands_back_without_closing(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Sam")
    handoff, _ = escalate(customer, kopru, "I want to speak to a human agent")
    assert press(kopru, slack, handoff, "UJOHN", ActionId.CLAIM) == 200
    assert "John" in "\n".join(customer.wait_new())
    assert press(kopru, slack, handoff, "UJOHN", ActionId.RETURN) == 200
    left = "\n".join(customer.wait_new())
    assert "John has handed the conversation back" in left
    assert wait_handoff(kopru, customer.sender, State.BOT).ended_by == "UJOHN"
    customer.say("how much is delivery to Poland?")
    assert customer.wait_new(), "the bot answers again"


# --- agents: membership, concurrency, who may reply --------------------------------------


def test_two_agents_claim_at_once_exactly_one_wins(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Kim")
    handoff, _ = escalate(customer, kopru, "connect me to a person please")
    statuses: list[int] = []
    start = threading.Barrier(2)

    def claim(user: str) -> None:
        start.wait()
        statuses.append(press(kopru, slack, handoff, user, ActionId.CLAIM))

    threads = [threading.Thread(target=claim, args=(u,)) for u in ("UAYSE", "UPIOTR")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200]
    claimed = wait_handoff(kopru, customer.sender, State.CLAIMED)
    loser = "UPIOTR" if claimed.agent_id == "UAYSE" else "UAYSE"
    told = slack.wait_for(lambda: [e for e in slack.ephemerals(AGENTS) if e.get("user") == loser])
    assert f"<@{claimed.agent_id}>" in told[-1]["text"]
    joined = customer.wait_new()
    time.sleep(1.0)
    assert len(joined) == 1 and customer.replies()[customer.seen :] == []

    # Only the agent who claimed it talks to the customer.
    assert agent_says(kopru, claimed, loser, "I can help too").status_code == 200
    slack.wait_for(lambda: [e for e in responses_to(slack, loser) if "not sent" in e["text"]])
    customer.quiet_for(1.0)


def test_only_members_of_the_agent_channel_can_claim(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Lee")
    handoff, _ = escalate(customer, kopru, "I need a human")
    assert press(kopru, slack, handoff, "UOUTSIDER", ActionId.CLAIM) == 200
    told = slack.wait_for(lambda: responses_to(slack, "UOUTSIDER"))
    assert "Only members of the support agents' channel" in told[-1]["text"], told
    assert repo(kopru).get(handoff.id).state is State.QUEUED  # type: ignore[union-attr]
    # Resolving before anyone claimed is refused and changes nothing.
    assert press(kopru, slack, handoff, "UPIOTR", ActionId.CLAIM) == 200
    wait_handoff(kopru, customer.sender, State.CLAIMED)


# --- transport: signatures, retries, 429, escaping -----------------------------------------


def test_forged_and_stale_signatures_are_refused(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Max")
    handoff, _ = escalate(customer, kopru, "let me talk to a real person")
    body = slack.block_actions("UAYSE", AGENTS, handoff.card_ts or "", ActionId.CLAIM)
    forged = signed_headers("not-the-secret", body)
    stale = signed_headers(SIGNING_SECRET, body, timestamp=int(time.time()) - 600)
    for headers in (forged, stale, {"Content-Type": "application/x-www-form-urlencoded"}):
        answer = httpx.post(events_url(kopru), content=body, headers=headers, timeout=10)
        assert answer.status_code == 401
    time.sleep(0.5)
    assert repo(kopru).get(handoff.id).state is State.QUEUED  # type: ignore[union-attr]


def test_malformed_bodies_are_refused_without_a_server_error(kopru: KopruProcess) -> None:
    for body, content_type in [
        ("{not json", "application/json"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
    ]:
        headers = signed_headers(SIGNING_SECRET, body, content_type=content_type)
        answer = httpx.post(events_url(kopru), content=body, headers=headers, timeout=10)
        assert answer.status_code == 400, answer.text


def test_a_retried_event_is_relayed_once(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Ola")
    handoff, _ = escalate(customer, kopru, "I'd like to talk to an agent")
    assert press(kopru, slack, handoff, "UAYSE", ActionId.CLAIM) == 200
    customer.wait_new()
    claimed = wait_handoff(kopru, customer.sender, State.CLAIMED)
    event_id = "Ev" + uuid.uuid4().hex[:10].upper()
    first = agent_says(kopru, claimed, "UAYSE", "Your refund is on its way.", event_id=event_id)
    assert first.status_code == 200
    for retry in (1, 2):
        again = agent_says(kopru, claimed, "UAYSE", "Your refund is on its way.",
                           event_id=event_id, retry=retry)  # fmt: skip
        assert again.status_code == 200
    assert customer.wait_new() == ["Your refund is on its way."]
    customer.quiet_for(1.5)


def test_a_429_from_slack_is_waited_out_and_nothing_is_posted_twice(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Ida")
    handoff, _ = escalate(customer, kopru, "human please")
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    customer.say("my invoice 331907 shows the wrong address")
    slack.wait_for(lambda: any("wrong address" in t for t in thread_texts(slack, handoff)), 15)
    time.sleep(1.5)
    assert sum("wrong address" in t for t in thread_texts(slack, handoff)) == 1
    limited = [c for c in slack.calls("chat.postMessage") if c.status == 429]
    assert limited, "the fake answered 429 once"


def test_a_500_from_slack_is_retried_and_the_message_posted_once(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Ola")
    handoff, _ = escalate(customer, kopru, "human please")
    slack.fail_next("chat.postMessage", status=500)
    customer.say("the parcel 882341 arrived broken")
    slack.wait_for(lambda: any("arrived broken" in t for t in thread_texts(slack, handoff)), 15)
    time.sleep(1.5)
    assert sum("arrived broken" in t for t in thread_texts(slack, handoff)) == 1
    failed = [c for c in slack.calls("chat.postMessage") if c.status == 500]
    assert failed, "the fake answered 500 once"


def test_customer_text_cannot_ping_the_channel_or_fake_a_link(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="<!here> Eve")
    handoff, _ = escalate(
        customer, kopru, "I want a person <!channel> <http://evil.example|your bank>"
    )
    customer.say("hello <!channel> see <http://x|y> & <@UAYSE>")
    slack.wait_for(lambda: any("see" in t for t in thread_texts(slack, handoff)))
    posted = json.dumps(
        [c.params for c in slack.calls("chat.postMessage")
         if c.params.get("thread_ts") == handoff.card_ts or c.params.get("channel") == AGENTS],
        ensure_ascii=False,
    )  # fmt: skip
    for raw in ("<!channel>", "<!here>", "<http://x|y>", "<http://evil.example|your bank>",
                "<@UAYSE> &"):  # fmt: skip
        assert raw not in posted, raw
    assert "&lt;!channel&gt;" in posted and "&lt;http://x|y&gt;" in posted


# --- web chat customers get the agent's words by polling ----------------------------------


def test_a_web_chat_customer_reads_the_agent_reply(
    kopru: KopruProcess, slack: FakeSlackThread
) -> None:
    sender = "web-" + uuid.uuid4().hex[:8]
    told = kopru.say(sender, "I want to talk to a person", channel="webchat")
    handoff = wait_handoff(kopru, sender, State.QUEUED)
    assert handoff.reference in "\n".join(m.get("text", "") for m in told)
    assert kopru.say(sender, "it is about order 558120", channel="webchat") == []
    assert press(kopru, slack, handoff, "UPIOTR", ActionId.CLAIM) == 200
    claimed = wait_handoff(kopru, sender, State.CLAIMED)
    assert (
        agent_says(kopru, claimed, "UPIOTR", "Hi, Piotr here. It ships tomorrow.").status_code
        == 200
    )

    def updates(after: int = 0) -> dict[str, Any]:
        answer = httpx.get(f"{kopru.url}/webhooks/webchat/updates",
                           params={"sender": sender, "after": after}, timeout=10)  # fmt: skip
        assert answer.status_code == 200
        body: dict[str, Any] = answer.json()
        return body

    body = slack.wait_for(lambda: (b := updates()) and len(b["messages"]) >= 2 and b, 15)
    texts = [m["text"] for m in body["messages"]]
    assert "Piotr" in texts[0] and texts[1] == "Hi, Piotr here. It ships tomorrow."
    assert updates(body["last"])["messages"] == []
    bad = httpx.get(f"{kopru.url}/webhooks/webchat/updates", params={"sender": "a b"}, timeout=10)
    assert bad.status_code == 400


# --- restarts, queue time-out ---------------------------------------------------------------


def test_the_relay_survives_a_restart_of_the_rasa_server(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "pl", name="Zofia")
    handoff, _ = escalate(customer, kopru, "chcę rozmawiać z człowiekiem")
    assert press(kopru, slack, handoff, "UPIOTR", ActionId.CLAIM) == 200
    customer.wait_new()
    claimed = wait_handoff(kopru, customer.sender, State.CLAIMED)

    kopru.stop()
    kopru.start()

    customer.say("czy nadal tu jesteś?")
    slack.wait_for(lambda: any("nadal" in t for t in thread_texts(slack, handoff)), 30)
    customer.quiet_for(1.0)
    assert agent_says(kopru, claimed, "UPIOTR", "Tak, jestem tutaj.").status_code == 200
    assert customer.wait_new() == ["Tak, jestem tutaj."]


def test_nobody_claims_in_time_a_ticket_is_opened(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "tr", name="Mehmet")
    handoff, _ = escalate(customer, kopru, "bir insanla konuşmak istiyorum")
    # Ten minutes pass: move the queue time back instead of waiting.
    store = Store(kopru.database_url)
    with store.transaction() as conn:
        conn.execute(
            handoffs.update()
            .where(handoffs.c.id == handoff.id)
            .values(created_at=sa.literal(handoff.created_at - 3600))
        )
    ticket = wait_handoff(kopru, customer.sender, State.TICKET, timeout=20)
    assert ticket.ended_by == "queue_timeout" and ticket.ticket_reference
    told = "\n".join(customer.wait_new())
    assert ticket.ticket_reference in told and "Yanıt bekleyebileceğiniz zaman" in told
    slack.wait_for(lambda: buttons(slack, handoff) == [] and ticket.ticket_reference
                   in card_text(slack, handoff))  # fmt: skip
    assert ticket.context["transcript"], "the ticket keeps the context"


def test_outside_business_hours_a_ticket_is_opened_at_once(
    model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    slack: FakeSlackThread,
) -> None:
    tmp = tmp_path_factory.mktemp("closed")
    # A one-hour desk that opens three (or five) hours from now: closed now, and the
    # ticket is answered within one business hour, by the end of that hour.
    hour = time.gmtime().tm_hour
    opens = (hour + 3) % 24 if (hour + 3) % 24 != 23 else (hour + 5) % 24
    config = desk_config(
        tmp, {"timezone": "UTC", "days": ALL_WEEK, "hours": f"{opens:02d}:00-{opens + 1:02d}:00",
              "ticket_answer_within_hours": 1}
    )  # fmt: skip
    closed = KopruProcess(model, tmp, env=_env(slack, config))
    closed.start()
    try:
        sender = "night-" + uuid.uuid4().hex[:8]
        told = "\n".join(m.get("text", "") for m in closed.say(sender, "I want a human agent"))
        ticket = wait_handoff(closed, sender, State.TICKET)
        assert ticket.ended_by == "outside_hours"
        assert ticket.ticket_reference and ticket.ticket_reference in told
        assert "expect an answer" in told and f"{opens + 1:02d}:00" in told, told
        slack.wait_for(lambda: repo(closed).get(ticket.id).card_ts)  # type: ignore[union-attr]
        shown = repo(closed).get(ticket.id)
        assert shown is not None and buttons(slack, shown) == []
    finally:
        closed.stop()

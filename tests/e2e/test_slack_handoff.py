"""The Slack agent desk end to end: `kopru run` with the real slack-bolt and slack_sdk
against a fake Slack Web API on 127.0.0.1, customers on Telegram (fake Bot API), web chat
and REST, signed Slack requests made with slack_sdk's own signature code."""

from __future__ import annotations

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

from bot.desk.handoff import Handoff, State
from bot.nlu.language import choose_language
from bot.storage.store import Store
from bot.storage.tables import handoffs
from channels.slack_card import ActionId
from tests.e2e.conftest import AGENTS, KopruProcess
from tests.e2e.slack_desk import (
    ALL_WEEK,
    SIGNING_SECRET,
    TOKEN,
    Customer,
    agent_ts,
    buttons,
    card_text,
    desk_config,
    desk_env,
    escalate,
    events_url,
    repo,
    responses_to,
    running_desk,
    slack_workspace,
    thread_texts,
    wait_handoff,
)
from tests.fakes.slack_api import (
    FakeSlackThread,
    event_callback,
    json_body,
    message_event,
    signed_headers,
)
from tests.fakes.telegram_api import FakeTelegramThread

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlackThread]:
    with slack_workspace() as fake:
        yield fake


@pytest.fixture(scope="module")
def kopru(
    model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    slack: FakeSlackThread,
    telegram: FakeTelegramThread,
) -> Iterator[KopruProcess]:
    with running_desk(model, tmp_path_factory.mktemp("slack"), slack, telegram) as process:
        yield process


def press(
    kopru: KopruProcess,
    slack: FakeSlackThread,
    handoff: Handoff,
    user: str,
    action: str,
    value: str | None = None,
) -> int:
    """An agent presses a card button (a signed request to the events URL); its HTTP status.
    `value`: the button's value when the card does not show that button (a stale card)."""
    assert handoff.card_channel and handoff.card_ts
    body = slack.block_actions(user, handoff.card_channel, handoff.card_ts, action, value)
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
    event = message_event(AGENTS, user, text, ts=agent_ts(), thread_ts=handoff.card_ts)
    body = json_body(event_callback(event, event_id=event_id))
    headers = signed_headers(SIGNING_SECRET, body, content_type="application/json")
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return httpx.post(events_url(kopru), content=body, headers=headers, timeout=10)


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

    # While queued, the customer's words go to the thread and the bot says nothing: `say`
    # returned once the update was processed, so anything the bot said is sent by now.
    customer.say(problem)
    slack.wait_for(lambda: any(problem in t for t in thread_texts(slack, handoff)))
    customer.assert_quiet()

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
    customer.assert_quiet()

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
    # The winner's press ends with its note in the thread, the loser's with the refusal
    # above: both presses are done, so a second "joined" would have been sent by now.
    slack.wait_for(
        lambda: any(f"Claimed by <@{claimed.agent_id}>" in t for t in thread_texts(slack, handoff))
    )
    assert len(joined) == 1 and customer.replies()[customer.seen :] == []

    # Only the agent who claimed it talks to the customer: the loser's reply is refused
    # (the refusal is the last thing its handling does) and nothing reaches the customer.
    assert agent_says(kopru, claimed, loser, "I can help too").status_code == 200
    slack.wait_for(lambda: [e for e in responses_to(slack, loser) if "not sent" in e["text"]])
    customer.assert_quiet()


def test_only_members_of_the_agent_channel_can_claim(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Lee")
    handoff, _ = escalate(customer, kopru, "I need a human")
    assert press(kopru, slack, handoff, "UOUTSIDER", ActionId.CLAIM) == 200
    told = slack.wait_for(lambda: responses_to(slack, "UOUTSIDER"))
    assert "Only members of the support agents' channel" in told[-1]["text"], told
    assert repo(kopru).get(handoff.id).state is State.QUEUED  # type: ignore[union-attr]
    # Resolving before anyone claimed is refused and changes nothing. The queued card has
    # no Resolve button: the press comes from a card as an earlier state showed it.
    before = repo(kopru).get(handoff.id)
    seen = len(responses_to(slack, "UPIOTR"))
    resolve = press(kopru, slack, handoff, "UPIOTR", ActionId.RESOLVE, value=handoff.reference)
    assert resolve == 200
    refused = slack.wait_for(lambda: responses_to(slack, "UPIOTR")[seen:])
    assert "Claim this conversation" in refused[-1]["text"], refused
    assert repo(kopru).get(handoff.id) == before
    assert buttons(slack, handoff) == [ActionId.CLAIM]
    customer.assert_quiet()
    # A member of the agents' channel can claim it.
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
    # The 401 is answered before any handler runs: nothing is left to happen.
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
    # The retries were handled before this later reply (a new event) reaches the customer.
    assert agent_says(kopru, claimed, "UAYSE", "Anything else?").status_code == 200
    assert customer.wait_new() == ["Anything else?"]
    customer.assert_quiet()


def test_a_429_from_slack_is_waited_out_and_nothing_is_posted_twice(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Ida")
    handoff, _ = escalate(customer, kopru, "human please")
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    customer.say("my invoice 331907 shows the wrong address")
    # `say` returned once the message was relayed, the 429 waited out: no post is pending.
    slack.wait_for(lambda: any("wrong address" in t for t in thread_texts(slack, handoff)), 15)
    assert sum("wrong address" in t for t in thread_texts(slack, handoff)) == 1
    limited = [c for c in slack.calls("chat.postMessage") if c.status == 429]
    assert limited, "the fake answered 429 once"
    # Waited out: posted again no sooner than the Retry-After of 1 s.
    (posted,) = [c for c in slack.calls("chat.postMessage")
                 if c.ok and "wrong address" in json.dumps(c.params)]  # fmt: skip
    assert posted.at - limited[-1].at >= 1.0


def test_a_500_from_slack_is_retried_and_the_message_posted_once(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Ola")
    handoff, _ = escalate(customer, kopru, "human please")
    slack.fail_next("chat.postMessage", status=500)
    customer.say("the parcel 882341 arrived broken")
    # `say` returned once the message was relayed, the 500 retried: no post is pending.
    slack.wait_for(lambda: any("arrived broken" in t for t in thread_texts(slack, handoff)), 15)
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
    customer.assert_quiet()
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
    closed = KopruProcess(model, tmp, env=desk_env(slack, config))
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

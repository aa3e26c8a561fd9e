"""The Slack agent desk over Socket Mode, end to end: `kopru run` with SLACK_APP_TOKEN and no
signing secret connects to the fake Slack's WebSocket (slack-bolt's AsyncSocketModeHandler on
slack_sdk's aiohttp client); agents' clicks and thread replies arrive as envelopes, customers are
on Telegram (fake Bot API, webhook mode)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.desk.handoff import Handoff, State
from channels.slack_card import ActionId
from tests.e2e.conftest import AGENTS, KopruProcess
from tests.e2e.slack_desk import (
    Customer,
    buttons,
    escalate,
    events_url,
    repo,
    running_desk,
    slack_workspace,
    thread_texts,
    wait_handoff,
)
from tests.fakes.slack_api import FakeSlackThread, json_body, url_verification
from tests.fakes.telegram_api import FakeTelegramThread

pytestmark = pytest.mark.e2e

APP_TOKEN = "xapp-1-A0KOPRU-" + uuid.uuid4().hex
ACK_WITHIN = 3.0  # Slack's limit for acknowledging an envelope
SOCKET_MODE = {
    "SLACK_SIGNING_SECRET": "",  # Socket Mode only: an empty value counts as unset
    "SLACK_APP_TOKEN": APP_TOKEN,
    # slack_sdk takes the WebSocket through HTTP(S)_PROXY and ignores NO_PROXY.
    "HTTPS_PROXY": "", "https_proxy": "", "HTTP_PROXY": "", "http_proxy": "",
}  # fmt: skip


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlackThread]:
    with slack_workspace(app_token=APP_TOKEN) as fake:
        yield fake


@pytest.fixture(scope="module")
def kopru(
    model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    slack: FakeSlackThread,
    telegram: FakeTelegramThread,
) -> Iterator[KopruProcess]:
    tmp = tmp_path_factory.mktemp("slack-socket")
    with running_desk(model, tmp, slack, telegram, SOCKET_MODE) as process:
        slack.wait_for_sockets(1, timeout=30)
        yield process


def press(slack: FakeSlackThread, handoff: Handoff, user: str, action: str) -> str:
    """An agent presses a card button: an ``interactive`` envelope; returns its id once acked."""
    assert handoff.card_channel and handoff.card_ts
    envelope = slack.send_block_actions(user, handoff.card_channel, handoff.card_ts, action)
    assert_acked(slack, envelope)
    return envelope


def assert_acked(slack: FakeSlackThread, envelope: str) -> None:
    ack = slack.wait_for_ack(envelope, timeout=10)
    (sent,) = [e for e in slack.envelopes() if e.envelope_id == envelope]
    assert ack.known and ack.payload is None, ack
    assert ack.at - sent.sent_at < ACK_WITHIN, f"acked after {ack.at - sent.sent_at:.2f} s"


def test_kopru_connects_with_the_app_token(kopru: KopruProcess, slack: FakeSlackThread) -> None:
    opened = slack.calls("apps.connections.open")
    assert opened and all(call.token == APP_TOKEN for call in opened), opened
    (connection,) = slack.sockets(open_only=True)
    assert connection.hello["type"] == "hello"
    # slack_sdk pings right after connecting (then every 10 s); the fake answers with pongs.
    slack.wait_for(lambda: any(c.pings for c in slack.sockets()), timeout=10)
    assert "Socket Mode" in kopru.log_text()
    health = httpx.get(f"{kopru.url}/webhooks/slack/", timeout=10)
    assert health.json() == {"status": "ok"}


def test_a_whole_handoff_over_socket_mode(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Deniz")
    handoff, told = escalate(customer, kopru, "I want to talk to a real person")
    assert handoff.reference in told and "number 1 in the queue" in told, told
    assert buttons(slack, handoff) == [ActionId.CLAIM]

    # Claim: an interactive envelope, acknowledged at once; the customer is told.
    press(slack, handoff, "UAYSE", ActionId.CLAIM)
    notice = "\n".join(customer.wait_new())
    assert "Ayşe" in notice and "joined" in notice, notice
    claimed = wait_handoff(kopru, customer.sender, State.CLAIMED)
    assert claimed.agent_id == "UAYSE" and claimed.agent_name == "Ayşe"
    slack.wait_for(lambda: buttons(slack, handoff) == [ActionId.RESOLVE, ActionId.RETURN], 10)

    # The agent's thread reply: an events_api envelope; it reaches Telegram once, even when
    # Slack redelivers the envelope (same event_id, retry_attempt 1).
    assert handoff.card_ts
    reply = "Checking parcel 204518 for you now"
    event_id = "Ev" + uuid.uuid4().hex[:10].upper()
    first = slack.send_message_event(
        AGENTS, "UAYSE", reply, thread_ts=handoff.card_ts, event_id=event_id
    )
    assert_acked(slack, first)
    assert customer.wait_new() == [reply]
    (sent,) = [e for e in slack.envelopes() if e.envelope_id == first]
    again = slack.send_event(
        sent.payload["event"], event_id=event_id, retry_attempt=1, retry_reason="timeout"
    )
    assert_acked(slack, again)
    # The redelivery was handled before this later reply (a new event) reaches the customer.
    later = slack.send_message_event(AGENTS, "UAYSE", "Anything else?", thread_ts=handoff.card_ts)
    assert_acked(slack, later)
    assert customer.wait_new() == ["Anything else?"]
    customer.assert_quiet()

    # The customer's answer lands in the card's thread; the bot stays quiet.
    customer.say("thank you, I will wait here")
    # `say` returned once the update was processed: anything the bot said is sent by now.
    slack.wait_for(lambda: any("I will wait here" in t for t in thread_texts(slack, handoff)), 30)
    customer.assert_quiet()

    press(slack, handoff, "UAYSE", ActionId.RESOLVE)
    closing = "\n".join(customer.wait_new())
    assert "Thank you for contacting us" in closing, closing
    done = wait_handoff(kopru, customer.sender, State.RESOLVED)
    assert done.ended_by == "UAYSE"
    slack.wait_for(lambda: buttons(slack, handoff) == [], 10)

    # Every envelope was acknowledged exactly once, on the one connection.
    acked = [ack.envelope_id for ack in slack.acks()]
    assert sorted(acked) == sorted(e.envelope_id for e in slack.envelopes())
    assert len(set(acked)) == len(acked)
    assert slack.socket_connections() == 1


# --- the HTTP request URL while in Socket Mode ---------------------------------------------------
# Slack never posts to /webhooks/slack/events in Socket Mode, so anything arriving there is from
# someone else: it is refused before it reaches the bolt app.


def post(kopru: KopruProcess, body: str, content_type: str) -> httpx.Response:
    return httpx.post(
        events_url(kopru), content=body, headers={"Content-Type": content_type}, timeout=10
    )


def test_the_http_endpoint_refuses_everything_in_socket_mode(kopru: KopruProcess) -> None:
    for body, content_type in [
        (json_body(url_verification("socket-mode?")), "application/json"),
        ("", "application/x-www-form-urlencoded"),
        ("{not json", "application/json"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
    ]:
        answer = post(kopru, body, content_type)
        assert answer.status_code == 404, answer.text
        assert "Socket Mode" in answer.json()["error"]


def test_an_unsigned_http_claim_changes_nothing(
    kopru: KopruProcess, slack: FakeSlackThread, telegram: FakeTelegramThread
) -> None:
    customer = Customer(telegram, "en", name="Robin")
    handoff, _ = escalate(customer, kopru, "connect me to a person please")
    assert handoff.card_channel and handoff.card_ts
    claim = slack.block_actions("UJOHN", handoff.card_channel, handoff.card_ts, ActionId.CLAIM)
    answer = post(kopru, claim, "application/x-www-form-urlencoded")  # no signature headers
    assert answer.status_code == 404, answer.text
    # The 404 is answered before the request reaches the bolt app: nothing is left to happen.
    current = repo(kopru).get(handoff.id)
    assert current is not None and current.state is State.QUEUED
    assert customer.replies()[customer.seen :] == [], "the customer was told of a forged claim"

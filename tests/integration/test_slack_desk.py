"""SlackDesk (channels/slack_desk.py) with the real slack_sdk AsyncWebClient against FakeSlack.

The desk is configured exactly as in production (``SlackConfig(...).client()``: Köprü's
timeout and its 429 retry handler); only the Web API base URL points at the fake on
127.0.0.1.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import ClientError

from bot.desk.handoff import Handoff, State
from bot.desk.service import DeskError
from bot.errors import ConfigError
from channels import slack_card
from channels.slack_card import ActionId
from channels.slack_desk import (
    DEFAULT_API_BASE_URL,
    RATE_LIMIT_RETRIES,
    SERVER_ERROR_RETRIES,
    SlackConfig,
    SlackDesk,
)
from tests.fakes.slack_api import DEFAULT_TOKEN, FakeSlack

AGENTS = "CAGENTS01"
AGENT = "U0AGENT1"
OTHER_AGENT = "U0AGENT2"
REFERENCE = "E-7F3A2C"
EVIL = "<!channel> bakar mısınız? <@U0AGENT2> & <https://evil.example|tıkla>"


def make_handoff(**changes: Any) -> Handoff:
    now = time.time()
    handoff = Handoff(
        id=7,
        reference=REFERENCE,
        sender_id="tg-42",
        session_started_at=now - 120,
        conversation_id=3,
        channel="telegram",
        language="tr",
        reason="customer_request",
        state=State.QUEUED,
        created_at=now,
        context={
            "customer_name": "Ayşe",
            "intents": [{"name": "request_human", "confidence": 0.99}],
            "slots": {"order_number": "KP-12345"},
            "transcript": [
                {"speaker": "customer", "text": "Siparişim nerede?", "at": now - 60},
                {"speaker": "customer", "text": "Bir insanla konuşmak istiyorum", "at": now},
            ],
        },
    )
    return replace(handoff, **changes)


def make_config(base_url: str, token: str = DEFAULT_TOKEN) -> SlackConfig:
    return SlackConfig(
        bot_token=token,
        signing_secret="signing-secret",
        app_token=None,
        agent_channel=AGENTS,
        api_base_url=base_url,
    )


def without_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks as Köprü sent them (the fake, like Slack, fills in `block_id`)."""
    return [{k: v for k, v in block.items() if k != "block_id"} for block in blocks]


def action_ids(message: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in message.get("blocks", [])
        if block["type"] == "actions"
        for element in block["elements"]
    ]


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        slack.add_channel(AGENTS, [AGENT, OTHER_AGENT], name="support-agents")
        slack.add_user(AGENT, "Ayşe", "Yılmaz")
        slack.add_user(OTHER_AGENT, "Jan", "Kowalski")
        yield slack


@pytest.fixture
def desk(fake: FakeSlack) -> SlackDesk:
    return SlackDesk(make_config(fake.base_url))


@pytest.fixture
async def shown(fake: FakeSlack, desk: SlackDesk) -> Handoff:
    """A queued handoff whose card is in the agent channel; records are reset."""
    handoff = await desk.show(make_handoff(), earlier=[], place=1)
    assert handoff.card_ts is not None
    fake.reset_records()
    return handoff


# --- the card -------------------------------------------------------------------------------


async def test_show_posts_the_card_with_a_claim_button(fake: FakeSlack, desk: SlackDesk) -> None:
    handoff = make_handoff()
    assert handoff.card_channel is None and handoff.card_ts is None

    shown = await desk.show(handoff, earlier=[], place=1)

    (stored,) = fake.messages(AGENTS)
    assert (shown.card_channel, shown.card_ts) == (AGENTS, stored["ts"])
    assert replace(shown, card_channel=None, card_ts=None) == handoff
    expected = slack_card.card(handoff, earlier=[], now=time.time(), place=1)
    assert without_block_ids(stored["blocks"]) == expected["blocks"]
    assert stored["text"] == expected["text"]
    assert "thread_ts" not in stored
    assert action_ids(stored) == [ActionId.CLAIM]
    (claim,) = [e for b in stored["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert claim["value"] == REFERENCE
    (call,) = fake.calls("chat.postMessage")
    assert call.ok and call.token == DEFAULT_TOKEN
    assert call.params["channel"] == AGENTS
    assert call.params["unfurl_links"] is False
    assert [c.method for c in fake.records] == ["chat.postMessage"]


async def test_show_again_updates_the_same_message(fake: FakeSlack, desk: SlackDesk) -> None:
    queued = await desk.show(make_handoff(), earlier=[], place=1)
    claimed = replace(
        queued,
        state=State.CLAIMED,
        agent_id=AGENT,
        agent_name="Ayşe",
        claimed_at=time.time(),
    )

    again = await desk.show(claimed, earlier=[], place=None)

    assert again == claimed
    assert (again.card_channel, again.card_ts) == (queued.card_channel, queued.card_ts)
    assert len(fake.calls("chat.postMessage")) == 1
    (update,) = fake.calls("chat.update")
    assert update.ok
    assert (update.params["channel"], update.params["ts"]) == (AGENTS, queued.card_ts)
    (stored,) = fake.messages(AGENTS)
    assert stored["ts"] == queued.card_ts
    assert "edited" in stored
    assert len(stored["history"]) == 1
    assert action_ids(stored["history"][0]) == [ActionId.CLAIM]
    assert action_ids(stored) == [ActionId.RESOLVE, ActionId.RETURN]
    expected = slack_card.card(claimed, earlier=[], now=time.time(), place=None)
    assert without_block_ids(stored["blocks"]) == expected["blocks"]
    assert f"<@{AGENT}>" in json.dumps(stored["blocks"])


# --- the thread -----------------------------------------------------------------------------


async def test_relay_posts_the_escaped_customer_text_in_the_thread(
    fake: FakeSlack, desk: SlackDesk, shown: Handoff
) -> None:
    await desk.relay(shown, EVIL)

    assert shown.card_ts is not None
    (reply,) = fake.thread(AGENTS, shown.card_ts)
    assert reply["thread_ts"] == shown.card_ts
    sent = json.dumps(reply, ensure_ascii=False)
    for raw in ("<!channel>", "<@U0AGENT2>", "<https://evil.example"):
        assert raw not in sent
    section = reply["blocks"][0]["text"]
    assert section["verbatim"] is True
    assert "&lt;!channel&gt; bakar mısınız?" in section["text"]
    assert "&lt;@U0AGENT2&gt; &amp; &lt;https://evil.example|tıkla&gt;" in section["text"]
    assert "&lt;!channel&gt;" in reply["text"]
    assert section["text"].startswith("*Ayşe (customer):*")
    (call,) = fake.calls("chat.postMessage")
    assert call.params["channel"] == AGENTS
    assert call.params["thread_ts"] == shown.card_ts
    assert call.params["unfurl_links"] is False and call.params["unfurl_media"] is False
    # The card itself is untouched.
    assert fake.calls("chat.update") == []
    assert len(fake.messages(AGENTS)) == 2


async def test_note_posts_in_the_thread(fake: FakeSlack, desk: SlackDesk, shown: Handoff) -> None:
    await desk.note(shown, f"Claimed by <@{AGENT}>.")

    assert shown.card_ts is not None
    (reply,) = fake.thread(AGENTS, shown.card_ts)
    assert reply["thread_ts"] == shown.card_ts
    assert reply["text"] == f"Claimed by <@{AGENT}>."
    (block,) = reply["blocks"]
    assert block["type"] == "context"
    assert block["elements"][0]["text"] == f"Claimed by <@{AGENT}>."
    (call,) = fake.calls("chat.postMessage")
    assert call.params["thread_ts"] == shown.card_ts


@pytest.mark.parametrize("missing", ["card_channel", "card_ts", "both"])
async def test_relay_or_note_without_a_card_raises_and_posts_nothing(
    fake: FakeSlack, desk: SlackDesk, missing: str
) -> None:
    handoff = make_handoff(card_channel=AGENTS, card_ts="1700000000.000100")
    if missing in ("card_channel", "both"):
        handoff = replace(handoff, card_channel=None)
    if missing in ("card_ts", "both"):
        handoff = replace(handoff, card_ts=None)

    with pytest.raises(DeskError, match=REFERENCE):
        await desk.relay(handoff, "merhaba")
    with pytest.raises(DeskError, match=REFERENCE):
        await desk.note(handoff, "Claimed")

    assert fake.records == []
    assert fake.messages() == []


async def test_tell_agent_posts_an_ephemeral_only_that_agent_sees(
    fake: FakeSlack, desk: SlackDesk, shown: Handoff
) -> None:
    await desk.tell_agent(AGENTS, OTHER_AGENT, "Already claimed by <@U0AGENT1>.", shown.card_ts)

    (ephemeral,) = fake.ephemerals(AGENTS)
    assert ephemeral["user"] == OTHER_AGENT
    assert ephemeral["text"] == "Already claimed by <@U0AGENT1>."
    assert ephemeral["thread_ts"] == shown.card_ts
    assert len(fake.messages(AGENTS)) == 1  # only the card: nothing public was posted
    (call,) = fake.calls("chat.postEphemeral")
    assert call.ok and call.params["user"] == OTHER_AGENT


async def test_tell_agent_without_a_thread_sends_no_thread_ts(
    fake: FakeSlack, desk: SlackDesk
) -> None:
    await desk.tell_agent(AGENTS, AGENT, "Only members of the agents' channel …")

    (ephemeral,) = fake.ephemerals(AGENTS)
    assert ephemeral["user"] == AGENT and ephemeral["thread_ts"] is None
    (call,) = fake.calls("chat.postEphemeral")
    assert "thread_ts" not in call.params


# --- rate limits ----------------------------------------------------------------------------


async def test_a_rate_limited_relay_waits_and_posts_once(
    fake: FakeSlack, desk: SlackDesk, shown: Handoff
) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=1)

    await desk.relay(shown, "Hâlâ bekliyorum")

    assert shown.card_ts is not None
    (reply,) = fake.thread(AGENTS, shown.card_ts)
    assert "Hâlâ bekliyorum" in reply["text"]
    limited, posted = fake.calls("chat.postMessage")
    assert (limited.status, limited.error, limited.injected) == (429, "ratelimited", True)
    assert posted.ok
    assert posted.at - limited.at >= 1.0  # Retry-After was honoured
    assert posted.params == limited.params


async def test_rate_limited_beyond_the_retries_raises_desk_error(
    fake: FakeSlack, desk: SlackDesk, shown: Handoff
) -> None:
    # Slow on purpose (~3-6 s): RATE_LIMIT_RETRIES waits of Retry-After (1 s) plus
    # slack_sdk's random 0-1 s jitter each. Every attempt is answered with a 429.
    fake.fail_next("chat.postMessage", status=429, retry_after=1, count=RATE_LIMIT_RETRIES + 1)

    with pytest.raises(DeskError, match="ratelimited"):
        await desk.relay(shown, "merhaba")

    calls = fake.calls("chat.postMessage")
    assert [c.status for c in calls] == [429] * (RATE_LIMIT_RETRIES + 1)
    assert all(b.at - a.at >= 1.0 for a, b in itertools.pairwise(calls))
    assert shown.card_ts is not None
    assert fake.thread(AGENTS, shown.card_ts) == []


# --- errors ---------------------------------------------------------------------------------


# Slack's own 500 and 503 are tried again (SERVER_ERROR_RETRIES times); an `ok: false`
# answer is a refusal and is not.
ATTEMPTS = SERVER_ERROR_RETRIES + 1
FAULTS = [
    pytest.param({"status": 200, "error": "channel_not_found"}, "channel_not_found", 1,
                 id="ok-false"),
    pytest.param({"status": 500, "count": ATTEMPTS}, "fatal_error", ATTEMPTS, id="http-500"),
    pytest.param({"status": 503, "error": "service_unavailable", "count": ATTEMPTS},
                 "service_unavailable", ATTEMPTS, id="503"),
]  # fmt: skip


@pytest.mark.parametrize(("fault", "error", "attempts"), FAULTS)
async def test_a_failed_show_raises_desk_error_and_posts_nothing(
    fake: FakeSlack, desk: SlackDesk, fault: dict[str, Any], error: str, attempts: int
) -> None:
    fake.fail_next("chat.postMessage", **fault)

    with pytest.raises(DeskError, match=re.escape(f"chat.postMessage: {error}")):
        await desk.show(make_handoff(), earlier=[], place=1)

    assert fake.messages() == []
    calls = fake.calls("chat.postMessage")
    assert len(calls) == attempts and all(c.injected for c in calls)


@pytest.mark.parametrize(("fault", "error", "attempts"), FAULTS)
async def test_a_failed_relay_raises_desk_error_and_posts_nothing(
    fake: FakeSlack, desk: SlackDesk, shown: Handoff, fault: dict[str, Any], error: str,
    attempts: int,
) -> None:  # fmt: skip
    fake.fail_next("chat.postMessage", **fault)

    with pytest.raises(DeskError, match=error):
        await desk.relay(shown, "merhaba")

    assert shown.card_ts is not None
    assert fake.thread(AGENTS, shown.card_ts) == []
    assert len(fake.calls("chat.postMessage")) == attempts


@pytest.mark.parametrize("status", [500, 503])
async def test_one_server_error_is_tried_again_and_posted_once(
    fake: FakeSlack, desk: SlackDesk, shown: Handoff, status: int
) -> None:
    fake.fail_next("chat.postMessage", status=status)

    await desk.relay(shown, "merhaba")

    assert shown.card_ts is not None
    assert [m["text"] for m in fake.thread(AGENTS, shown.card_ts)] == ["*Ayşe (customer):* merhaba"]
    assert [c.status for c in fake.calls("chat.postMessage")] == [status, 200]


async def test_a_failed_update_raises_desk_error_and_keeps_the_card(
    fake: FakeSlack, desk: SlackDesk, shown: Handoff
) -> None:
    fake.fail_next("chat.update", status=200, error="message_not_found")
    claimed = replace(shown, state=State.CLAIMED, agent_id=AGENT)

    with pytest.raises(DeskError, match=r"chat\.update: message_not_found"):
        await desk.show(claimed, earlier=[], place=None)

    (stored,) = fake.messages(AGENTS)
    assert action_ids(stored) == [ActionId.CLAIM]
    assert fake.calls("chat.postMessage") == []


async def test_a_failed_ephemeral_raises_desk_error(fake: FakeSlack, desk: SlackDesk) -> None:
    with pytest.raises(DeskError, match="user_not_in_channel"):
        await desk.tell_agent(AGENTS, "U0STRANGER", "hello")
    assert fake.ephemerals() == []


async def test_a_wrong_token_is_invalid_auth(fake: FakeSlack) -> None:
    desk = SlackDesk(make_config(fake.base_url, token="xoxb-wrong"))

    with pytest.raises(DeskError, match="invalid_auth"):
        await desk.show(make_handoff(), earlier=[], place=1)
    with pytest.raises(DeskError, match="invalid_auth"):
        await desk.relay(make_handoff(card_channel=AGENTS, card_ts="1.000001"), "merhaba")

    assert fake.messages() == []
    assert [(c.token, c.error) for c in fake.records] == [("xoxb-wrong", "invalid_auth")] * 2


async def test_an_unreachable_slack_raises_desk_error() -> None:
    async with FakeSlack() as stopped:
        stopped.add_channel(AGENTS, [AGENT])
        base_url = stopped.base_url
    desk = SlackDesk(make_config(base_url))

    started = time.monotonic()
    with pytest.raises(DeskError, match=r"chat\.postMessage") as caught:
        await desk.show(make_handoff(), earlier=[], place=1)
    with pytest.raises(DeskError, match=r"chat\.postMessage"):
        await desk.relay(make_handoff(card_channel=AGENTS, card_ts="1.000001"), "merhaba")
    with pytest.raises(DeskError, match=r"chat\.postEphemeral"):
        await desk.tell_agent(AGENTS, AGENT, "hello")

    assert isinstance(caught.value.__cause__, ClientError)
    assert time.monotonic() - started < 5  # refused at once, and not retried
    assert stopped.records == []
    assert stopped.messages() == []


# --- configuration --------------------------------------------------------------------------


BASE_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "secret",
    "SLACK_AGENT_CHANNEL": AGENTS,
}


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"SLACK_AGENT_CHANNEL": AGENTS, "SLACK_SIGNING_SECRET": "secret"},
        {**BASE_ENV, "SLACK_BOT_TOKEN": ""},
        {**BASE_ENV, "SLACK_BOT_TOKEN": "   "},
    ],
)
def test_no_token_means_no_desk(env: dict[str, str]) -> None:
    assert SlackConfig.from_env(env) is None
    assert SlackDesk.from_env(env) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, "SLACK_AGENT_CHANNEL"),
        ({**BASE_ENV, "SLACK_AGENT_CHANNEL": "  "}, "SLACK_AGENT_CHANNEL"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_AGENT_CHANNEL": AGENTS}, "SLACK_SIGNING_SECRET"),
        ({**BASE_ENV, "SLACK_SIGNING_SECRET": " ", "SLACK_APP_TOKEN": ""}, "SLACK_APP_TOKEN"),
    ],
)
def test_an_incomplete_configuration_is_a_config_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SlackConfig.from_env(env)
    with pytest.raises(ConfigError):
        SlackDesk.from_env(env)


def test_http_mode_with_a_signing_secret() -> None:
    config = SlackConfig.from_env({**BASE_ENV, "SLACK_BOT_TOKEN": " xoxb-1 "})
    assert config == SlackConfig(
        bot_token="xoxb-1",
        signing_secret="secret",
        app_token=None,
        agent_channel=AGENTS,
        api_base_url=DEFAULT_API_BASE_URL,
    )
    assert config.socket_mode is False


@pytest.mark.parametrize("secret", ["secret", ""])
def test_an_app_token_means_socket_mode(secret: str) -> None:
    env = {**BASE_ENV, "SLACK_SIGNING_SECRET": secret, "SLACK_APP_TOKEN": "xapp-1"}
    config = SlackConfig.from_env(env)
    assert config is not None
    assert config.socket_mode is True
    assert config.app_token == "xapp-1"
    assert config.signing_secret == (secret or None)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:9/api", "http://127.0.0.1:9/api/"),
        ("http://127.0.0.1:9/api/", "http://127.0.0.1:9/api/"),
        (" https://slack.example/api ", "https://slack.example/api/"),
        ("", DEFAULT_API_BASE_URL),
    ],
)
def test_the_base_url_ends_with_a_slash(given: str, expected: str) -> None:
    config = SlackConfig.from_env({**BASE_ENV, "SLACK_API_BASE_URL": given})
    assert config is not None
    assert config.api_base_url == expected


async def test_a_desk_from_the_environment_posts_to_the_configured_api(fake: FakeSlack) -> None:
    # End to end through from_env. (slack_sdk appends a missing slash itself, so the slash
    # rule is pinned by test_the_base_url_ends_with_a_slash, not here.)
    desk = SlackDesk.from_env(
        {
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_SIGNING_SECRET": "secret",
            "SLACK_AGENT_CHANNEL": AGENTS,
            "SLACK_API_BASE_URL": fake.base_url.rstrip("/"),
        }
    )
    assert desk is not None

    shown = await desk.show(make_handoff(), earlier=[], place=2)

    (stored,) = fake.messages(AGENTS)
    assert shown.card_ts == stored["ts"]
    assert [c.status for c in fake.records] == [200]

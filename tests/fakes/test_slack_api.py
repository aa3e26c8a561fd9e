"""The fake Slack Web API, driven by the real slack_sdk clients (and by slack_bolt)."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import ClientSession, WSServerHandshakeError
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp, AsyncRespond, AsyncSay
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.builtin import SocketModeClient as BuiltinSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import (
    DEFAULT_APP_TOKEN,
    DEFAULT_TOKEN,
    FakeSlack,
    FakeSlackThread,
    block_actions,
    event_callback,
    json_body,
    message_event,
    signed_headers,
    url_verification,
)

CHANNEL = "C0SUPPORT"
AGENT = "U0AGENT"
CUSTOMER = "U0CUSTOMER"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TS_RE = re.compile(r"\d{10}\.\d{6}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        slack.add_channel(CHANNEL, [AGENT, CUSTOMER, slack.bot_user_id], name="destek")
        slack.add_user(AGENT, "Ayşe", "Yılmaz")
        slack.add_user(CUSTOMER, "Mehmet", "Demir", display_name="mehmet")
        yield slack


@pytest.fixture
async def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=DEFAULT_TOKEN, base_url=fake.base_url)


def _blocks(action_id: str = "take_over") -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Yeni talep* #42"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "text": {"type": "plain_text", "text": "Devral"},
                    "value": "42",
                }
            ],
        },
    ]


async def test_base_url_and_auth_test(fake: FakeSlack, client: AsyncWebClient) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/", fake.base_url)
    answer = await client.auth_test()
    assert answer.data == {
        "ok": True,
        "url": "https://kopru-test.slack.com/",
        "team": "Köprü Test",
        "user": "kopru",
        "team_id": "T0001",
        "user_id": "UBOT",
        "bot_id": "BKOPRU",
        "is_enterprise_install": False,
    }
    (call,) = fake.calls("auth.test")
    assert call.headers["Authorization"] == f"Bearer {DEFAULT_TOKEN}"
    assert call.token == DEFAULT_TOKEN and call.ok


async def test_post_message_json_and_form(fake: FakeSlack, client: AsyncWebClient) -> None:
    first = await client.chat_postMessage(
        channel=CHANNEL, text="Yeni talep", blocks=_blocks(), unfurl_links=False, mrkdwn=True
    )
    assert first["ok"] and first["channel"] == CHANNEL and TS_RE.fullmatch(first["ts"])
    message = first["message"]
    assert message["user"] == "UBOT" and message["bot_id"] == "BKOPRU"
    assert message["text"] == "Yeni talep" and message["ts"] == first["ts"]
    assert [block["type"] for block in message["blocks"]] == ["section", "actions"]
    assert all(block["block_id"] for block in message["blocks"])  # Slack fills these in

    # Form-encoded, with blocks as a JSON string, to the channel's #name.
    second = await client.api_call(
        "chat.postMessage",
        data={"channel": "#destek", "blocks": json.dumps(_blocks("close"))},
    )
    assert second["channel"] == CHANNEL and float(second["ts"]) > float(first["ts"])
    assert second["message"]["text"] == "This content can't be displayed."

    first_call, second_call = fake.calls("chat.postMessage")
    assert first_call.params["blocks"] == _blocks() and first_call.params["unfurl_links"] is False
    assert first_call.headers["Content-Type"].startswith("application/json")
    assert second_call.params["blocks"] == _blocks("close")
    assert second_call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert second_call.at >= first_call.at

    stored = fake.messages(CHANNEL)
    assert [m["ts"] for m in stored] == [first["ts"], second["ts"]]
    assert stored[0]["channel"] == CHANNEL and stored[0]["blocks"] == message["blocks"]


async def test_ts_is_unique_and_increasing(fake: FakeSlack, client: AsyncWebClient) -> None:
    answers = await asyncio.gather(
        *(client.chat_postMessage(channel=CHANNEL, text=str(i)) for i in range(20))
    )
    stamps = sorted(answer["ts"] for answer in answers)
    assert len(set(stamps)) == 20
    assert [m["ts"] for m in fake.messages(CHANNEL)] == stamps


async def test_threads(fake: FakeSlack, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel=CHANNEL, text="Talep #42")
    one = await client.chat_postMessage(channel=CHANNEL, text="bir", thread_ts=parent["ts"])
    customer = fake.add_message(CHANNEL, CUSTOMER, "teşekkürler", thread_ts=parent["ts"])
    two = await client.chat_postMessage(
        channel=CHANNEL, text="iki", thread_ts=parent["ts"], reply_broadcast=True
    )
    assert one["message"]["thread_ts"] == parent["ts"]
    assert one["message"]["parent_user_id"] == "UBOT"
    assert [m["text"] for m in fake.thread(CHANNEL, parent["ts"])] == ["bir", "teşekkürler", "iki"]
    assert fake.thread(CHANNEL, parent["ts"])[1]["ts"] == customer["ts"]
    assert two["message"]["subtype"] == "thread_broadcast"
    root = fake.message(CHANNEL, parent["ts"])
    assert root is not None
    assert root["reply_count"] == 3 and root["latest_reply"] == two["ts"]
    assert root["reply_users"] == ["UBOT", CUSTOMER] and root["thread_ts"] == parent["ts"]

    # Slack accepts a thread_ts that matches no message; the fake records it as given.
    orphan = await client.chat_postMessage(channel=CHANNEL, text="?", thread_ts="1600000000.000100")
    assert orphan["message"]["thread_ts"] == "1600000000.000100"
    assert [m["text"] for m in fake.thread(CHANNEL, "1600000000.000100")] == ["?"]


async def test_update_and_delete(fake: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=CHANNEL, text="Talep #42", blocks=_blocks())
    updated = await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="Devralındı")
    assert updated["ts"] == posted["ts"] and updated["text"] == "Devralındı"
    assert updated["message"]["edited"]["user"] == "UBOT"
    stored = fake.message(CHANNEL, posted["ts"])
    assert stored is not None
    assert stored["text"] == "Devralındı" and len(stored["blocks"]) == 2  # blocks kept
    assert [version["text"] for version in stored["history"]] == ["Talep #42"]

    await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="Kapandı", blocks=[])
    stored = fake.message(CHANNEL, posted["ts"])
    assert stored is not None and "blocks" not in stored and len(stored["history"]) == 2

    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel=CHANNEL, ts="1600000000.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as wrong_channel:
        await client.chat_update(channel="C0NOPE", ts=posted["ts"], text="x")
    assert wrong_channel.value.response["error"] == "channel_not_found"
    theirs = fake.add_message(CHANNEL, CUSTOMER, "merhaba")
    with pytest.raises(SlackApiError) as not_ours:
        await client.chat_update(channel=CHANNEL, ts=theirs["ts"], text="x")
    assert not_ours.value.response["error"] == "cant_update_message"

    await client.chat_delete(channel=CHANNEL, ts=posted["ts"])
    assert fake.message(CHANNEL, posted["ts"]) is None


async def test_post_ephemeral(fake: FakeSlack, client: AsyncWebClient) -> None:
    answer = await client.chat_postEphemeral(
        channel=CHANNEL, user=AGENT, text="Sadece sen görüyorsun", thread_ts="1700000000.000100"
    )
    assert answer.data == {"ok": True, "message_ts": answer["message_ts"]}
    assert TS_RE.fullmatch(answer["message_ts"])
    (ephemeral,) = fake.ephemerals(CHANNEL)
    assert ephemeral["user"] == AGENT and ephemeral["text"] == "Sadece sen görüyorsun"
    assert ephemeral["thread_ts"] == "1700000000.000100"
    assert fake.messages(CHANNEL) == []
    with pytest.raises(SlackApiError) as outsider:
        await client.chat_postEphemeral(channel=CHANNEL, user="U0OTHER", text="x")
    assert outsider.value.response["error"] == "user_not_in_channel"


async def test_users_info(client: AsyncWebClient) -> None:
    answer = await client.users_info(user=AGENT)
    user = answer["user"]
    assert user["id"] == AGENT and user["name"] == "ayse.yilmaz"
    assert user["real_name"] == "Ayşe Yılmaz" and user["tz"] == "Europe/Istanbul"
    assert user["tz_offset"] == 3 * 3600
    assert user["profile"]["first_name"] == "Ayşe" and user["profile"]["last_name"] == "Yılmaz"
    assert user["profile"]["real_name_normalized"] == "Ayse Yilmaz"
    assert user["profile"]["display_name"] == ""
    customer = await client.users_info(user=CUSTOMER)
    assert customer["user"]["profile"]["display_name"] == "mehmet"
    bot = await client.users_info(user="UBOT")
    assert bot["user"]["is_bot"] is True
    with pytest.raises(SlackApiError) as unknown:
        await client.users_info(user="U0NOBODY")
    assert unknown.value.response.data == {"ok": False, "error": "user_not_found"}


async def test_conversations_members_paginates(fake: FakeSlack, client: AsyncWebClient) -> None:
    members = [f"U{i:04d}" for i in range(5)]
    fake.add_channel("C0BIG", members)
    pages = [
        page["members"]
        async for page in await client.conversations_members(channel="C0BIG", limit=2)
    ]
    assert pages == [members[0:2], members[2:4], members[4:]]
    cursors = [call.params.get("cursor") for call in fake.calls("conversations.members")]
    assert cursors[0] is None and all(cursors[1:])
    whole = await client.conversations_members(channel="C0BIG")
    assert whole["members"] == members
    assert whole["response_metadata"] == {"next_cursor": ""}
    with pytest.raises(SlackApiError) as bad_cursor:
        await client.conversations_members(channel="C0BIG", cursor="bm9wZQ==")
    assert bad_cursor.value.response["error"] == "invalid_cursor"
    with pytest.raises(SlackApiError) as unknown:
        await client.conversations_members(channel="C0NOPE")
    assert unknown.value.response["error"] == "channel_not_found"


async def test_auth_errors(fake: FakeSlack) -> None:
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=fake.base_url)
    with pytest.raises(SlackApiError) as invalid:
        await wrong.chat_postMessage(channel=CHANNEL, text="x")
    assert invalid.value.response.status_code == 200
    assert invalid.value.response.data == {"ok": False, "error": "invalid_auth"}
    anonymous = AsyncWebClient(base_url=fake.base_url)
    with pytest.raises(SlackApiError) as missing:
        await anonymous.auth_test()
    assert missing.value.response["error"] == "not_authed"
    # The legacy token parameter still works for form requests.
    async with (
        ClientSession() as session,
        session.post(f"{fake.base_url}auth.test", data={"token": DEFAULT_TOKEN}) as response,
    ):
        assert (await response.json())["ok"] is True
    assert fake.messages() == []


async def test_channel_and_argument_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    async def error_of(**kwargs: Any) -> str:
        with pytest.raises(SlackApiError) as caught:
            await client.api_call("chat.postMessage", json=kwargs)
        return str(caught.value.response["error"])

    assert await error_of(channel="C0NOPE", text="x") == "channel_not_found"
    assert await error_of(text="x") == "channel_not_found"
    assert await error_of(channel=CHANNEL) == "no_text"
    assert await error_of(channel=CHANNEL, blocks="{not json") == "invalid_blocks_format"
    assert await error_of(channel=CHANNEL, blocks=[{"text": "no type"}]) == "invalid_blocks"
    assert await error_of(channel=CHANNEL, text="x" * 40_001) == "msg_too_long"
    fake.add_channel("C0PRIVATE", [AGENT], bot_member=False)
    assert await error_of(channel="C0PRIVATE", text="x") == "not_in_channel"
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("views.nope")
    assert unknown.value.response.status_code == 404
    assert unknown.value.response.data == {
        "ok": False,
        "error": "unknown_method",
        "req_method": "views.nope",
    }
    assert fake.messages() == []


async def test_post_to_a_user_id_opens_the_dm(fake: FakeSlack, client: AsyncWebClient) -> None:
    answer = await client.chat_postMessage(channel=CUSTOMER, text="Merhaba Mehmet")
    assert answer["channel"] == "D0CUSTOMER"
    assert [m["text"] for m in fake.messages("D0CUSTOMER")] == ["Merhaba Mehmet"]


async def test_rate_limit_is_retried_after_retry_after(fake: FakeSlack) -> None:
    client = AsyncWebClient(
        token=DEFAULT_TOKEN,
        base_url=fake.base_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake.fail_next("chat.postMessage", status=429, retry_after=1)
    answer = await client.chat_postMessage(channel=CHANNEL, text="bir kez")
    assert answer["ok"]
    limited, retried = fake.calls("chat.postMessage")
    assert limited.status == 429 and limited.injected and limited.error == "ratelimited"
    assert limited.response == {"ok": False, "error": "ratelimited"}
    assert retried.ok and not retried.injected
    assert retried.at - limited.at >= 1.0
    assert [m["text"] for m in fake.messages(CHANNEL)] == ["bir kez"]


async def test_rate_limit_without_retry_handler(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=CHANNEL, text="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.response["error"] == "ratelimited"
    await client.chat_postMessage(channel=CHANNEL, text="y")
    assert [m["text"] for m in fake.messages(CHANNEL)] == ["y"]


async def test_injected_server_and_api_errors(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.update", status=200, error="channel_not_found")
    fake.fail_next("chat.postMessage", status=503, count=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as server:
            await client.chat_postMessage(channel=CHANNEL, text="x")
        assert server.value.response.status_code == 503
        assert server.value.response["error"] == "fatal_error"
    posted = await client.chat_postMessage(channel=CHANNEL, text="x")
    with pytest.raises(SlackApiError) as api:
        await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="y")
    assert api.value.response.status_code == 200
    assert api.value.response["error"] == "channel_not_found"
    assert [c.injected for c in fake.calls("chat.postMessage")] == [True, True, False]


async def test_async_wait_for(fake: FakeSlack, client: AsyncWebClient) -> None:
    async def later() -> None:
        await asyncio.sleep(0.1)
        await client.chat_postMessage(channel=CHANNEL, text="geldi")

    task = asyncio.create_task(later())
    found = await fake.wait_for(lambda: fake.messages(CHANNEL), timeout=3)
    assert [m["text"] for m in found] == ["geldi"]
    await task
    with pytest.raises(TimeoutError, match="2 message"):
        await fake.wait_for_messages(CHANNEL, n=2, timeout=0.2)


# -- the thread variant with the synchronous WebClient ---------------------------------------------


def test_thread_variant_with_sync_web_client() -> None:
    with FakeSlackThread() as slack:
        slack.add_channel(CHANNEL, [AGENT, slack.bot_user_id])
        slack.add_user(AGENT, "Ayşe", "Yılmaz")
        client = WebClient(
            token=slack.token,
            base_url=slack.base_url,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
        )
        assert client.auth_test()["user_id"] == "UBOT"
        slack.fail_next("chat.postMessage", retry_after=1)
        posted = client.chat_postMessage(channel=CHANNEL, text="Talep #7", blocks=_blocks())
        limited, retried = slack.calls("chat.postMessage")
        assert limited.status == 429 and retried.ok and retried.at - limited.at >= 1.0
        client.chat_postMessage(channel=CHANNEL, text="yanıt", thread_ts=posted["ts"])
        client.chat_update(channel=CHANNEL, ts=posted["ts"], text="Devralındı")
        assert [m["text"] for m in slack.messages(CHANNEL)] == ["Devralındı", "yanıt"]
        assert [m["text"] for m in slack.thread(CHANNEL, posted["ts"])] == ["yanıt"]
        assert client.users_info(user=AGENT)["user"]["profile"]["first_name"] == "Ayşe"
        with pytest.raises(SlackApiError) as missing:
            client.users_info(user="U0NOBODY")
        assert missing.value.response["error"] == "user_not_found"
        pages = [page["members"] for page in client.conversations_members(channel=CHANNEL, limit=1)]
        assert pages == [[AGENT], ["UBOT"]]

        # wait_for from the test thread while another thread posts.
        def later() -> None:
            time.sleep(0.1)
            WebClient(token=slack.token, base_url=slack.base_url).chat_postMessage(
                channel=CHANNEL, text="sonra"
            )

        worker = threading.Thread(target=later)
        worker.start()
        found = slack.wait_for_messages(CHANNEL, n=3, timeout=3)
        worker.join()
        assert found[-1]["text"] == "sonra"
        with pytest.raises(TimeoutError):
            slack.wait_for(lambda: slack.ephemerals(CHANNEL), timeout=0.2)
        base_url = slack.base_url
    with pytest.raises(Exception, match=r"(?i)connect|refused"):
        WebClient(token=DEFAULT_TOKEN, base_url=base_url, timeout=2).auth_test()


# -- requests to the bot: signatures and payloads ------------------------------------------------


def test_signed_headers_verify_with_slack_sdk() -> None:
    body = json_body(event_callback(message_event(CHANNEL, CUSTOMER, "merhaba")))
    headers = signed_headers(SECRET, body)
    assert headers["Content-Type"] == "application/json"
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body.replace("merhaba", "merhaba!"), headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    stale = signed_headers(SECRET, body, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)
    form = block_actions(AGENT, "ayse", CHANNEL, "1700000000.000100", "take_over", "42")
    form_headers = signed_headers(SECRET, form)
    assert form_headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert verifier.is_valid_request(form, form_headers)
    assert signed_headers(SECRET, form, content_type="text/plain")["Content-Type"] == "text/plain"


def test_payload_builders_have_slacks_shape() -> None:
    event = message_event(CHANNEL, CUSTOMER, "Merhaba <@UBOT> siparişim?", ts="1700000000.000200")
    assert event["type"] == "message" and event["channel_type"] == "channel"
    assert event["event_ts"] == event["ts"] == "1700000000.000200"
    assert event["client_msg_id"] and event["team"] == "T0001"
    section = event["blocks"][0]["elements"][0]["elements"]
    assert section == [
        {"type": "text", "text": "Merhaba "},
        {"type": "user", "user_id": "UBOT"},
        {"type": "text", "text": " siparişim?"},
    ]
    assert message_event("D0X", CUSTOMER, "x")["channel_type"] == "im"
    reply = message_event(CHANNEL, CUSTOMER, "x", thread_ts="1700000000.000100")
    assert reply["thread_ts"] == "1700000000.000100" and reply["parent_user_id"] == CUSTOMER
    bot = message_event(CHANNEL, "UBOT", "x", bot_id="BKOPRU", subtype="bot_message")
    assert bot["bot_id"] == "BKOPRU" and bot["subtype"] == "bot_message"
    assert "client_msg_id" not in bot

    envelope = event_callback(event)
    assert envelope["type"] == "event_callback" and envelope["event"] == event
    assert re.fullmatch(r"Ev[0-9A-Z]{10}", envelope["event_id"])
    assert envelope["authorizations"][0]["user_id"] == "UBOT"
    assert event_callback(event, event_id="Ev1")["event_id"] == "Ev1"
    assert url_verification("abc")["challenge"] == "abc"

    body = block_actions(
        AGENT, "ayse", CHANNEL, "1700000000.000100", "take_over", "42", trigger_id="1.2.3"
    )
    assert body.startswith("payload=")
    payload = json.loads(parse_qs(body)["payload"][0])
    assert payload["type"] == "block_actions" and payload["trigger_id"] == "1.2.3"
    assert payload["user"] == {"id": AGENT, "username": "ayse", "name": "ayse", "team_id": "T0001"}
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": CHANNEL,
        "is_ephemeral": False,
    }
    (action,) = payload["actions"]
    assert action["action_id"] == "take_over" and action["value"] == "42"
    assert action["type"] == "button" and TS_RE.fullmatch(action["action_ts"])


async def test_bolt_app_round_trip(fake: FakeSlack) -> None:
    """Signed events and button presses reach a real slack_bolt app, whose say() and respond()
    land on the fake."""
    app = AsyncApp(
        client=AsyncWebClient(token=DEFAULT_TOKEN, base_url=fake.base_url),
        signing_secret=SECRET,
    )
    seen: list[str] = []

    @app.message("merhaba")
    async def greet(message: dict[str, Any], say: AsyncSay) -> None:
        seen.append(message["text"])
        await say(text="Hoş geldiniz", blocks=_blocks(), thread_ts=message["ts"])

    @app.action("take_over")
    async def take_over(ack: Any, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        seen.append(body["actions"][0]["value"])
        await respond(text="Ayşe devraldı", replace_original=True)
        await respond(text="Sadece sana")

    def bolt_request(body: str) -> AsyncBoltRequest:
        headers: dict[str, str | Sequence[str]] = {**signed_headers(SECRET, body)}
        return AsyncBoltRequest(body=body, headers=headers)

    async def dispatch(body: str) -> int:
        return (await app.async_dispatch(bolt_request(body))).status

    challenge = json_body(url_verification("kopru-challenge"))
    answer = await app.async_dispatch(bolt_request(challenge))
    assert json.loads(answer.body) == {"challenge": "kopru-challenge"}

    root = fake.add_message(CHANNEL, CUSTOMER, "merhaba")
    event = message_event(CHANNEL, CUSTOMER, "merhaba", ts=root["ts"])
    assert await dispatch(json_body(event_callback(event))) == 200
    (reply,) = await fake.wait_for(lambda: fake.thread(CHANNEL, root["ts"]), timeout=3)
    assert reply["text"] == "Hoş geldiniz" and reply["user"] == "UBOT"
    # The bot's own message event is ignored by Bolt (it learnt bot_id from auth.test).
    own = message_event(CHANNEL, "UBOT", "merhaba", bot_id="BKOPRU")
    assert await dispatch(json_body(event_callback(own))) == 200
    assert len(fake.calls("auth.test")) == 1

    body = fake.block_actions(AGENT, CHANNEL, reply["ts"], "take_over")
    payload = json.loads(parse_qs(body)["payload"][0])
    assert payload["message"]["text"] == "Hoş geldiniz"
    assert payload["actions"][0]["block_id"] == reply["blocks"][1]["block_id"]
    assert payload["user"]["username"] == "ayse.yilmaz" and payload["channel"]["name"] == "destek"
    assert payload["response_url"].startswith(fake.root_url + "/response_url/")
    assert await dispatch(body) == 200
    await fake.wait_for(lambda: len(fake.calls("response_url")) == 2, timeout=3)
    assert seen == ["merhaba", "42"]
    replaced = fake.message(CHANNEL, reply["ts"])
    assert replaced is not None and replaced["text"] == "Ayşe devraldı"
    assert "blocks" not in replaced and replaced["history"][0]["text"] == "Hoş geldiniz"
    (ephemeral,) = fake.ephemerals(CHANNEL)
    assert ephemeral["user"] == AGENT and ephemeral["text"] == "Sadece sana"
    assert ephemeral["thread_ts"] == root["ts"]
    assert all(call.ok for call in fake.calls("response_url"))


# -- Socket Mode -----------------------------------------------------------------------------------


async def test_apps_connections_open_takes_only_the_app_token(fake: FakeSlack) -> None:
    assert fake.app_token == DEFAULT_APP_TOKEN == "xapp-test"
    answer = await AsyncWebClient(base_url=fake.base_url).apps_connections_open(
        app_token=DEFAULT_APP_TOKEN
    )
    assert set(answer.data) == {"ok", "url"}
    assert re.fullmatch(rf"ws://127\.0\.0\.1:{fake.port}/socket/[0-9a-f]{{32}}", answer["url"])
    (call,) = fake.calls("apps.connections.open")
    assert call.token == DEFAULT_APP_TOKEN and call.headers["Authorization"] == "Bearer xapp-test"

    async def error_of(token: str | None) -> str:
        with pytest.raises(SlackApiError) as caught:
            if token is None:
                await AsyncWebClient(base_url=fake.base_url).api_call("apps.connections.open")
            else:
                await AsyncWebClient(base_url=fake.base_url).apps_connections_open(app_token=token)
        assert caught.value.response.status_code == 200
        return str(caught.value.response["error"])

    assert await error_of("xapp-wrong") == "invalid_auth"
    assert await error_of(DEFAULT_TOKEN) == "not_allowed_token_type"
    assert await error_of(None) == "not_authed"
    # An app-level token is no good for the Web API's other methods.
    with pytest.raises(SlackApiError) as app_token:
        await AsyncWebClient(token=DEFAULT_APP_TOKEN, base_url=fake.base_url).auth_test()
    assert app_token.value.response["error"] == "not_allowed_token_type"
    assert fake.socket_connections() == 0

    async with FakeSlack(app_token=None) as without:
        with pytest.raises(SlackApiError) as off:
            await AsyncWebClient(base_url=without.base_url).apps_connections_open(
                app_token=DEFAULT_APP_TOKEN
            )
        assert off.value.response["error"] == "invalid_auth"


async def test_socket_mode_client_receives_envelopes_and_acks(fake: FakeSlack) -> None:
    """slack_sdk's own aiohttp SocketModeClient: hello, an events_api and an interactive envelope,
    both acknowledged (one with a payload), pings answered."""
    messages: list[dict[str, Any]] = []
    requests: list[SocketModeRequest] = []

    async def on_message(_: AsyncBaseSocketModeClient, message: dict[str, Any], raw: Any) -> None:
        messages.append(message)

    async def on_request(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        requests.append(request)
        payload = {"text": "tamam"} if request.type == "interactive" else None
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id, payload))

    client = SocketModeClient(
        app_token=DEFAULT_APP_TOKEN,
        web_client=AsyncWebClient(base_url=fake.base_url),
        auto_reconnect_enabled=False,
    )
    client.message_listeners.append(on_message)
    client.socket_mode_request_listeners.append(on_request)
    try:
        await client.connect()
        (connection,) = await fake.wait_for_sockets(1, timeout=5)
        assert fake.socket_connections() == 1
        assert connection.hello == {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {
                "host": "applink-kopru-test",
                "build_number": 1,
                "approximate_connection_time": 3600,
            },
            "connection_info": {"app_id": "A0KOPRU"},
        }
        await fake.wait_for(lambda: messages, timeout=5)
        assert messages[0] == connection.hello
        # slack_sdk pings right after connecting; the fake answers with a pong.
        await fake.wait_for(lambda: fake.sockets()[0].pings, timeout=5)

        root = fake.add_message(CHANNEL, CUSTOMER, "merhaba")
        event_envelope = await fake.send_message_event(
            CHANNEL, AGENT, "Siparişiniz yolda", thread_ts=root["ts"], event_id="Ev0SOCKET01"
        )
        ack = await fake.wait_for_ack(event_envelope, timeout=5)
        assert ack.payload is None and ack.known and ack.connection_id == connection.id
        assert json.loads(ack.raw) == {"envelope_id": event_envelope}
        (first,) = requests
        assert first.type == "events_api" and first.envelope_id == event_envelope
        assert first.accepts_response_payload is False
        assert first.retry_attempt == 0 and first.retry_reason == ""
        assert first.payload["type"] == "event_callback" and first.payload["event_id"] == (
            "Ev0SOCKET01"
        )
        event = first.payload["event"]
        assert event["text"] == "Siparişiniz yolda" and event["user"] == AGENT
        assert event["thread_ts"] == root["ts"] and event["parent_user_id"] == CUSTOMER
        # The message is in the thread, as in Slack.
        (stored,) = fake.thread(CHANNEL, root["ts"])
        assert stored["ts"] == event["ts"] and stored["text"] == "Siparişiniz yolda"

        card = await AsyncWebClient(token=DEFAULT_TOKEN, base_url=fake.base_url).chat_postMessage(
            channel=CHANNEL, text="Talep #42", blocks=_blocks()
        )
        press = await fake.send_block_actions(AGENT, CHANNEL, card["ts"], "take_over")
        ack = await fake.wait_for_ack(press, timeout=5)
        assert ack.payload == {"text": "tamam"}
        second = requests[1]
        assert second.type == "interactive" and second.accepts_response_payload is True
        assert second.retry_attempt is None  # only events_api envelopes carry retries
        assert second.payload["type"] == "block_actions"  # a dict, not form-encoded
        assert second.payload["actions"][0]["value"] == "42"
        assert second.payload["response_url"].startswith(fake.root_url + "/response_url/")

        sent = fake.envelopes()
        assert [(e.envelope_id, e.type) for e in sent] == [
            (event_envelope, "events_api"),
            (press, "interactive"),
        ]
        assert sent[0].frame == {
            "envelope_id": event_envelope,
            "payload": first.payload,
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        assert [a.envelope_id for a in fake.acks()] == [event_envelope, press]
        with pytest.raises(TimeoutError, match="ack of envelope nope"):
            await fake.wait_for_ack("nope", timeout=0.1)
    finally:
        await client.close()
    await fake.wait_for(lambda: fake.socket_connections() == 0, timeout=5)
    (closed,) = fake.sockets()
    assert not closed.open and closed.closed_at is not None
    with pytest.raises(RuntimeError, match="no Socket Mode connection"):
        await fake.send_envelope("events_api", {})


async def test_socket_mode_urls_are_single_use(fake: FakeSlack) -> None:
    opened = await AsyncWebClient(base_url=fake.base_url).apps_connections_open(
        app_token=DEFAULT_APP_TOKEN
    )
    async with ClientSession() as session:
        async with session.ws_connect(opened["url"]) as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["type"] == "hello"
            await fake.wait_for_sockets(1)
            envelope = await fake.send_envelope("events_api", {"type": "event_callback"})
            frame = await ws.receive_json(timeout=5)
            assert frame["envelope_id"] == envelope
            await ws.send_str("not json")
            await ws.send_json({"type": "something"})
            await ws.send_json({"envelope_id": "unknown"})
            await fake.wait_for(lambda: len(fake.acks()) == 1)
            assert fake.acks()[0].known is False and fake.acks(envelope) == []
            assert fake.sockets()[0].frames == ["not json", {"type": "something"}]
            with pytest.raises(WSServerHandshakeError) as reused:
                await session.ws_connect(opened["url"])
            assert reused.value.status == 401
        await fake.wait_for(lambda: fake.socket_connections() == 0)
    with pytest.raises(WSServerHandshakeError) as made_up:
        async with ClientSession() as session:
            await session.ws_connect(f"ws://127.0.0.1:{fake.port}/socket/0123")
    assert made_up.value.status == 401


async def test_a_disconnect_makes_the_client_reconnect(fake: FakeSlack) -> None:
    seen: list[str] = []

    async def on_request(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        seen.append(request.envelope_id)
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))

    client = SocketModeClient(
        app_token=DEFAULT_APP_TOKEN, web_client=AsyncWebClient(base_url=fake.base_url)
    )
    client.socket_mode_request_listeners.append(on_request)
    try:
        await client.connect()
        (first,) = await fake.wait_for_sockets(1)
        assert await fake.send_disconnect("refresh_requested") == first.id
        # A new URL, a new connection; the client closes the old one itself.
        await fake.wait_for(
            lambda: len(fake.sockets()) == 2 and fake.socket_connections() == 1, timeout=10
        )
        old, new = fake.sockets()
        assert old.id == first.id and not old.open and new.open
        assert new.hello["num_connections"] == 1
        assert len(fake.calls("apps.connections.open")) == 2
        envelope = await fake.send_event(message_event(CHANNEL, AGENT, "yine buradayım"))
        assert (await fake.wait_for_ack(envelope)).connection_id == new.id
        assert seen == [envelope]
    finally:
        await client.close()


async def test_bolt_socket_mode_handler_round_trip(fake: FakeSlack) -> None:
    """A slack_bolt app over AsyncSocketModeHandler (as Köprü runs it): no signing secret, events
    and button presses arrive as envelopes, bolt acks them, say() and respond() reach the fake."""
    app = AsyncApp(client=AsyncWebClient(token=DEFAULT_TOKEN, base_url=fake.base_url))
    pressed: list[str] = []

    @app.event("message")
    async def on_message(event: dict[str, Any], say: AsyncSay) -> None:
        if not event.get("bot_id"):
            await say(text=f"Aldım: {event['text']}", thread_ts=event["ts"])

    @app.action("take_over")
    async def take_over(ack: Any, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        pressed.append(body["user"]["id"])
        await respond(text="Ayşe devraldı", replace_original=True)

    handler = AsyncSocketModeHandler(app, DEFAULT_APP_TOKEN)
    try:
        await handler.connect_async()
        await fake.wait_for_sockets(1)
        envelope = await fake.send_message_event(CHANNEL, CUSTOMER, "merhaba")
        assert (await fake.wait_for_ack(envelope)).payload is None
        (reply,) = await fake.wait_for(
            lambda: [m for m in fake.messages(CHANNEL) if m.get("bot_id")], timeout=5
        )
        assert reply["text"] == "Aldım: merhaba"
        card = await app.client.chat_postMessage(channel=CHANNEL, text="x", blocks=_blocks())
        press = await fake.send_block_actions(AGENT, CHANNEL, card["ts"], "take_over")
        ack = await fake.wait_for_ack(press)
        assert ack.payload is None and ack.at - fake.envelopes()[-1].sent_at < 3
        await fake.wait_for(lambda: fake.calls("response_url"), timeout=5)
        assert pressed == [AGENT]
        replaced = fake.message(CHANNEL, card["ts"])
        assert replaced is not None and replaced["text"] == "Ayşe devraldı"
    finally:
        await handler.close_async()


def test_thread_variant_with_the_builtin_socket_mode_client() -> None:
    """FakeSlackThread's blocking Socket Mode helpers, with slack_sdk's synchronous client."""
    with FakeSlackThread(app_token="xapp-1-A0KOPRU-thread") as slack:
        slack.add_channel(CHANNEL, [AGENT, slack.bot_user_id])
        slack.add_user(AGENT, "Ayşe", "Yılmaz")
        posted = WebClient(token=slack.token, base_url=slack.base_url).chat_postMessage(
            channel=CHANNEL, text="Talep #42", blocks=_blocks()
        )
        received: list[SocketModeRequest] = []

        def on_request(client: BuiltinSocketModeClient, request: SocketModeRequest) -> None:
            received.append(request)
            client.send_socket_mode_response(SocketModeResponse(request.envelope_id))

        assert slack.app_token is not None
        client = BuiltinSocketModeClient(
            app_token=slack.app_token,
            web_client=WebClient(base_url=slack.base_url),
            auto_reconnect_enabled=False,
        )
        client.socket_mode_request_listeners.append(on_request)  # type: ignore[arg-type]
        try:
            client.connect()
            slack.wait_for_sockets(1, timeout=5)
            press = slack.send_block_actions(AGENT, CHANNEL, posted["ts"], "take_over")
            reply = slack.send_message_event(CHANNEL, AGENT, "bakıyorum", thread_ts=posted["ts"])
            raw = slack.send_envelope("slash_commands", {"command": "/kopru", "text": "durum"})
            for envelope in (press, reply, raw):
                assert slack.wait_for_ack(envelope, timeout=5).known
            assert [r.type for r in received] == ["interactive", "events_api", "slash_commands"]
            assert received[0].payload["user"]["username"] == "ayse.yilmaz"
            assert received[2].accepts_response_payload is True
            assert [m["text"] for m in slack.thread(CHANNEL, posted["ts"])] == ["bakıyorum"]
            assert len(slack.envelopes()) == 3 and len(slack.acks()) == 3
        finally:
            client.close()
        slack.wait_for(lambda: slack.socket_connections() == 0, timeout=5)

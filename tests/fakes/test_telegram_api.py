"""The fake Bot API, driven by the real python-telegram-bot client (and by raw HTTP)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from aiohttp import ClientSession, web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    TelegramObject,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import filters

from tests.fakes.telegram_api import (
    DEFAULT_TOKEN,
    FakeTelegram,
    FakeTelegramThread,
    callback_update,
    edited_message_update,
    group_text_update,
    parse_html,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)

CHAT = 424242


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as telegram:
        yield telegram


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(DEFAULT_TOKEN, base_url=fake.base_url, base_file_url=fake.file_base_url) as b:
        yield b


def _keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Siparişim nerede?", callback_data="order_status")],
            [
                InlineKeyboardButton("İade", callback_data="return:start"),
                InlineKeyboardButton("Yardım", url="https://example.invalid/help"),
            ],
        ]
    )


def _seconds(value: int | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _seconds(exc.retry_after)


# --- the basics through PTB ---------------------------------------------------------------------


async def test_base_url_is_loopback(fake: FakeTelegram) -> None:
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert fake.base_url.endswith("/bot")


async def test_get_me(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot
    assert me.first_name == "Köprü Test"
    assert me.username == "kopru_test_bot"
    assert me.can_join_groups is True
    assert me.api_kwargs == {}
    # Bot.__aenter__ already called getMe once to check the token.
    assert [method for method, _ in fake.calls] == ["getMe", "getMe"]


async def test_send_message_with_inline_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    first = await bot.send_message(
        CHAT, "Merhaba! Size nasıl yardımcı olabilirim?", reply_markup=_keyboard()
    )
    second = await bot.send_message(str(CHAT), "İkinci mesaj")

    assert second.message_id > first.message_id
    assert first.text == "Merhaba! Size nasıl yardımcı olabilirim?"
    assert first.chat.id == CHAT
    assert first.from_user is not None and first.from_user.username == "kopru_test_bot"
    assert isinstance(first.date, dt.datetime)
    assert first.reply_markup == _keyboard()
    assert second.reply_markup is None

    sent = fake.sent_messages(chat_id=CHAT)
    assert [message["text"] for message in sent] == [first.text, second.text]
    assert sent[0]["chat_id"] == CHAT  # numeric chat ids are recorded as ints
    assert sent[0]["message_id"] == first.message_id
    rows = sent[0]["reply_markup"]["inline_keyboard"]
    assert [button.get("callback_data") for row in rows for button in row] == [
        "order_status",
        "return:start",
        None,
    ]
    assert rows[1][1]["url"] == "https://example.invalid/help"
    assert fake.sent_messages(chat_id=1) == []


async def test_html_parse_mode_is_parsed_like_telegram(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_message(
        CHAT,
        "  <b>Kargonuz</b> yolda &amp; 👋 <a href='https://kopru.example/t/1'>takip</a> ",
        parse_mode="HTML",
    )
    assert message.text == "Kargonuz yolda & 👋 takip"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 8),
        ("text_link", 20, 5),
    ]
    assert message.entities[1].url == "https://kopru.example/t/1"
    assert fake.sent_messages()[0]["parse_mode"] == "HTML"

    with pytest.raises(BadRequest, match=r'(?i)Unsupported start tag "siparis"'):
        await bot.send_message(CHAT, "Sipariş <siparis> bulunamadı", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)Can't find end tag corresponding to start tag b"):
        await bot.send_message(CHAT, "<b>kalın", parse_mode="HTML")
    assert len(fake.sent_messages()) == 1
    assert [call.status for call in fake.attempts("sendMessage")] == [200, 400, 400]


def test_parse_html_matches_tdlib_offsets() -> None:
    text, entities = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert text == "x = 1"
    assert entities == [{"offset": 0, "length": 5, "type": "pre", "language": "python"}]
    assert parse_html("a &lt;b&gt; &#128075;")[0] == "a <b> 👋"


async def test_message_validation(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CHAT, "   ")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "x", reply_markup=too_long)


async def test_send_photo(fake: FakeTelegram, bot: Bot) -> None:
    message = await bot.send_photo(CHAT, "https://kopru.example/kargo.jpg", caption="Kargo etiketi")
    assert message.photo and message.photo[-1].width == 1280
    assert message.caption == "Kargo etiketi"
    assert fake.sent_photos(CHAT)[0]["photo"] == "https://kopru.example/kargo.jpg"

    uploaded = await bot.send_photo(CHAT, b"\x89PNG\r\n\x1a\nnot really a png")
    assert uploaded.photo
    upload = fake.sent_photos(CHAT)[1]["photo"]
    assert upload.content.startswith(b"\x89PNG")


async def test_answer_callback_query(fake: FakeTelegram, bot: Bot) -> None:
    update = Update.de_json(callback_update(7, CHAT, "order_status", message_id=55), bot)
    assert update is not None and update.callback_query is not None
    assert await update.callback_query.answer("Bakıyorum…") is True
    assert fake.answered_callbacks() == [
        {"callback_query_id": update.callback_query.id, "text": "Bakıyorum…"}
    ]


async def test_edit_message_reply_markup(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "Seçin:", reply_markup=_keyboard())
    smaller = InlineKeyboardMarkup([[InlineKeyboardButton("Tamam", callback_data="ok")]])

    edited = await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=smaller)
    assert isinstance(edited, type(sent))
    assert edited.message_id == sent.message_id
    assert edited.reply_markup == smaller
    assert edited.edit_date is not None
    assert (
        fake.edited_markups()[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ok"
    )

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=smaller)

    removed = await bot.edit_message_reply_markup(CHAT, sent.message_id)
    assert not isinstance(removed, bool) and removed.reply_markup is None

    # Inline messages have no Message to return: the result is True.
    assert (
        await bot.edit_message_reply_markup(inline_message_id="AgAAAOg", reply_markup=smaller)
        is True
    )


async def test_edit_message_reply_markup_under_a_pressed_button(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.queue_update(callback_update(8, CHAT, "order_status", message_id=77))
    edited = await bot.edit_message_reply_markup(CHAT, 77)  # remove the keyboard
    assert not isinstance(edited, bool)
    assert edited.text == "Size nasıl yardımcı olabilirim?"
    assert edited.reply_markup is None


async def test_edit_message_text_chat_action_and_commands(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "Kargonuz hazırlanıyor", reply_markup=_keyboard())
    edited = await bot.edit_message_text(
        "<i>Kargonuz yolda</i>", CHAT, sent.message_id, parse_mode="HTML"
    )
    assert not isinstance(edited, bool)
    assert edited.text == "Kargonuz yolda"
    assert edited.entities[0].type == "italic"
    assert edited.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<i>Kargonuz yolda</i>", CHAT, sent.message_id, parse_mode="HTML"
        )

    assert await bot.send_chat_action(CHAT, "typing") is True
    assert await bot.set_my_commands([("start", "Başla"), ("yardim", "Yardım")]) is True
    assert fake.calls[-1][1]["commands"] == [
        {"command": "start", "description": "Başla"},
        {"command": "yardim", "description": "Yardım"},
    ]


async def test_async_wait_for_messages(fake: FakeTelegram, bot: Bot) -> None:
    async def reply_later() -> None:
        await asyncio.sleep(0.2)
        await bot.send_message(CHAT, "Geç gelen yanıt")

    task = asyncio.create_task(reply_later())
    messages = await fake.wait_for_messages(1, timeout=5)
    await task
    assert [m["text"] for m in messages] == ["Geç gelen yanıt"]
    with pytest.raises(TimeoutError, match="expected 2 message"):
        await fake.wait_for_messages(2, timeout=0.3)
    assert len(await fake.wait_for_calls("sendMessage")) == 1


async def test_set_webhook_and_info(fake: FakeTelegram, bot: Bot) -> None:
    url = "https://127.0.0.1:8443/webhooks/telegram/webhook"
    assert await bot.set_webhook(
        url, secret_token="k0pru-S3cret_", allowed_updates=["message", "callback_query"]
    )
    assert fake.webhook["url"] == url
    assert fake.webhook["secret_token"] == "k0pru-S3cret_"
    assert fake.webhook["allowed_updates"] == ["message", "callback_query"]

    info = await bot.get_webhook_info()
    assert info.url == url
    assert info.allowed_updates == ("message", "callback_query")
    assert info.has_custom_certificate is False

    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    with pytest.raises(BadRequest, match=r"(?i)secret token"):
        await bot.set_webhook(url, secret_token="not allowed!")

    fake.queue_update(text_update(1, CHAT, "merhaba"))
    assert await bot.delete_webhook(drop_pending_updates=True)
    info = await bot.get_webhook_info()
    assert info.url == ""
    assert info.pending_update_count == 0


async def test_deliver_webhook_posts_like_telegram(fake: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[dict[str, Any], str | None]] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/webhook", secret_token="s3cret")
        update = text_update(3, CHAT, "merhaba")
        assert await fake.deliver_webhook(update) == 200
    finally:
        await runner.cleanup()
    assert received == [(update, "s3cret")]

    await bot.set_webhook("https://api.example.invalid/hook")
    with pytest.raises(ValueError, match="non-loopback"):
        await fake.deliver_webhook(update)


# --- getUpdates ---------------------------------------------------------------------------------


async def test_get_updates_long_poll_wakes_on_queue_and_honours_offset(
    fake: FakeTelegram, bot: Bot
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.3)
    assert not poll.done()
    fake.queue_update(text_update(100, CHAT, "Siparişim nerede?"))
    updates = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 3
    assert [u.update_id for u in updates] == [100]
    assert updates[0].message is not None and updates[0].message.text == "Siparişim nerede?"
    assert updates[0].effective_user is not None and updates[0].effective_user.language_code == "tr"

    # Not confirmed yet: served again.
    assert [u.update_id for u in await bot.get_updates()] == [100]
    # offset confirms (and drops) everything below it.
    fake.queue_update(text_update(101, CHAT, "iade"))
    fake.queue_update(text_update(102, CHAT, "teşekkürler"))
    assert [u.update_id for u in await bot.get_updates(offset=101, limit=1)] == [101]
    assert [u.update_id for u in await bot.get_updates(offset=102)] == [102]
    assert await bot.get_updates(offset=103) == ()
    assert (await bot.get_webhook_info()).pending_update_count == 0

    assert fake.queue_update({"message": text_update(0, CHAT, "auto id")["message"]}) == 103


async def test_get_updates_negative_offset_and_allowed_updates(
    fake: FakeTelegram, bot: Bot
) -> None:
    for update_id in (1, 2, 3):
        fake.queue_update(text_update(update_id, CHAT, f"m{update_id}"))
    fake.queue_update(callback_update(4, CHAT, "x", message_id=9))
    assert [u.update_id for u in await bot.get_updates(offset=-2)] == [3, 4]
    assert [u.update_id for u in await bot.get_updates(allowed_updates=["callback_query"])] == [4]


async def test_get_updates_times_out_empty(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 3


async def test_a_newer_poll_ends_the_older_one_with_conflict(fake: FakeTelegram, bot: Bot) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.3)
    async with Bot(DEFAULT_TOKEN, base_url=fake.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(older, 5)


async def test_stop_answers_a_pending_long_poll() -> None:
    telegram = FakeTelegram()
    await telegram.start()
    async with Bot(DEFAULT_TOKEN, base_url=telegram.base_url) as b:
        poll = asyncio.create_task(b.get_updates(timeout=30))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        await telegram.stop()
        assert await asyncio.wait_for(poll, 5) == ()
        assert time.monotonic() - started < 3


# --- errors -------------------------------------------------------------------------------------


async def test_wrong_token_is_rejected(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("999999:WRONG", base_url=fake.base_url):
            pass
    assert fake.records[-1].status == 401

    async with (
        ClientSession() as session,
        session.post(f"{fake.base_url}999999:WRONG/getMe") as response,
    ):
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }


async def test_unknown_method_is_404(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": CHAT})
    async with (
        ClientSession() as session,
        session.post(f"{fake.base_url}{DEFAULT_TOKEN}/fooBar") as response,
    ):
        assert response.status == 404
        assert await response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }


async def test_fail_next_429_raises_retry_after_and_records_timed_attempts(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=1)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "Merhaba")
    assert _retry_after(caught.value) == 1

    await asyncio.sleep(_retry_after(caught.value))
    await bot.send_message(CHAT, "Merhaba")

    first, second = fake.attempts("sendMessage")
    assert (first.status, first.injected) == (429, True)
    assert first.description == "Too Many Requests: retry after 1"
    assert (second.status, second.injected) == (200, False)
    assert second.at - first.at >= 1.0
    assert len(fake.sent_messages()) == 1
    assert [method for method, _ in fake.calls].count("sendMessage") == 2


async def test_fail_next_server_errors(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", status=502, times=2)
    fake.fail_next("sendmessage", status=500, description="Internal Server Error: restart")
    for expected in ("Bad Gateway", "Bad Gateway", "Internal Server Error: restart"):
        with pytest.raises(NetworkError, match=expected):
            await bot.send_message(CHAT, "x")
    await bot.send_message(CHAT, "x")
    assert [call.status for call in fake.attempts("sendMessage")] == [502, 502, 500, 200]

    fake.fail_next("sendMessage", status=403)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "x")


# --- the raw protocol ---------------------------------------------------------------------------


async def test_json_form_and_query_requests_decode_alike(fake: FakeTelegram) -> None:
    markup = {"inline_keyboard": [[{"text": "Evet", "callback_data": "yes"}]]}
    url = f"{fake.base_url}{DEFAULT_TOKEN}"
    async with ClientSession() as session:
        async with session.post(
            f"{url}/sendMessage", json={"chat_id": str(CHAT), "text": "123", "reply_markup": markup}
        ) as r:
            as_json = await r.json()
        form = {"chat_id": str(CHAT), "text": "123", "reply_markup": json.dumps(markup)}
        async with session.post(f"{url}/SENDMESSAGE", data=form) as r:
            as_form = await r.json()
        async with session.get(f"{url}/getme") as r:
            assert (await r.json())["result"]["username"] == "kopru_test_bot"
    assert as_json["ok"] and as_form["ok"]
    assert as_json["result"]["text"] == as_form["result"]["text"] == "123"
    assert as_json["result"]["reply_markup"] == markup
    first, second = fake.sent_messages()
    assert first["chat_id"] == second["chat_id"] == CHAT
    assert first["text"] == second["text"] == "123"  # text stays a string
    assert first["reply_markup"] == second["reply_markup"] == markup


# --- update builders ----------------------------------------------------------------------------

BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "text": lambda: text_update(1, CHAT, "Siparişim nerede? 🙂", username="ayse_k"),
    "command": lambda: text_update(2, CHAT, "/start"),
    "group": lambda: group_text_update(
        3, -1001234567890, "/yardim@kopru_test_bot lütfen @kopru_test_bot"
    ),
    "small group": lambda: group_text_update(4, -4012345, "merhaba", chat_type="group"),
    "callback": lambda: callback_update(5, CHAT, "order_status", message_id=42),
    "edited": lambda: edited_message_update(6, CHAT, "Siparişim nerede??", message_id=40),
    "sticker": lambda: sticker_update(7, CHAT),
    "animated sticker": lambda: sticker_update(8, CHAT, "🎉", is_animated=True),
    "photo": lambda: photo_update(9, CHAT, caption="Hasarlı paket https://kopru.example/x"),
    "voice": lambda: voice_update(10, CHAT, duration=7),
}


def _assert_all_fields_known(obj: object, path: str = "update") -> None:
    """Every field the builder used is one PTB knows (unknown ones land in api_kwargs)."""
    if isinstance(obj, TelegramObject):
        assert obj.api_kwargs == {}, f"{path}: unknown fields {obj.api_kwargs}"
        for name, value in obj._get_attrs(recursive=False).items():
            _assert_all_fields_known(value, f"{path}.{name}")
    elif isinstance(obj, (tuple, list)):
        for index, item in enumerate(obj):
            _assert_all_fields_known(item, f"{path}[{index}]")


def _assert_contains(produced: object, sent: object, path: str = "update") -> None:
    """``sent`` survives a PTB round trip (PTB only adds its defaults, e.g. false flags)."""
    if isinstance(sent, dict):
        assert isinstance(produced, dict), path
        for key, value in sent.items():
            assert key in produced, f"{path}.{key} was dropped"
            _assert_contains(produced[key], value, f"{path}.{key}")
    elif isinstance(sent, list):
        assert isinstance(produced, list) and len(produced) == len(sent), path
        for index, (left, right) in enumerate(zip(produced, sent, strict=True)):
            _assert_contains(left, right, f"{path}[{index}]")
    else:
        assert produced == sent, f"{path}: {produced!r} != {sent!r}"


@pytest.mark.parametrize("kind", list(BUILDERS))
async def test_update_builders_parse_with_ptb(kind: str, bot: Bot) -> None:
    data = BUILDERS[kind]()
    update = Update.de_json(json.loads(json.dumps(data)), bot)
    assert update is not None
    assert update.update_id == data["update_id"]
    assert update.effective_user is not None and update.effective_chat is not None
    _assert_all_fields_known(update)
    _assert_contains(update.to_dict(), data)  # nothing lost or reshaped


async def test_update_builders_carry_what_handlers_look_at(bot: Bot) -> None:
    def parse(data: dict[str, Any]) -> Update:
        update = Update.de_json(data, bot)
        assert update is not None
        return update

    command = parse(BUILDERS["command"]())
    assert filters.COMMAND.check_update(command)
    assert command.effective_chat is not None and command.effective_chat.type == "private"

    group = parse(BUILDERS["group"]())
    assert group.effective_chat is not None and group.effective_chat.type == "supergroup"
    assert group.effective_message is not None
    assert [e.type for e in group.effective_message.entities] == ["bot_command", "mention"]
    assert filters.ChatType.GROUPS.check_update(group)

    callback = parse(BUILDERS["callback"]())
    assert callback.callback_query is not None and callback.callback_query.data == "order_status"
    assert callback.callback_query.message is not None
    assert callback.callback_query.message.message_id == 42

    assert filters.UpdateType.EDITED_MESSAGE.check_update(parse(BUILDERS["edited"]()))
    assert filters.Sticker.ALL.check_update(parse(BUILDERS["sticker"]()))
    assert filters.PHOTO.check_update(parse(BUILDERS["photo"]()))
    assert filters.VOICE.check_update(parse(BUILDERS["voice"]()))
    assert not filters.TEXT.check_update(parse(BUILDERS["voice"]()))

    with pytest.raises(ValueError, match="negative"):
        group_text_update(1, 42, "group chats have negative ids")


# --- the thread wrapper, from plain synchronous tests -------------------------------------------


def test_thread_wrapper_serves_a_bot_in_a_subprocess() -> None:
    with FakeTelegramThread() as telegram:
        assert telegram.base_url.startswith("http://127.0.0.1:")
        script = textwrap.dedent(
            """
            import asyncio, sys
            from telegram import Bot

            async def main(base_url):
                async with Bot("123456:TEST", base_url=base_url) as bot:
                    updates = await bot.get_updates(timeout=5)
                    for update in updates:
                        text = update.message.text
                        await bot.send_message(update.effective_chat.id, "Yanıt: " + text)
                    await bot.get_updates(offset=updates[-1].update_id + 1)

            asyncio.run(main(sys.argv[1]))
            """
        )
        process = subprocess.Popen([sys.executable, "-c", script, telegram.base_url])
        try:
            # Queue only once the bot is long-polling: the poll must wake from another thread.
            deadline = time.monotonic() + 30
            while not telegram.attempts("getUpdates") and time.monotonic() < deadline:
                time.sleep(0.05)
            telegram.queue_update(text_update(500, CHAT, "Merhaba"))
            replies = telegram.wait_for_messages(1, timeout=30, chat_id=CHAT)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
        assert [reply["text"] for reply in replies] == ["Yanıt: Merhaba"]
        assert [method for method, _ in telegram.calls] == [
            "getMe",
            "getUpdates",
            "sendMessage",
            "getUpdates",
        ]


def test_thread_wrapper_sync_helpers() -> None:
    telegram = FakeTelegramThread()
    telegram.start()
    try:
        url = f"{telegram.base_url}{telegram.token}"
        with httpx.Client(trust_env=False, timeout=10) as client:
            telegram.fail_next("sendMessage", retry_after=3)
            limited = client.post(f"{url}/sendMessage", data={"chat_id": CHAT, "text": "a"})
            assert limited.status_code == 429
            assert limited.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            }
            with pytest.raises(TimeoutError, match="expected 1 message"):
                telegram.wait_for_messages(1, timeout=0.3)
            client.post(
                f"{url}/sendMessage", data={"chat_id": CHAT, "text": "b"}
            ).raise_for_status()
        assert [m["text"] for m in telegram.wait_for_messages(1, timeout=5)] == ["b"]
        assert [call.injected for call in telegram.attempts("sendMessage")] == [True, False]
        assert len(telegram.wait_for_calls("sendMessage", 2, timeout=1)) == 2
    finally:
        telegram.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/getMe", trust_env=False, timeout=2)

"""Telegram channel for Rasa on python-telegram-bot: verified webhook or polling, exactly once.

Register it in ``credentials.yml`` with no parameters (``channels.telegram.TelegramInput:``);
it is configured from the environment:

* ``TELEGRAM_TOKEN``: the bot's token from @BotFather; without it the channel is off.
* ``TELEGRAM_MODE``: ``webhook`` (default) or ``polling`` (no public URL needed).
* ``TELEGRAM_WEBHOOK_SECRET``: the secret Telegram sends in
  ``X-Telegram-Bot-Api-Secret-Token``; webhook requests without it get 403.
* ``TELEGRAM_WEBHOOK_URL``: public URL of ``/webhooks/telegram/webhook``, registered
  with Telegram at start when set.
* ``TELEGRAM_API_BASE_URL``: the Bot API server (default ``https://api.telegram.org``).

Each update is claimed in Köprü's store before it is processed and marked done after, so
a re-delivered update is answered once, and the webhook only answers 200 once the update
is processed (otherwise Telegram re-delivers it).

Bad input: a webhook body over 256 KB is refused (413) while it arrives, one that is not
``application/json`` 415, invalid UTF-8, malformed JSON or not an update 400 (each with a
warning in the log). An update Köprü cannot act on (a message without its chat or sender,
a button tap without its user or message, a type it does not subscribe to) is answered
200 and dropped with a warning, so Telegram stops delivering it. Control
characters are stripped from the text; a text over 4,096 characters (more than Telegram
itself sends) is answered with a request for a shorter one, without the bot. When an
action fails the customer gets an apology in their language. When the conversation store
is unavailable nothing is sent: the webhook answers 503 with ``Retry-After`` and polling
keeps its offset, so Telegram delivers the update again. The bot's answers to an update
are held until Rasa has stored the turn, so a refused update has not answered already.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import html
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiolimiter import AsyncLimiter
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest as TelegramBadRequest
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import HTTPXRequest
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    stop_never,
)
from tenacity.wait import wait_base

from bot.errors import KopruError
from bot.settings import Settings
from bot.storage.store import Claim, Store
from channels.inbound import (
    MAX_MESSAGE_CHARS,
    BadRequest,
    clean_text,
    error_response,
    parse_json_object,
    read_body,
    require_json,
)
from channels.processing import (
    LanguageLookup,
    Outcome,
    Result,
    process,
    too_long_reply,
    tracker_language,
    unavailable_response,
    watch_action_failures,
)

__all__ = [
    "HeldTelegramOutput",
    "TelegramConfig",
    "TelegramInput",
    "TelegramOutput",
    "check_update",
    "ignored_reason",
    "keyboard_rows",
    "split_message",
]

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# Payload sent to Rasa for messages the bot cannot read (stickers, photos, voice...).
UNSUPPORTED_PAYLOAD = "/unsupported_message"
START_PAYLOAD = "/greet"
MAX_SEND_ATTEMPTS = 4
MAX_UPDATE_ATTEMPTS = 5  # polling: tries to process one update before it is skipped
# An update is a message or a button tap, a few KB; Telegram's own limit is 4,096
# characters of text. Bodies over this are refused (413) while they arrive.
MAX_UPDATE_BYTES = 256 * 1024


@dataclass(frozen=True)
class TelegramConfig:
    token: str | None
    mode: str
    webhook_secret: str | None
    webhook_url: str | None
    api_base_url: str
    poll_timeout: int = 25
    # Telegram's limit for one bot: about 30 messages a second; with paid broadcasts
    # (allow_paid_broadcast) up to 1,000. Per chat it stays about one a second.
    messages_per_second: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelegramConfig:
        mode = (env.get("TELEGRAM_MODE") or "webhook").strip().lower()
        if mode not in ("webhook", "polling"):
            raise ValueError(f"TELEGRAM_MODE must be webhook or polling, not {mode!r}")
        rate = (env.get("TELEGRAM_MESSAGES_PER_SECOND") or "30").strip()
        try:
            per_second = float(rate)
        except ValueError:
            per_second = 0.0
        if not 0 < per_second <= 1000:
            raise ValueError(
                f"TELEGRAM_MESSAGES_PER_SECOND must be a number above 0 and at most 1000, "
                f"not {rate!r}"
            )
        return cls(
            messages_per_second=per_second,
            token=env.get("TELEGRAM_TOKEN") or None,
            mode=mode,
            webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
            webhook_url=env.get("TELEGRAM_WEBHOOK_URL") or None,
            api_base_url=(env.get("TELEGRAM_API_BASE_URL") or "https://api.telegram.org").rstrip(
                "/"
            ),
        )

    @property
    def bot_base_url(self) -> str:
        base = self.api_base_url
        return base if base.endswith("/bot") else base + "/bot"


def split_message(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split `text` into parts of at most `limit` characters.

    Cuts at the last paragraph break, else line break, else sentence end, else space
    before the limit; only a single unbroken run longer than the limit is cut hard.
    """
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for pattern in (r"\n\s*\n", r"\n", r"[.!?…](?=\s)", r"\s"):
            matches = list(re.finditer(pattern, window))
            if matches and matches[-1].end() > limit // 4:
                cut = matches[-1].end()
                break
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        parts.append(rest)
    return parts


class TelegramOutput(OutputChannel):
    """Sends Rasa's answers with python-telegram-bot, within Telegram's rate limits."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    def __init__(self, bot: Bot, limits: _Limits) -> None:
        self.bot = bot
        self._limits = limits

    async def _call(self, chat_id: str, send: Callable[[], Awaitable[Any]]) -> Any:
        # 429: wait as long as Telegram says; network trouble: a short back-off. A chat's
        # limiter only delays that chat, the global one all chats a little; the pause
        # between tries is taken outside both.
        async def once() -> Any:
            async with self._limits.global_limiter, self._limits.for_chat(chat_id):
                return await send()

        def before_sleep(state: RetryCallState) -> None:
            if isinstance(_failure(state), RetryAfter) and state.next_action is not None:
                logger.warning(
                    "Telegram asked to wait %.1f s (chat %s)", state.next_action.sleep, chat_id
                )

        retrying = AsyncRetrying(
            retry=retry_if_exception(_worth_sending_again),
            wait=_send_wait,
            stop=stop_after_attempt(MAX_SEND_ATTEMPTS),
            before_sleep=before_sleep,
            reraise=True,
        )
        return await retrying(once)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in split_message(text):
            await self._call(
                recipient_id,
                lambda part=part: self.bot.send_message(  # type: ignore[misc]
                    chat_id=recipient_id, text=html.escape(part), parse_mode=ParseMode.HTML
                ),
            )

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        parts = split_message(text) or [""]
        for part in parts[:-1]:
            await self.send_text_message(recipient_id, part)
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton(str(b["title"]), callback_data=_callback_data(b)) for b in row]
             for row in keyboard_rows(buttons)]
        )  # fmt: skip
        await self._call(
            recipient_id,
            lambda: self.bot.send_message(
                chat_id=recipient_id,
                text=html.escape(parts[-1]),
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
            ),
        )

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies, **kwargs)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._call(recipient_id, lambda: self.bot.send_photo(recipient_id, photo=image))

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        await self.send_text_message(recipient_id, str(attachment))

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        # Custom payloads are channel-specific; a readable fallback beats silence.
        text = json_message.get("text") if isinstance(json_message, dict) else None
        if text:
            await self.send_text_message(recipient_id, str(text))


class HeldTelegramOutput(TelegramOutput):
    """Holds the bot's messages for one update until Rasa has stored the turn.

    A turn refused because the conversation store is unavailable must not have answered
    already: Telegram delivers the update again and the customer would read it twice.
    """

    def __init__(self, bot: Bot, limits: _Limits) -> None:
        super().__init__(bot, limits)
        self.held: list[tuple[str, dict[str, Any]]] = []

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.held.append((recipient_id, dict(message)))

    async def release(self) -> None:
        """Sends what was held, in order."""
        held, self.held = self.held, []
        for recipient_id, message in held:
            await super().send_response(recipient_id, message)

    def discard(self) -> None:
        self.held.clear()


def _failure(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


def _worth_sending_again(exc: BaseException) -> bool:
    # PTB's BadRequest is a NetworkError, but sending it again cannot help.
    if isinstance(exc, TelegramBadRequest):
        return False
    return isinstance(exc, RetryAfter | TimedOut | NetworkError)


def _send_wait(state: RetryCallState) -> float:
    """As long as Telegram says after a 429; else 1 s, 2 s, 4 s after network trouble."""
    exc = _failure(state)
    if isinstance(exc, RetryAfter):
        return retry_after_seconds(exc)
    return 0.5 * 2.0**state.attempt_number


class _PollWait(wait_base):
    """Between tries of one getUpdates: as long as Telegram says after a 429; after
    network trouble 1 s, doubling up to 30 s (a 429 does not count towards it)."""

    def __init__(self) -> None:
        self._backoff = 1.0

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = _failure(retry_state)
        if isinstance(exc, RetryAfter):
            return retry_after_seconds(exc)
        delay, self._backoff = self._backoff, min(self._backoff * 2, 30.0)
        return delay


def _log_poll_failure(state: RetryCallState) -> None:
    exc = _failure(state)
    if not isinstance(exc, RetryAfter) and state.next_action is not None:
        logger.warning(
            "Telegram polling failed (%s); retrying in %.0f s", exc, state.next_action.sleep
        )


def _update_wait(state: RetryCallState) -> float:
    """Polling, between tries of one update: 1 s while it is busy elsewhere, else 2 s,
    4 s, 8 s, 16 s."""
    if isinstance(_failure(state), Busy):
        return 1.0
    return min(2.0**state.attempt_number, 30.0)


def retry_after_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB's settings."""
    value = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    return max(seconds, 0.0)


def keyboard_rows(buttons: list[dict[str, Any]], per_row: int = 6) -> list[list[dict[str, Any]]]:
    """One button per row, except scores (0-10, 1-5), which share rows of `per_row`."""
    if buttons and all(str(b.get("title", "")).isdigit() for b in buttons):
        return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    return [[b] for b in buttons]


def _callback_data(button: Mapping[str, Any]) -> str:
    # Telegram allows 1-64 bytes of callback data; a longer payload is sent as the
    # button's title instead, which the bot understands as typed text.
    payload = str(button.get("payload") or button.get("title") or "")
    if 0 < len(payload.encode()) <= 64:
        return payload
    return str(button.get("title"))[:32]


class _Limits:
    """Telegram's limits: ~30 messages/s per bot, ~1 message/s per chat (short bursts ok)."""

    def __init__(self, per_second: float = 30, per_chat_burst: float = 3) -> None:
        self.global_limiter = AsyncLimiter(per_second, 1)
        self._per_chat_burst = per_chat_burst
        self._chats: dict[str, AsyncLimiter] = {}

    def for_chat(self, chat_id: str) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            if len(self._chats) > 10_000:  # forget idle chats rather than grow forever
                self._chats.clear()
            limiter = AsyncLimiter(self._per_chat_burst, self._per_chat_burst)
            self._chats[chat_id] = limiter
        return limiter


class Busy(KopruError):
    """The update is being processed elsewhere right now; Telegram should retry later."""


class UpdateRefused(KopruError):
    """The conversation store is unavailable: the update must be delivered again later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def check_update(data: Mapping[str, Any], bot: Bot) -> Update:
    """The update in Telegram's JSON, or BadRequest (400) if it is not one Köprü can read."""
    if not isinstance(data.get("update_id"), int) or isinstance(data.get("update_id"), bool):
        raise BadRequest("Not a Telegram update: 'update_id' must be an integer.")
    try:
        update = Update.de_json(dict(data), bot)
    except Exception as exc:
        # PTB trusts the JSON's shape: odd values fail in many ways (TypeError for a
        # missing field, OverflowError or ValueError for a date past the year 9999...).
        raise BadRequest(f"Not a Telegram update ({type(exc).__name__}).") from None
    if update is None:
        raise BadRequest("Not a Telegram update.")
    message = update.message
    if message is not None and message.text is not None and not isinstance(message.text, str):
        raise BadRequest("Not a Telegram update: 'text' must be a string.")
    query = update.callback_query
    if query is not None and query.data is not None and not isinstance(query.data, str):
        raise BadRequest("Not a Telegram update: 'data' must be a string.")
    return update


def _is_chat(chat: Any) -> bool:
    return chat is not None and isinstance(chat.id, int) and not isinstance(chat.id, bool)


def ignored_reason(update: Update) -> str | None:
    """Why Köprü cannot act on a well-formed update (None when it can): a message without
    its chat or its sender, a button tap without its user or its message, or a type
    Köprü does not subscribe to. Such an update is acknowledged and dropped, so Telegram
    does not deliver it again."""
    message = update.message or update.edited_message
    if message is not None:
        if not _is_chat(message.chat):
            return "the message has no chat with a numeric id"
        # (In groups an anonymous admin's message has none: groups are ignored anyway.)
        private = message.chat.type == "private"
        if update.message is not None and private and message.from_user is None:
            return "the private message has no sender ('from')"
        return None
    query = update.callback_query
    if query is not None:
        if query.from_user is None:
            return "the button tap has no user ('from')"
        if query.message is None:
            return "the button tap has no message (Köprü sends no inline-mode messages)"
        if not _is_chat(query.message.chat):
            return "the button tap's message has no chat with a numeric id"
        return None
    return f"not one of the update types Köprü subscribes to ({', '.join(ALLOWED_UPDATES)})"


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class TelegramInput(InputChannel):
    """Receives Telegram updates by webhook or long polling and hands them to Rasa."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(TelegramConfig.from_env(os.environ))

    @classmethod
    def status_line(cls, env: Mapping[str, str], base_url: str) -> tuple[str, str]:
        """`kopru run`'s line for Telegram (bot.serving.channel_status)."""
        if not env.get("TELEGRAM_TOKEN"):
            return "Telegram", "off (set TELEGRAM_TOKEN)"
        if (env.get("TELEGRAM_MODE") or "webhook").lower() == "polling":
            return "Telegram", "polling"
        url = env.get("TELEGRAM_WEBHOOK_URL") or "(URL registered elsewhere)"
        return "Telegram", f"webhook {url}"

    def __init__(self, config: TelegramConfig, store: Store | None = None) -> None:
        self.config = config
        self._store = store
        self._bot: Bot | None = None
        self._limits = _Limits(config.messages_per_second)
        self._poller: asyncio.Task[None] | None = None
        self._app: Any = None  # the Sanic app, whose agent knows the conversations
        # The pause between polling retries (tests record it instead of waiting).
        self._pause: Callable[[float], Awaitable[None]] = asyncio.sleep

    # --- plumbing ---------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.config.token is not None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(Settings.from_env().database_url)
            self._store.create_schema()
        return self._store

    @property
    def bot(self) -> Bot:
        if self._bot is None:
            assert self.config.token is not None
            self._bot = Bot(
                self.config.token,
                base_url=self.config.bot_base_url,
                request=HTTPXRequest(connection_pool_size=32, read_timeout=15),
                get_updates_request=HTTPXRequest(read_timeout=self.config.poll_timeout + 10),
            )
        return self._bot

    def get_output_channel(self) -> OutputChannel | None:
        return TelegramOutput(self.bot, self._limits) if self.enabled else None

    async def start(self, on_new_message: OnNewMessage) -> None:
        """Connect to Telegram; register the webhook or start polling."""
        if not self.enabled:
            logger.info("Telegram channel off (no TELEGRAM_TOKEN)")
            return
        await self.bot.initialize()
        if self.config.mode == "polling":
            await self.bot.delete_webhook(drop_pending_updates=False)
            self._poller = asyncio.create_task(self._poll(on_new_message))
            logger.info("Telegram: polling for updates as @%s", self.bot.username)
            return
        if not self.config.webhook_secret:
            logger.error("Telegram webhook mode without TELEGRAM_WEBHOOK_SECRET: every "
                         "webhook request will be refused")  # fmt: skip
        if self.config.webhook_url:
            await self.bot.set_webhook(
                self.config.webhook_url,
                secret_token=self.config.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            logger.info("Telegram: webhook registered at %s", self.config.webhook_url)

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._bot is not None:
            with contextlib.suppress(TelegramError, RuntimeError):
                await self._bot.shutdown()

    # --- one processing path for webhook and polling ----------------------------------

    async def handle_update(self, data: Mapping[str, Any], on_new_message: OnNewMessage) -> str:
        """Process one update (as Telegram's JSON) exactly once; returns the Claim it found.

        Raises BadRequest if it is not an update, Busy if it is being processed elsewhere,
        UpdateRefused if the conversation store is unavailable (deliver it again later).
        An update Köprü cannot act on (:func:`ignored_reason`) is dropped with a warning
        and reported DONE, like one processed before.
        """
        return await self._handle(check_update(data, self.bot), on_new_message)

    async def _handle(self, update: Update, on_new_message: OnNewMessage) -> str:
        reason = ignored_reason(update)
        if reason is not None:
            logger.warning("Telegram update %s ignored: %s", update.update_id, reason)
            return Claim.DONE
        key = f"telegram:{self.bot.id}:{update.update_id}"
        # The chat id is the sender id Rasa sees; `kopru forget` erases the row with it.
        chat = update.effective_chat
        sender = str(chat.id) if chat is not None else None
        claim = await asyncio.to_thread(
            self.store.claim_delivery, key, time.time(), sender_id=sender
        )
        if claim == Claim.DONE:
            logger.info("Telegram update %s was already processed", update.update_id)
            return claim
        if claim == Claim.BUSY:
            raise Busy(key)
        try:
            result = await self._dispatch(update, on_new_message)
            if result is not None and result.outcome is Outcome.UNAVAILABLE:
                raise UpdateRefused(result.retry_after)
        except BaseException:
            await asyncio.to_thread(self.store.release_delivery, key)
            raise
        await asyncio.to_thread(self.store.finish_delivery, key)
        return Claim.NEW

    def _language_lookup(self) -> LanguageLookup | None:
        return tracker_language(self._app) if self._app is not None else None

    async def _dispatch(self, update: Update, on_new_message: OnNewMessage) -> Result | None:
        output = HeldTelegramOutput(self.bot, self._limits)
        query = update.callback_query
        if query is not None:
            # Stop the button's spinner and take the keyboard away, then act on the tap.
            # Both are cosmetic: a re-delivered tap is "too old" to answer, and that is fine.
            with contextlib.suppress(TelegramError):
                await output._call(str(query.from_user.id), lambda: query.answer())
            data = clean_text(query.data or "")
            if query.message is not None and data:
                chat_id = str(query.message.chat.id)
                with contextlib.suppress(TelegramError):
                    await output._call(
                        chat_id,
                        lambda: self.bot.edit_message_reply_markup(
                            chat_id=chat_id,
                            message_id=query.message.message_id,  # type: ignore[union-attr]
                        ),
                    )
                return await self._deliver(
                    self._user_message(data, output, chat_id, query.from_user, update),
                    output, on_new_message,
                )  # fmt: skip
            return None
        message = update.message
        if message is None:
            # An edited message (other types are dropped by ignored_reason): the original
            # was answered already.
            logger.info("Telegram update %s ignored (edited message)", update.update_id)
            return None
        if message.chat.type != "private":
            logger.info("Telegram message in a %s chat ignored", message.chat.type)
            return None
        chat_id = str(message.chat.id)
        text = clean_text(message.text or "")
        if not text:
            # Stickers, photos, voice... (and text that was only control characters).
            text = UNSUPPORTED_PAYLOAD
        elif text.split("@")[0].split(" ")[0] == "/start":
            text = START_PAYLOAD
        elif text.startswith("/") and not text.startswith(START_PAYLOAD):
            # A Telegram command other than /start is not a Rasa payload.
            text = text.lstrip("/") or text
        user_message = self._user_message(text, output, chat_id, message.from_user, update)
        if len(text) > MAX_MESSAGE_CHARS:
            # Telegram itself sends at most 4,096 characters; more is not for the NLU.
            reply = await too_long_reply(
                chat_id, text, user_message.metadata, MAX_MESSAGE_CHARS, self._language_lookup()
            )
            try:
                await TelegramOutput(self.bot, self._limits).send_text_message(chat_id, reply)
            except TelegramError:
                logger.exception("Telegram: could not ask chat %s for a shorter message", chat_id)
            return None
        return await self._deliver(user_message, output, on_new_message)

    async def _deliver(
        self, message: UserMessage, output: HeldTelegramOutput, on_new_message: OnNewMessage
    ) -> Result:
        """Rasa processes the message; what the bot said is sent once the turn is stored."""
        try:
            result = await process(on_new_message, message, self._language_lookup())
        except BaseException:
            output.discard()
            raise
        if result.outcome is Outcome.UNAVAILABLE:
            output.discard()
            return result
        try:
            await output.release()
        except TelegramError:
            # The turn is stored: delivering the update again would run it twice (and
            # its actions, e.g. a second return). TelegramOutput has retried already.
            logger.exception("Telegram: the answer to chat %s could not be sent", message.sender_id)
        return result

    def _user_message(
        self, text: str, output: TelegramOutput, chat_id: str, user: Any, update: Update
    ) -> UserMessage:
        metadata = {
            "telegram_update_id": update.update_id,
            "first_name": getattr(user, "first_name", None),
            "username": getattr(user, "username", None),
            "language_code": getattr(user, "language_code", None),
        }
        return UserMessage(
            text,
            output,
            chat_id,
            input_channel=self.name(),
            metadata={k: v for k, v in metadata.items() if v is not None},
        )

    async def _poll(self, on_new_message: OnNewMessage) -> None:
        offset: int | None = None
        while True:
            updates = await self._get_updates(offset)
            for update in updates:
                try:
                    await self._process_polled(update, on_new_message)
                except UpdateRefused as exc:
                    # Not processed: keep the offset, so Telegram sends it (and what
                    # follows it) again after the pause.
                    logger.warning("Telegram update %s refused: conversation store "
                                   "unavailable; retrying in %d s", update.update_id,
                                   exc.retry_after)  # fmt: skip
                    await asyncio.sleep(exc.retry_after)
                    break
                # Only now is it safe to let Telegram forget the update.
                offset = update.update_id + 1

    async def _get_updates(self, offset: int | None) -> tuple[Update, ...]:
        """The next updates, asked for again (for ever) while Telegram is unreachable."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((RetryAfter, TimedOut, NetworkError)),
            wait=_PollWait(),
            stop=stop_never,
            before_sleep=_log_poll_failure,
            sleep=self._pause,
        )
        updates: tuple[Update, ...] = await retrying(
            self.bot.get_updates,
            offset=offset,
            timeout=self.config.poll_timeout,
            allowed_updates=ALLOWED_UPDATES,
        )
        return updates

    async def _process_polled(self, update: Update, on_new_message: OnNewMessage) -> None:
        """Process a polled update, trying again a few times; UpdateRefused is raised."""

        def log_failure(state: RetryCallState) -> None:
            exc = _failure(state)
            if not isinstance(exc, Busy):
                logger.error("Telegram update %s failed (attempt %d)", update.update_id,
                             state.attempt_number, exc_info=exc)  # fmt: skip

        def give_up(state: RetryCallState) -> None:
            log_failure(state)
            logger.error("Telegram update %s given up after %d attempts", update.update_id,
                         state.attempt_number)  # fmt: skip

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception) & retry_if_not_exception_type(UpdateRefused),
            wait=_update_wait,
            stop=stop_after_attempt(MAX_UPDATE_ATTEMPTS),
            before_sleep=log_failure,
            retry_error_callback=give_up,
            sleep=self._pause,
        )
        await retrying(self._handle, update, on_new_message)

    # --- HTTP -------------------------------------------------------------------------

    def _secret_ok(self, request: Request) -> bool:
        expected = self.config.webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        if not expected:
            return False
        return hmac.compare_digest(given.encode(), expected.encode())

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        watch_action_failures()
        telegram = Blueprint("telegram_webhook", __name__)

        @telegram.listener("after_server_start")
        async def connect(app: Any, _loop: Any) -> None:
            self._app = app
            try:
                await self.start(on_new_message)
            except TelegramError:
                logger.exception("Telegram: could not connect; the channel is not working")

        @telegram.listener("before_server_stop")
        async def disconnect(_app: Any, _loop: Any) -> None:
            await self.stop()

        @telegram.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.enabled else "off",
                                  "mode": self.config.mode})  # fmt: skip

        # stream=True: the body is read here, under our size limit, not by Sanic first.
        @telegram.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if not self.enabled:
                return response.json({"error": "the Telegram channel is off"}, status=404)
            if not self._secret_ok(request):
                logger.warning("Telegram webhook request with a wrong or missing secret")
                return response.json({"error": "forbidden"}, status=403)
            data: dict[str, Any] = {}
            try:
                require_json(request.headers.get("content-type"))
                data = parse_json_object(await read_body(request, MAX_UPDATE_BYTES))
                await self.handle_update(data, on_new_message)
            except BadRequest as refused:
                logger.warning("Telegram webhook request refused (%d): %s", refused.status,
                               refused.message)  # fmt: skip
                return error_response(refused)
            except Busy:
                return response.json({"error": "being processed, retry later"}, status=503)
            except UpdateRefused as exc:
                # No 200: Telegram delivers the update again.
                return unavailable_response(exc.retry_after)
            except Exception:
                # No 200: Telegram delivers the update again.
                logger.exception("Telegram update %s failed", data.get("update_id"))
                return response.json({"error": "processing failed"}, status=500)
            return response.json({"ok": True})

        return telegram

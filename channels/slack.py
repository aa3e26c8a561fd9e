"""The Slack agent desk, incoming side: a Rasa input channel running a slack-bolt app.

Register it in ``credentials.yml`` with no parameters (``channels.slack.SlackDeskInput:``);
it reads the ``SLACK_*`` variables described in :mod:`channels.slack_desk`.

Slack's Events API and interactivity requests both arrive at ``POST
/webhooks/slack/events`` (or over Socket Mode when ``SLACK_APP_TOKEN`` is set). bolt
verifies the request signature (stale or forged: 401) and acknowledges at once; the work
runs after the acknowledgement, so Slack's 3-second limit is always met. Before bolt,
a missing or non-numeric Content-Length (400), bodies over 512 KB (413), content types
Slack does not send (415), bodies bolt cannot parse (400) and signature headers that
cannot be Slack's (401: bolt's verifier would fail on them) are refused, with a warning
in the log. An event is claimed in Köprü's store by its ``event_id`` before
it is handled, so Slack's retries (``X-Slack-Retry-Num``) relay nothing twice.

* Claim, Resolve, Return to bot: buttons on the context card. Only members of the agent
  channel may press them; the state machine decides the rest (two claims at once: one
  wins, the other agent is told who has it).
* A reply in the card's thread by the agent who claimed it goes to the customer.
* Every few seconds handoffs nobody claimed within the queue time-out become tickets.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_bolt.adapter.sanic import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.internals import parse_body

from bot.desk.handoff import Handoff, IllegalTransition, State
from bot.desk.service import DeskError, HandoffService
from bot.errors import KopruError
from bot.settings import Settings
from bot.shop.business import load_business_config
from bot.storage.store import Claim, Store
from channels import slack_card
from channels.customer_push import CustomerPush
from channels.inbound import BadRequest, error_response, read_body
from channels.slack_desk import SlackConfig, SlackDesk

__all__ = ["SlackDeskInput", "plain_text"]

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

MEMBERS_TTL = 60.0
# Slack's requests are a few KB (a button press carries the whole card); more is refused
# (413) while it arrives, before bolt parses anything.
MAX_SLACK_BODY_BYTES = 512 * 1024
_SLACK_CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")
# What Slack sends: a decimal Content-Length, Unix seconds in X-Slack-Request-Timestamp and
# "v0=" with the hex HMAC-SHA256 in X-Slack-Signature. bolt's verifier reads the headers as
# they come (int(timestamp), compare_digest on the text) and fails with a 500 on others.
_CONTENT_LENGTH = re.compile(r"[0-9]{1,12}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
SWEEP_SECONDS_ENV = "KOPRU_QUEUE_SWEEP_SECONDS"
DEFAULT_SWEEP_SECONDS = 15.0


def plain_text(mrkdwn: str) -> str:
    """What a customer should read of an agent's Slack message: links and mentions as
    plain text, Slack's escapes undone."""
    text = re.sub(r"<(?:mailto:)?([^<>|]+)\|([^<>]+)>", _link, mrkdwn)
    text = re.sub(r"<mailto:([^<>|]+)>", r"\1", text)
    text = re.sub(r"<(https?://[^<>|]+)>", r"\1", text)
    text = re.sub(r"<[@#!][^<>|]*\|([^<>]+)>", r"\1", text)
    text = re.sub(r"<[@#!][^<>]*>", "", text)
    return html.unescape(text).strip()


def _check_content_length(declared: list[str]) -> None:
    """Refuses (400) a request without exactly one decimal Content-Length: Slack always
    sends one."""
    if len(declared) != 1:
        raise BadRequest("Send one Content-Length header (the body's size in bytes).")
    if not _CONTENT_LENGTH.fullmatch(declared[0].strip(" \t")):
        raise BadRequest("Content-Length must be a number of bytes.")


def _check_signature_headers(timestamp: str | None, signature: str | None) -> None:
    """Refuses (401, as a bad signature) what cannot be Slack's signature headers, before
    bolt's verifier reads them."""
    if not timestamp or not signature:
        raise BadRequest("The request has no Slack signature.", 401)
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        raise BadRequest("The request's signature headers are malformed.", 401)


def _check_slack_body(content_type: str | None, body: bytes) -> None:
    """Refuses what bolt cannot parse (it parses before it checks the signature, and
    raises on anything but an object): Slack sends JSON (Events API) or a form
    (interactivity, ``payload=<JSON>``)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in _SLACK_CONTENT_TYPES:
        raise BadRequest(
            "Content-Type must be application/json or application/x-www-form-urlencoded.", 415
        )
    try:
        parsed = parse_body(body.decode("utf-8"), media_type)
    except UnicodeDecodeError:
        raise BadRequest("Request body is not valid UTF-8.") from None
    except (ValueError, RecursionError):
        raise BadRequest("Request body is malformed (not JSON, or a form without JSON).") from None
    if not isinstance(parsed, dict):
        raise BadRequest("Request body must be a JSON object (or a form with one).")


def _link(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "#", "!")):
        return label
    return label if label == target else f"{label} ({target})"


class SlackDeskInput(InputChannel):  # type: ignore[misc]
    """Receives agents' clicks and thread replies from Slack."""

    @classmethod
    def name(cls) -> str:
        return "slack"

    @classmethod
    def status_line(cls, env: Mapping[str, str], base_url: str) -> tuple[str, str]:
        """`kopru run`'s line for the agent desk (bot.serving.channel_status)."""
        config = SlackConfig.from_env(env)
        if config is None:
            return "Slack desk", "off (set SLACK_BOT_TOKEN; escalations become tickets)"
        events = f"events at {base_url}/webhooks/slack/events"
        where = "Socket Mode" if config.socket_mode else events
        return "Slack desk", f"channel {config.agent_channel}, {where}"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(SlackConfig.from_env(os.environ))

    def __init__(self, config: SlackConfig | None, store: Store | None = None) -> None:
        self.config = config
        self._store = store
        self._service: HandoffService | None = None
        self._desk: SlackDesk | None = None
        self._app: AsyncApp | None = None
        self._sanic_app: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._socket: Any = None
        self._members: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._names: dict[str, str] = {}

    # --- wiring -------------------------------------------------------------------------

    @property
    def service(self) -> HandoffService:
        assert self._service is not None, "the Slack desk has not started"
        return self._service

    @property
    def desk(self) -> SlackDesk:
        assert self._desk is not None, "the Slack desk has not started"
        return self._desk

    def _push(self) -> CustomerPush:
        ctx = self._sanic_app.ctx
        return CustomerPush(ctx.agent, getattr(ctx, "input_channels", []), self.service.store)

    async def start(self, sanic_app: Any) -> None:
        if self.config is None:
            logger.info("Slack agent desk off (no SLACK_BOT_TOKEN): escalations become tickets")
            return
        settings = Settings.from_env()
        store = self._store or Store(settings.database_url)
        await asyncio.to_thread(store.create_schema)
        business = load_business_config(settings.business_config)
        self._desk = SlackDesk(self.config)
        self._service = HandoffService(store, business.agent_desk, self._desk)
        self._sanic_app = sanic_app
        self._app = self._bolt_app()
        sweep = float(os.environ.get(SWEEP_SECONDS_ENV) or DEFAULT_SWEEP_SECONDS)
        self._tasks.append(asyncio.create_task(self._sweep_forever(sweep)))
        if self.config.socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self._app, self.config.app_token)
            await self._socket.connect_async()
            logger.info("Slack agent desk: connected over Socket Mode")
        else:
            logger.info("Slack agent desk: Events API at /webhooks/slack/events")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._socket is not None:
            await self._socket.close_async()

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        slack = Blueprint("kopru_slack_desk", __name__)

        @slack.listener("after_server_start")
        async def _start(app: Any, _loop: Any) -> None:
            await self.start(app)

        @slack.listener("before_server_stop")
        async def _stop(_app: Any, _loop: Any) -> None:
            await self.stop()

        @slack.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self._app else "off"})

        # stream=True: the body is read under our size limit, not by Sanic first.
        @slack.route("/events", methods=["POST"], stream=True)
        async def events(request: Request) -> HTTPResponse:
            if self._app is None or self.config is None:
                return response.json(
                    {"error": "the Slack agent desk is not configured"}, status=503
                )
            if self.config.socket_mode:
                # Slack talks to us over the Socket Mode connection; an HTTP request
                # here cannot be from Slack (and has no signature to check).
                return response.json(
                    {"error": "the Slack agent desk receives events over Socket Mode"},
                    status=404,
                )
            headers = request.headers
            try:
                _check_content_length(headers.getall("content-length", []))
                _check_slack_body(
                    headers.get("content-type"), await read_body(request, MAX_SLACK_BODY_BYTES)
                )
                _check_signature_headers(
                    headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
                )
            except BadRequest as refused:
                logger.warning("Slack events request refused (%d): %s", refused.status,
                               refused.message)  # fmt: skip
                return error_response(refused)
            return await AsyncSlackRequestHandler(self._app).handle(request)

        return slack

    def _bolt_app(self) -> AsyncApp:
        assert self.config is not None
        app = AsyncApp(
            client=self.desk.client,
            signing_secret=self.config.signing_secret,
            # Socket Mode envelopes are not signed and bolt knows it; HTTP requests
            # always are (in Socket Mode they are refused before reaching bolt).
            request_verification_enabled=True,
            process_before_response=False,
        )
        app.event("message")(self._on_message)
        app.action(slack_card.ActionId.CLAIM)(self._on_claim)
        app.action(slack_card.ActionId.RESOLVE)(self._on_resolve)
        app.action(slack_card.ActionId.RETURN)(self._on_return)
        return app

    # --- agents' replies ----------------------------------------------------------------

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        assert self.config is not None
        if (
            event.get("channel") != self.config.agent_channel
            or event.get("subtype")
            or event.get("bot_id")
            or not event.get("thread_ts")
            or event.get("thread_ts") == event.get("ts")
            or not event.get("user")
        ):
            return
        key = f"slack:{body.get('event_id') or event.get('client_msg_id') or event.get('ts')}"
        store = self.service.store
        if await asyncio.to_thread(store.claim_delivery, key, time.time()) != Claim.NEW:
            return
        try:
            await self._relay_reply(event)
        except BaseException:
            await asyncio.to_thread(store.release_delivery, key)
            raise
        await asyncio.to_thread(store.finish_delivery, key)

    async def _relay_reply(self, event: dict[str, Any]) -> None:
        channel, thread_ts, user = event["channel"], event["thread_ts"], event["user"]
        handoff = await asyncio.to_thread(self.service.repo.by_card, channel, thread_ts)
        if handoff is None:
            return
        refusal = None
        if handoff.state is State.QUEUED:
            refusal = slack_card.claim_first(handoff)
        elif handoff.state is not State.CLAIMED:
            refusal = slack_card.not_active(handoff)
        elif handoff.agent_id != user:
            refusal = slack_card.not_yours(handoff)
        if refusal:
            await self._tell(channel, user, refusal, thread_ts)
            return
        text = plain_text(str(event.get("text") or ""))
        if not text:
            return
        try:
            await self._push().agent_message(handoff, text)
        except Exception:
            logger.exception("could not deliver an agent reply to %s", handoff.sender_id)
            await self._tell(
                channel,
                user,
                "Your reply could not be delivered to the customer; please send it again.",
                thread_ts,
            )

    # --- buttons ------------------------------------------------------------------------

    async def _on_claim(
        self, ack: Any, respond: Any, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        async def claim(reference: str, user: str) -> Handoff:
            return await self.service.claim(reference, user, await self._first_name(user))

        await self._button(ack, respond, body, action, claim, "Claimed", "EXTERNAL_agent_joined")

    async def _on_resolve(
        self, ack: Any, respond: Any, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        await self._button(
            ack, respond, body, action, self.service.resolve, "Resolved",
            "EXTERNAL_handoff_resolved",
        )  # fmt: skip

    async def _on_return(
        self, ack: Any, respond: Any, body: dict[str, Any], action: dict[str, Any]
    ) -> None:
        await self._button(
            ack, respond, body, action, self.service.return_to_bot, "Returned to the bot",
            "EXTERNAL_agent_left",
        )  # fmt: skip

    async def _button(
        self,
        ack: Any,
        respond: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        move: Callable[[str, str], Awaitable[Handoff]],
        done: str,
        intent: str,
    ) -> None:
        """A card button: acknowledge, check membership, move the handoff, tell everyone."""
        await ack()
        user = await self._member_or_refuse(body, respond)
        if user is None:
            return
        known = await asyncio.to_thread(
            self.service.repo.by_reference, str(action.get("value") or "")
        )
        if known is None:
            await _respond(respond, "This conversation is not known to Köprü.")
            return
        push = self._push()
        # The conversation's lock is held from the move to the customer's notice, so an
        # agent's first reply (relayed under the same lock) cannot reach the customer
        # before "… has joined the conversation".
        async with push.lock(known.sender_id):
            handoff = await self._transition(respond, lambda ref: move(ref, user), action)
            if handoff is not None:
                await self._tell_customer(push, handoff, intent, locked=True)
        if handoff is not None:
            with contextlib.suppress(DeskError):
                await self.desk.note(handoff, f"{done} by <@{user}>.")

    async def _transition(
        self,
        respond: Any,
        move: Callable[[str], Awaitable[Handoff]],
        action: dict[str, Any],
    ) -> Handoff | None:
        try:
            return await move(str(action.get("value") or ""))
        except IllegalTransition as exc:
            current = exc.current
            if current.state is State.CLAIMED:
                text = slack_card.already_claimed(current)
            elif current.state is State.QUEUED:
                text = slack_card.claim_first(current)
            else:
                text = slack_card.not_active(current)
        except KopruError as exc:
            logger.warning("Slack action refused: %s", exc)
            text = "This conversation is not known to Köprü."
        await _respond(respond, text)
        return None

    async def _after(self, handoff: Handoff, note: str, intent: str) -> None:
        """Tell the agents (thread) and the customer (their channel) about a change."""
        with contextlib.suppress(DeskError):
            await self.desk.note(handoff, note)
        await self._tell_customer(self._push(), handoff, intent)

    @staticmethod
    async def _tell_customer(
        push: CustomerPush, handoff: Handoff, intent: str, *, locked: bool = False
    ) -> None:
        try:
            await push.notify(handoff, intent, locked=locked)
        except Exception:
            logger.exception("could not tell %s about %s", handoff.sender_id, intent)

    async def _member_or_refuse(self, body: dict[str, Any], respond: Any) -> str | None:
        user = str(body["user"]["id"])
        if user in await self._agent_channel_members():
            return user
        await _respond(respond, slack_card.not_a_member())
        return None

    async def _agent_channel_members(self) -> frozenset[str]:
        assert self.config is not None
        fetched_at, members = self._members
        if time.monotonic() - fetched_at < MEMBERS_TTL:
            return members
        found: set[str] = set()
        cursor = None
        while True:
            page = await self.desk.client.conversations_members(
                channel=self.config.agent_channel, cursor=cursor, limit=200
            )
            found.update(page.get("members") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        self._members = (time.monotonic(), frozenset(found))
        return self._members[1]

    async def _first_name(self, user: str) -> str:
        if user not in self._names:
            name = ""
            try:
                info = await self.desk.client.users_info(user=user)
                person = info.get("user") or {}
                profile = person.get("profile") or {}
                full = profile.get("real_name") or person.get("real_name") or ""
                name = profile.get("first_name") or (full.split()[0] if full else "")
                name = name or profile.get("display_name") or person.get("name") or ""
            except Exception:
                logger.exception("users.info failed for %s", user)
            self._names[user] = str(name).strip()[:64] or "Our agent"
        return self._names[user]

    async def _tell(self, channel: str, user: str, text: str, thread_ts: str | None) -> None:
        try:
            await self.desk.tell_agent(channel, user, text, thread_ts)
        except DeskError:
            logger.exception("could not tell %s: %s", user, text)

    # --- queue time-out -----------------------------------------------------------------

    async def _sweep_forever(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep()
            except Exception:
                logger.exception("queue sweep failed")

    async def sweep(self) -> list[Handoff]:
        """Open tickets for handoffs nobody claimed in time and tell their customers."""
        expired = await self.service.expire_queue()
        for handoff in expired:
            minutes = round(self.service.config.queue_timeout / 60)
            await self._after(
                handoff,
                f"Nobody claimed this within {minutes} min: ticket {handoff.ticket_reference}.",
                "EXTERNAL_handoff_ticket",
            )
        return expired


async def _respond(respond: Any, text: str) -> None:
    """An answer only the agent who pressed the button sees (through its response_url)."""
    try:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception:
        logger.exception("could not answer a button press: %s", text)

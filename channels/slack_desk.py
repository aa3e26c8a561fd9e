"""The Slack agent desk's outgoing side: cards and thread messages via Slack's Web API.

Both processes post to Slack: the action server when the bot escalates (the card) and
while a customer writes during a handoff (the thread); the Rasa server when an agent
claims, resolves or hands back (the card is updated). Configured from the environment:

* ``SLACK_BOT_TOKEN``: the bot token (``xoxb-...``); without it there is no agent desk.
* ``SLACK_SIGNING_SECRET``: verifies the requests Slack sends to ``/webhooks/slack/events``.
* ``SLACK_APP_TOKEN``: an app-level token (``xapp-...``); when set, Köprü connects over
  Socket Mode instead of receiving HTTP requests.
* ``SLACK_AGENT_CHANNEL``: the id of the agents' channel (``C...``).
* ``SLACK_API_BASE_URL``: the Web API (default ``https://slack.com/api/``; tests point it
  at a local fake).

A 429 answer is retried after its ``Retry-After`` (three times, within 45 s in all), a
500 or 503 twice after a short back-off;
connection errors are not retried, because a message Slack received before the
connection broke would be posted twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.desk.handoff import Handoff
from bot.desk.service import DeskError
from bot.errors import ConfigError
from bot.privacy.masking import ALL_KINDS, Kind
from bot.settings import Settings
from bot.shop.business import load_business_config
from bot.storage.store import Conversation
from channels import slack_card

__all__ = ["SlackConfig", "SlackDesk"]

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://slack.com/api/"
RATE_LIMIT_RETRIES = 3
SERVER_ERROR_RETRIES = 2
REQUEST_TIMEOUT = 10
# A call, 429 waits included, gives up after this long: the customer is told to try
# again rather than left waiting on Slack.
CALL_LIMIT = 45


@dataclass(frozen=True)
class SlackConfig:
    bot_token: str = field(repr=False)
    signing_secret: str | None = field(repr=False)
    app_token: str | None = field(repr=False)
    agent_channel: str
    api_base_url: str = DEFAULT_API_BASE_URL
    # What the context card shows masked (kopru.yml, privacy.mask_in_slack_card).
    card_masking: frozenset[Kind] = ALL_KINDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackConfig | None:
        """The configuration, or None when SLACK_BOT_TOKEN is not set."""
        token = (env.get("SLACK_BOT_TOKEN") or "").strip()
        if not token:
            return None
        channel = (env.get("SLACK_AGENT_CHANNEL") or "").strip()
        if not channel:
            raise ConfigError("SLACK_BOT_TOKEN is set but SLACK_AGENT_CHANNEL is not")
        app_token = (env.get("SLACK_APP_TOKEN") or "").strip() or None
        secret = (env.get("SLACK_SIGNING_SECRET") or "").strip() or None
        if app_token is None and secret is None:
            raise ConfigError(
                "the Slack agent desk needs SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN "
                "(Socket Mode)"
            )
        base = (env.get("SLACK_API_BASE_URL") or DEFAULT_API_BASE_URL).strip()
        return cls(
            bot_token=token,
            signing_secret=secret,
            app_token=app_token,
            agent_channel=channel,
            api_base_url=base if base.endswith("/") else base + "/",
            card_masking=load_business_config(
                Settings.from_env(env).business_config
            ).privacy.slack_card,
        )

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    def client(self) -> AsyncWebClient:
        return AsyncWebClient(
            token=self.bot_token,
            base_url=self.api_base_url,
            timeout=REQUEST_TIMEOUT,
            retry_handlers=[
                AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
                # Slack's 500 and 503 are its own failures, nothing posted: try again.
                AsyncServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
            ],
        )


class SlackDesk:
    """The agent desk in a Slack channel (implements bot.desk.service.AgentDesk)."""

    def __init__(self, config: SlackConfig, client: AsyncWebClient | None = None) -> None:
        self.config = config
        self._client = client

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SlackDesk | None:
        config = SlackConfig.from_env(env)
        return cls(config) if config else None

    @property
    def client(self) -> AsyncWebClient:
        # Created on first use, inside the event loop that uses it.
        if self._client is None:
            self._client = self.config.client()
        return self._client

    async def show(
        self, handoff: Handoff, *, earlier: Sequence[Conversation], place: int | None
    ) -> Handoff:
        message = slack_card.card(
            handoff,
            earlier=earlier,
            now=time.time(),
            place=place,
            masked=self.config.card_masking,
        )
        if handoff.card_channel and handoff.card_ts:
            await self._call(
                "chat.update", channel=handoff.card_channel, ts=handoff.card_ts, **message
            )
            return handoff
        response = await self._call(
            "chat.postMessage", channel=self.config.agent_channel, unfurl_links=False, **message
        )
        return dataclasses.replace(
            handoff, card_channel=str(response["channel"]), card_ts=str(response["ts"])
        )

    async def relay(self, handoff: Handoff, text: str) -> None:
        await self._in_thread(handoff, slack_card.thread_customer_message(handoff, text))

    async def note(self, handoff: Handoff, text: str) -> None:
        await self._in_thread(handoff, slack_card.thread_notice(text))

    async def tell_agent(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> None:
        """A message only `user` sees (why their click or reply did nothing)."""
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        await self._call("chat.postEphemeral", **kwargs)

    async def _in_thread(self, handoff: Handoff, message: dict[str, Any]) -> None:
        if not (handoff.card_channel and handoff.card_ts):
            raise DeskError(f"handoff {handoff.reference} has no card in Slack")
        await self._call(
            "chat.postMessage",
            channel=handoff.card_channel,
            thread_ts=handoff.card_ts,
            unfurl_links=False,
            unfurl_media=False,
            **message,
        )

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            response = await asyncio.wait_for(
                self.client.api_call(method, json=kwargs), timeout=CALL_LIMIT
            )
        except SlackApiError as exc:
            raise DeskError(f"Slack {method}: {exc.response.get('error')}") from exc
        except (SlackClientError, ClientError, asyncio.TimeoutError) as exc:
            raise DeskError(f"Slack {method}: {exc!r}") from exc
        return response

"""Messages to a customer that do not answer one of theirs: an agent's reply, a handoff notice.

Runs in the Rasa server, which holds the customer's conversation: under the
conversation's lock the message is added to the tracker (so the transcript is whole)
and sent on the customer's own channel. Telegram is pushed to; web chat and REST
clients cannot be, so their messages wait in Köprü's outbox until the client fetches
them (``GET /webhooks/webchat/updates``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel
from rasa.shared.core.events import BotUttered

from bot.desk.handoff import Handoff
from bot.storage.store import Store

__all__ = ["CustomerPush", "OutboxOutput"]

logger = logging.getLogger(__name__)


class OutboxOutput(CollectingOutputChannel):  # type: ignore[misc]
    """Collects messages like Rasa's REST channel; `flush` stores them in the outbox."""

    @classmethod
    def name(cls) -> str:
        return "outbox"

    async def flush(self, store: Store, recipient_id: str) -> None:
        collected: list[dict[str, Any]] = [dict(m) for m in self.messages]
        await asyncio.to_thread(store.push_outbox, recipient_id, collected, time.time())


class CustomerPush:
    """Sends agent messages and handoff notices to customers on their channel."""

    def __init__(self, agent: Agent, input_channels: Iterable[InputChannel], store: Store) -> None:
        self.agent = agent
        self.input_channels = list(input_channels)
        self.store = store

    def _output_for(self, channel: str) -> OutputChannel | None:
        for input_channel in self.input_channels:
            if input_channel.name() == channel:
                output = input_channel.get_output_channel()
                if output is not None and not isinstance(output, CollectingOutputChannel):
                    return output
        return None

    def lock(self, sender_id: str) -> Any:
        """The conversation's lock (Rasa's lock store): what holds it goes first."""
        return self.agent.lock_store.lock(sender_id)

    async def notify(self, handoff: Handoff, intent: str, *, locked: bool = False) -> None:
        """Let the bot tell the customer about a handoff change (`EXTERNAL_*` intent).

        `locked`: the caller already holds the conversation's lock.
        """
        processor = self.agent.processor
        assert processor is not None
        pushed = self._output_for(handoff.channel)
        output: OutputChannel = pushed or OutboxOutput()
        async with contextlib.AsyncExitStack() as stack:
            if not locked:
                await stack.enter_async_context(self.lock(handoff.sender_id))
            tracker = await processor.fetch_tracker_and_update_session(handoff.sender_id, output)
            await processor.trigger_external_user_uttered(intent, None, tracker, output)
            # Still under the lock, so an agent message cannot overtake the notice.
            if isinstance(output, OutboxOutput):
                await output.flush(self.store, handoff.sender_id)

    async def agent_message(self, handoff: Handoff, text: str) -> None:
        """Send an agent's reply to the customer and record it in the conversation."""
        processor = self.agent.processor
        assert processor is not None
        pushed = self._output_for(handoff.channel)
        async with self.lock(handoff.sender_id):
            if pushed is not None:
                await pushed.send_text_message(handoff.sender_id, text)
            else:
                await asyncio.to_thread(
                    self.store.push_outbox,
                    handoff.sender_id,
                    [{"recipient_id": handoff.sender_id, "text": text, "agent": True}],
                    time.time(),
                )
            tracker = await processor.get_tracker(handoff.sender_id)
            tracker.update(
                BotUttered(
                    text,
                    metadata={"agent_id": handoff.agent_id, "agent_name": handoff.agent_name},
                )
            )
            await processor.save_tracker(tracker)

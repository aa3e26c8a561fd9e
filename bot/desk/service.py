"""Handoffs from the bot to human agents: queue, claim, resolve, return, tickets.

`HandoffService` holds the rules; where agents see the handoffs (the Slack channel) is
an `AgentDesk`, and telling the customer is left to the caller, which knows the
customer's channel. Every state change goes through `HandoffRepository.move`, a
compare-and-set in the database, so all processes obey the same state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.desk.escalation import EscalationRequest
from bot.desk.handoff import Handoff, HandoffRepository, IllegalTransition, State
from bot.desk.hours import AgentDeskConfig, add_business_time, is_open
from bot.desk.waiting import expected_wait
from bot.errors import KopruError
from bot.storage.store import Conversation, Outcome, Store

__all__ = [
    "AgentDesk",
    "DeskError",
    "Escalation",
    "HandoffService",
]

logger = logging.getLogger(__name__)

# How far back claim times count for the expected wait.
WAIT_WINDOW = 7 * 24 * 3600.0


class DeskError(KopruError):
    """The agent desk (Slack) could not be reached or refused the request."""


class AgentDesk(Protocol):
    """Where agents see handoffs. Methods raise DeskError when the desk is unreachable."""

    async def show(
        self, handoff: Handoff, *, earlier: Sequence[Conversation], place: int | None
    ) -> Handoff:
        """Post the handoff's card, or update it if it has one; returns the handoff with
        the card's location."""
        ...

    async def relay(self, handoff: Handoff, text: str) -> None:
        """Pass a customer's message to the agents (the card's thread)."""
        ...

    async def note(self, handoff: Handoff, text: str) -> None:
        """A note for the agents in the card's thread."""
        ...


@dataclass(frozen=True)
class Escalation:
    """What the customer is told after escalating."""

    handoff: Handoff
    new: bool
    place: int | None = None  # in the queue, when queued
    wait: float | None = None  # expected seconds until a claim, when queued

    @property
    def ticket(self) -> bool:
        return self.handoff.state is State.TICKET


class HandoffService:
    def __init__(
        self,
        store: Store,
        config: AgentDeskConfig,
        desk: AgentDesk | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.repo = HandoffRepository(store)
        self.config = config
        self.desk = desk
        self._clock = clock

    # --- the bot's side -----------------------------------------------------------

    async def escalate(self, request: EscalationRequest) -> Escalation:
        """Queue the conversation for an agent, or open a ticket when none can take it."""
        now = self._clock()
        conversation = await asyncio.to_thread(
            self.store.conversation, request.sender_id, request.session_started_at
        )
        handoff, new = await asyncio.to_thread(
            self.repo.open,
            sender_id=request.sender_id,
            session_started_at=request.session_started_at,
            conversation_id=conversation.id if conversation else None,
            channel=request.channel,
            language=request.language,
            reason=request.reason.value,
            context=request.context(),
            at=now,
        )
        if not new:
            return await self._describe(handoff, new=False)
        await asyncio.to_thread(
            self.store.set_outcome,
            request.sender_id,
            request.session_started_at,
            Outcome.ESCALATED,
            now,
        )
        if self.desk is None:
            return Escalation(await self._to_ticket(handoff, "no_agent_desk", now), new=True)
        if not is_open(self.config, now):
            ticket = await self._to_ticket(handoff, "outside_hours", now)
            await self._show_quietly(ticket)
            return Escalation(ticket, new=True)
        described = await self._describe(handoff, new=True)
        try:
            shown = await self._show(handoff, described.place)
        except DeskError:
            logger.exception("could not post handoff %s to the agent desk", handoff.reference)
            return Escalation(await self._to_ticket(handoff, "agent_desk_down", now), new=True)
        return Escalation(shown, new=True, place=described.place, wait=described.wait)

    async def relay_from_customer(self, sender_id: str, text: str) -> Handoff | None:
        """Pass the customer's message to the agent; None when no handoff is active."""
        handoff = await asyncio.to_thread(self.repo.active_for, sender_id)
        if handoff is None:
            return None
        if self.desk is None:
            raise DeskError("no agent desk is configured")
        await self.desk.relay(handoff, text)
        return handoff

    async def active_for(self, sender_id: str) -> Handoff | None:
        return await asyncio.to_thread(self.repo.active_for, sender_id)

    # --- the agents' side ---------------------------------------------------------

    async def claim(self, reference: str, agent_id: str, agent_name: str) -> Handoff:
        handoff = await self._get(reference)
        claimed = await asyncio.to_thread(
            self.repo.move,
            handoff,
            State.CLAIMED,
            agent_id=agent_id,
            agent_name=agent_name,
            claimed_at=self._clock(),
        )
        await self._show_quietly(claimed)
        return claimed

    async def resolve(self, reference: str, agent_id: str) -> Handoff:
        return await self._end(reference, State.RESOLVED, agent_id)

    async def return_to_bot(self, reference: str, agent_id: str) -> Handoff:
        return await self._end(reference, State.BOT, agent_id)

    async def expire_queue(self) -> list[Handoff]:
        """Open tickets for handoffs nobody claimed within the queue time-out."""
        now = self._clock()
        expired = []
        for handoff in await asyncio.to_thread(self.repo.queued):
            if now - handoff.created_at < self.config.queue_timeout:
                continue
            try:
                ticket = await self._to_ticket(handoff, "queue_timeout", now)
            except IllegalTransition:
                continue  # claimed meanwhile, or another replica got there first
            await self._show_quietly(ticket)
            expired.append(ticket)
        return expired

    async def earlier_conversations(self, handoff: Handoff) -> list[Conversation]:
        return await self._earlier(handoff)

    # --- helpers --------------------------------------------------------------------

    async def _get(self, reference: str) -> Handoff:
        handoff = await asyncio.to_thread(self.repo.by_reference, reference)
        if handoff is None:
            raise KopruError(f"no handoff {reference}")
        return handoff

    async def _end(self, reference: str, target: State, agent_id: str) -> Handoff:
        handoff = await self._get(reference)
        ended = await asyncio.to_thread(
            self.repo.move, handoff, target, ended_at=self._clock(), ended_by=agent_id
        )
        await self._show_quietly(ended)
        return ended

    async def _to_ticket(self, handoff: Handoff, why: str, now: float) -> Handoff:
        return await asyncio.to_thread(
            self.repo.move,
            handoff,
            State.TICKET,
            ticket_reference=self.repo.ticket_reference(),
            answer_by=add_business_time(self.config, now, self.config.ticket_answer_within),
            ended_at=now,
            ended_by=why,
        )

    async def _describe(self, handoff: Handoff, *, new: bool) -> Escalation:
        if handoff.state is not State.QUEUED:
            return Escalation(handoff, new=new)
        place = await asyncio.to_thread(self.repo.place_in_queue, handoff)
        waits = await asyncio.to_thread(self.repo.recent_waits, self._clock() - WAIT_WINDOW)
        return Escalation(
            handoff,
            new=new,
            place=place,
            wait=expected_wait(waits, place, self.config.default_wait),
        )

    async def _earlier(self, handoff: Handoff) -> list[Conversation]:
        conversations = await asyncio.to_thread(self.store.conversations_of, handoff.sender_id)
        return [c for c in conversations if c.id != handoff.conversation_id]

    async def _show_quietly(self, handoff: Handoff) -> None:
        """Update the card; the state change stands even when Slack is unreachable."""
        if self.desk is None:
            return
        place = None
        if handoff.state is State.QUEUED:
            place = await asyncio.to_thread(self.repo.place_in_queue, handoff)
        try:
            await self._show(handoff, place)
        except DeskError:
            logger.exception("could not update the card of handoff %s", handoff.reference)

    async def _show(self, handoff: Handoff, place: int | None) -> Handoff:
        assert self.desk is not None
        shown = await self.desk.show(handoff, earlier=await self._earlier(handoff), place=place)
        if shown.card_ts and (shown.card_channel, shown.card_ts) != (
            handoff.card_channel,
            handoff.card_ts,
        ):
            await asyncio.to_thread(
                self.repo.set_card, handoff.id, shown.card_channel or "", shown.card_ts
            )
        return shown

"""The handoff state machine: bot -> queued -> claimed -> resolved, queued -> ticket,
claimed -> bot. The state lives in the database so that every process obeys the same one.

A handoff row is created in `queued` when the bot escalates (the conversation leaves
`bot`); every later move is a compare-and-set on the row's state, so of two agents
pressing Claim at once exactly one wins, and an illegal move changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.errors import KopruError, StoreError
from bot.storage.store import Store, new_reference
from bot.storage.tables import handoffs

__all__ = [
    "ACTIVE_STATES",
    "Handoff",
    "HandoffRepository",
    "IllegalTransition",
    "State",
    "check_transition",
]


class State(str, Enum):
    BOT = "bot"
    QUEUED = "queued"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    TICKET = "ticket"


# While a handoff is in one of these states a person has (or is about to have) the
# conversation: the bot is silent and customer messages go to the agents.
ACTIVE_STATES = frozenset({State.QUEUED, State.CLAIMED})

_ALLOWED: dict[State, frozenset[State]] = {
    State.QUEUED: frozenset({State.CLAIMED, State.TICKET}),
    State.CLAIMED: frozenset({State.RESOLVED, State.BOT}),
    State.RESOLVED: frozenset(),
    State.TICKET: frozenset(),
    State.BOT: frozenset(),
}


class IllegalTransition(KopruError):
    """A move the state machine does not allow; nothing was changed."""

    def __init__(self, current: Handoff, target: State) -> None:
        self.current = current
        self.target = target
        super().__init__(
            f"handoff {current.reference} is {current.state.value}; it cannot become {target.value}"
        )


def check_transition(current: State, target: State) -> bool:
    """Whether the state machine allows `current` -> `target`."""
    return target in _ALLOWED[current]


@dataclass(frozen=True)
class Handoff:
    id: int
    reference: str
    sender_id: str
    session_started_at: float
    conversation_id: int | None
    channel: str
    language: str
    reason: str
    state: State
    created_at: float
    context: dict[str, Any] = field(default_factory=dict)
    agent_id: str | None = None
    agent_name: str | None = None
    claimed_at: float | None = None
    ended_at: float | None = None
    ended_by: str | None = None
    ticket_reference: str | None = None
    answer_by: float | None = None
    card_channel: str | None = None
    card_ts: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def _active_row(conn: Connection, sender_id: str) -> Any:
    """The sender's newest queued or claimed handoff row, or None."""
    h = handoffs.c
    return conn.execute(
        sa.select(handoffs)
        .where(h.sender_id == sender_id, h.state.in_([s.value for s in ACTIVE_STATES]))
        .order_by(h.id.desc())
    ).first()


def row_to_handoff(row: Any) -> Handoff:
    return Handoff(
        id=row.id,
        reference=row.reference,
        sender_id=row.sender_id,
        session_started_at=row.session_started_at,
        conversation_id=row.conversation_id,
        channel=row.channel,
        language=row.language,
        reason=row.reason,
        state=State(row.state),
        created_at=row.created_at,
        context=json.loads(row.context),
        agent_id=row.agent_id,
        agent_name=row.agent_name,
        claimed_at=row.claimed_at,
        ended_at=row.ended_at,
        ended_by=row.ended_by,
        ticket_reference=row.ticket_reference,
        answer_by=row.answer_by,
        card_channel=row.card_channel,
        card_ts=row.card_ts,
    )


class HandoffRepository:
    """Handoff rows in Köprü's store. Synchronous: async callers use a worker thread."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def open(
        self,
        *,
        sender_id: str,
        session_started_at: float,
        conversation_id: int | None,
        channel: str,
        language: str,
        reason: str,
        context: dict[str, Any],
        at: float,
    ) -> tuple[Handoff, bool]:
        """Queue a handoff for the sender, or return the one already active.

        Returns the handoff and whether it is new.
        """
        values = {
            "sender_id": sender_id,
            "session_started_at": session_started_at,
            "conversation_id": conversation_id,
            "channel": channel,
            "language": language,
            "reason": reason,
            "context": json.dumps(context, ensure_ascii=False),
            "created_at": at,
        }
        try:
            return self._open(values)
        except StoreError as exc:
            # Another process opened one for the same customer a moment ago.
            if not isinstance(exc.__cause__, IntegrityError):
                raise
        active = self.active_for(sender_id)
        if active is None:
            return self._open(values)
        return active, False

    def _open(self, values: dict[str, Any]) -> tuple[Handoff, bool]:
        h = handoffs.c
        sender_id = values["sender_id"]
        with self._store.transaction() as conn:
            row = _active_row(conn, sender_id)
            if row is not None:
                return row_to_handoff(row), False
            result = conn.execute(
                handoffs.insert().values(
                    reference=new_reference("E"), state=State.QUEUED.value, **values
                )
            )
            new_id = result.inserted_primary_key[0]
            fresh = conn.execute(sa.select(handoffs).where(h.id == new_id)).one()
        return row_to_handoff(fresh), True

    def get(self, handoff_id: int) -> Handoff | None:
        with self._store.transaction() as conn:
            row = conn.execute(sa.select(handoffs).where(handoffs.c.id == handoff_id)).first()
        return row_to_handoff(row) if row is not None else None

    def by_reference(self, reference: str) -> Handoff | None:
        with self._store.transaction() as conn:
            row = conn.execute(sa.select(handoffs).where(handoffs.c.reference == reference)).first()
        return row_to_handoff(row) if row is not None else None

    def by_card(self, card_channel: str, card_ts: str) -> Handoff | None:
        h = handoffs.c
        with self._store.transaction() as conn:
            row = conn.execute(
                sa.select(handoffs).where(h.card_channel == card_channel, h.card_ts == card_ts)
            ).first()
        return row_to_handoff(row) if row is not None else None

    def active_for(self, sender_id: str) -> Handoff | None:
        """The sender's queued or claimed handoff, if any."""
        with self._store.transaction() as conn:
            row = _active_row(conn, sender_id)
        return row_to_handoff(row) if row is not None else None

    def of_sender(self, sender_id: str) -> list[Handoff]:
        h = handoffs.c
        with self._store.transaction() as conn:
            rows = conn.execute(
                sa.select(handoffs).where(h.sender_id == sender_id).order_by(h.id)
            ).all()
        return [row_to_handoff(r) for r in rows]

    def queued(self) -> list[Handoff]:
        """All queued handoffs, oldest first."""
        h = handoffs.c
        with self._store.transaction() as conn:
            rows = conn.execute(
                sa.select(handoffs).where(h.state == State.QUEUED.value).order_by(h.id)
            ).all()
        return [row_to_handoff(r) for r in rows]

    def place_in_queue(self, handoff: Handoff) -> int:
        """1 for the oldest queued handoff, 2 for the next, ..."""
        h = handoffs.c
        with self._store.transaction() as conn:
            ahead = conn.execute(
                sa.select(sa.func.count())
                .select_from(handoffs)
                .where(h.state == State.QUEUED.value, h.id < handoff.id)
            ).scalar_one()
        return int(ahead) + 1

    def recent_waits(self, since: float, limit: int = 20) -> list[float]:
        """Seconds from queue to claim of the latest claims after `since`, newest first."""
        h = handoffs.c
        with self._store.transaction() as conn:
            rows = conn.execute(
                sa.select(h.created_at, h.claimed_at)
                .where(h.claimed_at.is_not(None), h.claimed_at >= since)
                .order_by(h.claimed_at.desc())
                .limit(limit)
            ).all()
        return [max(0.0, r.claimed_at - r.created_at) for r in rows]

    def set_card(self, handoff_id: int, card_channel: str, card_ts: str) -> None:
        with self._store.transaction() as conn:
            conn.execute(
                handoffs.update()
                .where(handoffs.c.id == handoff_id)
                .values(card_channel=card_channel, card_ts=card_ts)
            )

    def move(self, handoff: Handoff, target: State, **values: Any) -> Handoff:
        """Move `handoff` from the state it was read in to `target`.

        Raises IllegalTransition, with the row as it is now, when the state machine
        does not allow the move or another process moved the row first.
        """
        unknown = set(values) - {c.name for c in handoffs.c}
        if unknown:
            raise ValueError(f"unknown handoff columns: {sorted(unknown)}")
        if not check_transition(handoff.state, target):
            raise IllegalTransition(self.get(handoff.id) or handoff, target)
        h = handoffs.c
        with self._store.transaction() as conn:
            result = conn.execute(
                handoffs.update()
                .where(h.id == handoff.id, h.state == handoff.state.value)
                .values(state=target.value, **values)
            )
            row = conn.execute(sa.select(handoffs).where(h.id == handoff.id)).one()
        now = row_to_handoff(row)
        if result.rowcount != 1:
            raise IllegalTransition(now, target)
        return now

    def ticket_reference(self) -> str:
        return new_reference("T")

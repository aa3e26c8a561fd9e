"""Köprü's own tables (conversations, deletion requests, deliveries) on SQLAlchemy."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from tenacity import Retrying

from bot.errors import StoreError
from bot.storage import migrate
from bot.storage.retrying import (
    DATABASE_RETRY_DELAYS,
    retry_if_transient_cause,
    stop_after_delays,
    wait_delays,
)
from bot.storage.tables import conversations, deletion_requests, deliveries, outbox

__all__ = [
    "Claim",
    "Conversation",
    "Outcome",
    "Store",
    "TurnRecord",
    "new_reference",
]

# Seconds between tries to mark a delivery done while the database restarts.
FINISH_RETRY_DELAYS: Sequence[float] = DATABASE_RETRY_DELAYS


class Claim:
    """What claim_delivery found."""

    NEW = "new"  # first delivery, or a stale claim taken over: process it
    DONE = "done"  # processed before: acknowledge without processing
    BUSY = "busy"  # being processed right now elsewhere: ask the sender to retry


class Outcome:
    """How a conversation ended (the `outcome` column)."""

    RESOLVED_BOT = "resolved_bot"
    ESCALATED = "escalated"
    ABANDONED = "abandoned"


def new_reference(prefix: str) -> str:
    """A short reference a customer can read out on the phone, e.g. E-7F3A2C."""
    return f"{prefix}-{secrets.token_hex(3).upper()}"


@dataclass(frozen=True)
class TurnRecord:
    """One customer message as the conversation log sees it."""

    sender_id: str
    session_started_at: float
    channel: str
    language: str
    intent: str | None
    at: float
    # Seconds from the first message to the bot's first answer, once there was one.
    first_answer_seconds: float | None = None


@dataclass(frozen=True)
class Conversation:
    id: int
    sender_id: str
    session_started_at: float
    channel: str
    language: str
    intents: list[str]
    outcome: str | None
    started_at: float
    last_message_at: float
    ended_at: float | None
    first_answer_seconds: float | None = None


def row_to_conversation(row: Any) -> Conversation:
    return Conversation(
        id=row.id,
        sender_id=row.sender_id,
        session_started_at=row.session_started_at,
        channel=row.channel,
        language=row.language,
        intents=json.loads(row.intents),
        outcome=row.outcome,
        started_at=row.started_at,
        last_message_at=row.last_message_at,
        ended_at=row.ended_at,
        first_answer_seconds=row.first_answer_seconds,
    )


class Store:
    """Synchronous store; async callers run its methods in a worker thread."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self._engine = engine
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                try:
                    self._engine = _create_engine(self.url)
                except (OSError, SQLAlchemyError) as exc:
                    raise StoreError(f"cannot open the store: {exc}") from exc
            return self._engine

    def create_schema(self) -> None:
        """Create Köprü's tables, or migrate them to this version's (bot.storage.migrate)."""
        try:
            migrate.upgrade(self.engine)
        except (SQLAlchemyError, migrate.MigrationError, OSError) as exc:
            raise StoreError(f"cannot create Köprü's tables: {exc}") from exc

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on success; errors become StoreError."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(str(exc)) from exc

    # --- conversations ----------------------------------------------------------------

    def record_turn(self, turn: TurnRecord) -> Conversation:
        """Add a customer message to its conversation, opening the conversation if new.

        Earlier conversations of the same sender that never got an outcome are closed
        as abandoned: the customer came back in a new session without finishing them.
        """
        for _attempt in range(2):
            try:
                return self._record_turn(turn)
            except StoreError as exc:
                # Two replicas opening the same conversation at once: the loser retries
                # and finds the row the winner inserted.
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
        return self._record_turn(turn)

    def _record_turn(self, turn: TurnRecord) -> Conversation:
        c = conversations.c
        with self.transaction() as conn:
            row = conn.execute(
                sa.select(conversations).where(
                    c.sender_id == turn.sender_id,
                    c.session_started_at == turn.session_started_at,
                )
            ).first()
            if row is None:
                conn.execute(
                    conversations.update()
                    .where(
                        c.sender_id == turn.sender_id,
                        c.session_started_at != turn.session_started_at,
                        c.outcome.is_(None),
                    )
                    .values(outcome=Outcome.ABANDONED, ended_at=c.last_message_at)
                )
                intents = [turn.intent] if turn.intent else []
                conn.execute(
                    conversations.insert().values(
                        sender_id=turn.sender_id,
                        session_started_at=turn.session_started_at,
                        channel=turn.channel,
                        language=turn.language,
                        intents=json.dumps(intents),
                        started_at=turn.at,
                        last_message_at=turn.at,
                    )
                )
            else:
                intents = json.loads(row.intents)
                if turn.intent and turn.intent not in intents:
                    intents.append(turn.intent)
                conn.execute(
                    conversations.update()
                    .where(c.id == row.id)
                    .values(
                        language=turn.language,
                        channel=turn.channel,
                        intents=json.dumps(intents),
                        last_message_at=max(row.last_message_at, turn.at),
                        first_answer_seconds=(
                            row.first_answer_seconds
                            if row.first_answer_seconds is not None
                            else turn.first_answer_seconds
                        ),
                    )
                )
            fresh = conn.execute(
                sa.select(conversations).where(
                    c.sender_id == turn.sender_id,
                    c.session_started_at == turn.session_started_at,
                )
            ).one()
        return row_to_conversation(fresh)

    def record_first_answer(
        self, sender_id: str, session_started_at: float, seconds: float
    ) -> bool:
        """Fill the conversation's time to first answer when it has none yet (the event
        broker's consumer knows it one message earlier than the action server)."""
        c = conversations.c
        with self.transaction() as conn:
            result = conn.execute(
                conversations.update()
                .where(
                    c.sender_id == sender_id,
                    c.session_started_at == session_started_at,
                    c.first_answer_seconds.is_(None),
                )
                .values(first_answer_seconds=seconds)
            )
        return bool(result.rowcount)

    def set_outcome(
        self, sender_id: str, session_started_at: float, outcome: str, at: float
    ) -> Conversation | None:
        c = conversations.c
        with self.transaction() as conn:
            conn.execute(
                conversations.update()
                .where(c.sender_id == sender_id, c.session_started_at == session_started_at)
                .values(outcome=outcome, ended_at=at)
            )
            row = conn.execute(
                sa.select(conversations).where(
                    c.sender_id == sender_id, c.session_started_at == session_started_at
                )
            ).first()
        return row_to_conversation(row) if row is not None else None

    def conversation(self, sender_id: str, session_started_at: float) -> Conversation | None:
        c = conversations.c
        with self.transaction() as conn:
            row = conn.execute(
                sa.select(conversations).where(
                    c.sender_id == sender_id, c.session_started_at == session_started_at
                )
            ).first()
        return row_to_conversation(row) if row is not None else None

    def conversations_of(self, sender_id: str) -> list[Conversation]:
        c = conversations.c
        with self.transaction() as conn:
            rows = conn.execute(
                sa.select(conversations).where(c.sender_id == sender_id).order_by(c.id)
            ).all()
        return [row_to_conversation(r) for r in rows]

    # --- deletion requests --------------------------------------------

    def add_deletion_request(self, sender_id: str, email: str, at: float) -> str:
        reference = new_reference("D")
        with self.transaction() as conn:
            conn.execute(
                deletion_requests.insert().values(
                    reference=reference, sender_id=sender_id, email=email, created_at=at
                )
            )
        return reference

    # --- deliveries (exactly-once processing of channel updates) -----------------------

    def claim_delivery(
        self, key: str, now: float, stale_after: float = 120.0, *, sender_id: str | None = None
    ) -> str:
        """Claim `key` for processing (from customer `sender_id`, if any); see Claim for
        the answers."""
        for _attempt in range(3):
            try:
                with self.transaction() as conn:
                    return _claim(conn, key, now, stale_after, sender_id)
            except StoreError as exc:
                # Two replicas inserting the same key: the loser looks again.
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
        return Claim.BUSY

    def finish_delivery(self, key: str) -> None:
        """Mark `key` processed. The customer may have been answered already, so a
        database that is restarting is waited for (about 4 s): a claim left behind would
        have the update processed, and answered, a second time."""
        # Synchronous on purpose: the channels call it in a worker thread (to_thread).
        # Before each pause every pooled connection is dropped: they may all be dead.
        retrying = Retrying(
            retry=retry_if_transient_cause(StoreError),
            wait=wait_delays(FINISH_RETRY_DELAYS),
            stop=stop_after_delays(FINISH_RETRY_DELAYS),
            before_sleep=lambda _state: self.engine.dispose(),
            reraise=True,
        )
        retrying(self._mark_done, key)

    def _mark_done(self, key: str) -> None:
        with self.transaction() as conn:
            conn.execute(deliveries.update().where(deliveries.c.key == key).values(status="done"))

    def release_delivery(self, key: str) -> None:
        """Processing failed: forget the claim so that the re-delivery is processed."""
        with self.transaction() as conn:
            conn.execute(
                deliveries.delete().where(
                    deliveries.c.key == key, deliveries.c.status == "processing"
                )
            )

    # --- outbox (messages fetched by web chat and REST clients) -------------------------

    def push_outbox(self, sender_id: str, messages: Sequence[dict[str, Any]], at: float) -> None:
        if not messages:
            return
        with self.transaction() as conn:
            conn.execute(
                outbox.insert(),
                [
                    {
                        "sender_id": sender_id,
                        "message": json.dumps(m, ensure_ascii=False),
                        "created_at": at,
                    }
                    for m in messages
                ],
            )

    def outbox_after(
        self, sender_id: str, after: int, limit: int = 100
    ) -> list[tuple[int, dict[str, Any]]]:
        """The sender's messages with an id above `after`, oldest first."""
        o = outbox.c
        with self.transaction() as conn:
            rows = conn.execute(
                sa.select(o.id, o.message)
                .where(o.sender_id == sender_id, o.id > after)
                .order_by(o.id)
                .limit(limit)
            ).all()
        return [(r.id, json.loads(r.message)) for r in rows]

    def deletion_requests_of(self, sender_id: str) -> Sequence[tuple[str, str]]:
        d = deletion_requests.c
        with self.transaction() as conn:
            rows = conn.execute(
                sa.select(d.reference, d.email).where(d.sender_id == sender_id).order_by(d.id)
            ).all()
        return [(r.reference, r.email) for r in rows]


def _claim(
    conn: Connection, key: str, now: float, stale_after: float, sender_id: str | None
) -> str:
    d = deliveries.c
    row = conn.execute(sa.select(deliveries).where(d.key == key)).first()
    if row is None:
        conn.execute(
            deliveries.insert().values(
                key=key, status="processing", claimed_at=now, sender_id=sender_id
            )
        )
        return Claim.NEW
    if row.status == "done":
        return Claim.DONE
    if now - row.claimed_at < stale_after:
        return Claim.BUSY
    # The process that claimed it died before finishing: take over.
    conn.execute(
        deliveries.update()
        .where(d.key == key, d.claimed_at == row.claimed_at)
        .values(claimed_at=now, attempts=row.attempts + 1)
    )
    return Claim.NEW


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        # The action server calls the store from worker threads.
        return sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    return sa.create_engine(url, pool_pre_ping=True)

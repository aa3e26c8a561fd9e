"""A SQL tracker store that never loses a conversation quietly.

Rasa wraps every tracker store in ``FailSafeTrackerStore``: when a read fails it starts
the customer on an empty tracker, and when a write fails it saves the tracker in
process memory, logs an error and carries on. With several replicas, or after a
restart, that conversation is gone. ``DurableSQLTrackerStore`` retries a failed read or
write a few times on a fresh connection (a restarted PostgreSQL closes every pooled
connection) and then raises :class:`~bot.errors.TrackerStoreUnavailable`, which passes
through Rasa's ``except Exception`` handlers to Köprü's channels; they refuse the
message with 503 so the sender delivers it again.

Configured in endpoints.yml as ``type: bot.serving.tracker_store.DurableSQLTrackerStore`` with
the same keys as Rasa's ``SQL`` type (dialect, url, db, username, password, ...).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker

from bot.errors import TrackerStoreUnavailable

__all__ = ["RETRY_DELAYS", "DurableSQLTrackerStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds to wait before each retry; a PostgreSQL restart takes about two seconds.
RETRY_DELAYS: Sequence[float] = (0.2, 0.5, 1.0, 2.0)

# Errors of the connection or the server, worth another try. Integrity or programming
# errors are bugs and are raised at once.
_TRANSIENT = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)


class DurableSQLTrackerStore(SQLTrackerStore):  # type: ignore[misc]
    """Rasa's SQL tracker store with retries, and a loud failure instead of memory."""

    retry_delays: Sequence[float] = RETRY_DELAYS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The same engine, but checking a pooled connection before using it: after a
        # database restart the first query would otherwise fail on a dead connection.
        original: sa.engine.Engine = self.engine
        url = original.url
        original.dispose()
        self.engine: sa.engine.Engine = sa.create_engine(
            url, pool_pre_ping=True, **create_engine_kwargs(url)
        )
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        parent = super()._retrieve

        async def attempt() -> DialogueStateTracker | None:
            return await parent(sender_id, fetch_events_from_all_sessions)

        return await self._with_retries(f"read the conversation {sender_id!r}", attempt)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stream the new events to the event broker once, then write them, retrying."""
        await self._with_retries(
            f"read the conversation {tracker.sender_id!r}", lambda: self.stream_events(tracker)
        )

        async def attempt() -> None:
            self._write_new_events(tracker)

        await self._with_retries(f"save the conversation {tracker.sender_id!r}", attempt)
        logger.debug("Saved the conversation %r", tracker.sender_id)

    def _write_new_events(self, tracker: DialogueStateTracker) -> None:
        # SQLTrackerStore.save without its stream_events call (streamed once, above):
        # the events not yet stored, counted in the database, so a retry after a write
        # that did commit adds nothing twice.
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get("name"),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()

    async def _with_retries(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        delays = list(self.retry_delays)
        while True:
            try:
                return await attempt()
            except _TRANSIENT as exc:
                if not delays:
                    logger.error("Could not %s in the tracker store: %s", what, _short(exc))
                    raise TrackerStoreUnavailable(f"could not {what}: {_short(exc)}") from exc
                delay = delays.pop(0)
                logger.warning(
                    "Could not %s in the tracker store (%s); trying again in %.1f s",
                    what, _short(exc), delay,
                )  # fmt: skip
                self.engine.dispose()  # drop every pooled connection: they may all be dead
                await asyncio.sleep(delay)


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__

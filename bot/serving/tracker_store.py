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

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.trackers import DialogueStateTracker
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from bot.errors import TrackerStoreUnavailable
from bot.storage.retrying import (
    DATABASE_RETRY_DELAYS,
    TRANSIENT_DATABASE_ERRORS,
    is_transient_database_error,
    stop_after_delays,
    wait_delays,
)

__all__ = ["RETRY_DELAYS", "DurableSQLTrackerStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds to wait before each retry (bot.storage.retrying: the same as Köprü's store).
RETRY_DELAYS: Sequence[float] = DATABASE_RETRY_DELAYS


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
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            logger.warning(
                "Could not %s in the tracker store (%s); trying again in %.1f s",
                what, _short(exc), delay,
            )  # fmt: skip
            self.engine.dispose()  # drop every pooled connection: they may all be dead

        retrying = AsyncRetrying(
            retry=retry_if_exception(is_transient_database_error),
            wait=wait_delays(self.retry_delays),
            stop=stop_after_delays(self.retry_delays),
            before_sleep=before_sleep,
            reraise=True,
        )

        async def once() -> T:
            # A coroutine function: AsyncRetrying calls a plain callable (a lambda
            # returning a coroutine) without awaiting what it returns.
            return await attempt()

        try:
            return await retrying(once)
        except TRANSIENT_DATABASE_ERRORS as exc:  # only raised here once every retry failed
            logger.error("Could not %s in the tracker store: %s", what, _short(exc))
            raise TrackerStoreUnavailable(f"could not {what}: {_short(exc)}") from exc


def _short(exc: BaseException | None) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__

"""The durable tracker store waits out a database restart, then fails loudly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.errors import TrackerStoreUnavailable
from bot.serving.tracker_store import RETRY_DELAYS, DurableSQLTrackerStore
from bot.storage.retrying import DATABASE_RETRY_DELAYS


@pytest.fixture
def store(tmp_path: Path) -> DurableSQLTrackerStore:
    store = DurableSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "t.db"))
    store.retry_delays = (0.0, 0.0, 0.0)
    return store


def _tracker(sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, slots=[])
    tracker.update(UserUttered("where is my order?", {"name": "order_status"}))
    return tracker


def _fail(store: DurableSQLTrackerStore, failures: int, error: Exception) -> list[int]:
    real = store._write_new_events
    calls: list[int] = []

    def write(tracker: DialogueStateTracker) -> None:
        calls.append(1)
        if len(calls) <= failures:
            raise error
        real(tracker)

    store._write_new_events = write  # type: ignore[method-assign]
    return calls


def test_the_schedule_is_the_stores() -> None:
    assert tuple(RETRY_DELAYS) == DATABASE_RETRY_DELAYS == (0.2, 0.5, 1.0, 2.0)


async def test_a_database_restart_is_waited_out(store: DurableSQLTrackerStore) -> None:
    calls = _fail(store, 2, OperationalError("INSERT", {}, Exception("server closed")))
    await store.save(_tracker("c1"))
    assert len(calls) == 3
    saved = await store.retrieve("c1")
    assert saved is not None
    assert saved.latest_message is not None
    assert saved.latest_message.text == "where is my order?"


class Broker:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.published.append(event)


async def test_new_events_are_streamed_once_across_retries(store: DurableSQLTrackerStore) -> None:
    broker = Broker()
    store.event_broker = broker
    calls = _fail(store, 1, OperationalError("INSERT", {}, Exception("server closed")))
    await store.save(_tracker("c4"))
    assert len(calls) == 2
    assert [(e["sender_id"], e["event"]) for e in broker.published] == [("c4", "user")]


async def test_a_database_that_stays_down_is_unavailable(store: DurableSQLTrackerStore) -> None:
    calls = _fail(store, 99, OperationalError("INSERT", {}, Exception("refused")))
    with pytest.raises(TrackerStoreUnavailable, match="could not save the conversation 'c2'"):
        await store.save(_tracker("c2"))
    assert len(calls) == 4  # the first try and one per delay
    assert await store.retrieve("c2") is None


async def test_other_errors_are_not_retried(store: DurableSQLTrackerStore) -> None:
    calls = _fail(store, 1, IntegrityError("INSERT", {}, Exception("constraint")))
    with pytest.raises(IntegrityError):
        await store.save(_tracker("c3"))
    assert len(calls) == 1

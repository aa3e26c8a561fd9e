"""Marking a delivery done waits out a database restart instead of leaving the claim."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.errors import StoreError
from bot.storage import store as store_module
from bot.storage.store import Claim, Store


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setattr(store_module, "FINISH_RETRY_DELAYS", (0.0, 0.0, 0.0))
    store = Store(f"sqlite:///{tmp_path / 'kopru.db'}")
    store.create_schema()
    yield store
    store.close()


def _failing(store: Store, failures: int, cause: Exception) -> list[int]:
    """Make the store's next `failures` transactions fail with `cause` (as StoreError)."""
    real = store.transaction
    calls: list[int] = []

    @contextmanager
    def transaction() -> Iterator[Connection]:
        calls.append(1)
        if len(calls) <= failures:
            raise StoreError("database is restarting") from cause
        with real() as conn:
            yield conn

    store.transaction = transaction  # type: ignore[method-assign]
    return calls


def test_a_database_restart_is_waited_out(store: Store) -> None:
    assert store.claim_delivery("telegram:1:7", time.time()) == Claim.NEW
    calls = _failing(store, 2, OperationalError("UPDATE", {}, Exception("server closed")))
    store.finish_delivery("telegram:1:7")
    assert len(calls) == 3
    assert store.claim_delivery("telegram:1:7", time.time()) == Claim.DONE


def test_a_database_that_stays_down_is_an_error(store: Store) -> None:
    store.claim_delivery("telegram:1:8", time.time())
    calls = _failing(store, 99, OperationalError("UPDATE", {}, Exception("refused")))
    with pytest.raises(StoreError):
        store.finish_delivery("telegram:1:8")
    assert len(calls) == 4  # the first try and one per delay


def test_other_errors_are_not_retried(store: Store) -> None:
    store.claim_delivery("telegram:1:9", time.time())
    calls = _failing(store, 1, IntegrityError("UPDATE", {}, Exception("constraint")))
    with pytest.raises(StoreError):
        store.finish_delivery("telegram:1:9")
    assert len(calls) == 1

"""Köprü's store on SQLite: conversations, outcomes, escalations, deletion requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage.store import Outcome, Store, TurnRecord


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'sub' / 'kopru.db'}")
    store.create_schema()
    return store


def turn(intent: str | None, at: float, session: float = 1.0, **kw: str) -> TurnRecord:
    return TurnRecord(
        sender_id=kw.get("sender", "alice"),
        session_started_at=session,
        channel=kw.get("channel", "webchat"),
        language=kw.get("language", "en"),
        intent=intent,
        at=at,
    )


def test_turns_build_one_conversation_with_intents_in_order(store: Store) -> None:
    store.record_turn(turn("greet", 10.0))
    store.record_turn(turn("order_status", 11.0, language="tr"))
    conversation = store.record_turn(turn("greet", 12.0, language="tr"))
    assert conversation.intents == ["greet", "order_status"]
    assert conversation.language == "tr"
    assert conversation.started_at == 10.0
    assert conversation.last_message_at == 12.0
    assert conversation.outcome is None


def test_new_session_abandons_an_unfinished_conversation(store: Store) -> None:
    store.record_turn(turn("order_status", 10.0, session=1.0))
    store.record_turn(turn("greet", 5000.0, session=4000.0))
    first, second = store.conversations_of("alice")
    assert first.outcome == Outcome.ABANDONED
    assert first.ended_at == 10.0
    assert second.outcome is None


def test_resolved_conversation_stays_resolved_in_a_new_session(store: Store) -> None:
    store.record_turn(turn("faq", 10.0, session=1.0))
    store.set_outcome("alice", 1.0, Outcome.RESOLVED_BOT, 11.0)
    store.record_turn(turn("greet", 5000.0, session=4000.0))
    first, _second = store.conversations_of("alice")
    assert first.outcome == Outcome.RESOLVED_BOT


def test_senders_are_kept_apart(store: Store) -> None:
    store.record_turn(turn("greet", 1.0, sender="alice"))
    store.record_turn(turn("greet", 1.0, sender="bob"))
    assert len(store.conversations_of("alice")) == 1
    assert len(store.conversations_of("bob")) == 1


def test_deletion_requests_get_references(store: Store) -> None:
    reference = store.add_deletion_request("alice", "alice@example.com", 5.0)
    assert reference.startswith("D-")
    assert store.deletion_requests_of("alice") == [(reference, "alice@example.com")]


def test_store_errors_are_kopru_errors(tmp_path: Path) -> None:
    from bot.errors import StoreError

    (tmp_path / "file").write_text("not a directory")
    broken = Store(f"sqlite:///{tmp_path / 'file' / 'x.db'}")
    with pytest.raises(StoreError):
        broken.create_schema()


def test_a_delivery_is_processed_once(store: Store) -> None:
    from bot.storage.store import Claim

    assert store.claim_delivery("telegram:1:100", now=10.0) == Claim.NEW
    assert store.claim_delivery("telegram:1:100", now=11.0) == Claim.BUSY
    store.finish_delivery("telegram:1:100")
    assert store.claim_delivery("telegram:1:100", now=12.0) == Claim.DONE
    assert store.claim_delivery("telegram:1:101", now=12.0) == Claim.NEW


def test_a_failed_delivery_can_be_retried(store: Store) -> None:
    from bot.storage.store import Claim

    assert store.claim_delivery("k", now=10.0) == Claim.NEW
    store.release_delivery("k")
    assert store.claim_delivery("k", now=11.0) == Claim.NEW


def test_a_stale_claim_is_taken_over(store: Store) -> None:
    # The process that claimed it died: after `stale_after` seconds another may process it.
    from bot.storage.store import Claim

    assert store.claim_delivery("k", now=10.0, stale_after=60) == Claim.NEW
    assert store.claim_delivery("k", now=69.0, stale_after=60) == Claim.BUSY
    assert store.claim_delivery("k", now=71.0, stale_after=60) == Claim.NEW
    store.finish_delivery("k")
    store.release_delivery("k")  # releasing a finished delivery changes nothing
    assert store.claim_delivery("k", now=200.0, stale_after=60) == Claim.DONE

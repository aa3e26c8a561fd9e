"""The handoff state machine and its repository: legal moves, compare-and-set, queries."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from bot.desk.handoff import Handoff, HandoffRepository, IllegalTransition, State, check_transition
from bot.storage.store import Store
from tests.services import postgres_databases

ALLOWED = {
    (State.QUEUED, State.CLAIMED),
    (State.QUEUED, State.TICKET),
    (State.CLAIMED, State.RESOLVED),
    (State.CLAIMED, State.BOT),
}
PAIRS = [(current, target) for current in State for target in State]


@pytest.fixture
def store(tmp_database_url: str) -> Iterator[Store]:
    store = Store(tmp_database_url)
    store.create_schema()
    yield store
    store.close()


@pytest.fixture
def repo(store: Store) -> HandoffRepository:
    return HandoffRepository(store)


def open_handoff(repo: HandoffRepository, sender: str = "alice", at: float = 10.0) -> Handoff:
    handoff, new = repo.open(
        sender_id=sender,
        session_started_at=1.0,
        conversation_id=None,
        channel="webchat",
        language="en",
        reason="customer_request",
        context={"customer_name": "Zeynep", "slots": {"order_number": "204518"}},
        at=at,
    )
    assert new
    return handoff


def claim(repo: HandoffRepository, handoff: Handoff, agent: str, at: float) -> Handoff:
    return repo.move(
        handoff, State.CLAIMED, agent_id=agent, agent_name=agent.lower(), claimed_at=at
    )


# --- the state machine --------------------------------------------------------------------


def test_every_pair_of_states_is_covered() -> None:
    assert len(PAIRS) == 25
    assert set(PAIRS) >= ALLOWED


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=lambda s: s.value)
def test_check_transition(current: State, target: State) -> None:
    assert check_transition(current, target) is ((current, target) in ALLOWED)


def test_only_queued_and_claimed_are_active(repo: HandoffRepository) -> None:
    handoff = open_handoff(repo)
    assert handoff.state is State.QUEUED and handoff.active
    claimed = claim(repo, handoff, "U1", 20.0)
    assert claimed.active
    resolved = repo.move(claimed, State.RESOLVED, ended_at=30.0, ended_by="U1")
    assert not resolved.active


# --- open ---------------------------------------------------------------------------------


def test_open_queues_a_new_handoff_with_its_context(repo: HandoffRepository) -> None:
    handoff = open_handoff(repo, at=42.0)
    assert handoff.reference.startswith("E-")
    assert handoff.state is State.QUEUED
    assert handoff.created_at == 42.0
    assert handoff.context == {"customer_name": "Zeynep", "slots": {"order_number": "204518"}}
    assert repo.get(handoff.id) == handoff
    assert repo.by_reference(handoff.reference) == handoff


def test_open_returns_the_active_handoff_of_the_sender(repo: HandoffRepository) -> None:
    first = open_handoff(repo)
    again, new = repo.open(
        sender_id="alice", session_started_at=2.0, conversation_id=None, channel="telegram",
        language="tr", reason="complaint", context={}, at=99.0,
    )  # fmt: skip
    assert new is False
    assert again == first
    claimed = claim(repo, first, "U1", 20.0)
    still, new = repo.open(
        sender_id="alice", session_started_at=2.0, conversation_id=None, channel="telegram",
        language="tr", reason="complaint", context={}, at=99.0,
    )  # fmt: skip
    assert new is False
    assert still == claimed
    assert len(repo.of_sender("alice")) == 1


def test_open_after_the_previous_handoff_ended_is_new(repo: HandoffRepository) -> None:
    first = open_handoff(repo)
    resolved = repo.move(claim(repo, first, "U1", 20.0), State.RESOLVED, ended_at=30.0)
    second = open_handoff(repo, at=50.0)
    assert second.id != first.id
    assert second.reference != first.reference
    assert second.state is State.QUEUED
    assert [h.id for h in repo.of_sender("alice")] == [first.id, second.id]
    assert repo.get(first.id) == resolved


# --- move ---------------------------------------------------------------------------------


def test_move_records_the_values(repo: HandoffRepository) -> None:
    handoff = open_handoff(repo)
    claimed = repo.move(handoff, State.CLAIMED, agent_id="U1", agent_name="Ayşe", claimed_at=20.0)
    assert (claimed.state, claimed.agent_id, claimed.agent_name, claimed.claimed_at) == (
        State.CLAIMED, "U1", "Ayşe", 20.0,
    )  # fmt: skip
    assert repo.get(handoff.id) == claimed
    back = repo.move(claimed, State.BOT, ended_at=30.0, ended_by="U1")
    assert (back.state, back.ended_at, back.ended_by) == (State.BOT, 30.0, "U1")
    assert back.agent_name == "Ayşe"


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), State.RESOLVED),
        ((), State.BOT),
        ((), State.QUEUED),
        ((State.CLAIMED,), State.TICKET),
        ((State.CLAIMED,), State.QUEUED),
        ((State.CLAIMED, State.RESOLVED), State.CLAIMED),
        ((State.CLAIMED, State.BOT), State.QUEUED),
        ((State.TICKET,), State.CLAIMED),
    ],
    ids=lambda v: "-".join(s.value for s in v) if isinstance(v, tuple) else v.value,
)
def test_illegal_move_changes_nothing(
    repo: HandoffRepository, path: tuple[State, ...], illegal: State
) -> None:
    handoff = open_handoff(repo)
    for state in path:
        handoff = repo.move(handoff, state, ended_by="setup")
    before = repo.get(handoff.id)
    with pytest.raises(IllegalTransition) as raised:
        repo.move(handoff, illegal, agent_id="U9", ended_by="U9", ended_at=77.0)
    assert raised.value.target is illegal
    assert raised.value.current == before
    assert repo.get(handoff.id) == before
    assert before is not None and before.state is (path[-1] if path else State.QUEUED)


def test_stale_copy_loses_and_sees_the_winner(repo: HandoffRepository) -> None:
    handoff = open_handoff(repo)
    first_copy = repo.get(handoff.id)
    second_copy = repo.get(handoff.id)
    assert first_copy is not None and second_copy is not None
    won = repo.move(first_copy, State.CLAIMED, agent_id="U1", agent_name="Ayşe", claimed_at=20.0)
    with pytest.raises(IllegalTransition) as raised:
        repo.move(second_copy, State.CLAIMED, agent_id="U2", agent_name="Jan", claimed_at=21.0)
    current = raised.value.current
    assert current.state is State.CLAIMED
    assert (current.agent_id, current.agent_name, current.claimed_at) == ("U1", "Ayşe", 20.0)
    assert repo.get(handoff.id) == won


def test_stale_copy_cannot_open_a_ticket_after_a_claim(repo: HandoffRepository) -> None:
    handoff = open_handoff(repo)
    claimed = claim(repo, handoff, "U1", 20.0)
    with pytest.raises(IllegalTransition) as raised:
        repo.move(handoff, State.TICKET, ticket_reference="T-000000", ended_by="queue_timeout")
    assert raised.value.current == claimed
    assert repo.get(handoff.id) == claimed


def test_unknown_column_is_refused(repo: HandoffRepository) -> None:
    handoff = open_handoff(repo)
    with pytest.raises(ValueError, match="unknown_column"):
        repo.move(handoff, State.CLAIMED, agent_id="U1", unknown_column=1)
    assert repo.get(handoff.id) == handoff


# --- concurrent claims ------------------------------------------------------------------------


def race_for_the_claim(store: Store, agents: int = 8) -> None:
    """`agents` threads claim the same queued handoff at once: exactly one wins."""
    repo = HandoffRepository(store)
    snapshot = open_handoff(repo, sender=f"race-{uuid.uuid4().hex[:6]}")
    barrier = threading.Barrier(agents, timeout=10)
    won: list[Handoff] = []
    lost: list[IllegalTransition] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def press_claim(i: int) -> None:
        try:
            barrier.wait()
            result = repo.move(
                snapshot, State.CLAIMED, agent_id=f"U{i}", agent_name=f"Agent {i}",
                claimed_at=100.0 + i,
            )  # fmt: skip
            with lock:
                won.append(result)
        except IllegalTransition as exc:
            with lock:
                lost.append(exc)
        except BaseException as exc:  # reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=press_claim, args=(i,)) for i in range(agents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    # How long the race takes (within 5 s) is checked by `python -m bench.timings`.
    assert not any(t.is_alive() for t in threads), "a claim hung"
    assert errors == []
    assert len(won) == 1
    assert len(lost) == agents - 1
    (winner,) = won
    assert winner.state is State.CLAIMED
    number = int(winner.agent_id.removeprefix("U"))  # type: ignore[union-attr]
    assert (winner.agent_name, winner.claimed_at) == (f"Agent {number}", 100.0 + number)
    for exc in lost:
        assert exc.current.state is State.CLAIMED
        assert (exc.current.agent_id, exc.current.agent_name) == (
            winner.agent_id, winner.agent_name,
        )  # fmt: skip
    assert repo.get(snapshot.id) == winner


def test_concurrent_claims_on_sqlite(store: Store) -> None:
    race_for_the_claim(store)


@pytest.fixture
def postgres_store() -> Iterator[Store]:
    """A store in a new PostgreSQL database, dropped afterwards."""
    with postgres_databases() as (url,):
        store = Store(url)
        try:
            store.create_schema()
            yield store
        finally:
            store.close()


def test_concurrent_claims_on_postgresql(postgres_store: Store) -> None:
    race_for_the_claim(postgres_store)


# --- queries -----------------------------------------------------------------------------------


def test_queued_and_place_in_queue(repo: HandoffRepository) -> None:
    first = open_handoff(repo, "alice", at=10.0)
    second = open_handoff(repo, "bob", at=11.0)
    third = open_handoff(repo, "carol", at=12.0)
    assert [repo.place_in_queue(h) for h in (first, second, third)] == [1, 2, 3]
    assert [h.id for h in repo.queued()] == [first.id, second.id, third.id]

    claim(repo, first, "U1", 20.0)
    assert [repo.place_in_queue(h) for h in (second, third)] == [1, 2]
    repo.move(second, State.TICKET, ticket_reference="T-ABCDEF", ended_by="queue_timeout")
    assert repo.place_in_queue(third) == 1
    assert [h.id for h in repo.queued()] == [third.id]
    fourth = open_handoff(repo, "dave", at=30.0)
    assert repo.place_in_queue(fourth) == 2


def test_recent_waits_are_claimed_ones_newest_first(repo: HandoffRepository) -> None:
    old = open_handoff(repo, "old", at=0.0)
    claim(repo, old, "U1", 50.0)  # claimed before `since`
    slow = open_handoff(repo, "slow", at=100.0)
    fast = open_handoff(repo, "fast", at=200.0)
    open_handoff(repo, "waiting", at=210.0)  # still queued
    ticket = open_handoff(repo, "ticket", at=220.0)
    repo.move(ticket, State.TICKET, ticket_reference="T-123456", ended_at=900.0)
    later = claim(repo, slow, "U2", 400.0)  # waited 300 s, claimed at 400
    claim(repo, fast, "U3", 260.0)  # waited 60 s, claimed at 260
    repo.move(later, State.RESOLVED, ended_at=500.0, ended_by="U2")  # still counts

    assert repo.recent_waits(since=100.0) == [300.0, 60.0]
    assert repo.recent_waits(since=300.0) == [300.0]
    assert repo.recent_waits(since=0.0) == [300.0, 60.0, 50.0]
    assert repo.recent_waits(since=0.0, limit=2) == [300.0, 60.0]
    assert repo.recent_waits(since=401.0) == []


def test_by_card(repo: HandoffRepository) -> None:
    handoff = open_handoff(repo)
    other = open_handoff(repo, "bob")
    assert repo.by_card("CAGENTS", "1000.000100") is None
    repo.set_card(handoff.id, "CAGENTS", "1000.000100")
    repo.set_card(other.id, "CAGENTS", "1001.000100")
    found = repo.by_card("CAGENTS", "1000.000100")
    assert found is not None
    assert (found.id, found.card_channel, found.card_ts) == (handoff.id, "CAGENTS", "1000.000100")
    assert repo.by_card("CAGENTS", "1001.000100").id == other.id  # type: ignore[union-attr]
    assert repo.by_card("COTHER", "1000.000100") is None


def test_active_for(repo: HandoffRepository) -> None:
    assert repo.active_for("alice") is None
    handoff = open_handoff(repo)
    open_handoff(repo, "bob")
    assert repo.active_for("alice") == handoff
    claimed = claim(repo, handoff, "U1", 20.0)
    assert repo.active_for("alice") == claimed
    repo.move(claimed, State.BOT, ended_at=30.0, ended_by="U1")
    assert repo.active_for("alice") is None
    assert repo.active_for("bob") is not None

"""HandoffService: queue or ticket, the agents' card, claims and endings, on a fixed clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bot.desk.escalation import EscalationRequest, Reason
from bot.desk.handoff import Handoff, IllegalTransition, State
from bot.desk.hours import add_business_time, parse_agent_desk
from bot.desk.service import DeskError, HandoffService
from bot.storage.store import Outcome, Store, TurnRecord
from tests.fakes.desk import RecordingDesk

UTC = dt.timezone.utc
# Monday-Friday 09:00-17:00 UTC (the defaults, spelt out), a 10-minute queue time-out.
WEEKDAYS = parse_agent_desk(
    {"timezone": "UTC", "days": ["mon", "tue", "wed", "thu", "fri"], "hours": "09:00-17:00",
     "queue_timeout_minutes": 10, "ticket_answer_within_hours": 4, "default_wait_minutes": 3}
)  # fmt: skip
TUESDAY_10 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC).timestamp()
SATURDAY_12 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=UTC).timestamp()
# Four business hours after Saturday noon: Monday 09:00 + 4 h.
MONDAY_13 = dt.datetime(2026, 11, 30, 13, 0, tzinfo=UTC).timestamp()
SESSION = 100.0


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_database_url: str) -> Iterator[Store]:
    store = Store(tmp_database_url)
    store.create_schema()
    yield store
    store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(TUESDAY_10)


@pytest.fixture
def desk() -> RecordingDesk:
    return RecordingDesk()


@pytest.fixture
def service(store: Store, desk: RecordingDesk, clock: Clock) -> HandoffService:
    return HandoffService(store, WEEKDAYS, desk, clock=clock)


def request(sender: str = "alice", reason: Reason = Reason.CUSTOMER_REQUEST) -> EscalationRequest:
    return EscalationRequest(
        sender_id=sender,
        session_started_at=SESSION,
        channel="webchat",
        language="en",
        reason=reason,
        slots={"order_number": "204518", "email": None},
        customer_name="Zeynep",
    )


# --- escalation inside business hours -----------------------------------------------------------


async def test_escalation_inside_hours_is_queued_and_posted(
    service: HandoffService, desk: RecordingDesk
) -> None:
    escalation = await service.escalate(request())
    handoff = escalation.handoff
    assert escalation.new is True
    assert escalation.ticket is False
    assert handoff.state is State.QUEUED
    assert handoff.created_at == TUESDAY_10
    assert handoff.context["slots"] == {"order_number": "204518"}
    assert handoff.context["customer_name"] == "Zeynep"
    assert escalation.place == 1
    assert escalation.wait == 180.0  # the default 3 minutes for place 1, no claims yet
    assert desk.shown == [(handoff.reference, "queued")]
    assert desk.cards[handoff.reference][1] == 1
    stored = service.repo.get(handoff.id)
    assert stored is not None
    assert (stored.card_channel, stored.card_ts) == ("CAGENTS", "1000.000100")
    assert (handoff.card_channel, handoff.card_ts) == ("CAGENTS", "1000.000100")


async def test_second_customer_is_second_in_the_queue(
    service: HandoffService, desk: RecordingDesk
) -> None:
    first = await service.escalate(request("alice"))
    second = await service.escalate(request("bob"))
    assert (first.place, second.place) == (1, 2)
    assert (first.wait, second.wait) == (180.0, 360.0)
    assert second.handoff.card_ts == "1001.000100"
    assert service.repo.get(second.handoff.id).card_ts == "1001.000100"  # type: ignore[union-attr]


async def test_escalating_again_returns_the_queued_handoff(
    service: HandoffService, desk: RecordingDesk
) -> None:
    first = await service.escalate(request("alice"))
    await service.escalate(request("bob"))
    again = await service.escalate(request("alice", Reason.COMPLAINT))
    assert again.new is False
    assert again.handoff.id == first.handoff.id
    assert again.handoff.reason == "customer_request"
    assert (again.place, again.wait) == (1, 180.0)
    assert len(desk.shown) == 2  # no second card


async def test_wait_follows_recent_claim_times(
    service: HandoffService, desk: RecordingDesk, clock: Clock
) -> None:
    first = await service.escalate(request("alice"))
    clock.now += 120.0
    await service.claim(first.handoff.reference, "U1", "Ayşe")
    clock.now += 80.0
    second = await service.escalate(request("bob"))
    third = await service.escalate(request("carol"))
    # The only claim took 120 s: 120 s per place instead of the default 180 s.
    assert (second.place, second.wait) == (1, 120.0)
    assert (third.place, third.wait) == (2, 240.0)


async def test_escalation_marks_the_conversation_escalated(
    service: HandoffService, store: Store
) -> None:
    conversation = store.record_turn(
        TurnRecord("alice", SESSION, "webchat", "en", "request_human", TUESDAY_10 - 5)
    )
    assert conversation.outcome is None
    escalation = await service.escalate(request())
    stored = store.conversation("alice", SESSION)
    assert stored is not None
    assert stored.outcome == Outcome.ESCALATED
    assert stored.ended_at == TUESDAY_10
    assert escalation.handoff.conversation_id == conversation.id


# --- tickets instead of the queue ----------------------------------------------------------------


async def test_outside_hours_opens_a_ticket(store: Store, desk: RecordingDesk) -> None:
    service = HandoffService(store, WEEKDAYS, desk, clock=lambda: SATURDAY_12)
    escalation = await service.escalate(request())
    ticket = escalation.handoff
    assert escalation.ticket is True
    assert escalation.new is True
    assert (escalation.place, escalation.wait) == (None, None)
    assert ticket.state is State.TICKET
    assert ticket.ticket_reference is not None
    assert ticket.ticket_reference.startswith("T-")
    assert ticket.answer_by == add_business_time(WEEKDAYS, SATURDAY_12, 4 * 3600)
    assert ticket.answer_by == MONDAY_13
    assert (ticket.ended_at, ticket.ended_by) == (SATURDAY_12, "outside_hours")
    assert desk.shown == [(ticket.reference, "ticket")]
    stored = service.repo.get(ticket.id)
    assert stored is not None
    assert stored.state is State.TICKET
    assert stored.card_ts == "1000.000100"
    assert service.repo.active_for("alice") is None


async def test_without_a_desk_every_escalation_is_a_ticket(store: Store) -> None:
    service = HandoffService(store, WEEKDAYS, None, clock=lambda: TUESDAY_10)
    escalation = await service.escalate(request())
    assert escalation.ticket is True
    assert escalation.handoff.ended_by == "no_agent_desk"
    assert escalation.handoff.ticket_reference.startswith("T-")  # type: ignore[union-attr]
    # Inside hours the answer is due four hours later the same day.
    assert escalation.handoff.answer_by == TUESDAY_10 + 4 * 3600


async def test_desk_down_gives_a_ticket(store: Store) -> None:
    desk = RecordingDesk(down=True)
    service = HandoffService(store, WEEKDAYS, desk, clock=lambda: TUESDAY_10)
    escalation = await service.escalate(request())
    assert escalation.ticket is True
    assert escalation.handoff.state is State.TICKET
    assert escalation.handoff.ended_by == "agent_desk_down"
    assert service.repo.get(escalation.handoff.id).state is State.TICKET  # type: ignore[union-attr]
    assert desk.shown == []


# --- the agents' side -----------------------------------------------------------------------------


async def test_claim_updates_the_card(
    service: HandoffService, desk: RecordingDesk, clock: Clock
) -> None:
    queued = (await service.escalate(request())).handoff
    clock.now += 90.0
    claimed = await service.claim(queued.reference, "U1", "Ayşe")
    assert claimed.state is State.CLAIMED
    assert (claimed.agent_id, claimed.agent_name, claimed.claimed_at) == (
        "U1", "Ayşe", TUESDAY_10 + 90.0,
    )  # fmt: skip
    assert desk.shown == [(queued.reference, "queued"), (queued.reference, "claimed")]
    card, place = desk.cards[queued.reference]
    assert card.card_ts == "1000.000100"  # the same card, updated
    assert place is None
    assert service.repo.get(queued.id) == claimed


@pytest.mark.parametrize(
    ("end", "state"), [("resolve", State.RESOLVED), ("return_to_bot", State.BOT)]
)
async def test_ending_a_claimed_handoff(
    service: HandoffService, desk: RecordingDesk, clock: Clock, end: str, state: State
) -> None:
    queued = (await service.escalate(request())).handoff
    await service.claim(queued.reference, "U1", "Ayşe")
    clock.now += 600.0
    ended: Handoff = await getattr(service, end)(queued.reference, "U1")
    assert ended.state is state
    assert (ended.ended_by, ended.ended_at) == ("U1", TUESDAY_10 + 600.0)
    assert ended.agent_name == "Ayşe"
    assert desk.shown[-1] == (queued.reference, state.value)
    assert service.repo.get(queued.id) == ended
    assert await service.active_for("alice") is None


async def test_resolving_a_queued_handoff_is_refused(
    service: HandoffService, desk: RecordingDesk
) -> None:
    queued = (await service.escalate(request())).handoff
    before = service.repo.get(queued.id)
    with pytest.raises(IllegalTransition) as raised:
        await service.resolve(queued.reference, "U1")
    assert raised.value.current.state is State.QUEUED
    assert service.repo.get(queued.id) == before
    assert desk.shown == [(queued.reference, "queued")]


async def test_second_claim_is_refused_with_the_first_agent(service: HandoffService) -> None:
    queued = (await service.escalate(request())).handoff
    await service.claim(queued.reference, "U1", "Ayşe")
    with pytest.raises(IllegalTransition) as raised:
        await service.claim(queued.reference, "U2", "Jan")
    assert (raised.value.current.agent_id, raised.value.current.agent_name) == ("U1", "Ayşe")


async def test_expire_queue_turns_only_old_handoffs_into_tickets(
    service: HandoffService, desk: RecordingDesk, clock: Clock
) -> None:
    old = (await service.escalate(request("alice"))).handoff
    clock.now += 60.0
    claimed = (await service.escalate(request("bob"))).handoff
    claimed = await service.claim(claimed.reference, "U1", "Ayşe")
    clock.now += 240.0
    young = (await service.escalate(request("carol"))).handoff
    clock.now = TUESDAY_10 + 650.0  # old: 650 s, claimed: 590 s, young: 350 s

    expired = await service.expire_queue()

    assert [h.id for h in expired] == [old.id]
    (ticket,) = expired
    assert ticket.state is State.TICKET
    assert ticket.ticket_reference.startswith("T-")  # type: ignore[union-attr]
    assert ticket.answer_by == add_business_time(WEEKDAYS, clock.now, 4 * 3600)
    assert (ticket.ended_by, ticket.ended_at) == ("queue_timeout", clock.now)
    assert desk.shown[-1] == (old.reference, "ticket")
    assert service.repo.get(old.id) == ticket
    assert service.repo.get(claimed.id) == claimed
    assert service.repo.get(young.id).state is State.QUEUED  # type: ignore[union-attr]
    assert await service.expire_queue() == []


# --- the customer's messages ---------------------------------------------------------------------


async def test_relay_while_a_handoff_is_active(
    service: HandoffService, desk: RecordingDesk
) -> None:
    queued = (await service.escalate(request())).handoff
    relayed = await service.relay_from_customer("alice", "it is still not here")
    assert relayed is not None and relayed.id == queued.id
    await service.claim(queued.reference, "U1", "Ayşe")
    await service.relay_from_customer("alice", "hello Ayşe")
    assert desk.relayed == [
        (queued.reference, "it is still not here"),
        (queued.reference, "hello Ayşe"),
    ]


async def test_relay_without_a_handoff_is_none(
    service: HandoffService, desk: RecordingDesk
) -> None:
    assert await service.relay_from_customer("alice", "hello?") is None
    queued = (await service.escalate(request())).handoff
    await service.claim(queued.reference, "U1", "Ayşe")
    await service.resolve(queued.reference, "U1")
    assert await service.relay_from_customer("alice", "thanks!") is None
    assert desk.relayed == []


async def test_relay_without_a_desk_is_a_desk_error(store: Store) -> None:
    service = HandoffService(store, WEEKDAYS, None, clock=lambda: TUESDAY_10)
    assert await service.relay_from_customer("alice", "hello?") is None
    service.repo.open(
        sender_id="alice", session_started_at=SESSION, conversation_id=None, channel="webchat",
        language="en", reason="customer_request", context={}, at=TUESDAY_10,
    )  # fmt: skip
    with pytest.raises(DeskError):
        await service.relay_from_customer("alice", "hello?")


async def test_relay_with_the_desk_down_is_a_desk_error(
    service: HandoffService, desk: RecordingDesk
) -> None:
    await service.escalate(request())
    desk.down = True
    with pytest.raises(DeskError):
        await service.relay_from_customer("alice", "hello?")

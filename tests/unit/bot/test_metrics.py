"""Metric definitions (DESIGN.md): single measures, and a hand-computed report."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.desk.handoff import Handoff, State
from bot.insights.analytics import FCR_WINDOW, Dataset, Period
from bot.insights.metrics import (
    Figures,
    csat,
    nps,
    percentile,
    resolver_of,
    summarize,
    topic_of,
    topic_of_intents,
    week_of,
)
from bot.insights.survey import SurveyRecord
from bot.storage.store import Conversation, Outcome

UTC = dt.timezone.utc

# --- NPS and CSAT ---------------------------------------------------------------------------


@given(st.lists(st.one_of(st.integers(0, 10), st.none())))
def test_nps_stays_within_its_scale(scores: list[int | None]) -> None:
    value = nps(scores)
    answers = [s for s in scores if s is not None]
    if not answers:
        assert value is None
        return
    assert value is not None
    assert -100.0 <= value <= 100.0
    promoters = sum(1 for s in answers if s >= 9)
    detractors = sum(1 for s in answers if s <= 6)
    assert value == pytest.approx(100 * promoters / len(answers) - 100 * detractors / len(answers))


@given(st.lists(st.one_of(st.integers(1, 5), st.none())))
def test_csat_stays_within_its_scale(scores: list[int | None]) -> None:
    value = csat(scores)
    if all(s is None for s in scores):
        assert value is None
    else:
        assert value is not None
        assert 0.0 <= value <= 100.0


def test_nps_hand_computed() -> None:
    # 5 promoters, 2 passives, 3 detractors: 50% - 30%.
    assert nps([9, 10, 10, 9, 9, 7, 8, 0, 6, 3]) == 20.0
    assert nps([7, 8, 7, 8]) == 0.0
    assert nps([]) is None
    assert nps([None, None]) is None
    assert nps([10]) == 100.0
    assert nps([6, 0]) == -100.0


def test_csat_hand_computed() -> None:
    assert csat([5, 4, 3, 2, 1]) == 40.0
    assert csat([]) is None
    assert csat([4, None, 5]) == 100.0


@pytest.mark.parametrize("scores", [[11], [-1], [True]])
def test_nps_refuses_scores_off_the_scale(scores: list[Any]) -> None:
    with pytest.raises(ValueError):
        nps(scores)


@pytest.mark.parametrize("scores", [[0], [6]])
def test_csat_refuses_scores_off_the_scale(scores: list[int]) -> None:
    with pytest.raises(ValueError):
        csat(scores)


# --- percentile, topic, resolver, week ------------------------------------------------------


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 90) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile([float(i) for i in range(10, 0, -1)], 90) == pytest.approx(9.1)
    assert percentile([1.0, 2.0, 3.0], 0) == 1.0
    assert percentile([1.0, 2.0, 3.0], 100) == 3.0
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@given(st.lists(st.floats(0, 1e6), min_size=1), st.floats(0, 100))
def test_percentile_lies_between_the_extremes(values: list[float], q: float) -> None:
    value = percentile(values, q)
    assert value is not None
    assert min(values) - 1e-6 <= value <= max(values) + 1e-6


@pytest.mark.parametrize(
    ("intents", "topic"),
    [
        (["order_status"], "order status"),
        (["return_request"], "returns"),
        (["billing_question"], "billing"),
        (["request_invoice"], "billing"),
        (["account_help"], "account"),
        (["delete_account"], "account"),
        (["delivery_question"], "delivery"),
        (["tech_problem"], "troubleshooting"),
        (["faq"], "faq"),
        (["greet", "faq", "order_status"], "faq"),
        (["greet", "complaint", "request_human"], "other"),
        ([], "other"),
    ],
)
def test_topic_is_the_first_intent_with_one(intents: list[str], topic: str) -> None:
    assert topic_of_intents(intents) == topic
    assert topic_of(conv(1, "s", "webchat", "en", intents, None, at(2, 9))) == topic


def test_resolver() -> None:
    c = conv(1, "ann", "webchat", "en", ["order_status"], Outcome.RESOLVED_BOT, at(2, 9))
    agent = handoff(1, c, at(2, 9, 1), State.RESOLVED, claimed=60, ended=120, agent="U1")
    assert resolver_of(c, [agent]) == "bot"

    escalated = conv(2, "ann", "webchat", "en", [], Outcome.ESCALATED, at(3, 9))
    assert resolver_of(escalated, []) == "unresolved"
    assert resolver_of(escalated, [agent]) == "unresolved"  # another conversation's handoff
    ticket = handoff(2, escalated, at(3, 9, 1), State.TICKET, ended=60, ended_by="outside_hours")
    assert resolver_of(escalated, [ticket]) == "unresolved"
    returned = handoff(3, escalated, at(3, 9, 2), State.BOT, claimed=30, ended=90, agent="U2")
    assert resolver_of(escalated, [ticket, returned]) == "unresolved"
    by_u3 = handoff(4, escalated, at(3, 9, 5), State.RESOLVED, claimed=30, ended=90, agent="U3")
    assert resolver_of(escalated, [ticket, returned, by_u3]) == "U3"
    # Resolve pressed by another agent than the one who claimed: the one who resolved.
    by_u4 = handoff(
        5, escalated, at(3, 9, 5), State.RESOLVED, claimed=30, ended=90, agent="U3", ended_by="U4"
    )
    assert resolver_of(escalated, [by_u4]) == "U4"
    # A handoff stored without a conversation id is matched on its session.
    loose = Handoff(**{**by_u3.__dict__, "conversation_id": None})
    assert resolver_of(escalated, [loose]) == "U3"
    assert resolver_of(c, [Handoff(**{**by_u3.__dict__, "conversation_id": None})]) == "bot"


def test_weeks_are_iso_weeks_from_monday_in_utc() -> None:
    assert week_of(at(2, 0)) == ("2026-W45", dt.date(2026, 11, 2))
    assert week_of(at(8, 23, 59)) == ("2026-W45", dt.date(2026, 11, 2))
    assert week_of(at(9, 0)) == ("2026-W46", dt.date(2026, 11, 9))
    new_year = dt.datetime(2027, 1, 1, 12, tzinfo=UTC).timestamp()
    assert week_of(new_year) == ("2026-W53", dt.date(2026, 12, 28))


# --- a hand-built dataset -------------------------------------------------------------------
#
# Two ISO weeks, 2026-11-02 (Mon) to 2026-11-15 (Sun).
#   1 alice  telegram en  [greet, order_status]  bot resolves        W45   fa 1 s
#   2 alice  telegram en  [order_status]         U1 (Ayşe) resolves  W45   (alice came back
#            about the same topic 3 days after 1: 1 is not a first-contact resolution)
#            handoff: claimed after 120 s, resolved 600 s later
#   3 bob    webchat  tr  [billing_question]     bot resolves        W45   fa 2 s
#   4 bob    webchat  tr  [return_request]       bot resolves        W45   fa 3 s
#            (bob came back about another topic: 3 is still FCR)
#   5 carol  telegram pl  [tech_problem]         bot resolves        W46   fa 4 s
#            (carol comes back about it 8 days later, conversation 9: still FCR)
#   6 dave   webchat  en  [faq, request_human]   ticket outside hours W46
#   7 erin   telegram en  [delivery_question]    U2 (Kuba) claims after 300 s, returns to bot
#            900 s later; abandoned                               W46   fa 5 s
#   8 frank  rest     en  []                     abandoned            W46   fa 6 s
#   9 carol  (after the period) [tech_problem]
#  50 gina   telegram en  (before the period) [billing_question]: its handoff was created in
#            the period and claimed after 60 s (still claimed).
#
# Conversations 8, escalated 3 (2, 6, 7): containment 62.5 %, escalation rate 37.5 %.
# Resolved 5 (1-5), first-contact 4 (2-5): FCR 80 %.
# Surveys: NPS 10, 3, 9, 7, 8 and one without an answer: 2 promoters, 2 passives,
# 1 detractor -> NPS 20; CSAT 5, 2, 4, 3 -> 50 %.
# First answers 1..6 s: median 3.5, p90 5.5. Queue to claim 60, 120, 300: median 120,
# p90 264. Handling 600, 900: median 750, p90 870.

PERIOD = Period.of_dates(dt.date(2026, 11, 2), dt.date(2026, 11, 15))


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> float:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC).timestamp()


def conv(
    id: int,
    sender: str,
    channel: str,
    language: str,
    intents: list[str],
    outcome: str | None,
    start: float,
    minutes: float = 10.0,
    first_answer: float | None = None,
) -> Conversation:
    end = start + minutes * 60
    return Conversation(
        id=id,
        sender_id=sender,
        session_started_at=start,
        channel=channel,
        language=language,
        intents=intents,
        outcome=outcome,
        started_at=start,
        last_message_at=end,
        ended_at=end if outcome is not None else None,
        first_answer_seconds=first_answer,
    )


NAMES = {"U1": "Ayşe", "U2": "Kuba"}


def handoff(
    id: int,
    c: Conversation,
    created: float,
    state: State,
    *,
    claimed: float | None = None,
    ended: float | None = None,
    agent: str | None = None,
    ended_by: str | None = None,
    intents: tuple[str, ...] = (),
) -> Handoff:
    """`claimed` seconds after `created`; `ended` seconds after the claim (or creation)."""
    claimed_at = created + claimed if claimed is not None else None
    ended_at = (claimed_at or created) + ended if ended is not None else None
    return Handoff(
        id=id,
        reference=f"E-{id:06d}",
        sender_id=c.sender_id,
        session_started_at=c.session_started_at,
        conversation_id=c.id,
        channel=c.channel,
        language=c.language,
        reason="customer_request",
        state=state,
        created_at=created,
        context={"intents": [{"name": i, "confidence": 0.9} for i in intents]},
        agent_id=agent,
        agent_name=NAMES.get(agent or ""),
        claimed_at=claimed_at,
        ended_at=ended_at,
        ended_by=ended_by or (agent if state in (State.RESOLVED, State.BOT) else None),
    )


def survey(
    id: int,
    c: Conversation,
    resolver: str,
    asked: float,
    nps_score: int | None,
    csat_score: int | None,
) -> SurveyRecord:
    return SurveyRecord(
        id=id,
        sender_id=c.sender_id,
        conversation_id=c.id,
        channel=c.channel,
        language=c.language,
        intents=list(c.intents),
        resolver=resolver,
        asked_at=asked,
        nps=nps_score,
        reason=None,
        csat=csat_score,
        answered_at=asked + 30 if nps_score is not None else None,
        status="completed" if csat_score is not None else "ended",
    )


def sample_rows() -> tuple[list[Conversation], list[Handoff], list[SurveyRecord]]:
    """Every row of the example, including those outside the period."""
    c1 = conv(
        1,
        "alice",
        "telegram",
        "en",
        ["greet", "order_status"],
        Outcome.RESOLVED_BOT,
        at(2, 10),
        5,
        1.0,
    )
    c2 = conv(2, "alice", "telegram", "en", ["order_status"], Outcome.ESCALATED, at(5, 9), 15)
    c3 = conv(
        3, "bob", "webchat", "tr", ["billing_question"], Outcome.RESOLVED_BOT, at(3, 12), 10, 2.0
    )
    c4 = conv(
        4, "bob", "webchat", "tr", ["return_request"], Outcome.RESOLVED_BOT, at(6, 12), 5, 3.0
    )
    c5 = conv(
        5, "carol", "telegram", "pl", ["tech_problem"], Outcome.RESOLVED_BOT, at(9, 8), 10, 4.0
    )
    c6 = conv(6, "dave", "webchat", "en", ["faq", "request_human"], None, at(10, 20))
    c7 = conv(
        7, "erin", "telegram", "en", ["delivery_question"], Outcome.ABANDONED, at(11, 14), 30, 5.0
    )
    c8 = conv(8, "frank", "rest", "en", [], Outcome.ABANDONED, at(12, 16), 2, 6.0)
    c9 = conv(9, "carol", "telegram", "pl", ["tech_problem"], None, at(17, 9))
    c50 = conv(50, "gina", "telegram", "en", ["billing_question"], None, at(30, 23, month=10))
    handoffs = [
        handoff(
            1, c50, at(2, 8), State.CLAIMED, claimed=60, agent="U2", intents=("billing_question",)
        ),
        handoff(2, c2, at(5, 9, 2), State.RESOLVED, claimed=120, ended=600, agent="U1"),
        handoff(3, c6, at(10, 20, 1), State.TICKET, ended=1, ended_by="outside_hours"),
        handoff(4, c7, at(11, 14, 5), State.BOT, claimed=300, ended=900, agent="U2"),
    ]
    surveys = [
        survey(1, c1, "bot", at(2, 10, 5), 10, 5),
        survey(2, c2, "U1", at(5, 9, 15), 3, 2),
        survey(3, c3, "bot", at(3, 12, 10), 9, 4),
        survey(4, c4, "bot", at(6, 12, 5), 7, 3),
        survey(5, c5, "bot", at(9, 8, 10), 8, None),
        survey(6, c6, "bot", at(10, 20, 30), None, None),
    ]
    return [c1, c2, c3, c4, c5, c6, c7, c8, c9, c50], handoffs, surveys


def sample_dataset() -> Dataset:
    """What `bot.insights.analytics.load` returns for PERIOD over `sample_rows()`."""
    convs, handoffs, surveys = sample_rows()
    inside = [c for c in convs if PERIOD.start <= c.started_at < PERIOD.end]
    senders = {c.sender_id for c in inside}
    followups = [
        c
        for c in convs
        if c.sender_id in senders and PERIOD.start <= c.started_at < PERIOD.end + FCR_WINDOW
    ]
    return Dataset(
        period=PERIOD,
        conversations=sorted(inside, key=lambda c: c.started_at),
        followups=sorted(followups, key=lambda c: c.started_at),
        handoffs=handoffs,
        surveys=sorted(surveys, key=lambda s: s.asked_at),
    )


EXPECTED_OVERALL = {
    "conversations": 8,
    "escalations": 3,
    "containment": 62.5,
    "escalation_rate": 37.5,
    "resolved": 5,
    "first_contact_resolved": 4,
    "fcr": 80.0,
    "respondents": 5,
    "nps": 20.0,
    "promoters": 2,
    "passives": 2,
    "detractors": 1,
    "csat": 50.0,
    "csat_answers": 4,
    "first_answer_median": 3.5,
    "first_answer_p90": 5.5,
    "queue_to_claim_median": 120.0,
    "queue_to_claim_p90": 264.0,
    "handling_median": 750.0,
    "handling_p90": 870.0,
}


def test_overall_figures() -> None:
    overall = summarize(sample_dataset()).overall
    assert overall.to_dict() == pytest.approx(EXPECTED_OVERALL)
    assert isinstance(overall, Figures)


def test_first_contact_resolution_per_customer() -> None:
    report = summarize(sample_dataset())
    # alice came back about the same topic within 7 days: her first conversation (bot)
    # is not FCR, her second (agent) is; bob came back about another topic; carol after
    # 8 days.
    assert report.by_resolver["bot"].resolved == 4
    assert report.by_resolver["bot"].first_contact_resolved == 3
    assert report.by_resolver["bot"].fcr == 75.0
    assert report.by_resolver["U1"].fcr == 100.0
    assert report.by_topic["order status"].fcr == 50.0
    assert report.by_topic["billing"].fcr == 100.0
    assert report.by_topic["troubleshooting"].fcr == 100.0


def test_a_return_within_the_window_after_the_end_is_not_fcr() -> None:
    convs, _, _ = sample_rows()
    carol = convs[4]
    # Back 6 days after carol's conversation ended: inside FCR_WINDOW.
    back = conv(
        10,
        "carol",
        "telegram",
        "pl",
        ["greet", "tech_problem"],
        None,
        carol.last_message_at + 6 * 24 * 3600,
    )
    dataset = sample_dataset()
    dataset = Dataset(
        dataset.period,
        dataset.conversations,
        [*dataset.followups, back],
        dataset.handoffs,
        dataset.surveys,
    )
    report = summarize(dataset)
    assert report.by_topic["troubleshooting"].fcr == 0.0
    assert report.overall.first_contact_resolved == 3


def test_breakdown_by_channel() -> None:
    report = summarize(sample_dataset())
    assert list(report.by_channel) == ["telegram", "webchat", "rest"]
    telegram = report.by_channel["telegram"]
    assert (telegram.conversations, telegram.escalations, telegram.resolved) == (4, 2, 3)
    assert telegram.containment == 50.0
    assert telegram.fcr == pytest.approx(200 / 3)
    # Surveys by their own channel: 10, 3, 8.
    assert (telegram.respondents, telegram.promoters, telegram.detractors) == (3, 1, 1)
    assert telegram.nps == 0.0
    assert (telegram.csat, telegram.csat_answers) == (50.0, 2)
    # Handoffs 1 (gina, before the period), 2 and 4.
    assert telegram.queue_to_claim_median == 120.0
    assert telegram.first_answer_median == 4.0  # 1, 4, 5 s
    webchat = report.by_channel["webchat"]
    assert (webchat.conversations, webchat.escalations) == (3, 1)
    assert webchat.containment == pytest.approx(200 / 3)
    assert (webchat.nps, webchat.csat) == (50.0, 50.0)
    assert webchat.queue_to_claim_median is None
    rest = report.by_channel["rest"]
    assert (rest.containment, rest.resolved, rest.fcr, rest.nps) == (100.0, 0, None, None)


def test_breakdown_by_language_and_resolver() -> None:
    report = summarize(sample_dataset())
    assert {k: f.conversations for k, f in report.by_language.items()} == {
        "en": 5,
        "tr": 2,
        "pl": 1,
    }
    assert report.by_language["pl"].nps == 0.0  # one passive
    assert report.by_language["tr"].first_answer_median == 2.5

    resolvers = report.by_resolver
    assert set(resolvers) == {"bot", "U1", "unresolved"}
    assert resolvers["bot"].conversations == 4
    assert resolvers["bot"].respondents == 4  # 10, 9, 7, 8
    assert resolvers["bot"].nps == 50.0
    assert resolvers["U1"].nps == -100.0
    assert (resolvers["U1"].queue_to_claim_median, resolvers["U1"].handling_median) == (
        120.0,
        600.0,
    )
    unresolved = resolvers["unresolved"]
    assert (unresolved.conversations, unresolved.escalations) == (3, 2)
    assert unresolved.handling_median == 900.0  # returned to the bot
    assert unresolved.queue_to_claim_median == 180.0  # gina's 60 s, erin's 300 s
    assert report.agent_names == {"U1": "Ayşe", "U2": "Kuba"}


def test_breakdown_by_topic_and_topic_tables() -> None:
    report = summarize(sample_dataset())
    assert {k: f.conversations for k, f in report.by_topic.items()} == {
        "order status": 2,
        "billing": 1,
        "returns": 1,
        "troubleshooting": 1,
        "faq": 1,
        "delivery": 1,
        "other": 1,
    }
    assert report.by_topic["billing"].queue_to_claim_median == 60.0  # gina's handoff
    assert report.by_topic["faq"].respondents == 0
    assert [(t.topic, t.conversations, t.escalated, t.rate) for t in report.escalation_topics] == [
        ("delivery", 1, 1, 100.0),
        ("faq", 1, 1, 100.0),
        ("order status", 2, 1, 50.0),
        ("billing", 1, 0, 0.0),
        ("other", 1, 0, 0.0),
        ("returns", 1, 0, 0.0),
        ("troubleshooting", 1, 0, 0.0),
    ]
    assert [(t.topic, t.respondents, t.detractors, t.share) for t in report.detractor_topics] == [
        ("order status", 2, 1, 50.0),
        ("billing", 1, 0, 0.0),
        ("returns", 1, 0, 0.0),
        ("troubleshooting", 1, 0, 0.0),
    ]


def test_weekly_series() -> None:
    weeks = summarize(sample_dataset()).weekly
    assert [w.to_dict() for w in weeks] == [
        {
            "week": "2026-W45",
            "start": "2026-11-02",
            "conversations": 4,
            "escalations": 1,
            "containment": 75.0,
            "respondents": 4,
            "nps": 25.0,
            "csat_answers": 4,
            "csat": 50.0,
        },
        {
            "week": "2026-W46",
            "start": "2026-11-09",
            "conversations": 4,
            "escalations": 2,
            "containment": 50.0,
            "respondents": 1,
            "nps": 0.0,
            "csat_answers": 0,
            "csat": None,
        },
    ]


def test_quiet_weeks_are_in_the_series() -> None:
    period = Period.of_dates(dt.date(2026, 10, 28), dt.date(2026, 11, 20))
    report = summarize(Dataset(period, [], [], [], []))
    assert [w.week for w in report.weekly] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert all(w.conversations == 0 and w.containment is None for w in report.weekly)


def test_empty_period() -> None:
    report = summarize(Dataset(PERIOD, [], [], [], []))
    assert report.overall == Figures()
    assert report.by_channel == {} and report.escalation_topics == ()
    assert len(report.weekly) == 2


def test_report_is_json_serialisable() -> None:
    data = summarize(sample_dataset()).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["period"] == {
        "start": PERIOD.start,
        "end": PERIOD.end,
        "label": "2026-11-02 – 2026-11-15",
    }
    assert set(data) == {
        "period",
        "overall",
        "by_channel",
        "by_language",
        "by_topic",
        "by_resolver",
        "weekly",
        "escalation_topics",
        "detractor_topics",
        "agent_names",
    }


def test_scores_off_the_scale_in_the_store_are_left_out() -> None:
    dataset = sample_dataset()
    odd = survey(99, dataset.conversations[0], "bot", at(4, 9), 42, 0)
    report = summarize(
        Dataset(
            PERIOD,
            dataset.conversations,
            dataset.followups,
            dataset.handoffs,
            [*dataset.surveys, odd],
        )
    )
    assert report.overall.respondents == 5
    assert report.overall.csat_answers == 4


# --- invariants on random data --------------------------------------------------------------

_conversations = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["telegram", "webchat"]),
        st.lists(st.sampled_from(["order_status", "faq", "greet", "tech_problem"]), max_size=3),
        st.sampled_from([Outcome.RESOLVED_BOT, Outcome.ESCALATED, Outcome.ABANDONED, None]),
        st.integers(0, 13 * 24),  # hour of the period
        st.sampled_from(
            [None, State.QUEUED, State.CLAIMED, State.RESOLVED, State.TICKET, State.BOT]
        ),
    ),
    max_size=20,
)


@given(_conversations)
def test_report_invariants(rows: list[tuple[Any, ...]]) -> None:
    convs, handoffs = [], []
    for i, (sender, channel, intents, outcome, hour, state) in enumerate(rows, start=1):
        c = conv(
            i,
            sender,
            channel,
            "en",
            list(dict.fromkeys(intents)),
            outcome,
            PERIOD.start + hour * 3600,
        )
        convs.append(c)
        if state is not None:
            claimed = 60 if state in (State.CLAIMED, State.RESOLVED, State.BOT) else None
            ended = 120 if state in (State.RESOLVED, State.BOT, State.TICKET) else None
            handoffs.append(
                handoff(
                    i,
                    c,
                    c.started_at + 30,
                    state,
                    claimed=claimed,
                    ended=ended,
                    agent="U1" if claimed else None,
                )
            )
    report = summarize(Dataset(PERIOD, convs, convs, handoffs, []))
    overall = report.overall
    assert overall.conversations == len(rows)
    assert overall.escalations == len(handoffs)
    if overall.conversations:
        assert overall.containment is not None and overall.escalation_rate is not None
        assert overall.containment + overall.escalation_rate == pytest.approx(100.0)
    assert overall.first_contact_resolved <= overall.resolved <= overall.conversations
    for breakdown in (report.by_channel, report.by_topic, report.by_resolver):
        assert sum(f.conversations for f in breakdown.values()) == overall.conversations
        assert sum(f.resolved for f in breakdown.values()) == overall.resolved
        assert sum(f.escalations for f in breakdown.values()) == overall.escalations
    assert sum(w.conversations for w in report.weekly) == overall.conversations
    assert sum(t.escalated for t in report.escalation_topics) == overall.escalations

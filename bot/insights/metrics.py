"""Köprü's metrics (DESIGN.md, "Metric definitions"), computed from a loaded `Dataset`.

Everything here is pure: `bot.insights.analytics.load` reads the store, `summarize` turns what it
read into a `Report` of plain frozen dataclasses that `to_dict()` makes JSON-ready.

Percentages are on 0..100 (NPS on -100..100), times in seconds; a figure that has nothing
to be computed from (no conversations, no respondents, ...) is None, never 0.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from bot.desk.handoff import Handoff, State
from bot.insights.analytics import FCR_WINDOW, Dataset, Period
from bot.insights.survey import SurveyRecord
from bot.insights.topics import TOPICS
from bot.storage.store import Conversation, Outcome

__all__ = [
    "BOT",
    "OTHER",
    "TOPICS",
    "UNRESOLVED",
    "Figures",
    "Report",
    "TopicDetractors",
    "TopicEscalation",
    "WeekFigures",
    "csat",
    "nps",
    "percentile",
    "resolver_of",
    "summarize",
    "topic_of",
    "topic_of_intents",
    "week_of",
]

# Intent -> topic; a conversation's topic is that of its first intent found here.
OTHER = "other"

# Resolver keys besides agent ids.
BOT = "bot"
UNRESOLVED = "unresolved"

NPS_RANGE = (0, 10)
CSAT_RANGE = (1, 5)


# --- single measures -----------------------------------------------------------------------


def _valid(score: object, low: int, high: int) -> bool:
    return isinstance(score, int) and not isinstance(score, bool) and low <= score <= high


def _scores(scores: Iterable[int | None], low: int, high: int, name: str) -> list[int]:
    found = [s for s in scores if s is not None]
    for score in found:
        if not _valid(score, low, high):
            raise ValueError(f"{name} score out of range {low}..{high}: {score!r}")
    return found


def nps(scores: Iterable[int | None]) -> float | None:
    """% promoters (9-10) minus % detractors (0-6) among the answers (None = no answer).

    From -100 to 100; None when nobody answered. Raises ValueError on a score outside 0..10.
    """
    answers = _scores(scores, *NPS_RANGE, "NPS")
    if not answers:
        return None
    promoters = sum(1 for s in answers if s >= 9)
    detractors = sum(1 for s in answers if s <= 6)
    return 100.0 * (promoters - detractors) / len(answers)


def csat(scores: Iterable[int | None]) -> float | None:
    """Share (%) of 4 and 5 among the 1-5 answers (None = no answer); None without answers.

    Raises ValueError on a score outside 1..5.
    """
    answers = _scores(scores, *CSAT_RANGE, "CSAT")
    if not answers:
        return None
    return 100.0 * sum(1 for s in answers if s >= 4) / len(answers)


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks.

    The same method as numpy's default: q=50 is the usual median. None for no values.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q!r}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def topic_of_intents(intents: Iterable[str]) -> str:
    """The topic of the first intent that has one; "other" when none has."""
    for intent in intents:
        topic = TOPICS.get(intent)
        if topic is not None:
            return topic
    return OTHER


def topic_of(conversation: Conversation | SurveyRecord) -> str:
    """The topic of a conversation (or of a survey, by the intents stored with it)."""
    return topic_of_intents(conversation.intents)


def belongs_to(handoff: Handoff, conversation: Conversation) -> bool:
    """Whether `handoff` is one of `conversation`'s.

    By conversation id; a handoff stored without one is matched on its session instead.
    """
    if handoff.conversation_id is not None:
        return handoff.conversation_id == conversation.id
    return (
        handoff.sender_id == conversation.sender_id
        and handoff.session_started_at == conversation.session_started_at
    )


def _agent_of(handoff: Handoff) -> str:
    """Who resolved a resolved handoff (the same rule as the survey's resolver)."""
    return handoff.ended_by or handoff.agent_id or "agent"


def resolver_of(conversation: Conversation, handoffs: Iterable[Handoff]) -> str:
    """ "bot" when the bot resolved it, else the id of the agent of its (latest) resolved
    handoff, else "unresolved". `handoffs` may hold other conversations' handoffs too."""
    if conversation.outcome == Outcome.RESOLVED_BOT:
        return BOT
    resolved = [h for h in handoffs if h.state is State.RESOLVED and belongs_to(h, conversation)]
    if not resolved:
        return UNRESOLVED
    latest = max(resolved, key=lambda h: (h.ended_at or h.created_at, h.id))
    return _agent_of(latest)


def week_of(at: float) -> tuple[str, dt.date]:
    """The ISO week ("2026-W48") of a unix time in UTC, and the date of its Monday."""
    return _week_of_day(dt.datetime.fromtimestamp(at, dt.timezone.utc).date())


def _week_of_day(day: dt.date) -> tuple[str, dt.date]:
    year, week, weekday = day.isocalendar()
    return f"{year}-W{week:02d}", day - dt.timedelta(days=weekday - 1)


# --- the report ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """All figures of one slice (the whole period, one channel, one topic, ...).

    Conversation figures count the slice's conversations; survey figures its surveys;
    handoff times its handoffs. Percentages 0..100, NPS -100..100, times in seconds.
    """

    conversations: int = 0
    escalations: int = 0  # conversations with at least one handoff (tickets included)
    containment: float | None = None  # % of conversations without a handoff
    escalation_rate: float | None = None  # % of conversations with a handoff
    resolved: int = 0  # resolved by the bot, or a handoff of theirs ended resolved
    first_contact_resolved: int = 0  # resolved ones the customer did not come back about
    fcr: float | None = None  # first_contact_resolved / resolved, %
    respondents: int = 0  # surveys with an NPS answer
    nps: float | None = None
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    csat: float | None = None  # % of 4 and 5
    csat_answers: int = 0
    first_answer_median: float | None = None
    first_answer_p90: float | None = None
    queue_to_claim_median: float | None = None
    queue_to_claim_p90: float | None = None
    handling_median: float | None = None
    handling_p90: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WeekFigures:
    """One ISO week (Monday to Sunday, UTC): conversations by start, surveys by asking."""

    week: str  # "2026-W48"
    start: str  # the Monday, "2026-11-23"
    conversations: int = 0
    escalations: int = 0
    containment: float | None = None
    respondents: int = 0
    nps: float | None = None
    csat_answers: int = 0
    csat: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TopicEscalation:
    """How often conversations about a topic end up with a person."""

    topic: str
    conversations: int
    escalated: int
    rate: float | None  # escalated / conversations, %

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TopicDetractors:
    """How often customers asked about a topic are detractors (NPS 0-6)."""

    topic: str
    respondents: int
    detractors: int
    share: float | None  # detractors / respondents of the topic, %

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Report:
    period: Period
    overall: Figures
    by_channel: Mapping[str, Figures] = field(default_factory=dict)
    by_language: Mapping[str, Figures] = field(default_factory=dict)
    by_topic: Mapping[str, Figures] = field(default_factory=dict)
    # Keys: "bot", an agent id, "unresolved" (surveys: their stored resolver).
    by_resolver: Mapping[str, Figures] = field(default_factory=dict)
    weekly: Sequence[WeekFigures] = ()
    escalation_topics: Sequence[TopicEscalation] = ()  # highest rate first
    detractor_topics: Sequence[TopicDetractors] = ()  # highest share first
    # Agent id -> display name, as far as the period's handoffs tell.
    agent_names: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {
                "start": self.period.start,
                "end": self.period.end,
                "label": self.period.label(),
            },
            "overall": self.overall.to_dict(),
            "by_channel": {k: f.to_dict() for k, f in self.by_channel.items()},
            "by_language": {k: f.to_dict() for k, f in self.by_language.items()},
            "by_topic": {k: f.to_dict() for k, f in self.by_topic.items()},
            "by_resolver": {k: f.to_dict() for k, f in self.by_resolver.items()},
            "weekly": [w.to_dict() for w in self.weekly],
            "escalation_topics": [t.to_dict() for t in self.escalation_topics],
            "detractor_topics": [t.to_dict() for t in self.detractor_topics],
            "agent_names": dict(self.agent_names),
        }


# --- summarize -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Keys:
    channel: str
    language: str
    topic: str
    resolver: str


@dataclass(frozen=True)
class _Conv:
    conversation: Conversation
    keys: _Keys
    escalated: bool
    resolved: bool
    first_contact: bool  # resolved, and no return about the same topic within FCR_WINDOW


@dataclass(frozen=True)
class _Handoff:
    handoff: Handoff
    keys: _Keys


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _clean(scores: Iterable[int | None], low: int, high: int) -> list[int]:
    # A stored value outside the scale (never written by Köprü) is left out, not fatal.
    return [s for s in scores if s is not None and _valid(s, low, high)]


def _figures(
    convs: Sequence[_Conv], surveys: Sequence[SurveyRecord], hands: Sequence[_Handoff]
) -> Figures:
    n = len(convs)
    escalations = sum(1 for c in convs if c.escalated)
    resolved = sum(1 for c in convs if c.resolved)
    first_contact = sum(1 for c in convs if c.first_contact)
    nps_answers = _clean((s.nps for s in surveys), *NPS_RANGE)
    csat_answers = _clean((s.csat for s in surveys), *CSAT_RANGE)
    first_answers = [
        c.conversation.first_answer_seconds
        for c in convs
        if c.conversation.first_answer_seconds is not None
    ]
    waits = [
        max(0.0, h.handoff.claimed_at - h.handoff.created_at)
        for h in hands
        if h.handoff.claimed_at is not None
    ]
    handling = [
        max(0.0, h.handoff.ended_at - h.handoff.claimed_at)
        for h in hands
        if h.handoff.claimed_at is not None
        and h.handoff.ended_at is not None
        and h.handoff.state in (State.RESOLVED, State.BOT)
    ]
    return Figures(
        conversations=n,
        escalations=escalations,
        containment=_pct(n - escalations, n),
        escalation_rate=_pct(escalations, n),
        resolved=resolved,
        first_contact_resolved=first_contact,
        fcr=_pct(first_contact, resolved),
        respondents=len(nps_answers),
        nps=nps(nps_answers),
        promoters=sum(1 for s in nps_answers if s >= 9),
        passives=sum(1 for s in nps_answers if 7 <= s <= 8),
        detractors=sum(1 for s in nps_answers if s <= 6),
        csat=csat(csat_answers),
        csat_answers=len(csat_answers),
        first_answer_median=percentile(first_answers, 50),
        first_answer_p90=percentile(first_answers, 90),
        queue_to_claim_median=percentile(waits, 50),
        queue_to_claim_p90=percentile(waits, 90),
        handling_median=percentile(handling, 50),
        handling_p90=percentile(handling, 90),
    )


T = TypeVar("T")


def _group(items: Iterable[T], key: Callable[[T], str]) -> dict[str, list[T]]:
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return groups


def _breakdown(
    convs: Sequence[_Conv],
    surveys: Sequence[SurveyRecord],
    hands: Sequence[_Handoff],
    key: Callable[[_Keys], str],
    survey_key: Callable[[SurveyRecord], str],
) -> dict[str, Figures]:
    by_conv = _group(convs, lambda c: key(c.keys))
    by_survey = _group(surveys, survey_key)
    by_hand = _group(hands, lambda h: key(h.keys))
    figures = {
        k: _figures(by_conv.get(k, []), by_survey.get(k, []), by_hand.get(k, []))
        for k in set(by_conv) | set(by_survey) | set(by_hand)
    }
    # Busiest first; ties by key so that the order never depends on the data's order.
    ordered = sorted(figures, key=lambda k: (-figures[k].conversations, -figures[k].respondents, k))
    return {k: figures[k] for k in ordered}


def _came_back(conversation: Conversation, topic: str, later: Iterable[Conversation]) -> bool:
    """Whether the customer opened another conversation about `topic` within FCR_WINDOW."""
    until = (conversation.ended_at or conversation.last_message_at) + FCR_WINDOW
    return any(
        other.id != conversation.id
        and other.started_at > conversation.started_at
        and other.started_at <= until
        and topic_of(other) == topic
        for other in later
    )


def _weeks(
    period: Period, convs: Sequence[_Conv], surveys: Sequence[SurveyRecord]
) -> list[WeekFigures]:
    starts: dict[str, dt.date] = {}
    if period.end > period.start:
        # Every week the period touches, so that a quiet week shows as a gap, not nothing.
        monday = week_of(period.start)[1]
        last = week_of(period.end - 1e-3)[1]
        while monday <= last:
            week, _ = _week_of_day(monday)
            starts[week] = monday
            monday += dt.timedelta(days=7)
    by_conv = _group(convs, lambda c: week_of(c.conversation.started_at)[0])
    by_survey = _group(surveys, lambda s: week_of(s.asked_at)[0])
    for item in convs:
        week, monday = week_of(item.conversation.started_at)
        starts.setdefault(week, monday)
    for survey in surveys:
        week, monday = week_of(survey.asked_at)
        starts.setdefault(week, monday)
    weeks = []
    for week in sorted(starts, key=lambda w: starts[w]):
        f = _figures(by_conv.get(week, []), by_survey.get(week, []), [])
        weeks.append(
            WeekFigures(
                week=week,
                start=starts[week].isoformat(),
                conversations=f.conversations,
                escalations=f.escalations,
                containment=f.containment,
                respondents=f.respondents,
                nps=f.nps,
                csat_answers=f.csat_answers,
                csat=f.csat,
            )
        )
    return weeks


def _rank(value: float | None) -> float:
    return -value if value is not None else math.inf


def summarize(dataset: Dataset) -> Report:
    """All of the period's figures, overall and by channel, language, topic and resolver."""
    handoffs = sorted(dataset.handoffs, key=lambda h: (h.created_at, h.id))
    own: dict[int, list[Handoff]] = {c.id: [] for c in dataset.conversations}
    by_id = {c.id: c for c in dataset.conversations}
    by_session = {(c.sender_id, c.session_started_at): c for c in dataset.conversations}
    orphans: list[Handoff] = []
    for handoff in handoffs:
        if handoff.conversation_id is not None:
            conversation = by_id.get(handoff.conversation_id)
        else:
            conversation = by_session.get((handoff.sender_id, handoff.session_started_at))
        if conversation is None:
            orphans.append(handoff)
        else:
            own[conversation.id].append(handoff)

    history: dict[str, dict[int, Conversation]] = defaultdict(dict)
    for conversation in [*dataset.conversations, *dataset.followups]:
        history[conversation.sender_id][conversation.id] = conversation

    convs: list[_Conv] = []
    hands: list[_Handoff] = []
    for conversation in dataset.conversations:
        mine = own[conversation.id]
        topic = topic_of(conversation)
        resolver = resolver_of(conversation, mine)
        resolved = resolver != UNRESOLVED
        keys = _Keys(conversation.channel, conversation.language, topic, resolver)
        first_contact = resolved and not _came_back(
            conversation, topic, history[conversation.sender_id].values()
        )
        convs.append(_Conv(conversation, keys, bool(mine), resolved, first_contact))
        hands += [_Handoff(h, keys) for h in mine]
    for handoff in orphans:
        # A handoff of the period whose conversation started earlier: its own keys.
        intents = [
            str(i.get("name"))
            for i in handoff.context.get("intents") or []
            if isinstance(i, dict) and i.get("name")
        ]
        resolver = _agent_of(handoff) if handoff.state is State.RESOLVED else UNRESOLVED
        keys = _Keys(handoff.channel, handoff.language, topic_of_intents(intents), resolver)
        hands.append(_Handoff(handoff, keys))

    surveys = list(dataset.surveys)
    by_topic = _breakdown(convs, surveys, hands, lambda k: k.topic, topic_of)

    escalation_topics = [
        TopicEscalation(topic, f.conversations, f.escalations, f.escalation_rate)
        for topic, f in by_topic.items()
        if f.conversations
    ]
    escalation_topics.sort(key=lambda t: (_rank(t.rate), -t.conversations, t.topic))
    detractor_topics = [
        TopicDetractors(topic, f.respondents, f.detractors, _pct(f.detractors, f.respondents))
        for topic, f in by_topic.items()
        if f.respondents
    ]
    detractor_topics.sort(key=lambda t: (_rank(t.share), -t.respondents, t.topic))

    agent_names: dict[str, str] = {}
    for handoff in handoffs:
        if handoff.agent_id and handoff.agent_name:
            agent_names[handoff.agent_id] = handoff.agent_name

    return Report(
        period=dataset.period,
        overall=_figures(convs, surveys, hands),
        by_channel=_breakdown(convs, surveys, hands, lambda k: k.channel, lambda s: s.channel),
        by_language=_breakdown(convs, surveys, hands, lambda k: k.language, lambda s: s.language),
        by_topic=by_topic,
        by_resolver=_breakdown(convs, surveys, hands, lambda k: k.resolver, lambda s: s.resolver),
        weekly=tuple(_weeks(dataset.period, convs, surveys)),
        escalation_topics=tuple(escalation_topics),
        detractor_topics=tuple(detractor_topics),
        agent_names=dict(sorted(agent_names.items())),
    )

"""A simulated month of conversations, handoffs and surveys, so a new user sees a full dashboard.

Every row belongs to a sender id starting with ``demo-`` (``demo-tg-…``, ``demo-web-…``,
``demo-rest-…``) so that demo rows are never confused with real customers: `generate`
refuses a store that holds anything else, and removes only demo rows.

The simulation follows the product: traffic by weekday and Warsaw local hour, topics and
intents as the bot records them, escalations queued and claimed inside the agents' hours
(Mon-Fri 08:00-20:00 Europe/Warsaw, as in kopru.yml) and tickets outside them, customers
coming back within a week (some about the same topic), and surveys whose answers follow
what happened (long waits and complaints score low). It is deterministic for a seed and
an end time.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.desk.handoff import State
from bot.desk.hours import AgentDeskConfig, add_business_time, is_open, parse_agent_desk
from bot.errors import KopruError
from bot.insights.analytics import Period
from bot.storage.store import Outcome, Store
from bot.storage.tables import conversations, handoffs, surveys

__all__ = ["DEMO_PREFIX", "DemoSummary", "generate", "is_demo_sender", "remove_demo_rows"]

DEMO_PREFIX: Final = "demo-"

DAY: Final = 24 * 3600.0
MINUTE: Final = 60.0

# The agents' desk of the demo: the same hours as the shipped kopru.yml.
DESK: Final = parse_agent_desk(
    {
        "timezone": "Europe/Warsaw",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "hours": "08:00-20:00",
        "holidays": ["2026-12-25", "2027-01-01"],
        "queue_timeout_minutes": 10,
        "ticket_answer_within_hours": 4,
        "default_wait_minutes": 3,
    }
)

# Relative traffic per local hour (Europe/Warsaw) and per weekday (Monday first; mean 1).
HOUR_WEIGHTS: Final = (0.8, 0.4, 0.25, 0.2, 0.2, 0.35, 0.8, 1.8, 3.2, 4.6, 5.4, 5.6,
                       5.3, 5.2, 5.3, 5.2, 5.0, 4.8, 4.7, 4.9, 4.6, 3.8, 2.6, 1.5)  # fmt: skip
DAY_WEIGHTS: Final = (1.12, 1.1, 1.1, 1.1, 1.08, 0.8, 0.7)
_HOUR_TOTAL: Final = sum(HOUR_WEIGHTS)
_PEAK: Final = max(HOUR_WEIGHTS) * max(DAY_WEIGHTS)
# Share of conversations that are first contacts; the rest are customers coming back.
_FIRST_CONTACT_SHARE: Final = 0.86

CHANNELS: Final = (("telegram", 0.45), ("webchat", 0.40), ("rest", 0.15))
LANGUAGES: Final = (("tr", 0.45), ("pl", 0.30), ("en", 0.25))
_SENDER_TAG: Final = {"telegram": "tg", "webchat": "web", "rest": "rest"}

# The first topic intent of a conversation, with its share of all conversations.
TOPICS: Final = (
    ("order_status", 0.30),
    ("delivery_question", 0.15),
    ("return_request", 0.15),
    ("billing_question", 0.07),
    ("request_invoice", 0.05),
    ("faq", 0.12),
    ("tech_problem", 0.08),
    ("account_help", 0.035),
    ("delete_account", 0.015),
    ("complaint", 0.015),
    ("request_human", 0.015),
)
# Escalate, abandon (else resolved by the bot), per topic.
_ODDS: Final = {
    "order_status": (0.12, 0.08),
    "delivery_question": (0.12, 0.08),
    "return_request": (0.32, 0.08),
    "billing_question": (0.18, 0.08),
    "request_invoice": (0.12, 0.07),
    "faq": (0.05, 0.10),
    "tech_problem": (0.45, 0.08),
    "account_help": (0.22, 0.08),
    "delete_account": (0.30, 0.05),
    "complaint": (0.95, 0.05),
    "request_human": (0.95, 0.05),
}
_DIRECT: Final = {"complaint": "complaint", "request_human": "customer_request"}
# Why a conversation that started on a self-service topic was escalated.
_REASONS: Final = (
    ("not_helped", 0.45),
    ("customer_request", 0.30),
    ("repeated_fallback", 0.12),
    ("complaint", 0.08),
    ("backend_unavailable", 0.05),
)
_TECH_REASONS: Final = (("failed_guided_flow", 0.70), ("customer_request", 0.20),
                        ("repeated_fallback", 0.10))  # fmt: skip
_DELETION_REASONS: Final = (("account_deletion", 0.8), ("customer_request", 0.2))
# Intents the customer sends besides the topic (order number, country, e-mail...).
_INFORMS: Final = {
    "order_status": 0.8,
    "delivery_question": 0.4,
    "return_request": 0.9,
    "request_invoice": 0.7,
    "account_help": 0.5,
    "delete_account": 0.6,
}
_ORDER_TOPICS: Final = ("order_status", "return_request", "request_invoice", "billing_question")

AGENTS: Final = (
    ("U0AYSE", "Ayşe", ("tr", "en")),
    ("U0PIOTR", "Piotr", ("pl", "en")),
    ("U0EMMA", "Emma", ("en",)),
    ("U0MEHMET", "Mehmet", ("tr",)),
    ("U0ZOFIA", "Zofia", ("pl", "en")),
)
_CARD_CHANNEL: Final = "C0DEMODESK"
_NAMES: Final = {
    "tr": ("Elif", "Burak", "Zeynep", "Emre", "Deniz", "Can", "Selin"),
    "pl": ("Kasia", "Tomasz", "Agnieszka", "Marek", "Ola", "Bartek", "Magda"),
    "en": ("Sarah", "James", "Olivia", "Daniel", "Chloe", "Liam", "Grace"),
}
_COUNTRIES: Final = ("DE", "PL", "TR", "AT", "NL", "CZ", "FR", "GB")

# What the customer wrote first, for the handoff card's transcript.
_OPENINGS: Final = {
    "order_status": {"en": "where is my order {order}?", "tr": "{order} numaralı siparişim nerede?",
                     "pl": "gdzie jest moje zamówienie {order}?"},
    "delivery_question": {"en": "how long does delivery take?", "tr": "kargo kaç günde gelir?",
                          "pl": "ile trwa dostawa?"},
    "return_request": {"en": "I want to return a jacket from order {order}",
                       "tr": "{order} siparişindeki ceketi iade etmek istiyorum",
                       "pl": "chcę zwrócić kurtkę z zamówienia {order}"},
    "billing_question": {"en": "I was charged twice for order {order}",
                         "tr": "{order} siparişi için kartımdan iki kez çekim yapıldı",
                         "pl": "pobrano mi dwa razy płatność za zamówienie {order}"},
    "request_invoice": {"en": "can I get an invoice for order {order}?",
                        "tr": "{order} siparişim için fatura alabilir miyim?",
                        "pl": "poproszę fakturę do zamówienia {order}"},
    "faq": {"en": "what are your opening hours?", "tr": "çalışma saatleriniz nedir?",
            "pl": "w jakich godzinach pracujecie?"},
    "tech_problem": {"en": "the app keeps crashing", "tr": "uygulama sürekli kapanıyor",
                     "pl": "aplikacja ciągle się zawiesza"},
    "account_help": {"en": "I can't log in to my account", "tr": "hesabıma giriş yapamıyorum",
                     "pl": "nie mogę zalogować się na konto"},
    "delete_account": {"en": "please delete my account", "tr": "hesabımı silmek istiyorum",
                       "pl": "proszę usunąć moje konto"},
    "complaint": {"en": "this is unacceptable, my parcel arrived damaged",
                  "tr": "bu kabul edilemez, paket hasarlı geldi",
                  "pl": "to skandal, paczka przyszła uszkodzona"},
    "request_human": {"en": "I want to talk to a person",
                      "tr": "bir temsilciyle görüşmek istiyorum",
                      "pl": "chcę rozmawiać z konsultantem"},
}  # fmt: skip
# What the customer wrote when the conversation went to a person.
_TRIGGERS: Final = {
    "not_helped": {"en": "no, that didn't help", "tr": "hayır, işe yaramadı",
                   "pl": "nie, to nie pomogło"},
    "failed_guided_flow": {"en": "still not working", "tr": "hâlâ çalışmıyor",
                           "pl": "dalej nie działa"},
    "customer_request": _OPENINGS["request_human"],
    "repeated_fallback": {"en": "that's not what I asked", "tr": "sorduğum bu değil",
                          "pl": "nie o to pytałem"},
    "complaint": {"en": "this is the third time I'm writing, unacceptable",
                  "tr": "üçüncü kez yazıyorum, kabul edilemez",
                  "pl": "piszę już trzeci raz, to skandal"},
}  # fmt: skip

# Survey reasons by how the customer felt (promoter, passive, detractor).
_PRAISE: Final = {
    "en": ("quick and clear answer", "fast and friendly help", "found my order in seconds",
           "the agent solved it right away", "easy to use, thanks", "very helpful"),
    "tr": ("kargo çok hızlı geldi", "hızlı ve net cevap", "temsilci çok ilgiliydi",
           "sorunum hemen çözüldü", "çok pratik, teşekkürler", "iade süreci kolaydı"),
    "pl": ("szybka i konkretna odpowiedź", "paczka przyszła bardzo szybko",
           "konsultantka bardzo pomocna", "problem rozwiązany od ręki", "wygodne, dziękuję",
           "zwrot poszedł sprawnie"),
}  # fmt: skip
_SO_SO: Final = {
    "en": ("ok, but it took a few steps", "good, delivery could be faster",
           "fine, though I had to repeat my order number", "helpful, a bit slow"),
    "tr": ("fena değil ama biraz uzun sürdü", "iyi ama kargo daha hızlı olabilirdi",
           "idare eder", "yardımcı oldu ama birkaç adım fazla"),
    "pl": ("w porządku, ale trochę to trwało", "ok, ale dostawa mogłaby być szybsza",
           "może być", "pomocne, ale za dużo kroków"),
}  # fmt: skip
_BLAME: Final = {
    "en": ("waited too long for an answer", "the bot did not understand me",
           "my parcel is still late", "had to explain everything twice",
           "the refund is taking forever"),
    "tr": ("cevap için çok uzun bekledim", "bot beni anlamadı", "kargo hâlâ gelmedi",
           "aynı şeyi iki kez anlatmak zorunda kaldım", "iade parası hâlâ yatmadı"),
    "pl": ("długo czekałem na odpowiedź", "bot mnie nie zrozumiał",
           "paczka wciąż się spóźnia", "musiałem wszystko tłumaczyć dwa razy",
           "zwrot pieniędzy trwa wieki"),
}  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    """What `generate` wrote, and the period [start, end) it covers."""

    conversations: int
    handoffs: int
    surveys: int
    start: float
    end: float

    @property
    def period(self) -> Period:
        return Period(self.start, self.end)


def is_demo_sender(sender_id: str) -> bool:
    return sender_id.startswith(DEMO_PREFIX)


def generate(
    store: Store,
    *,
    days: int = 30,
    end: float | None = None,
    seed: int = 7,
    conversations_per_day: int = 60,
    replace: bool = False,
) -> DemoSummary:
    """Fill `store` with `days` of simulated traffic ending at `end` (default: now).

    Raises KopruError when the store holds rows of real customers, or demo rows and
    `replace` is false; with `replace`, earlier demo rows are deleted first. Everything
    is written in one transaction.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
        raise KopruError(f"days must be a whole number from 1 to 3660, not {days!r}")
    if not isinstance(conversations_per_day, int) or not 1 <= conversations_per_day <= 100_000:
        raise KopruError(
            f"conversations_per_day must be from 1 to 100000, not {conversations_per_day!r}"
        )
    stop = time.time() if end is None else float(end)
    if not math.isfinite(stop):
        raise KopruError(f"end must be a finite unix time, not {end!r}")
    start = stop - days * DAY
    # Simulation, not secrets: a seeded generator makes the month reproducible.
    world = _World(random.Random(seed), start, stop, conversations_per_day, DESK)  # noqa: S311
    world.run()

    store.create_schema()
    with store.transaction() as conn:
        real = _count(conn, demo=False)
        if real:
            raise KopruError(
                f"this store holds {real} rows of real customers (sender ids not starting "
                f"with {DEMO_PREFIX!r}); demo data is only written to a store of its own, "
                "such as var/demo.db"
            )
        earlier = _count(conn, demo=True)
        if earlier and not replace:
            raise KopruError(
                f"this store already holds demo data ({earlier} rows); "
                "replace it with replace=True (kopru demo-data --replace)"
            )
        if earlier:
            _delete_demo(conn)
        if world.conversations:
            conn.execute(conversations.insert(), world.conversations)
        ids = _conversation_ids(conn)
        for row in (*world.handoffs, *world.surveys):
            row["conversation_id"] = ids[(row.pop("_sender"), row.pop("_session"))]
        if world.handoffs:
            conn.execute(handoffs.insert(), world.handoffs)
        if world.surveys:
            conn.execute(surveys.insert(), world.surveys)
    return DemoSummary(
        conversations=len(world.conversations),
        handoffs=len(world.handoffs),
        surveys=len(world.surveys),
        start=start,
        end=stop,
    )


def remove_demo_rows(store: Store) -> int:
    """Delete every demo row (and nothing else) from the three tables; returns how many."""
    store.create_schema()
    with store.transaction() as conn:
        return _delete_demo(conn)


# --- the store ---------------------------------------------------------------------------

_TABLES: Final = (conversations, handoffs, surveys)


def _demo_clause(table: sa.Table, demo: bool) -> sa.sql.ColumnElement[bool]:
    # substr rather than LIKE: SQLite's LIKE ignores case, and "DEMO-" is not a demo id.
    prefix = sa.func.substr(table.c.sender_id, 1, len(DEMO_PREFIX))
    return prefix == DEMO_PREFIX if demo else prefix != DEMO_PREFIX


def _count(conn: Connection, *, demo: bool) -> int:
    total = 0
    for table in _TABLES:
        query = sa.select(sa.func.count()).select_from(table).where(_demo_clause(table, demo))
        total += int(conn.execute(query).scalar_one())
    return total


def _delete_demo(conn: Connection) -> int:
    removed = 0
    for table in _TABLES:
        removed += conn.execute(table.delete().where(_demo_clause(table, True))).rowcount
    return removed


def _conversation_ids(conn: Connection) -> dict[tuple[str, float], int]:
    c = conversations.c
    rows = conn.execute(
        sa.select(c.id, c.sender_id, c.session_started_at).where(_demo_clause(conversations, True))
    ).all()
    return {(r.sender_id, r.session_started_at): r.id for r in rows}


# --- the simulation ----------------------------------------------------------------------


@dataclass(order=True)
class _Arrival:
    """A conversation about to start; `sender` is set when a customer comes back."""

    at: float
    seq: int
    sender: str | None = field(default=None, compare=False)
    channel: str = field(default="", compare=False)
    language: str = field(default="", compare=False)
    topic: str | None = field(default=None, compare=False)
    repeat: bool = field(default=False, compare=False)  # back about the same topic


@dataclass
class _Handling:
    """What happened to an escalation."""

    row: dict[str, Any]
    wait: float | None  # seconds from queue to claim
    handled: float | None  # seconds from claim to the end


def _pick(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    return rng.choices([name for name, _ in table], weights=[w for _, w in table])[0]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


class _World:
    def __init__(
        self,
        rng: random.Random,
        start: float,
        end: float,
        per_day: int,
        desk: AgentDeskConfig,
    ) -> None:
        self.rng = rng
        self.start = start
        self.end = end
        self.per_day = per_day
        self.desk = desk
        self.tz = desk.timezone
        self.conversations: list[dict[str, Any]] = []
        self.handoffs: list[dict[str, Any]] = []
        self.surveys: list[dict[str, Any]] = []
        self._queue: list[_Arrival] = []
        self._seq = 0
        self._senders: set[str] = set()
        self._references: set[str] = set()
        self._last_survey: dict[str, float] = {}
        self._busy_until = {agent_id: 0.0 for agent_id, _, _ in AGENTS}

    def run(self) -> None:
        self._first_contacts()
        while self._queue:
            self._conversation(heapq.heappop(self._queue))

    # --- arrivals ----------------------------------------------------------------

    def _push(self, arrival: _Arrival) -> None:
        heapq.heappush(self._queue, arrival)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _first_contacts(self) -> None:
        rate = self.per_day * _FIRST_CONTACT_SHARE / _HOUR_TOTAL
        slot = math.floor(self.start / 3600) * 3600.0
        while slot < self.end:
            local = dt.datetime.fromtimestamp(slot, self.tz)
            mean = rate * HOUR_WEIGHTS[local.hour] * DAY_WEIGHTS[local.weekday()]
            for _ in range(_poisson(self.rng, mean)):
                at = slot + self.rng.random() * 3600
                if self.start <= at < self.end:
                    self._push(_Arrival(at, self._next_seq()))
            slot += 3600

    def _new_sender(self, channel: str) -> str:
        while True:
            if channel == "telegram":
                tail = str(self.rng.randrange(10**8, 10**10))
            elif channel == "webchat":
                tail = f"{self.rng.getrandbits(48):012x}"
            else:
                tail = f"{self.rng.getrandbits(32):08x}"
            sender = f"{DEMO_PREFIX}{_SENDER_TAG[channel]}-{tail}"
            if sender not in self._senders:
                self._senders.add(sender)
                return sender

    def _reference(self, prefix: str) -> str:
        while True:
            reference = f"{prefix}-{self.rng.getrandbits(24):06X}"
            if reference not in self._references:
                self._references.add(reference)
                return reference

    # --- one conversation ------------------------------------------------------------

    def _conversation(self, arrival: _Arrival) -> None:
        rng = self.rng
        channel = arrival.channel or _pick(rng, CHANNELS)
        language = arrival.language or _pick(rng, LANGUAGES)
        sender = arrival.sender or self._new_sender(channel)
        topic = arrival.topic or _pick(rng, TOPICS)
        escalate, abandon = _ODDS[topic]
        if arrival.repeat:  # the first answer did not settle it
            escalate = min(0.95, escalate + 0.12)
        draw = rng.random()
        outcome = (
            Outcome.ESCALATED
            if draw < escalate
            else Outcome.ABANDONED
            if draw < escalate + abandon
            else Outcome.RESOLVED_BOT
        )
        reason = self._reason(topic) if outcome == Outcome.ESCALATED else None
        intents = self._intents(topic, outcome, reason)

        started = arrival.at
        session = round(started - rng.uniform(0.02, 0.4), 3)
        first_answer = self._first_answer()
        if outcome == Outcome.RESOLVED_BOT:
            duration = _clip(rng.lognormvariate(math.log(110), 0.5), 25, 600)
        elif outcome == Outcome.ESCALATED:
            duration = _clip(rng.lognormvariate(math.log(90), 0.6), 10, 600)
        else:
            duration = _clip(rng.lognormvariate(math.log(60), 0.7), 5, 600)
        last = started + duration
        conversation = {
            "sender_id": sender,
            "session_started_at": session,
            "channel": channel,
            "language": language,
            "intents": json.dumps(intents),
            "outcome": outcome,
            "started_at": started,
            "last_message_at": last,
            "ended_at": last,
            "first_answer_seconds": first_answer,
        }
        finished = last
        handling: _Handling | None = None
        resolver: str | None = "bot" if outcome == Outcome.RESOLVED_BOT else None
        if reason is not None:
            slots = self._slots(topic)
            handling = self._handoff(
                sender, session, channel, language, reason, intents, slots, topic, last
            )
            finished = max(finished, handling.row["ended_at"])
            if handling.row["state"] == State.RESOLVED.value:
                resolver = handling.row["agent_id"]
        survey = None
        if resolver is not None:
            survey = self._survey(
                conversation, resolver, topic, finished, handling, repeat=arrival.repeat
            )
            if survey is not None:
                finished = max(finished, survey["answered_at"] or survey["asked_at"])
        if finished >= self.end:
            return  # still going on at the end of the period: leave it out
        self.conversations.append(conversation)
        if handling is not None:
            self.handoffs.append(handling.row)
        if survey is not None:
            self.surveys.append(survey)
            self._last_survey[sender] = survey["asked_at"]
        if handling is not None and handling.row["agent_id"] is not None:
            agent = handling.row["agent_id"]
            self._busy_until[agent] = max(self._busy_until[agent], handling.row["ended_at"])
        self._come_back(sender, channel, language, topic, outcome, handling, finished)

    def _reason(self, topic: str) -> str:
        if topic in _DIRECT:
            return _DIRECT[topic]
        if topic == "tech_problem":
            return _pick(self.rng, _TECH_REASONS)
        if topic == "delete_account":
            return _pick(self.rng, _DELETION_REASONS)
        reason = _pick(self.rng, _REASONS)
        if reason == "backend_unavailable" and topic not in _ORDER_TOPICS:
            return "not_helped"
        return reason

    def _intents(self, topic: str, outcome: str, reason: str | None) -> list[str]:
        """The customer's intents in the order the bot first saw them."""
        rng = self.rng
        intents = ["greet"] if rng.random() < 0.35 else []
        intents.append(topic)
        if rng.random() < _INFORMS.get(topic, 0.0):
            intents.append("inform")
        if outcome == Outcome.RESOLVED_BOT:
            if topic == "tech_problem" and rng.random() < 0.5:
                intents.append("deny")  # a step did not help, a later one did
            intents.append("thank_you" if rng.random() < 0.3 else "affirm")
            if rng.random() < 0.4:
                intents.append("goodbye")
        elif outcome == Outcome.ABANDONED:
            if rng.random() < 0.3:
                intents.append("nlu_fallback")
            elif rng.random() < 0.3:
                intents.append("deny")
        elif reason in ("not_helped", "failed_guided_flow"):
            intents += ["deny", "affirm"]  # "did that help?" no; "talk to a person?" yes
        elif reason == "customer_request" and topic != "request_human":
            intents.append("request_human")
        elif reason == "repeated_fallback":
            intents.append("nlu_fallback")
        elif reason == "complaint" and topic != "complaint":
            intents.append("complaint")
        elif reason == "account_deletion":
            intents.append("affirm")
        return list(dict.fromkeys(intents))

    def _first_answer(self) -> float:
        """Seconds to the bot's first answer: mostly 0.3-1.5 s, with a long tail."""
        rng = self.rng
        if rng.random() < 0.92:
            seconds = _clip(rng.lognormvariate(math.log(0.7), 0.3), 0.25, 2.0)
        else:
            seconds = _clip(rng.lognormvariate(math.log(2.5), 0.7), 1.5, 30.0)
        return round(seconds, 3)

    def _slots(self, topic: str) -> dict[str, str]:
        # Customers mostly name the order or country in their first message.
        if topic in _ORDER_TOPICS:
            return {"order_number": str(self.rng.randrange(100000, 1000000))}
        if topic == "delivery_question":
            return {"country": self.rng.choice(_COUNTRIES)}
        return {}

    # --- handoffs ----------------------------------------------------------------------

    def _handoff(
        self,
        sender: str,
        session: float,
        channel: str,
        language: str,
        reason: str,
        intents: list[str],
        slots: dict[str, str],
        topic: str,
        at: float,
    ) -> _Handling:
        rng = self.rng
        row: dict[str, Any] = {
            "reference": self._reference("E"),
            "sender_id": sender,
            "session_started_at": session,
            "channel": channel,
            "language": language,
            "reason": reason,
            "context": json.dumps(
                self._context(sender, session, channel, language, reason, intents, slots, topic),
                ensure_ascii=False,
            ),
            "created_at": at,
            "agent_id": None,
            "agent_name": None,
            "claimed_at": None,
            "ticket_reference": None,
            "answer_by": None,
            "card_channel": _CARD_CHANNEL,
            "card_ts": f"{at + rng.uniform(0.3, 1.2):.6f}",
            "_sender": sender,
            "_session": session,
        }
        if not is_open(self.desk, at):
            return _Handling(self._ticket(row, at, "outside_hours"), None, None)
        local = dt.datetime.fromtimestamp(at, self.tz)
        load = HOUR_WEIGHTS[local.hour] * DAY_WEIGHTS[local.weekday()] / _PEAK
        wait = max(MINUTE, rng.lognormvariate(math.log(160 * (0.6 + 0.9 * load)), 0.6))
        if wait >= self.desk.queue_timeout:
            return _Handling(
                self._ticket(row, at + self.desk.queue_timeout, "queue_timeout"),
                self.desk.queue_timeout,
                None,
            )
        claimed = at + wait
        agent_id, agent_name = self._agent(language, claimed)
        if rng.random() < 0.07:
            state, handled = State.BOT, _clip(rng.lognormvariate(math.log(150), 0.5), 40, 600)
        else:
            state = State.RESOLVED
            handled = _clip(rng.lognormvariate(math.log(540), 0.5), 180, 1500)
        row.update(
            state=state.value,
            agent_id=agent_id,
            agent_name=agent_name,
            claimed_at=claimed,
            ended_at=claimed + handled,
            ended_by=agent_id,
        )
        return _Handling(row, wait, handled)

    def _ticket(self, row: dict[str, Any], at: float, why: str) -> dict[str, Any]:
        row.update(
            state=State.TICKET.value,
            ticket_reference=self._reference("T"),
            answer_by=add_business_time(self.desk, at, self.desk.ticket_answer_within),
            ended_at=at,
            ended_by=why,
        )
        return row

    def _agent(self, language: str, at: float) -> tuple[str, str]:
        speakers = [(a, n) for a, n, spoken in AGENTS if language in spoken]
        free = [(a, n) for a, n in speakers if self._busy_until[a] <= at]
        return self.rng.choice(free or speakers)

    def _context(
        self,
        sender: str,
        session: float,
        channel: str,
        language: str,
        reason: str,
        intents: list[str],
        slots: dict[str, str],
        topic: str,
    ) -> dict[str, Any]:
        """The handoff card's context, shaped like EscalationRequest.context()."""
        rng = self.rng
        named = {"telegram": 0.8, "webchat": 0.2}.get(channel, 0.0)
        name = rng.choice(_NAMES[language]) if rng.random() < named else None
        fill = {"order": slots.get("order_number", "")}
        lines = [_OPENINGS[topic][language].format(**fill)]
        trigger = _TRIGGERS.get(reason, {}).get(language)
        if trigger and trigger not in lines:
            lines.append(trigger)
        step = 25.0
        return {
            "customer_name": name,
            "channel": channel,
            "language": language,
            "reason": reason,
            "intents": [
                {
                    "name": intent,
                    "confidence": round(
                        rng.uniform(0.35, 0.6)
                        if intent == "nlu_fallback"
                        else rng.uniform(0.72, 0.99),
                        3,
                    ),
                }
                for intent in intents
            ],
            "slots": slots,
            "transcript": [
                {"speaker": "customer", "text": text, "at": round(session + 1 + i * step, 3)}
                for i, text in enumerate(lines)
            ],
            "conversation_started_at": session,
        }

    # --- surveys ---------------------------------------------------------------------

    def _survey(
        self,
        conversation: dict[str, Any],
        resolver: str,
        topic: str,
        resolved_at: float,
        handling: _Handling | None,
        *,
        repeat: bool,
    ) -> dict[str, Any] | None:
        rng = self.rng
        sender = conversation["sender_id"]
        previous = self._last_survey.get(sender)
        asked = resolved_at + rng.uniform(1.0, 6.0)
        # A customer is asked at most once a week (survey.cooldown_days in kopru.yml).
        if previous is not None and asked - previous < 7 * DAY:
            return None
        if rng.random() >= 0.61:
            return None
        row: dict[str, Any] = {
            "sender_id": sender,
            "channel": conversation["channel"],
            "language": conversation["language"],
            "intents": conversation["intents"],
            "resolver": resolver,
            "asked_at": asked,
            "nps": None,
            "reason": None,
            "csat": None,
            "answered_at": None,
            "status": "ended",
            "_sender": sender,
            "_session": conversation["session_started_at"],
        }
        response = rng.random()
        if response < 0.10:
            return row  # never answered
        nps = self._nps(conversation, resolver, topic, handling, repeat=repeat)
        if response < 0.13:  # answered the score, then moved on
            row.update(nps=nps, answered_at=asked + rng.uniform(5, 60))
            return row
        language = conversation["language"]
        wants_to_say = 0.45 if nps <= 6 else 0.22 if nps <= 8 else 0.27
        reason = None
        if rng.random() < wants_to_say:
            waited = handling is not None and (handling.wait or 0.0) > 5 * MINUTE
            if nps <= 6:
                reason = _BLAME[language][0] if waited else rng.choice(_BLAME[language])
            elif nps <= 8:
                reason = rng.choice(_SO_SO[language])
            else:
                reason = rng.choice(_PRAISE[language])
        csat = round(_clip(1 + nps * 0.4 + rng.gauss(0, 0.55), 1, 5))
        row.update(
            nps=nps,
            reason=reason,
            csat=csat,
            answered_at=asked + rng.uniform(20, 200),
            status="completed",
        )
        return row

    def _nps(
        self,
        conversation: dict[str, Any],
        resolver: str,
        topic: str,
        handling: _Handling | None,
        *,
        repeat: bool,
    ) -> int:
        """Likely score: high for quick bot answers, lower after complaints and long waits."""
        score = 8.7 if resolver == "bot" else 8.9
        if resolver == "bot" and conversation["last_message_at"] - conversation["started_at"] < 150:
            score += 0.4
        score -= {"complaint": 3.0, "tech_problem": 0.7, "billing_question": 0.4,
                  "return_request": 0.3, "delivery_question": 0.2}.get(topic, 0.0)  # fmt: skip
        if repeat:
            score -= 1.6
        if handling is not None:
            score -= max(0.0, ((handling.wait or 0.0) - 4 * MINUTE) / MINUTE) * 0.45
            if (handling.handled or 0.0) > 15 * MINUTE:
                score -= 0.6
        if conversation["first_answer_seconds"] > 3:
            score -= 0.8
        return round(_clip(score + self.rng.gauss(0, 1.5), 0, 10))

    # --- customers coming back ---------------------------------------------------------

    def _come_back(
        self,
        sender: str,
        channel: str,
        language: str,
        topic: str,
        outcome: str,
        handling: _Handling | None,
        finished: float,
    ) -> None:
        """Maybe schedule the same customer's next conversation within a week."""
        rng = self.rng
        state = handling.row["state"] if handling is not None else None
        if outcome == Outcome.ABANDONED:
            same, other, median = 0.35, 0.03, 3 * 3600.0
        elif state == State.TICKET.value:
            same, other, median = 0.25, 0.03, 20 * 3600.0
        elif state == State.BOT.value:
            same, other, median = 0.15, 0.05, 6 * 3600.0
        elif state == State.RESOLVED.value:
            same, other, median = 0.05, 0.06, 2 * DAY
        else:
            same, other, median = 0.08, 0.07, 2 * DAY
        draw = rng.random()
        if draw < same:
            delay = _clip(rng.lognormvariate(math.log(median), 0.9), 20 * MINUTE, 6.9 * DAY)
            next_topic, repeat = topic, True
        elif draw < same + other:
            delay = rng.uniform(1 * DAY, 6.9 * DAY)
            next_topic = _pick(rng, [t for t in TOPICS if t[0] != topic])
            repeat = False
        else:
            return
        at = self._daytime(finished + delay)
        if at - finished > 6.95 * DAY or at >= self.end:
            return
        self._push(
            _Arrival(at, self._next_seq(), sender, channel, language, next_topic, repeat=repeat)
        )

    def _daytime(self, at: float) -> float:
        """Move a night-time instant to the next morning: few customers write at 3 am."""
        local = dt.datetime.fromtimestamp(at, self.tz)
        if 7 <= local.hour < 23:
            return at
        day = local.date() if local.hour < 7 else local.date() + dt.timedelta(days=1)
        morning = dt.datetime.combine(day, dt.time(7), tzinfo=self.tz).timestamp()
        return morning + self.rng.uniform(0.5, 4) * 3600

"""The end-of-conversation survey: NPS (0-10), an optional reason, CSAT (1-5).

The pure part decides what a customer's message means at each step; `SurveyRepository`
keeps the answers in Köprü's store with the conversation's channel, language, intents
and who resolved it.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import sqlalchemy as sa
from pydantic import validator

from bot.config_models import Section, parse_section
from bot.insights.topics import SELF_SERVICE_INTENTS
from bot.storage.store import Store
from bot.storage.tables import surveys

__all__ = [
    "Interpretation",
    "Kind",
    "Step",
    "SurveyConfig",
    "SurveyRecord",
    "SurveyRepository",
    "interpret",
    "parse_score",
    "parse_survey_config",
]


DAY = 24 * 3600.0


@dataclass(frozen=True)
class SurveyConfig:
    """`survey` in kopru.yml."""

    cooldown: float = 7 * DAY  # a customer is not asked again within this many seconds


def _days(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or math.isnan(raw) or raw < 0:
        raise ValueError("must be a number of days, 0 or more")
    return float(raw)


class _SurveySection(Section):
    """kopru.yml's ``survey``."""

    cooldown_days: float = 7

    _check_days = validator("cooldown_days", pre=True, allow_reuse=True)(_days)


def parse_survey_config(raw: Any) -> SurveyConfig:
    """Validate the `survey` section; ConfigError names the problem."""
    section = parse_section(_SurveySection, raw, "survey")
    return SurveyConfig(cooldown=section.cooldown_days * DAY)


class Step(str, Enum):
    NPS = "nps"
    REASON = "reason"
    CSAT = "csat"


RANGES = {Step.NPS: (0, 10), Step.CSAT: (1, 5)}

# Intents that mean the customer moved on to something new rather than answering.
NEW_TOPIC_INTENTS = SELF_SERVICE_INTENTS | {
    "request_human",
    "complaint",
    "greet",
    "goodbye",
    "out_of_scope",
}
SKIP_INTENT = "skip"
SKIP_WORDS = frozenset({"skip", "no", "nope", "pass", "geç", "gec", "hayır", "hayir", "yok",
                        "pomiń", "pomin", "nie", "-"})  # fmt: skip


# Numbers written as words, for customers who type them.
def _plain(word: str) -> str:
    """The word as typed without diacritics ("dört" -> "dort", "pięć" -> "piec")."""
    table = str.maketrans("çğıöşüąćęłńóśźż", "cgiosuacelnoszz")
    return word.translate(table)


_WORDS = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"],
    "tr": ["sıfır", "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz", "on"],
    "pl": ["zero", "jeden", "dwa", "trzy", "cztery", "pięć", "sześć", "siedem", "osiem",
           "dziewięć", "dziesięć"],
}  # fmt: skip
_WORD_VALUES = {
    spelling: value
    for words in _WORDS.values()
    for value, word in enumerate(words)
    for spelling in (word, _plain(word))
}
# "8", "8/10", "8 out of 10", "8 na 10", "10 üzerinden 8", "4 z 5"
_NUMBER = re.compile(
    r"^\s*(?:(?:10|5)\s+üzerinden\s+)?(\d{1,2})"
    r"\s*(?:(?:/|out\s+of|na|z)\s*(?:10|5))?\s*[.!]?\s*$",
    re.IGNORECASE,
)


class Kind(str, Enum):
    ANSWER = "answer"  # a valid answer to the step
    SKIP = "skip"  # the reason step was skipped
    INVALID = "invalid"  # not an answer: re-ask once, then end the survey
    NEW_TOPIC = "new_topic"  # the customer asks something else: drop the survey


@dataclass(frozen=True)
class Interpretation:
    kind: Kind
    score: int | None = None
    text: str | None = None


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip().lower().rstrip(".!")


def parse_score(text: str) -> int | None:
    """A whole number typed as digits ("8", "8/10") or as a word in en, tr or pl."""
    match = _NUMBER.match(text)
    if match:
        return int(match.group(1))
    return _WORD_VALUES.get(_fold(text))


def interpret(step: Step, text: str, intent: str | None, confidence: float = 1.0) -> Interpretation:
    """What the customer's message means while the survey waits at `step`."""
    if step is Step.REASON:
        if intent == SKIP_INTENT or _fold(text) in SKIP_WORDS or _fold(text) == "/skip":
            return Interpretation(Kind.SKIP)
        if not text.strip() or text.startswith("/"):
            return Interpretation(Kind.INVALID)
        return Interpretation(Kind.ANSWER, text=text.strip()[:1000])
    score = parse_score(text)
    low, high = RANGES[step]
    if score is not None:
        if low <= score <= high:
            return Interpretation(Kind.ANSWER, score=score)
        return Interpretation(Kind.INVALID)
    if intent in NEW_TOPIC_INTENTS and confidence >= 0.5:
        return Interpretation(Kind.NEW_TOPIC)
    return Interpretation(Kind.INVALID)


@dataclass(frozen=True)
class SurveyRecord:
    id: int
    sender_id: str
    conversation_id: int | None
    channel: str
    language: str
    intents: list[str]
    resolver: str
    asked_at: float
    nps: int | None
    reason: str | None
    csat: int | None
    answered_at: float | None
    status: str


def row_to_survey(row: Any) -> SurveyRecord:
    return SurveyRecord(
        id=row.id,
        sender_id=row.sender_id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        language=row.language,
        intents=json.loads(row.intents),
        resolver=row.resolver,
        asked_at=row.asked_at,
        nps=row.nps,
        reason=row.reason,
        csat=row.csat,
        answered_at=row.answered_at,
        status=row.status,
    )


class SurveyRepository:
    """Survey rows in Köprü's store (synchronous; async callers use a worker thread)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def last_asked(self, sender_id: str) -> float | None:
        s = surveys.c
        with self._store.transaction() as conn:
            value = conn.execute(
                sa.select(sa.func.max(s.asked_at)).where(s.sender_id == sender_id)
            ).scalar()
        return float(value) if value is not None else None

    def start(
        self,
        *,
        sender_id: str,
        conversation_id: int | None,
        channel: str,
        language: str,
        intents: Sequence[str],
        resolver: str,
        at: float,
    ) -> SurveyRecord:
        s = surveys.c
        with self._store.transaction() as conn:
            # An unfinished earlier survey of the same customer ends here.
            conn.execute(
                surveys.update()
                .where(s.sender_id == sender_id, s.status == "asked")
                .values(status="ended")
            )
            result = conn.execute(
                surveys.insert().values(
                    sender_id=sender_id,
                    conversation_id=conversation_id,
                    channel=channel,
                    language=language,
                    intents=json.dumps(list(intents)),
                    resolver=resolver,
                    asked_at=at,
                    status="asked",
                )
            )
            row = conn.execute(
                sa.select(surveys).where(s.id == result.inserted_primary_key[0])
            ).one()
        return row_to_survey(row)

    def open_for(self, sender_id: str) -> SurveyRecord | None:
        s = surveys.c
        with self._store.transaction() as conn:
            row = conn.execute(
                sa.select(surveys)
                .where(s.sender_id == sender_id, s.status == "asked")
                .order_by(s.id.desc())
            ).first()
        return row_to_survey(row) if row is not None else None

    def update(self, survey_id: int, **values: Any) -> None:
        unknown = set(values) - {c.name for c in surveys.c}
        if unknown:
            raise ValueError(f"unknown survey columns: {sorted(unknown)}")
        with self._store.transaction() as conn:
            conn.execute(surveys.update().where(surveys.c.id == survey_id).values(**values))

    def of_sender(self, sender_id: str) -> list[SurveyRecord]:
        s = surveys.c
        with self._store.transaction() as conn:
            rows = conn.execute(
                sa.select(surveys).where(s.sender_id == sender_id).order_by(s.id)
            ).all()
        return [row_to_survey(r) for r in rows]

    def between(self, start: float, end: float) -> list[SurveyRecord]:
        s = surveys.c
        with self._store.transaction() as conn:
            rows = conn.execute(
                sa.select(surveys).where(s.asked_at >= start, s.asked_at < end).order_by(s.asked_at)
            ).all()
        return [row_to_survey(r) for r in rows]

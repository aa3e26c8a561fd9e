"""What the metrics are computed from: one period's conversations, handoffs and surveys.

`load` is the only part that reads the store; everything in `bot.insights.metrics` is pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from bot.desk.handoff import Handoff, row_to_handoff
from bot.insights.survey import SurveyRecord, row_to_survey
from bot.storage.store import Conversation, Store, row_to_conversation
from bot.storage.tables import conversations, handoffs, surveys

__all__ = ["FCR_WINDOW", "Dataset", "Period", "load"]

# A resolved conversation counts as first-contact resolution when the customer does not
# come back about the same topic within this window.
FCR_WINDOW = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Period:
    """A half-open interval of unix times [start, end)."""

    start: float
    end: float

    @classmethod
    def of_dates(cls, first: dt.date, last: dt.date, tz: dt.tzinfo = dt.timezone.utc) -> Period:
        """From the start of `first` to the end of `last` (inclusive), in `tz`."""
        start = dt.datetime.combine(first, dt.time(), tzinfo=tz)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        return cls(start.timestamp(), end.timestamp())

    def label(self, tz: dt.tzinfo = dt.timezone.utc) -> str:
        first = dt.datetime.fromtimestamp(self.start, tz).date()
        last = dt.datetime.fromtimestamp(self.end, tz).date() - dt.timedelta(days=1)
        return f"{first.isoformat()} – {last.isoformat()}"


@dataclass(frozen=True)
class Dataset:
    period: Period
    # Conversations that started in the period.
    conversations: list[Conversation]
    # Conversations of the same customers that started up to two FCR_WINDOWs after the
    # period's end (to see whether a resolved customer came back within FCR_WINDOW of
    # the resolution, which may itself come days after the conversation started).
    followups: list[Conversation]
    # Handoffs of the period's conversations (or created in the period).
    handoffs: list[Handoff]
    # Surveys asked in the period.
    surveys: list[SurveyRecord]


def load(store: Store, period: Period) -> Dataset:
    c, h, s = conversations.c, handoffs.c, surveys.c
    with store.transaction() as conn:
        convs = [
            row_to_conversation(r)
            for r in conn.execute(
                sa.select(conversations)
                .where(c.started_at >= period.start, c.started_at < period.end)
                .order_by(c.started_at)
            ).all()
        ]
        senders = sorted({conv.sender_id for conv in convs})
        later: list[Conversation] = []
        for chunk in _chunks(senders, 500):
            later += [
                row_to_conversation(r)
                for r in conn.execute(
                    sa.select(conversations)
                    .where(
                        c.sender_id.in_(chunk),
                        c.started_at >= period.start,
                        c.started_at < period.end + 2 * FCR_WINDOW,
                    )
                    .order_by(c.started_at)
                ).all()
            ]
        ids = [conv.id for conv in convs]
        found: dict[int, Handoff] = {}
        for row in conn.execute(
            sa.select(handoffs).where(h.created_at >= period.start, h.created_at < period.end)
        ).all():
            found[row.id] = row_to_handoff(row)
        for chunk_ids in _chunks(ids, 500):
            for row in conn.execute(
                sa.select(handoffs).where(h.conversation_id.in_(chunk_ids))
            ).all():
                found[row.id] = row_to_handoff(row)
        asked = [
            row_to_survey(r)
            for r in conn.execute(
                sa.select(surveys)
                .where(s.asked_at >= period.start, s.asked_at < period.end)
                .order_by(s.asked_at)
            ).all()
        ]
    return Dataset(
        period=period,
        conversations=convs,
        followups=sorted(later, key=lambda conv: conv.started_at),
        handoffs=sorted(found.values(), key=lambda handoff: handoff.created_at),
        surveys=asked,
    )


def _chunks(items: list[str] | list[int], size: int) -> list[list[str] | list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]

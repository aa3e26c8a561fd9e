"""The database figures Prometheus reads when it scrapes: handoffs by state, answered surveys.

bot.observability's :class:`~bot.observability.DatabaseGauges` calls these at scrape time
(in the listener's thread), so the message path writes nothing for them. Two small
grouped counts on indexed or small tables: cheap at a scrape every 15 s or so.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

from bot.desk.handoff import State
from bot.observability import DatabaseGauges, metrics
from bot.storage.store import Store
from bot.storage.tables import handoffs, surveys

__all__ = ["SURVEY_KINDS", "database_gauges", "handoff_counts", "survey_counts"]

# The survey's two scores; a survey "answered" for a kind once that score is given.
SURVEY_KINDS = ("nps", "csat")


def handoff_counts(store: Store) -> dict[str, int]:
    """Handoffs per state, every state of the state machine included (0 when none)."""
    counts = {state.value: 0 for state in State}
    with store.transaction() as conn:
        rows = conn.execute(
            sa.select(handoffs.c.state, sa.func.count()).group_by(handoffs.c.state)
        ).all()
    for state, count in rows:
        counts[str(state)] = int(count)
    return counts


def survey_counts(store: Store) -> dict[str, int]:
    """Surveys with an NPS score and with a CSAT score."""
    with store.transaction() as conn:
        row = conn.execute(
            sa.select(sa.func.count(surveys.c.nps), sa.func.count(surveys.c.csat))
        ).one()
    return {"nps": int(row[0]), "csat": int(row[1])}


def database_gauges(database_url: str) -> DatabaseGauges:
    """The collector for the store at ``database_url``, opened (and its tables created)
    at the first scrape, not when the process starts."""
    lock = threading.Lock()
    opened: list[Store] = []

    def store() -> Store:
        with lock:
            if not opened:
                live = Store(database_url)
                live.create_schema()
                opened.append(live)
            return opened[0]

    return DatabaseGauges(
        lambda: handoff_counts(store()),
        lambda: survey_counts(store()),
        on_error=lambda: metrics().error("metrics"),
    )

"""The old path of Köprü's tracker store, kept so an endpoints.yml written before
bot/serving/ still starts.

Rasa imports the tracker store by the class path in endpoints.yml's `type`; copies made
before the layout of issue 14 say `bot.tracker_store.DurableSQLTrackerStore`. The shipped
endpoints.yml says `bot.serving.tracker_store.DurableSQLTrackerStore`.
"""

from __future__ import annotations

from bot.serving.tracker_store import DurableSQLTrackerStore

__all__ = ["DurableSQLTrackerStore"]

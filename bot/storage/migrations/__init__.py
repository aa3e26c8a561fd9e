"""Alembic migrations of Köprü's tables (bot/storage/tables.py), run by bot.storage.migrate.

Only Köprü's own tables are in scope: Rasa's tracker tables (`events`) may share the
database, and neither autogenerate nor a migration may ever touch them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.storage.tables import metadata

__all__ = ["FOLDER", "include_name", "include_object", "is_kopru_table"]

# The script location: env.py, script.py.mako and versions/ (shipped as package data).
FOLDER = Path(__file__).resolve().parent


def is_kopru_table(name: str | None) -> bool:
    """A table of Köprü's: on its MetaData, or named like one (a table dropped from the
    MetaData is still Köprü's, and autogenerate should offer to drop it)."""
    return name is not None and (name in metadata.tables or name.startswith("kopru_"))


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name` hook: reflect Köprü's tables only."""
    return type_ != "table" or is_kopru_table(name)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's `include_object` hook: compare and migrate Köprü's tables only."""
    return type_ != "table" or is_kopru_table(name)

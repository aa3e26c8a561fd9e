"""Database URLs as Köprü shows and checks them."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

__all__ = ["shown_url", "sqlite_file"]


def shown_url(url: str) -> str:
    """The URL without its password, for pages, logs and messages."""
    try:
        return str(sa.engine.make_url(url).render_as_string(hide_password=True))
    except Exception:  # any unparsable URL
        return "(an invalid URL)"


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None for other databases and in-memory SQLite)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        return Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    return None

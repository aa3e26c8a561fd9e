"""Rasa's SQL tracker store, read (never written) for the admin review page.

Rasa keeps every event of every conversation in the table `events` (sender_id, type_name,
timestamp, intent_name, action_name, data: the event as JSON). The review page wants the
customers' messages: their text, the intent and confidence the model gave them, and the
language Köprü answered in (the `language` slot, set by action_observe_turn right after a
message, and only when it changes).

Where the store is: KOPRU_TRACKER_DB_URL, else the `tracker_store` of the project's
endpoints.yml when it is an SQL store (a relative SQLite path is relative to the project,
where `kopru run` starts Rasa), else `var/rasa_tracker.db` of the project.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import ConfigError, KopruError
from bot.storage.database_url import shown_url, sqlite_file

__all__ = [
    "FALLBACK_INTENT",
    "Message",
    "TrackerReader",
    "TrackerUnavailable",
    "tracker_db_url",
]

FALLBACK_INTENT = "nlu_fallback"
DEFAULT_DB = Path("var") / "rasa_tracker.db"
# At most this many events are read for one page (the newest), whatever the period.
SCAN_LIMIT = 20_000
_ENV_VARIABLE = re.compile(r"\$\{([^}]+)\}")

events = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


class TrackerUnavailable(KopruError):
    """The tracker store cannot be opened or read; the message is for the page."""


@dataclass(frozen=True)
class Message:
    """One customer message of the tracker store."""

    id: int
    sender_id: str
    at: float
    text: str
    intent: str | None
    confidence: float | None
    language: str | None  # the conversation's language when the bot answered it
    # The best intent of the ranking that is not the fallback (what the model guessed).
    guess: str | None = None
    guess_confidence: float | None = None

    @property
    def fallback(self) -> bool:
        return self.intent == FALLBACK_INTENT


def _expand(value: Any, env: Mapping[str, str]) -> Any:
    """`${VARIABLE}` in endpoints.yml, as Rasa reads it."""
    if isinstance(value, str):
        return _ENV_VARIABLE.sub(lambda m: env.get(m.group(1), m.group(0)), value)
    return value


# Rasa's SQL tracker store and Köprü's durable subclass of it (bot/serving/tracker_store.py).
SQL_TYPES = ("sql", "bot.serving.tracker_store.durablesqltrackerstore")


def tracker_db_url(
    root: Path, env: Mapping[str, str] | None = None, endpoints: Path | None = None
) -> str:
    """The URL of the SQL tracker store configured in `endpoints` (default:
    `root`/endpoints.yml; SQLAlchemy form), else of `var/rasa_tracker.db` in `root`.
    ConfigError for a broken file."""
    env = os.environ if env is None else env
    default = f"sqlite:///{root / DEFAULT_DB}"
    path = endpoints or root / "endpoints.yml"
    if not path.is_file():
        return default
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    store = data.get("tracker_store") if isinstance(data, dict) else None
    if not isinstance(store, dict) or str(store.get("type", "")).lower() not in SQL_TYPES:
        return default
    store = {key: _expand(value, env) for key, value in store.items()}
    dialect = str(store.get("dialect") or "sqlite")
    database = str(store.get("db") or "rasa.db")
    if dialect.startswith("sqlite"):
        file = Path(database)
        return f"sqlite:///{file if file.is_absolute() else root / file}"
    host = store.get("url") or store.get("host")
    if isinstance(host, str) and "://" in host:
        return host
    port = store.get("port")
    url = sa.engine.URL.create(
        dialect,
        username=store.get("username"),
        password=store.get("password"),
        host=str(host) if host else None,
        port=int(port) if port else None,
        database=database,
        query=store.get("query") or {},
    )
    return str(url.render_as_string(hide_password=False))


def _json(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _message(row: Any, language: str | None) -> Message | None:
    """A customer message of a `user` event; None for what the customer did not type
    (button payloads, Köprü's own external events)."""
    data = _json(row.data)
    text = data.get("text")
    if not isinstance(text, str) or not text.strip() or text.startswith("/"):
        return None
    if (data.get("metadata") or {}).get("is_external"):
        return None
    parse = data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    name = intent.get("name") or row.intent_name
    guess, guess_confidence = None, None
    for ranked in parse.get("intent_ranking") or []:
        if isinstance(ranked, dict) and ranked.get("name") not in (None, FALLBACK_INTENT):
            guess, guess_confidence = str(ranked["name"]), _number(ranked.get("confidence"))
            break
    return Message(
        id=int(row.id),
        sender_id=str(row.sender_id),
        at=float(row.timestamp or 0.0),
        text=text.strip(),
        intent=str(name) if name else None,
        confidence=_number(intent.get("confidence")),
        language=language,
        guess=guess,
        guess_confidence=guess_confidence,
    )


def _language_of(row: Any) -> tuple[bool, str | None]:
    """Whether the event sets the `language` slot, and to what."""
    data = _json(row.data)
    if data.get("name") != "language":
        return False, None
    value = data.get("value")
    return True, str(value) if value else None


def _messages(rows: Iterable[Any]) -> list[Message]:
    """User events (with slot events interleaved, ordered by sender and time) as messages
    with the language the bot answered them in."""
    found: list[Message] = []
    sender: str | None = None
    language: str | None = None
    waiting: list[Any] = []  # user events of this sender whose language is not known yet

    def flush() -> None:
        found.extend(m for m in (_message(row, language) for row in waiting) if m is not None)
        waiting.clear()

    for row in rows:
        if row.sender_id != sender:
            flush()
            sender, language = row.sender_id, None
        if row.type_name == "user":
            flush()  # the previous message kept the language it had
            waiting.append(row)
        else:
            sets, value = _language_of(row)
            if sets:
                language = value
                flush()
    flush()
    return found


class TrackerReader:
    """Reads customer messages from Rasa's SQL tracker store (opened on first use)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def shown_url(self) -> str:
        """The URL without its password, for pages and logs."""
        return shown_url(self.url)

    def exists(self) -> bool:
        """False when the store is an SQLite file that does not exist (yet)."""
        path = sqlite_file(self.url)
        return path is None or path.is_file()

    def _connect(self) -> Engine:
        with self._lock:
            if self._engine is None:
                try:
                    if self.url.startswith("sqlite"):
                        self._engine = sa.create_engine(
                            self.url, connect_args={"check_same_thread": False, "timeout": 10}
                        )
                    else:
                        self._engine = sa.create_engine(self.url, pool_pre_ping=True)
                except (SQLAlchemyError, ImportError, ValueError) as exc:
                    raise TrackerUnavailable(f"cannot open {self.shown_url}: {exc}") from exc
            return self._engine

    def _rows(self, query: Any) -> Sequence[Any]:
        if not self.exists():
            return []
        try:
            with self._connect().connect() as conn:
                return list(conn.execute(query).all())
        except SQLAlchemyError as exc:
            raise TrackerUnavailable(f"cannot read {self.shown_url}: {exc}") from exc

    def _query(self, *conditions: Any, limit: int) -> Any:
        e = events.c
        language_slots = sa.and_(e.type_name == "slot", e.data.like('%"language"%'))
        newest = (
            sa.select(events)
            .where(sa.or_(e.type_name == "user", language_slots), *conditions)
            .order_by(e.timestamp.desc(), e.id.desc())
            .limit(limit)
            .subquery()
        )
        return sa.select(newest).order_by(newest.c.sender_id, newest.c.timestamp, newest.c.id)

    def messages(self, since: float, until: float) -> list[Message]:
        """The customer messages from `since` to `until` (the newest SCAN_LIMIT events),
        newest first (blocking: call it in a worker thread)."""
        e = events.c
        rows = self._rows(self._query(e.timestamp >= since, e.timestamp < until, limit=SCAN_LIMIT))
        return sorted(_messages(rows), key=lambda m: (m.at, m.id), reverse=True)

    def conversation(self, sender_id: str, since: float, until: float, limit: int) -> list[Message]:
        """The customer messages of one sender between `since` and `until`, oldest first."""
        e = events.c
        rows = self._rows(
            self._query(
                e.sender_id == sender_id,
                e.timestamp >= since,
                e.timestamp <= until,
                limit=4 * limit,  # with the slot events
            )
        )
        return sorted(_messages(rows), key=lambda m: (m.at, m.id))[-limit:]

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

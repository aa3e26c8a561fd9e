"""A customer's data rights: everything Köprü and Rasa keep about one sender, exported as
JSON (`kopru export`) or erased (`kopru forget`), and what neither can reach.

A customer is a sender id as Rasa sees it: the web chat's or REST client's id, the chat id
on Telegram. Their data is every row with that `sender_id` in Köprü's tables (`kopru_*`:
conversations, handoffs with the context shown to agents, surveys, the outbox, deletion
requests, deliveries) and in Rasa's SQL tracker store (`events`). The tables are found by
inspecting the databases, so a new Köprü table with a `sender_id` column is covered
without a change here. Telegram deliveries recorded before deliveries had a sender are
found by the update ids in the customer's tracker events.

Each database is changed in one transaction; when Köprü's store and the tracker store are
the same database, that is one transaction for both.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import ConfigError, KopruError
from bot.storage.database_url import shown_url, sqlite_file

__all__ = [
    "SENDER_COLUMN",
    "CustomerTables",
    "Database",
    "Erasure",
    "PrivacyError",
    "SlackCard",
    "TableCount",
    "databases",
    "export",
    "forget",
    "out_of_reach",
    "tracker_location",
]

SENDER_COLUMN: Final = "sender_id"
TRACKER_TABLE: Final = "events"
OWN_PREFIX: Final = "kopru_"
DELIVERIES: Final = "kopru_deliveries"
HANDOFFS: Final = "kopru_handoffs"
# Text columns holding JSON, exported as JSON rather than as a string of it.
JSON_COLUMNS: Final = frozenset(
    {
        (TRACKER_TABLE, "data"),
        (HANDOFFS, "context"),
        ("kopru_conversations", "intents"),
        ("kopru_surveys", "intents"),
        ("kopru_outbox", "message"),
    }
)
# Update ids per statement when deliveries are matched by key (a statement with
# thousands of LIKEs exceeds SQLite's expression depth).
_UPDATE_IDS_PER_STATEMENT: Final = 100


class PrivacyError(KopruError):
    """A store could not be read or changed; the message names it."""


@dataclass(frozen=True)
class Database:
    """One database holding customer data, and what it is to Köprü."""

    name: str  # "Köprü's store", "Rasa's tracker store", or both
    url: str

    @property
    def shown_url(self) -> str:
        """The URL without its password."""
        return shown_url(self.url)

    def sqlite_file(self) -> Path | None:
        return sqlite_file(self.url)

    def exists(self) -> bool:
        """False for an SQLite file that is not there (nothing was ever stored)."""
        path = self.sqlite_file()
        return path is None or path.is_file()


KOPRU_STORE: Final = "Köprü's store"
TRACKER_STORE: Final = "Rasa's tracker store"


def databases(kopru_url: str, tracker_url: str | None) -> list[Database]:
    """The databases to look in: Köprü's store and Rasa's tracker store, once when they
    are the same database."""
    if tracker_url is None:
        return [Database(KOPRU_STORE, kopru_url)]
    if _same_database(kopru_url, tracker_url):
        return [Database(f"{KOPRU_STORE} and {TRACKER_STORE}", kopru_url)]
    return [Database(KOPRU_STORE, kopru_url), Database(TRACKER_STORE, tracker_url)]


def _same_database(a: str, b: str) -> bool:
    try:
        url_a, url_b = sa.engine.make_url(a), sa.engine.make_url(b)
    except Exception:  # an unparsable URL fails later, with its own message
        return a == b
    if url_a.get_backend_name() == "sqlite" and url_b.get_backend_name() == "sqlite":
        path_a, path_b = url_a.database or "", url_b.database or ""
        return bool(path_a) and Path(path_a).resolve() == Path(path_b).resolve()
    return (url_a.get_backend_name(), url_a.host, url_a.port, url_a.database) == (
        url_b.get_backend_name(),
        url_b.host,
        url_b.port,
        url_b.database,
    )


def tracker_location(root: Path, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The tracker store's SQLAlchemy URL (KOPRU_TRACKER_DB_URL, else endpoints.yml's SQL
    tracker store), or None and why Köprü cannot reach it."""
    from bot.storage.trackers import SQL_TYPES, tracker_db_url

    override = env.get("KOPRU_TRACKER_DB_URL")
    if override:
        return override, None
    path = root / "endpoints.yml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    store = data.get("tracker_store") if isinstance(data, dict) else None
    kind = str(store.get("type") or "") if isinstance(store, dict) else ""
    if kind and kind.lower() not in SQL_TYPES:
        return None, (
            f"{TRACKER_STORE}: endpoints.yml names a tracker store of type {kind}, which "
            "Köprü cannot read; erase the conversation there (or set KOPRU_TRACKER_DB_URL "
            "when it is an SQL database)"
        )
    return tracker_db_url(root, env), None


@dataclass(frozen=True)
class TableCount:
    database: str
    table: str
    rows: int


@dataclass(frozen=True)
class SlackCard:
    """A handoff's context card in the agents' Slack channel (its thread hangs off it)."""

    reference: str
    channel: str
    ts: str


@dataclass
class Erasure:
    """What `forget` erased (or would erase, in a dry run), and what it could not."""

    sender_id: str
    dry_run: bool = False
    counts: list[TableCount] = field(default_factory=list)
    slack_cards: list[SlackCard] = field(default_factory=list)
    looked_in: list[Database] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(c.rows for c in self.counts)


@dataclass(frozen=True)
class CustomerTables:
    """The tables of one database that hold customer data, reflected."""

    tables: list[sa.Table]
    # Tables with a sender_id column that are neither Köprü's nor Rasa's: not touched.
    foreign: list[str]

    @property
    def events(self) -> sa.Table | None:
        return next((t for t in self.tables if t.name == TRACKER_TABLE), None)


def customer_tables(conn: Connection) -> CustomerTables:
    """Köprü's and Rasa's tables in the database that hold data about a sender."""
    inspector = sa.inspect(conn)
    tables, foreign = [], []
    for name in sorted(inspector.get_table_names()):
        columns = {c["name"] for c in inspector.get_columns(name)}
        ours = name == TRACKER_TABLE or name.startswith(OWN_PREFIX)
        if ours and (SENDER_COLUMN in columns or name == DELIVERIES):
            tables.append(sa.Table(name, sa.MetaData(), autoload_with=conn))
        elif SENDER_COLUMN in columns:
            foreign.append(name)
    return CustomerTables(tables, foreign)


def _engine(database: Database) -> Engine:
    try:
        if database.url.startswith("sqlite"):
            return sa.create_engine(database.url, connect_args={"timeout": 30})
        return sa.create_engine(database.url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise PrivacyError(f"cannot open {database.name} ({database.shown_url}): {exc}") from exc


@contextmanager
def _connection(database: Database) -> Iterator[Connection]:
    engine = _engine(database)
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise PrivacyError(f"{database.name} ({database.shown_url}): {exc}") from exc
    finally:
        engine.dispose()


def _telegram_update_ids(conn: Connection, events: sa.Table, sender_id: str) -> set[int]:
    """The Telegram update ids of the sender's messages (Köprü's Telegram channel puts
    them in the message metadata)."""
    found: set[int] = set()
    rows = conn.execute(
        sa.select(events.c.data).where(
            events.c[SENDER_COLUMN] == sender_id, events.c.type_name == "user"
        )
    )
    for (raw,) in rows:
        try:
            metadata = (json.loads(raw or "{}") or {}).get("metadata") or {}
        except (ValueError, AttributeError):
            continue
        update_id = metadata.get("telegram_update_id") if isinstance(metadata, dict) else None
        if isinstance(update_id, int) and not isinstance(update_id, bool):
            found.add(update_id)
    return found


def _clauses(
    table: sa.Table, sender_id: str, update_ids: set[int]
) -> list[sa.sql.ColumnElement[bool]]:
    """WHERE clauses that together select the sender's rows of `table`."""
    clauses: list[sa.sql.ColumnElement[bool]] = []
    if SENDER_COLUMN in table.c:
        clauses.append(table.c[SENDER_COLUMN] == sender_id)
    if table.name == DELIVERIES and update_ids:
        # Keys are telegram:<bot id>:<update id>.
        ordered = sorted(update_ids)
        for start in range(0, len(ordered), _UPDATE_IDS_PER_STATEMENT):
            chunk = ordered[start : start + _UPDATE_IDS_PER_STATEMENT]
            clauses.append(sa.or_(*(table.c.key.like(f"telegram:%:{uid}") for uid in chunk)))
    return clauses


def _update_ids(found: list[tuple[Database, CustomerTables]], sender_id: str) -> set[int]:
    update_ids: set[int] = set()
    for database, tables in found:
        if tables.events is not None:
            with _connection(database) as conn:
                update_ids |= _telegram_update_ids(conn, tables.events, sender_id)
    return update_ids


def _inspect(dbs: Sequence[Database], notes: list[str]) -> list[tuple[Database, CustomerTables]]:
    found = []
    for database in dbs:
        if not database.exists():
            notes.append(f"{database.name}: {database.shown_url} does not exist (nothing stored)")
            continue
        with _connection(database) as conn:
            tables = customer_tables(conn)
        for name in tables.foreign:
            notes.append(
                f"{database.name}: table {name} has a {SENDER_COLUMN} column but is not "
                "Köprü's or Rasa's; it was left alone"
            )
        found.append((database, tables))
    return found


# --- forget -------------------------------------------------------------------------------


def forget(sender_id: str, dbs: Sequence[Database], *, dry_run: bool = False) -> Erasure:
    """Erase every row about `sender_id` from the databases, one transaction each (rolled
    back in a dry run). PrivacyError when a database cannot be read or changed; the
    databases before it in `dbs` stay erased (running it again is harmless)."""
    erasure = Erasure(sender_id, dry_run=dry_run, looked_in=list(dbs))
    found = _inspect(dbs, erasure.notes)
    update_ids = _update_ids(found, sender_id)
    for database, tables in found:
        with _connection(database) as conn:
            transaction = conn.begin()
            try:
                erasure.slack_cards += _slack_cards(conn, tables, sender_id)
                for table in tables.tables:
                    rows = 0
                    for clause in _clauses(table, sender_id, update_ids):
                        rows += conn.execute(table.delete().where(clause)).rowcount or 0
                    erasure.counts.append(TableCount(database.name, table.name, rows))
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
    return erasure


def _slack_cards(conn: Connection, tables: CustomerTables, sender_id: str) -> list[SlackCard]:
    handoffs = next((t for t in tables.tables if t.name == HANDOFFS), None)
    if handoffs is None or not {"card_channel", "card_ts", "reference"} <= set(handoffs.c.keys()):
        return []
    h = handoffs.c
    rows = conn.execute(
        sa.select(h.reference, h.card_channel, h.card_ts)
        .where(h[SENDER_COLUMN] == sender_id, h.card_ts.is_not(None))
        .order_by(h.id)
    )
    return [SlackCard(str(r.reference), str(r.card_channel or ""), str(r.card_ts)) for r in rows]


# --- export -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A database value as JSON can hold it."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return value


def _row(table: str, row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, value in row._mapping.items():
        if (table, column) in JSON_COLUMNS and isinstance(value, str):
            try:
                out[column] = json.loads(value)
                continue
            except ValueError:
                pass
        out[column] = _plain(value)
    return out


def _export_tables(
    conn: Connection, tables: CustomerTables, sender_id: str, update_ids: set[int]
) -> dict[str, list[dict[str, Any]]]:
    exported: dict[str, list[dict[str, Any]]] = {}
    for table in tables.tables:
        rows: dict[Any, dict[str, Any]] = {}
        key_columns = list(table.primary_key.columns) or list(table.c)
        for clause in _clauses(table, sender_id, update_ids):
            query = sa.select(table).where(clause).order_by(*key_columns)
            for row in conn.execute(query):
                key = tuple(row._mapping[c.name] for c in key_columns)
                rows[key] = _row(table.name, row)
        if rows:
            exported[table.name] = list(rows.values())
    return exported


def export(sender_id: str, dbs: Sequence[Database], *, now: float | None = None) -> dict[str, Any]:
    """Every row about `sender_id`, as a JSON-ready dict (one snapshot per database)."""
    notes: list[str] = []
    found = _inspect(dbs, notes)
    update_ids = _update_ids(found, sender_id)
    stores = []
    for database, tables in found:
        with _connection(database) as conn:
            if conn.dialect.name == "postgresql":
                # One snapshot of the whole database, however long the export takes.
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                exported = _export_tables(conn, tables, sender_id, update_ids)
        stores.append({"store": database.name, "database": database.shown_url, "tables": exported})
    at = (
        dt.datetime.fromtimestamp(now, dt.timezone.utc) if now else dt.datetime.now(dt.timezone.utc)
    )
    return {
        "sender_id": sender_id,
        "exported_at": at.isoformat(timespec="seconds"),
        "stores": stores,
        "notes": notes,
        "not_included": out_of_reach([]),
    }


def exported_rows(data: dict[str, Any]) -> int:
    return sum(len(rows) for store in data["stores"] for rows in store["tables"].values())


# --- what Köprü cannot reach ----------------------------------------------------------------


def out_of_reach(cards: Sequence[SlackCard]) -> list[str]:
    """What stays after `forget` and must be erased by hand (or cannot be)."""
    if cards:
        listed = "; ".join(
            f"{c.reference}: channel {c.channel or '?'}, message ts {c.ts}" for c in cards
        )
        slack = (
            "Slack: the context cards of this customer's handoffs and their threads (the "
            "customer's messages and the agents' replies) in the agents' channel. Delete "
            "them in Slack (a workspace admin, or chat.delete with the bot token for the "
            f"card and each thread reply): {listed}"
        )
    else:
        slack = (
            "Slack: the agents' channel keeps the context cards and threads of handoffs "
            "(none recorded for this customer); Slack's history is erased in Slack."
        )
    return [
        slack,
        "Telegram: the chat on the customer's devices and Telegram's servers (the customer "
        "can delete it; a bot can delete its own messages only within 48 hours).",
        "Web chat: the transcript the chat page keeps in the customer's browser "
        "(localStorage) until they clear it.",
        "Backups and replicas of the databases keep erased rows until they are rotated.",
        "An event broker (RabbitMQ, in the scaled mode) has passed the conversation events "
        "to its consumers; erase them there.",
        "Process logs may name the sender id (e-mails, phone and card numbers, IBANs and "
        "secrets are masked in them).",
        "Training data: messages an admin added as examples (data/nlu) and models trained "
        "with them are not linked to a sender.",
        "The shop's own systems (orders, returns, invoices, the customer's account) are "
        "outside Köprü.",
    ]

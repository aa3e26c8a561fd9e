"""Bring Köprü's tables to the newest migration (Alembic), from any earlier state.

A database is in one of three states: new (no Köprü table), made by a Köprü from before
the migrations (Köprü's tables, no `alembic_version`), or migrated.  `upgrade` takes each
to the head revision under a lock, so that processes starting together (the replicas of
`kopru run --scaled`, the action server) never migrate at the same time: PostgreSQL's
advisory lock, a lock file beside an SQLite database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.errors import StoreError
from bot.storage.files import file_lock
from bot.storage.migrations import FOLDER, is_kopru_table

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

logger = logging.getLogger(__name__)

__all__ = ["BASELINE", "MigrationError", "alembic_config", "current", "heads", "upgrade"]

# The schema of the last Köprü before the migrations; older databases are brought to it.
BASELINE = "0001_baseline"

# pg_advisory_xact_lock's key ("kopru" in ASCII): advisory locks are per database.
_POSTGRES_LOCK_KEY = 0x6B6F707275

# Alembic's `context` and `op` are module-wide proxies: one migration at a time per
# process, whichever database it is on (the dashboard opens the live and the demo store).
_ALEMBIC = threading.Lock()


class MigrationError(StoreError):
    """Alembic refused (a broken migration script, an unknown revision)."""


def _alembic() -> ModuleType:
    """Alembic, imported on first use: importing it logs a line per plugin at INFO."""
    with _alembic_logs_at(logging.WARNING):
        import alembic.command
        import alembic.config
        import alembic.runtime.migration
        import alembic.script
        import alembic.util

    return alembic


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built here (there is no alembic.ini): the scripts are in
    the package, and env.py runs on `connection`."""
    config: Config = _alembic().config.Config()
    config.set_main_option("script_location", str(FOLDER).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    scripts: ScriptDirectory = _alembic().script.ScriptDirectory.from_config(alembic_config())
    return scripts


def heads() -> list[str]:
    """The newest revisions (one, unless two migrations branched off the same one)."""
    return list(_scripts().get_heads())


def current(url_or_engine: str | Engine) -> str | None:
    """The revision of the database (None: not migrated yet, or no Köprü tables)."""
    with _engine(url_or_engine) as engine, engine.connect() as conn:
        return _shown(_revisions(conn))


def upgrade(url_or_engine: str | Engine) -> list[str]:
    """Migrate the database to the head; return the revisions applied, oldest first
    (none when it was there already)."""
    with (
        _alembic_logs_at(logging.WARNING),
        _engine(url_or_engine) as engine,
        _sqlite_lock(engine),
        engine.connect() as conn,
        conn.begin(),
    ):
        if conn.dialect.name == "postgresql":
            # Held to the end of the transaction: a second process waits here, then
            # finds the database at the head.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY})
        return _upgrade(conn)


def _upgrade(conn: Connection) -> list[str]:
    before = _revisions(conn)
    unknown = [r for r in before if r not in _known_revisions()]
    if unknown:
        raise StoreError(
            f"the database is at revision {', '.join(unknown)}, which this Köprü does not "
            f"know (its newest: {', '.join(heads())}): it was migrated by a newer Köprü"
        )
    if not before and _has_kopru_tables(conn):
        # A Köprü from before the migrations made these tables, adding the columns new
        # versions brought; bring them to the baseline (whose tables are created only
        # where missing) and let the migrations take it from there.
        _add_missing_baseline_columns(conn)
    with _ALEMBIC:
        alembic = _alembic()
        try:
            alembic.command.upgrade(alembic_config(conn), "heads")
        except alembic.util.CommandError as exc:
            raise MigrationError(f"cannot migrate Köprü's tables: {exc}") from exc
    applied = _applied(before, _revisions(conn))
    if applied:
        logger.info(
            "Köprü's tables migrated: %s", " -> ".join([_shown(before) or "empty", *applied])
        )
    return applied


@contextmanager
def _alembic_logs_at(level: int) -> Iterator[None]:
    """Alembic logs a dozen INFO lines per process start (plugins, the dialect): keep its
    warnings, say what was applied in one line of our own."""
    alembic_logger = logging.getLogger("alembic")
    previous = alembic_logger.level
    if alembic_logger.getEffectiveLevel() >= logging.INFO:
        alembic_logger.setLevel(level)
    try:
        yield
    finally:
        alembic_logger.setLevel(previous)


@lru_cache(maxsize=1)
def _known_revisions() -> frozenset[str]:
    return frozenset(s.revision for s in _scripts().walk_revisions())


def _revisions(conn: Connection) -> tuple[str, ...]:
    return tuple(_alembic().runtime.migration.MigrationContext.configure(conn).get_current_heads())


def _shown(revisions: tuple[str, ...]) -> str | None:
    return ", ".join(revisions) or None


def _applied(before: Iterable[str], after: Iterable[str]) -> list[str]:
    scripts = _scripts()

    def ancestry(revisions: Iterable[str]) -> list[str]:
        wanted = tuple(revisions)
        if not wanted:
            return []
        return [s.revision for s in scripts.iterate_revisions(wanted, "base")]

    had = set(ancestry(before))
    return [r for r in reversed(ancestry(after)) if r not in had]


def _has_kopru_tables(conn: Connection) -> bool:
    return any(is_kopru_table(name) for name in sa.inspect(conn).get_table_names())


def _add_missing_baseline_columns(conn: Connection) -> None:
    """Add the nullable columns of the baseline an old database lacks (older Köprü added
    them at start; a database it last opened before some were added lacks them)."""
    inspector = sa.inspect(conn)
    for table in _baseline_schema().sorted_tables:
        if not inspector.has_table(table.name):
            continue  # the baseline creates it
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise StoreError(
                    f"{table.name} lacks the column {column.name}; it cannot be added automatically"
                )
            quote = conn.dialect.identifier_preparer.quote
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(
                sa.text(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {kind}")
            )


@lru_cache(maxsize=1)
def _baseline_schema() -> sa.MetaData:
    """The tables as the baseline revision makes them (not as tables.py has them now:
    later revisions add their own columns), read from an in-memory database."""
    engine = sa.create_engine("sqlite://")
    try:
        with engine.connect() as conn, conn.begin():
            with _ALEMBIC:
                _alembic().command.upgrade(alembic_config(conn), BASELINE)
            schema = sa.MetaData()
            schema.reflect(conn, only=lambda name, _meta: is_kopru_table(name))
        return schema
    finally:
        engine.dispose()


@contextmanager
def _engine(url_or_engine: str | Engine) -> Iterator[Engine]:
    if isinstance(url_or_engine, Engine):
        yield url_or_engine
        return
    url = sa.engine.make_url(url_or_engine)
    options: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        # Wait for the other processes' transactions as the store does.
        options["connect_args"] = {"timeout": 30}
        if url.database not in (None, "", ":memory:"):
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **options)
    try:
        yield engine
    finally:
        engine.dispose()


def _sqlite_lock(engine: Engine) -> AbstractContextManager[None]:
    """A lock file beside an SQLite database file: SQLite has no advisory locks, and its
    DDL does not wait for a transaction the way PostgreSQL's does."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return nullcontext()
    database = Path(url.database)
    return file_lock(database.with_name(f".{database.name}.migrate.lock"))

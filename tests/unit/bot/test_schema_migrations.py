"""The migrations against tables.py: a table changed without a migration fails here."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.errors import StoreError
from bot.storage import migrate
from bot.storage.migrations import include_name, include_object, is_kopru_table
from bot.storage.tables import metadata


@pytest.fixture
def engine() -> Iterator[sa.engine.Engine]:
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    yield engine
    engine.dispose()


def test_the_migrations_make_exactly_the_tables_of_tables_py(engine: sa.engine.Engine) -> None:
    migrate.upgrade(engine)

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": include_name,
                "include_object": include_object,
                "compare_type": True,
            },
        )
        differences = compare_metadata(context, metadata)
    # Not empty: tables.py changed without a migration. Write one in
    # bot/storage/migrations/versions/ (down_revision: the current head).
    assert differences == []


def test_the_history_is_one_line_from_the_baseline() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = list(scripts.walk_revisions())  # newest first

    # Two revisions on the same parent (two branches merged in git): merge them.
    assert len(migrate.heads()) == 1
    assert revisions[-1].revision == migrate.BASELINE
    assert revisions[-1].down_revision is None
    for newer, older in pairwise(revisions):
        assert newer.down_revision == older.revision


def test_an_empty_database_gets_every_revision_in_order(engine: sa.engine.Engine) -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    oldest_first = [s.revision for s in reversed(list(scripts.walk_revisions()))]

    assert migrate.upgrade(engine) == oldest_first
    assert migrate.current(engine) == migrate.heads()[0]
    assert migrate.upgrade(engine) == []


@pytest.mark.parametrize(
    ("name", "kopru"),
    [
        ("kopru_conversations", True),
        ("kopru_a_table_dropped_from_tables_py", True),
        ("events", False),  # Rasa's tracker store
        ("alembic_version", False),
        (None, False),
    ],
)
def test_only_kopru_tables_are_in_scope(name: str | None, kopru: bool) -> None:
    assert is_kopru_table(name) is kopru
    assert include_name(name, "table", {}) is kopru
    assert include_object(None, name, "table", True, None) is kopru


def test_every_table_of_tables_py_is_in_scope() -> None:
    assert all(is_kopru_table(name) for name in metadata.tables)
    # Columns and indexes of a table in scope are compared too.
    assert include_name("ix_kopru_outbox_sender_id", "index", {"table_name": "kopru_outbox"})


def test_a_database_migrated_by_a_newer_kopru_is_refused(engine: sa.engine.Engine) -> None:
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))

    with pytest.raises(StoreError, match="9999_from_the_future, which this Köprü does not know"):
        migrate.upgrade(engine)
    assert migrate.current(engine) == "9999_from_the_future"

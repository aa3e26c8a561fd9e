"""Köprü's migrations on SQLite and PostgreSQL: new databases, old ones, twice, down and up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from bot.cli import main
from bot.errors import StoreError
from bot.storage import migrate
from bot.storage.migrations import is_kopru_table
from bot.storage.store import Claim, Store
from bot.storage.tables import metadata
from tests.services import postgres_databases


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind (PostgreSQL: a new one, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'kopru.db'}"
        return
    with postgres_databases() as (postgres_url,):
        yield postgres_url


@pytest.fixture
def engine(url: str) -> Iterator[sa.engine.Engine]:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def all_revisions() -> list[str]:
    """Every revision, oldest first."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    return [s.revision for s in reversed(list(scripts.walk_revisions()))]


def head() -> str:
    (only,) = migrate.heads()
    return only


def add_rasa_table(engine: sa.engine.Engine) -> None:
    """A table of Rasa's tracker store, which shares the database in production."""
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT)"))
        conn.execute(sa.text("INSERT INTO events (id, sender_id) VALUES (1, 'alice')"))


def rasa_rows(engine: sa.engine.Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT id, sender_id FROM events"))]


def assert_matches_the_tables(engine: sa.engine.Engine) -> None:
    """Autogenerate, through env.py and its filter, finds nothing to migrate."""
    with engine.begin() as conn:
        command.check(migrate.alembic_config(conn))  # raises on any difference


def kopru_tables(engine: sa.engine.Engine) -> set[str]:
    return {t for t in sa.inspect(engine).get_table_names() if is_kopru_table(t)}


def old_kopru_schema(engine: sa.engine.Engine) -> None:
    """The tables the last Köprü before the migrations made (metadata.create_all at every
    start): the baseline, by definition, without alembic_version."""
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), migrate.BASELINE)
        conn.execute(sa.text("DROP TABLE alembic_version"))


def test_a_new_database_is_brought_to_the_head(engine: sa.engine.Engine) -> None:
    add_rasa_table(engine)
    assert migrate.current(engine) is None

    assert migrate.upgrade(engine) == all_revisions()

    assert migrate.current(engine) == head()
    assert kopru_tables(engine) == set(metadata.tables)
    assert_matches_the_tables(engine)
    assert rasa_rows(engine) == [(1, "alice")]


def test_a_database_of_an_older_kopru_is_taken_over_with_its_data(
    engine: sa.engine.Engine, url: str
) -> None:
    old_kopru_schema(engine)
    add_rasa_table(engine)
    # A database last opened by an even older Köprü: it lacks a table's newer column
    # (deliveries.sender_id) and a newer table (surveys).
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE kopru_surveys"))
        conn.execute(sa.text("ALTER TABLE kopru_deliveries DROP COLUMN sender_id"))
        conn.execute(
            sa.text(
                "INSERT INTO kopru_deliveries (key, status, claimed_at, attempts) "
                "VALUES ('telegram:1:100', 'done', 5.0, 1)"
            )
        )
    assert "alembic_version" not in sa.inspect(engine).get_table_names()

    assert migrate.upgrade(url) == all_revisions()

    assert migrate.current(engine) == head()
    assert_matches_the_tables(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, status, sender_id FROM kopru_deliveries")).all()
    assert [tuple(r) for r in rows] == [("telegram:1:100", "done", None)]
    assert rasa_rows(engine) == [(1, "alice")]
    store = Store(url)
    try:
        store.create_schema()
        assert store.claim_delivery("telegram:1:100", now=6.0) == Claim.DONE
        assert store.claim_delivery("telegram:1:101", now=6.0, sender_id="1") == Claim.NEW
    finally:
        store.close()


def test_an_old_database_that_cannot_be_taken_over_is_left_as_it_was(
    engine: sa.engine.Engine, url: str
) -> None:
    old_kopru_schema(engine)
    with engine.begin() as conn:  # a NOT NULL column cannot be added to existing rows
        conn.execute(sa.text("ALTER TABLE kopru_deliveries DROP COLUMN status"))

    with pytest.raises(StoreError, match="kopru_deliveries lacks the column status"):
        migrate.upgrade(url)

    assert "alembic_version" not in sa.inspect(engine).get_table_names()
    assert migrate.current(engine) is None


def test_migrating_twice_changes_nothing(engine: sa.engine.Engine, url: str) -> None:
    migrate.upgrade(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO kopru_outbox (sender_id, message, created_at) "
                "VALUES ('alice', '{}', 1.0)"
            )
        )

    assert migrate.upgrade(url) == []
    assert migrate.upgrade(engine) == []

    assert migrate.current(url) == head()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sender_id FROM kopru_outbox")).scalars().all() == [
            "alice"
        ]


def test_down_to_nothing_and_up_again(engine: sa.engine.Engine) -> None:
    add_rasa_table(engine)
    migrate.upgrade(engine)

    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "base")

    assert migrate.current(engine) is None
    assert kopru_tables(engine) == set()
    assert rasa_rows(engine) == [(1, "alice")]

    assert migrate.upgrade(engine) == all_revisions()
    assert migrate.current(engine) == head()
    assert_matches_the_tables(engine)


def test_processes_starting_together_migrate_once(engine: sa.engine.Engine, url: str) -> None:
    starting = threading.Barrier(3)
    applied: list[list[str]] = []
    errors: list[BaseException] = []

    def start() -> None:
        starting.wait()
        try:
            applied.append(migrate.upgrade(url))  # each with an engine of its own
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sorted(applied) == [[], [], all_revisions()]
    assert migrate.current(engine) == head()
    assert_matches_the_tables(engine)


def test_kopru_migrate_prints_the_revision_before_and_after(
    engine: sa.engine.Engine,
    url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KOPRU_DATABASE_URL", url)

    assert main(["migrate"]) == 0
    out = capsys.readouterr().out
    assert "Revision before: none" in out
    assert f"Applied: {', '.join(all_revisions())}" in out
    assert f"Revision after: {head()}" in out

    assert main(["migrate", "--database", url]) == 0
    out = capsys.readouterr().out
    assert f"Revision before: {head()}" in out
    assert "Applied: nothing (already at the head)" in out
    assert f"Revision after: {head()}" in out
    assert migrate.current(engine) == head()


def test_kopru_migrate_reports_an_unreachable_database(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["migrate", "--database", "postgresql://postgres@127.0.0.1:1/none"]) == 1
    assert "kopru migrate:" in capsys.readouterr().err

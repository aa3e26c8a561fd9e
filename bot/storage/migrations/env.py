"""Alembic's environment for Köprü: runs on the connection bot.storage.migrate passes in.

There is no alembic.ini and no URL here: `config.attributes["connection"]` is an open
connection, in the transaction (and under the lock) that bot.storage.migrate holds.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bot.storage.migrations import include_name, include_object
from bot.storage.tables import metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("run Köprü's migrations through bot.storage.migrate")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_name=include_name,
        include_object=include_object,
        # SQLite alters a table by copying it: later migrations may use batch_alter_table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("Köprü's migrations run online only (kopru migrate)")
run_migrations_online()

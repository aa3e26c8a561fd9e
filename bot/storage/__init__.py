"""Storage: Köprü's tables, the store over them, and read access to Rasa's tracker rows.

tables        every Köprü table, on one MetaData (so no module imports another to register)
store         Store: conversations, turns, deliveries, the outbox, handoffs, surveys
migrate       brings a database to the newest migration (Store.create_schema, kopru migrate)
migrations    Alembic's env.py and versions/ (one revision per change of tables.py)
database_url  SQLAlchemy URL helpers (shown without passwords, SQLite files)
trackers      Rasa's SQL tracker store, read (never written) for review, export and forget
files         file_lock (between processes and threads) and atomic_write
retrying      the retry schedule (tenacity) for a restarting database, store and tracker store

May import: bot.settings, bot.errors only.
"""

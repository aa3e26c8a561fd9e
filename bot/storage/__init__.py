"""Storage: Köprü's tables, the store over them, and read access to Rasa's tracker rows.

tables        every Köprü table, on one MetaData (so no module imports another to register)
store         Store: conversations, turns, deliveries, the outbox, handoffs, surveys
database_url  SQLAlchemy URL helpers (shown without passwords, SQLite files)
trackers      Rasa's SQL tracker store, read (never written) for review, export and forget
files         file_lock (between processes and threads) and atomic_write

May import: bot.settings, bot.errors only.
"""

"""The web app's sessions as Köprü's store keeps them: sign-outs and last use (blocking I/O).

A cookie only proves who signed in and until when (bot.web.session); whether its session was
signed out, or went unused too long, is in the table `kopru_web_sessions`, so that every web
replica knows it and a restart forgets nothing. Rows are deleted once their session has
expired, when someone signs in or out.

`LocalRecords` is this process's own view (the sign-outs it made, the use it saw): what
still holds while the store cannot be reached.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.errors import StoreError
from bot.storage.store import Store
from bot.storage.tables import web_sessions

__all__ = ["LocalRecords", "SessionRecord", "SessionRecords", "still_open"]

T = TypeVar("T")
_c = web_sessions.c
_MAX_TRACKED = 10_000


@dataclass(frozen=True)
class SessionRecord:
    last_seen: float
    revoked: bool


def still_open(record: SessionRecord | None, now: float, idle: int) -> bool:
    """Whether a session with this record may be used at `now`: not signed out, and used
    less than `idle` seconds ago. One without a record (issued by a process with the same
    secret whose row was lost) counts as used now."""
    if record is None:
        return True
    return not record.revoked and now - record.last_seen < idle


class SessionRecords:
    """The rows of `kopru_web_sessions`; every method is blocking (run it in a thread)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._ready = False
        self._lock = threading.Lock()

    def _in_transaction(self, work: Callable[[Connection], T]) -> T:
        """`work` in one transaction, after the tables are made; once more if another
        replica inserted the same session at the same time (the retry finds its row)."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.store.create_schema()
                    self._ready = True
        for attempt in range(2):
            try:
                with self.store.transaction() as conn:
                    return work(conn)
            except StoreError as exc:
                if attempt or not isinstance(exc.__cause__, IntegrityError):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, session_id: str) -> SessionRecord | None:
        return self._in_transaction(lambda conn: _record(conn, session_id))

    def opened(self, session_id: str, username: str, expires: int, now: float) -> None:
        """A new session, used now; expired sessions' rows go."""

        def work(conn: Connection) -> None:
            _insert(conn, session_id, username, expires, now)
            conn.execute(web_sessions.delete().where(_c.expires_at <= now))

        self._in_transaction(work)

    def use(self, session_id: str, username: str, expires: int, now: float, idle: int) -> bool:
        """Whether the session is open (`still_open`); if it is, its use now is noted. One
        found idle is ended for good, as a sign-out would."""

        def work(conn: Connection) -> bool:
            record = _record(conn, session_id)
            if not still_open(record, now, idle):
                if record is not None and not record.revoked:
                    _revoke(conn, session_id, now)
                return False
            if record is None:
                _insert(conn, session_id, username, expires, now)
            else:
                conn.execute(
                    web_sessions.update()
                    .where(_c.id == session_id, _c.last_seen_at < now)
                    .values(last_seen_at=now)
                )
            return True

        return self._in_transaction(work)

    def revoke(self, session_id: str, username: str, expires: int, now: float) -> None:
        """Sign the session out (for good: until its row goes, after it expired)."""

        def work(conn: Connection) -> None:
            if not _revoke(conn, session_id, now):
                _insert(conn, session_id, username, expires, now, revoked=True)
            conn.execute(web_sessions.delete().where(_c.expires_at <= now))

        self._in_transaction(work)


def _record(conn: Connection, session_id: str) -> SessionRecord | None:
    row = conn.execute(sa.select(_c.last_seen_at, _c.revoked_at).where(_c.id == session_id)).first()
    if row is None:
        return None
    return SessionRecord(last_seen=row.last_seen_at, revoked=row.revoked_at is not None)


def _insert(
    conn: Connection,
    session_id: str,
    username: str,
    expires: int,
    now: float,
    *,
    revoked: bool = False,
) -> None:
    conn.execute(
        web_sessions.insert().values(
            id=session_id,
            username=username,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            revoked_at=now if revoked else None,
        )
    )


def _revoke(conn: Connection, session_id: str, now: float) -> bool:
    """Mark the session's row ended (a row ended before stays as it was); False: no row."""
    result = conn.execute(
        web_sessions.update()
        .where(_c.id == session_id, _c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if result.rowcount:
        return True
    return conn.execute(sa.select(_c.id).where(_c.id == session_id)).first() is not None


class LocalRecords:
    """This process's sign-outs and the last use it saw of each session, bounded."""

    def __init__(self, idle: int, limit: int = _MAX_TRACKED) -> None:
        self._idle = idle
        self._limit = limit
        self._revoked: dict[str, int] = {}  # session id -> its expiry
        self._last_seen: dict[str, tuple[float, int]] = {}  # session id -> (when, expiry)
        self._lock = threading.Lock()

    def revoked(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._revoked

    def seen(self, session_id: str, expires: int, now: float) -> None:
        """Note a use the store has judged (so that its own rule decides, not this one)."""
        with self._lock:
            self._note(session_id, expires, now)

    def use(self, session_id: str, expires: int, now: float) -> bool:
        """`SessionRecords.use` as this process alone can tell: not signed out here, and
        used here less than `idle` seconds ago (or not seen here yet); notes the use."""
        with self._lock:
            seen = self._last_seen.get(session_id)
            record = None if seen is None else SessionRecord(seen[0], session_id in self._revoked)
            if session_id in self._revoked or not still_open(record, now, self._idle):
                self._revoke(session_id, expires, now)
                return False
            self._note(session_id, expires, now)
            return True

    def revoke(self, session_id: str, expires: int, now: float) -> None:
        with self._lock:
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
            self._revoke(session_id, expires, now)

    def _note(self, session_id: str, expires: int, now: float) -> None:
        if session_id not in self._last_seen and len(self._last_seen) >= self._limit:
            # Make room: expired sessions go, idle ones are revoked (so they stay ended).
            for key, (when, until) in list(self._last_seen.items()):
                if until <= now:
                    del self._last_seen[key]
                elif now - when >= self._idle:
                    self._revoke(key, until, now)
        self._last_seen[session_id] = (now, expires)

    def _revoke(self, session_id: str, expires: int, now: float) -> None:
        self._last_seen.pop(session_id, None)
        if len(self._revoked) >= self._limit:
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
        if len(self._revoked) >= self._limit:
            # Far more sign-outs than an admin team makes; drop the soonest to expire.
            for key in sorted(self._revoked, key=self._revoked.__getitem__)[: self._limit // 10]:
                del self._revoked[key]
        self._revoked[session_id] = expires

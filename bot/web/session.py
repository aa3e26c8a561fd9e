"""Signed, expiring session cookies and the CSRF tokens tied to them (itsdangerous).

A session cookie is an itsdangerous `URLSafeSerializer` value of `[expires, id, username,
role, stamp]`: nothing secret in it, only proof that this process (or one with the same
KOPRU_WEB_SECRET) issued it, for whom and until when. The expiry is in the signed payload
(not itsdangerous's timestamp), so a cookie keeps the lifetime it was issued with. The stamp
ties it to the account as it was at sign-in (`Sessions.stamp`: its role and password hash,
or the admin token), so that changing or removing an account ends its sessions. Each
purpose signs with its own salt, so a signature of one kind never passes for another.

Signing out revokes the session in Köprü's store (bot.web.session_records), so its cookie
stops working on every replica and after a restart, even if it was copied before the
browser dropped it; a session unused for `idle` seconds ends too. While the store cannot be
reached (the live database is down), what this process saw itself still holds: its own
sign-outs and the idle times it measured.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadData, Signer, URLSafeSerializer

from bot.errors import StoreError
from bot.storage.store import Store
from bot.web.session_records import LocalRecords, SessionRecords

__all__ = ["IDLE_SECONDS", "Session", "SessionSigner", "Sessions"]

logger = logging.getLogger(__name__)

_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_ROLE = re.compile(r"[a-z]{1,16}")
_STAMP = re.compile(r"[A-Za-z0-9_-]{16}")
_MAX_COOKIE = 512
_MAX_NAME = 64
IDLE_SECONDS = 3600

# One salt per purpose (itsdangerous derives a key from each).
_SESSION_SALT = "kopru.web.session.v3"
_CSRF_SALT = "kopru.web.csrf"
_LOGIN_SALT = "kopru.web.login-csrf"
_ACCOUNT_SALT = "kopru.web.account-stamp"


@dataclass(frozen=True)
class Session:
    id: str
    expires: int  # unix time
    username: str
    role: str
    stamp: str  # see Sessions.stamp


def _session_of(payload: object) -> Session | None:
    """The session a signed payload describes, if it has the shape this module issues."""
    if not isinstance(payload, list) or len(payload) != 5:
        return None
    expires, session_id, username, role, stamp = payload
    if (
        type(expires) is not int
        or not isinstance(session_id, str)
        or not _ID.fullmatch(session_id)
        or not isinstance(username, str)
        or not 0 < len(username) <= _MAX_NAME
        or not isinstance(role, str)
        or not _ROLE.fullmatch(role)
        or not isinstance(stamp, str)
        or not _STAMP.fullmatch(stamp)
    ):
        return None
    return Session(session_id, expires, username, role, stamp)


class SessionSigner:
    """Issues and checks session cookie values and CSRF tokens; holds no state but the key."""

    def __init__(self, secret: bytes) -> None:
        self._cookies = URLSafeSerializer(
            secret, salt=_SESSION_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self._csrf = Signer(secret, salt=_CSRF_SALT, digest_method=hashlib.sha256)
        self._login = Signer(secret, salt=_LOGIN_SALT, digest_method=hashlib.sha256)
        self._account = Signer(secret, salt=_ACCOUNT_SALT, digest_method=hashlib.sha256)

    def issue(
        self, now: float, lifetime: int, username: str, role: str, stamp: str
    ) -> tuple[Session, str]:
        session = Session(secrets.token_urlsafe(24), int(now) + lifetime, username, role, stamp)
        payload = [session.expires, session.id, username, role, stamp]
        return session, self._cookies.dumps(payload)

    def verify(self, value: str | None, now: float) -> Session | None:
        """The session of a cookie value; None when absent, malformed, forged or expired."""
        if not value or len(value) > _MAX_COOKIE:
            return None
        try:
            payload = self._cookies.loads(value)
        except BadData:  # a bad signature, or a signed payload that is not JSON
            return None
        # Base64 ignores the spare bits of its last character, so a few altered values still
        # carry the right signature: only the value this signer issued passes.
        if not hmac.compare_digest(self._cookies.dumps(payload), value):
            return None
        session = _session_of(payload)
        if session is None or session.expires <= now:
            return None
        return session

    def stamp(self, username: str, role: str, credential: str) -> str:
        """Short proof of an account's state (`credential`: its hash, or the admin token)."""
        message = json.dumps([username, role, credential])
        return self._account.get_signature(message).decode()[:16]

    def csrf_token(self, session: Session) -> str:
        """The token the session's forms carry (a cookie alone cannot produce it)."""
        return self._csrf.get_signature(session.id).decode()

    def login_csrf_token(self, nonce: str) -> str:
        """The login form's token for the nonce in the pre-login cookie (double submit)."""
        return self._login.get_signature(nonce).decode()


class Sessions:
    """A signer plus the sessions' sign-outs and last use, kept in Köprü's `store` (and
    this process's own view of them, for when the store cannot be reached).

    `issue`, `verify` and `revoke` read and write the store: they block, so async callers
    run them in a worker thread."""

    def __init__(
        self,
        secret: bytes,
        lifetime: int,
        clock: Callable[[], float] = time.time,
        idle: int = IDLE_SECONDS,
        *,
        store: Store,
    ) -> None:
        self.signer = SessionSigner(secret)
        self.lifetime = lifetime
        self.idle = idle
        self._clock = clock
        self.records = SessionRecords(store)
        self.local = LocalRecords(idle)
        self._unreachable = False
        # Sign-outs the store missed while it could not be reached, written when it can.
        self._unsaved: dict[str, Session] = {}
        self._lock = threading.Lock()

    def issue(self, username: str, role: str, stamp: str) -> tuple[Session, str]:
        now = self._clock()
        session, value = self.signer.issue(now, self.lifetime, username, role, stamp)
        self.local.seen(session.id, session.expires, now)
        try:
            self.records.opened(session.id, username, session.expires, now)
        except StoreError as exc:
            self._store_failed(exc)
        return session, value

    def verify(self, value: str | None) -> Session | None:
        """The cookie's session if it is valid, not signed out and not idle; notes its use.

        A session the store has no row for (issued by a process with the same
        KOPRU_WEB_SECRET whose row was lost) counts as used now."""
        now = self._clock()
        session = self.signer.verify(value, now)
        if session is None or self.local.revoked(session.id):
            return None
        try:
            still = self.records.use(session.id, session.username, session.expires, now, self.idle)
        except StoreError as exc:
            self._store_failed(exc)
            return session if self.local.use(session.id, session.expires, now) else None
        self._store_works()
        if not still:
            self.local.revoke(session.id, session.expires, now)  # ended here too, for good
            return None
        self.local.seen(session.id, session.expires, now)
        return session

    def revoke(self, session: Session) -> None:
        now = self._clock()
        self.local.revoke(session.id, session.expires, now)
        try:
            self.records.revoke(session.id, session.username, session.expires, now)
        except StoreError as exc:
            self._store_failed(exc)
            with self._lock:
                self._unsaved[session.id] = session

    def _store_failed(self, exc: StoreError) -> None:
        if not self._unreachable:
            logger.warning(
                "Sessions are checked by this process alone until the store can be "
                "reached again (sign-outs elsewhere are not seen): %s",
                exc,
            )
        self._unreachable = True

    def _store_works(self) -> None:
        if self._unreachable:
            logger.info("The session store can be reached again.")
        self._unreachable = False
        if not self._unsaved:
            return
        with self._lock:
            unsaved, self._unsaved = self._unsaved, {}
        now = self._clock()
        for session in unsaved.values():
            if session.expires <= now:
                continue
            try:
                self.records.revoke(session.id, session.username, session.expires, now)
            except StoreError as exc:
                self._store_failed(exc)
                with self._lock:
                    self._unsaved[session.id] = session

    def stamp(self, username: str, role: str, credential: str) -> str:
        return self.signer.stamp(username, role, credential)

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        expected = self.signer.csrf_token(session).encode()
        return bool(token) and hmac.compare_digest(expected, (token or "").encode())

    def new_login_nonce(self) -> tuple[str, str]:
        """A nonce for the pre-login cookie and the token the login form carries."""
        nonce = secrets.token_urlsafe(24)
        return nonce, self.signer.login_csrf_token(nonce)

    def login_nonce_ok(self, nonce: str) -> bool:
        """Whether `nonce` has the shape of one this app hands out."""
        return bool(_ID.fullmatch(nonce))

    def login_csrf_ok(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token or not _ID.fullmatch(nonce):
            return False
        return hmac.compare_digest(self.signer.login_csrf_token(nonce).encode(), token.encode())

"""Signed, expiring session cookies and the CSRF tokens tied to them (stdlib HMAC-SHA256).

A session cookie is `v2.<expires>.<id>.<username, base64url>.<role>.<stamp>.<signature>`:
nothing secret in it, only proof that this process (or one with the same KOPRU_WEB_SECRET)
issued it, for whom and until when. The stamp ties it to the account as it was at sign-in
(`Sessions.stamp`: its role and password hash, or the admin token), so that changing or
removing an account ends its sessions. Each purpose signs its own message prefix, so a
signature of one kind never passes for another.

Signing out revokes the session id in this process, so its cookie stops working even if it
was copied before the browser dropped it; a session unused for `idle` seconds ends too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["IDLE_SECONDS", "Session", "SessionSigner", "Sessions"]

_VERSION = "v2"
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_ROLE = re.compile(r"[a-z]{1,16}")
_STAMP = re.compile(r"[0-9a-f]{16}")
_MAX_COOKIE = 512
_MAX_TRACKED = 10_000
IDLE_SECONDS = 3600


@dataclass(frozen=True)
class Session:
    id: str
    expires: int  # unix time
    username: str
    role: str
    stamp: str  # see Sessions.stamp


def _encode_name(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _decode_name(text: str) -> str | None:
    if not text or len(text) > 100:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, ValueError):
        return None


class SessionSigner:
    """Issues and checks session cookie values and CSRF tokens; holds no state but the key."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, purpose: str, *parts: str) -> str:
        message = "|".join((purpose, *parts)).encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def issue(
        self, now: float, lifetime: int, username: str, role: str, stamp: str
    ) -> tuple[Session, str]:
        session = Session(secrets.token_urlsafe(24), int(now) + lifetime, username, role, stamp)
        parts = (_VERSION, str(session.expires), session.id, _encode_name(username), role, stamp)
        return session, ".".join((*parts, self._sign("session", *parts)))

    def verify(self, value: str | None, now: float) -> Session | None:
        """The session of a cookie value; None when absent, malformed, forged or expired."""
        if not value or len(value) > _MAX_COOKIE:
            return None
        parts = value.split(".")
        if len(parts) != 7:
            return None
        version, expires, session_id, name, role, stamp, signature = parts
        if (
            version != _VERSION
            or not expires.isdigit()
            or not _ID.fullmatch(session_id)
            or not _ROLE.fullmatch(role)
            or not _STAMP.fullmatch(stamp)
        ):
            return None
        expected = self._sign("session", *parts[:6])
        if not hmac.compare_digest(expected, signature):
            return None
        username = _decode_name(name)
        if username is None or int(expires) <= now:
            return None
        return Session(session_id, int(expires), username, role, stamp)

    def stamp(self, username: str, role: str, credential: str) -> str:
        """Short proof of an account's state (`credential`: its hash, or the admin token)."""
        return self._sign("account", username, role, credential)[:16]

    def csrf_token(self, session: Session) -> str:
        """The token the session's forms carry (a cookie alone cannot produce it)."""
        return self._sign("csrf", session.id)

    def login_csrf_token(self, nonce: str) -> str:
        """The login form's token for the nonce in the pre-login cookie (double submit)."""
        return self._sign("login", nonce)


class Sessions:
    """A signer plus this process's sign-outs and the last use of each session."""

    def __init__(
        self,
        secret: bytes,
        lifetime: int,
        clock: Callable[[], float] = time.time,
        idle: int = IDLE_SECONDS,
    ) -> None:
        self.signer = SessionSigner(secret)
        self.lifetime = lifetime
        self.idle = idle
        self._clock = clock
        self._revoked: dict[str, int] = {}  # session id -> its expiry
        self._last_seen: dict[str, tuple[float, int]] = {}  # session id -> (when, expiry)
        self._lock = threading.Lock()

    def issue(self, username: str, role: str, stamp: str) -> tuple[Session, str]:
        session, value = self.signer.issue(self._clock(), self.lifetime, username, role, stamp)
        with self._lock:
            self._last_seen[session.id] = (self._clock(), session.expires)
        return session, value

    def verify(self, value: str | None) -> Session | None:
        """The cookie's session if it is valid, not signed out and not idle; notes its use.

        A session this process has not seen (issued before a restart with the same
        KOPRU_WEB_SECRET) counts as used now."""
        now = self._clock()
        session = self.signer.verify(value, now)
        if session is None:
            return None
        with self._lock:
            if session.id in self._revoked:
                return None
            seen = self._last_seen.get(session.id)
            if seen is not None and now - seen[0] >= self.idle:
                self._revoke(session.id, session.expires, now)
                return None
            if seen is None and len(self._last_seen) >= _MAX_TRACKED:
                self._forget_idle(now)
            self._last_seen[session.id] = (now, session.expires)
        return session

    def revoke(self, session: Session) -> None:
        now = self._clock()
        with self._lock:
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
            self._revoke(session.id, session.expires, now)

    def _revoke(self, session_id: str, expires: int, now: float) -> None:
        self._last_seen.pop(session_id, None)
        if len(self._revoked) >= _MAX_TRACKED:
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
        if len(self._revoked) >= _MAX_TRACKED:
            # Far more sign-outs than an admin team makes; drop the soonest to expire.
            for key in sorted(self._revoked, key=self._revoked.__getitem__)[:1000]:
                del self._revoked[key]
        self._revoked[session_id] = expires

    def _forget_idle(self, now: float) -> None:
        """Make room: idle or expired sessions are revoked (so they stay ended)."""
        for session_id, (seen, expires) in list(self._last_seen.items()):
            if expires <= now:
                del self._last_seen[session_id]
            elif now - seen >= self.idle:
                self._revoke(session_id, expires, now)

    def stamp(self, username: str, role: str, credential: str) -> str:
        return self.signer.stamp(username, role, credential)

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.signer.csrf_token(session), token or "")

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
        return hmac.compare_digest(self.signer.login_csrf_token(nonce), token)

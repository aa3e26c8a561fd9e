"""Signed, expiring session cookies and the CSRF tokens tied to them (stdlib HMAC-SHA256).

A session cookie is `v1.<expires>.<id>.<signature>`: nothing secret in it, only proof that
this process (or one with the same KOPRU_WEB_SECRET) issued it and until when it is valid.
Each purpose signs its own message prefix, so a signature of one kind never passes for
another. Signing out revokes the session id in this process, so its cookie stops working
even if it was copied before the browser dropped it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Session", "SessionSigner", "Sessions"]

_VERSION = "v1"
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_MAX_REVOKED = 10_000


@dataclass(frozen=True)
class Session:
    id: str
    expires: int  # unix time


class SessionSigner:
    """Issues and checks session cookie values and CSRF tokens; holds no state but the key."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, purpose: str, *parts: str) -> str:
        message = "|".join((purpose, *parts)).encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def issue(self, now: float, lifetime: int) -> tuple[Session, str]:
        session = Session(secrets.token_urlsafe(24), int(now) + lifetime)
        expires = str(session.expires)
        signature = self._sign("session", _VERSION, expires, session.id)
        return session, f"{_VERSION}.{expires}.{session.id}.{signature}"

    def verify(self, value: str | None, now: float) -> Session | None:
        """The session of a cookie value; None when absent, malformed, forged or expired."""
        if not value or len(value) > 256:
            return None
        parts = value.split(".")
        if len(parts) != 4:
            return None
        version, expires, session_id, signature = parts
        if version != _VERSION or not expires.isdigit() or not _ID.fullmatch(session_id):
            return None
        expected = self._sign("session", version, expires, session_id)
        if not hmac.compare_digest(expected, signature):
            return None
        if int(expires) <= now:
            return None
        return Session(session_id, int(expires))

    def csrf_token(self, session: Session) -> str:
        """The token the session's forms carry (a cookie alone cannot produce it)."""
        return self._sign("csrf", session.id)

    def login_csrf_token(self, nonce: str) -> str:
        """The login form's token for the nonce in the pre-login cookie (double submit)."""
        return self._sign("login", nonce)


class Sessions:
    """A signer plus this process's sign-outs."""

    def __init__(
        self, secret: bytes, lifetime: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.signer = SessionSigner(secret)
        self.lifetime = lifetime
        self._clock = clock
        self._revoked: dict[str, int] = {}  # session id -> its expiry
        self._lock = threading.Lock()

    def issue(self) -> tuple[Session, str]:
        return self.signer.issue(self._clock(), self.lifetime)

    def verify(self, value: str | None) -> Session | None:
        session = self.signer.verify(value, self._clock())
        if session is None:
            return None
        with self._lock:
            if session.id in self._revoked:
                return None
        return session

    def revoke(self, session: Session) -> None:
        now = self._clock()
        with self._lock:
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
            if len(self._revoked) >= _MAX_REVOKED:
                # Far more sign-outs than an admin team makes; drop the soonest to expire.
                for key in sorted(self._revoked, key=self._revoked.__getitem__)[:1000]:
                    del self._revoked[key]
            self._revoked[session.id] = session.expires

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.signer.csrf_token(session), token or "")

    def new_login_nonce(self) -> tuple[str, str]:
        """A nonce for the pre-login cookie and the token the login form carries."""
        nonce = secrets.token_urlsafe(24)
        return nonce, self.signer.login_csrf_token(nonce)

    def login_csrf_ok(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token or not _ID.fullmatch(nonce):
            return False
        return hmac.compare_digest(self.signer.login_csrf_token(nonce), token)

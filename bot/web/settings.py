"""What the web app needs to know: its databases, accounts, admin token and cookie secret."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConfigError
from bot.settings import Settings
from bot.web.accounts import admins_file_from_env
from bot.web.session import IDLE_SECONDS

__all__ = ["WebSettings"]

SESSION_SECONDS = 8 * 3600
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class WebSettings:
    database_url: str  # the live store
    demo_database_url: str  # offered as "Demo data" when it exists (kopru demo-data)
    admin_token: str = field(repr=False)
    cookie_secret: bytes = field(repr=False)
    # The zone in which the dashboard's dates are whole days.
    timezone: dt.tzinfo = dt.timezone.utc
    admin_token_generated: bool = False  # the token was made up here: print it
    # The accounts file (bot.web.accounts); None: only the admin token signs in.
    admins_file: Path | None = None
    session_seconds: int = SESSION_SECONDS
    idle_seconds: int = IDLE_SECONDS  # a session unused this long ends
    # Send cookies with Secure (only when the app is served over HTTPS, e.g. behind a proxy).
    secure_cookies: bool = False
    report_cache_seconds: float = 60.0
    report_cache_entries: int = 32

    def __post_init__(self) -> None:
        if not self.admin_token:
            raise ConfigError("the admin token must not be empty")
        if len(self.cookie_secret) < MIN_SECRET_LENGTH:
            raise ConfigError(f"the cookie secret must be {MIN_SECRET_LENGTH} bytes or longer")
        if self.session_seconds <= 0 or self.idle_seconds <= 0:
            raise ConfigError("session lifetimes must be positive")

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        database_url: str | None = None,
        demo_database_url: str | None = None,
    ) -> WebSettings:
        """From KOPRU_ADMIN_TOKEN (else KOPRU_API_TOKEN; else a generated token),
        KOPRU_ADMINS_FILE (else admins.yml in the var directory), KOPRU_WEB_SECRET (else
        random per process), KOPRU_WEB_SECURE_COOKIES and the store settings of
        `bot.settings.Settings`; explicit URLs win over the environment."""
        env = os.environ if env is None else env
        base = Settings.from_env(env)
        token = env.get("KOPRU_ADMIN_TOKEN") or env.get("KOPRU_API_TOKEN") or ""
        secret = env.get("KOPRU_WEB_SECRET") or ""
        if secret and len(secret.encode()) < MIN_SECRET_LENGTH:
            raise ConfigError(f"KOPRU_WEB_SECRET must be {MIN_SECRET_LENGTH} characters or longer")
        secure = (env.get("KOPRU_WEB_SECURE_COOKIES") or "").strip().lower()
        if secure not in ("", "0", "1", "false", "true", "no", "yes"):
            raise ConfigError(f"KOPRU_WEB_SECURE_COOKIES must be true or false, got {secure!r}")
        return cls(
            database_url=database_url or base.database_url,
            demo_database_url=demo_database_url or f"sqlite:///{base.var_dir / 'demo.db'}",
            admin_token=token or secrets.token_urlsafe(24),
            cookie_secret=secret.encode() if secret else secrets.token_bytes(32),
            admin_token_generated=not token,
            admins_file=admins_file_from_env(env),
            secure_cookies=secure in ("1", "true", "yes"),
        )

"""What the web app needs to know: its databases, accounts, admin token and cookie secret,
and for the admin pages the project, its models, the Rasa server and its tracker store."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConfigError
from bot.settings import PROJECT_ROOT, Settings
from bot.web.accounts import admins_file_from_env
from bot.web.session import IDLE_SECONDS

__all__ = ["WebSettings"]

SESSION_SECONDS = 8 * 3600
MIN_SECRET_LENGTH = 16
DEFAULT_RASA_URL = "http://127.0.0.1:5005"
REVIEW_DAYS = 7
REVIEW_LIMIT = 200


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
    # How many proxies (an ingress, nginx) stand in front of the app and append to
    # X-Forwarded-For: the client's address is then taken from there (Sanic's PROXIES_COUNT),
    # for the sign-in throttle and the log. 0: the socket's peer is the client.
    proxies_count: int = 0
    report_cache_seconds: float = 60.0
    report_cache_entries: int = 32
    # The admin pages. The project whose data/ and domain.yml they edit and train:
    project_root: Path = PROJECT_ROOT
    models_dir: Path | None = None  # None: project_root / "models" (see `models_path`)
    # The running Rasa server's HTTP API (`rasa run --enable-api --auth-token`), to switch
    # models; `kopru run` passes both.
    rasa_url: str = DEFAULT_RASA_URL
    rasa_token: str = field(default="", repr=False)
    # Rasa's SQL tracker store, read by the review page; None: from endpoints.yml.
    tracker_db_url: str | None = field(default=None, repr=False)
    review_days: int = REVIEW_DAYS  # the review page's default period
    review_limit: int = REVIEW_LIMIT  # at most this many items per list

    def __post_init__(self) -> None:
        if not self.admin_token:
            raise ConfigError("the admin token must not be empty")
        if len(self.cookie_secret) < MIN_SECRET_LENGTH:
            raise ConfigError(f"the cookie secret must be {MIN_SECRET_LENGTH} bytes or longer")
        if self.session_seconds <= 0 or self.idle_seconds <= 0:
            raise ConfigError("session lifetimes must be positive")
        if self.review_days <= 0 or self.review_limit <= 0:
            raise ConfigError("the review period and limit must be positive")
        if self.proxies_count < 0:
            raise ConfigError("the number of proxies must not be negative")
        for url in self.rasa_urls():
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"the Rasa server's URL must be http(s)://..., got {url!r}")

    def rasa_urls(self) -> list[str]:
        """The Rasa servers the admin pages switch: one, or every replica."""
        return [url.strip().rstrip("/") for url in self.rasa_url.split(",") if url.strip()]

    def models_path(self) -> Path:
        """Where the trained models are (KOPRU_MODELS_DIR, else the project's models/)."""
        return self.models_dir or self.project_root / "models"

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
        random per process), KOPRU_WEB_SECURE_COOKIES, KOPRU_WEB_PROXIES_COUNT (else 0) and
        the store settings of `bot.settings.Settings`; explicit URLs win over the environment.

        The admin pages: KOPRU_RASA_URL (else http://127.0.0.1:5005; the replicas'
        URLs separated by commas in the scaled mode) and KOPRU_API_TOKEN
        (the Rasa server's HTTP API), KOPRU_MODELS_DIR (else models/ of the project) and
        KOPRU_TRACKER_DB_URL (else the SQL tracker store of the project's endpoints.yml);
        KOPRU_PROJECT_ROOT, the project whose data the admin pages edit (else this one)."""
        env = os.environ if env is None else env
        base = Settings.from_env(env)
        token = env.get("KOPRU_ADMIN_TOKEN") or env.get("KOPRU_API_TOKEN") or ""
        secret = env.get("KOPRU_WEB_SECRET") or ""
        if secret and len(secret.encode()) < MIN_SECRET_LENGTH:
            raise ConfigError(f"KOPRU_WEB_SECRET must be {MIN_SECRET_LENGTH} characters or longer")
        secure = (env.get("KOPRU_WEB_SECURE_COOKIES") or "").strip().lower()
        if secure not in ("", "0", "1", "false", "true", "no", "yes"):
            raise ConfigError(f"KOPRU_WEB_SECURE_COOKIES must be true or false, got {secure!r}")
        proxies = (env.get("KOPRU_WEB_PROXIES_COUNT") or "0").strip()
        if not proxies.isascii() or not proxies.isdigit() or len(proxies) > 2:
            raise ConfigError(f"KOPRU_WEB_PROXIES_COUNT must be 0 or more, got {proxies!r}")
        return cls(
            database_url=database_url or base.database_url,
            demo_database_url=demo_database_url or f"sqlite:///{base.var_dir / 'demo.db'}",
            admin_token=token or secrets.token_urlsafe(24),
            cookie_secret=secret.encode() if secret else secrets.token_bytes(32),
            admin_token_generated=not token,
            admins_file=admins_file_from_env(env),
            secure_cookies=secure in ("1", "true", "yes"),
            proxies_count=int(proxies),
            # The admin pages edit this project's data/ and domain.yml (tests: a copy).
            project_root=Path(env.get("KOPRU_PROJECT_ROOT") or PROJECT_ROOT),
            models_dir=Path(env["KOPRU_MODELS_DIR"]) if env.get("KOPRU_MODELS_DIR") else None,
            # Several replicas: comma-separated, switched to a new model one after the other.
            rasa_url=(env.get("KOPRU_RASA_URL") or DEFAULT_RASA_URL).rstrip("/"),
            rasa_token=env.get("KOPRU_API_TOKEN") or "",
            tracker_db_url=env.get("KOPRU_TRACKER_DB_URL") or None,
        )

"""create_app: the Sanic app with its route modules, /health, /static and security headers.

Route modules (auth, dashboard, and the admin pages: bot.web.admin) each have `register(app)`;
everything but /health, /login, /logout and /static/ needs a sign-in (bot.web.auth.gate),
and changes go through bot.web.auth's guard (admin role and CSRF token).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sanic import Request, Sanic
from sanic.config import Config
from sanic.exceptions import SanicException
from sanic.response import BaseHTTPResponse, HTTPResponse, json, raw

from bot.serving.http_guard import guard
from bot.storage.store import Store
from bot.web import admin, auth, dashboard
from bot.web.accounts import AccountStore, LoginThrottle
from bot.web.context import WebContext
from bot.web.data import DataSources, ReportCache
from bot.web.responses import page_response, redirect, text
from bot.web.session import Sessions
from bot.web.settings import WebSettings
from bot.web.templates import render

__all__ = ["SECURITY_HEADERS", "create_app"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
STATIC_SECONDS = 300
MAX_REQUEST_BYTES = 64 * 1024  # forms only
ERROR_MESSAGES = {
    404: "There is no such page.",
    405: "That method is not allowed here.",
    413: "The request is too large.",
}

# No script anywhere, and nothing from another origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _static_files(directory: Path) -> dict[str, tuple[bytes, str]]:
    """The files served under /static/ (read once: a fixed set, no paths from requests)."""
    return {
        path.name: (path.read_bytes(), STATIC_TYPES[path.suffix])
        for path in sorted(directory.iterdir())
        if path.is_file() and path.suffix in STATIC_TYPES
    }


async def health(_request: Request) -> HTTPResponse:
    return json({"status": "ok"})


async def home(_request: Request) -> HTTPResponse:
    return redirect("/dashboard")


async def add_security_headers(_request: Request, response: BaseHTTPResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def on_error(request: Request, exception: BaseException) -> HTTPResponse:
    """Errors as a short page (or text for images): never a traceback."""
    if isinstance(exception, SanicException):
        status = int(getattr(exception, "status_code", 500) or 500)
        message = ERROR_MESSAGES.get(status, "The request cannot be served.")
    else:
        path = getattr(request, "path", "?")
        logger.error("Unexpected error on %s", path, exc_info=exception)
        status, message = 500, "Something went wrong; the server log has the details."
    if request is None or str(getattr(request, "path", "")).startswith(
        auth.UNAUTHENTICATED_401_PREFIXES
    ):
        return text(message + "\n", status)
    body = render(
        "message.html", message=message, link="/dashboard", link_text="Back to the dashboard"
    )
    return page_response(auth.signed_in_page(request, f"Error {status}", body), status)


def create_app(
    settings: WebSettings,
    *,
    configure_logging: bool = False,
    clock: Callable[[], float] = time.time,
) -> Sanic:
    """A new app for `settings` (nothing happens until it is served); reads the accounts
    file now (ConfigError when it is invalid). `clock` is for tests."""
    config = Config()
    config.REGISTER = False  # several apps may live in one process (tests)
    config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES
    config.ACCESS_LOG = False
    if settings.proxies_count:  # trust that many proxies' X-Forwarded-For (auth.client_address)
        config.PROXIES_COUNT = settings.proxies_count
    app = Sanic("kopru_web", config=config, configure_logging=configure_logging)
    guard(app)  # a malformed Content-Length is refused before any body is read

    accounts = AccountStore(settings.admins_file)  # first: a broken file stops the start
    sources = DataSources(settings.database_url, settings.demo_database_url)
    # Sign-outs and last use of sessions, in the live store (opened on first use).
    session_store = Store(settings.database_url)
    app.ctx.web = WebContext(
        settings=settings,
        sessions=Sessions(
            settings.cookie_secret,
            settings.session_seconds,
            clock,
            settings.idle_seconds,
            store=session_store,
        ),
        sources=sources,
        reports=ReportCache(
            sources.report,
            ttl=settings.report_cache_seconds,
            size=settings.report_cache_entries,
        ),
        accounts=accounts,
        throttle=LoginThrottle(clock=clock),
    )
    statics = _static_files(STATIC_DIR)

    async def static(_request: Request, name: str) -> HTTPResponse:
        found = statics.get(name)
        if found is None:
            return text("Not found.\n", 404)
        response = raw(found[0], content_type=found[1])
        response.headers["Cache-Control"] = f"public, max-age={STATIC_SECONDS}"
        return response

    async def close_stores(_app: Any, _loop: Any) -> None:
        sources.close()
        session_store.close()

    auth.register(app)
    dashboard.register(app)
    admin.register(app)
    app.add_route(health, "/health", methods=["GET"], name="health")
    app.add_route(home, "/", methods=["GET"], name="home")
    app.add_route(static, "/static/<name>", methods=["GET"], name="static")
    app.register_middleware(add_security_headers, "response")
    app.error_handler.add(Exception, on_error)
    app.register_listener(close_stores, "after_server_stop")
    return app

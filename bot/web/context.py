"""The app's shared state (settings, sessions, accounts, data), kept on `app.ctx.web`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.web.accounts import AccountStore, LoginThrottle
from bot.web.data import DataSources, ReportCache
from bot.web.session import Session, Sessions
from bot.web.settings import WebSettings

if TYPE_CHECKING:
    from sanic import Request

__all__ = ["WebContext", "session_of", "web_of"]


@dataclass(frozen=True)
class WebContext:
    settings: WebSettings
    sessions: Sessions
    sources: DataSources
    reports: ReportCache
    accounts: AccountStore
    throttle: LoginThrottle


def web_of(request: Request) -> WebContext:
    web = request.app.ctx.web
    assert isinstance(web, WebContext)
    return web


def session_of(request: Request) -> Session | None:
    """The signed-in session (set by the sign-in gate), None when signed out."""
    session = getattr(request.ctx, "session", None)
    return session if isinstance(session, Session) else None

"""Signing in and out, the gate in front of every other page, and the guard of every change.

Sign in with an account of the accounts file (bot.web.accounts: username, password, role
admin or viewer), or, to bootstrap a fresh install, with the username empty and the admin
token (KOPRU_ADMIN_TOKEN, else KOPRU_API_TOKEN; `kopru run` passes its HTTP API token) as
the password: that is the built-in account "admin" with the role admin. A wrong username and
a wrong password get the same answer; five failures for a username or an address within five
minutes block it for a minute (429). Each attempt is counted before its password is checked,
so attempts sent at once cannot race past the count. An address is counted apart for the
accounts and for the admin token: guesses at an account do not lock out the built-in admin,
nor the other way round. The address is the client's: behind a proxy, from the headers
Sanic's proxy settings trust (KOPRU_WEB_PROXIES_COUNT), else the socket's peer.

The gate is request middleware, so a page added later is protected without doing anything:
only /health, /login, /logout and /static/ are public. Signed out, pages redirect to the
login form; image routes and every change (POST, PUT, PATCH, DELETE) answer 401. It also
ends sessions whose account was removed or changed since sign-in.

Routes that change something use the guard (`admin_changes`, or `require_change` inside a
handler): a session (401), the admin role (403 for a viewer) and the session's CSRF token in
the form field `csrf` or the header X-CSRF-Token (403). Page handlers build their page with
`signed_in_page` (who is signed in, and the sign-out button) and put `csrf_token(request)`
into their forms.

CSRF: the login form carries an HMAC of a nonce kept in a pre-login cookie (double submit);
the forms of a session carry an HMAC of its id (`Sessions.csrf_ok`). All cookies are HttpOnly
and SameSite=Strict.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec
from urllib.parse import quote

from markupsafe import Markup
from sanic import Request
from sanic.response import HTTPResponse

from bot.errors import KopruError
from bot.web.accounts import ADMIN, DUMMY_HASH, MAX_PASSWORD, ROLES, verify_password
from bot.web.context import WebContext, session_of, web_of
from bot.web.html import Html, page
from bot.web.responses import clear_cookie, page_response, redirect, set_cookie, text
from bot.web.session import Session
from bot.web.templates import render as render_template

__all__ = [
    "BUILTIN_ADMIN",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "UNAUTHENTICATED_401_PREFIXES",
    "SignInRefused",
    "admin_changes",
    "check_csrf",
    "client_address",
    "csrf_token",
    "gate",
    "register",
    "require_change",
    "require_role",
    "require_session",
    "safe_next",
    "signed_in_page",
    "throttle_keys",
]

logger = logging.getLogger(__name__)

SESSION_COOKIE = "kopru_session"
LOGIN_COOKIE = "kopru_login"
LOGIN_COOKIE_SECONDS = 3600
HOME = "/dashboard"
BUILTIN_ADMIN = "admin"  # who signs in with the admin token
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_RANK = {role: rank for rank, role in enumerate(reversed(ROLES))}  # viewer 0, admin 1

PUBLIC_PATHS = frozenset({"/health", "/login", "/logout"})
PUBLIC_PREFIXES = ("/static/",)
# Signed out, these answer 401 instead of redirecting (images, later JSON).
UNAUTHENTICATED_401_PREFIXES = ("/dashboard/charts/",)

BAD_SIGN_IN = "The username or password is not right."
THROTTLED = "Too many failed sign-ins. Please wait a minute, then try again."
EXPIRED_FORM = "This sign-in form has expired. Please try again."
SIGN_IN_FIRST = "Please sign in first."
EXPIRED_CHANGE = "This form has expired. Reload the page and try again."
VIEWERS_ONLY_LOOK = "Your role ({role}) may look but not change anything."


class SignInRefused(KopruError):
    """Raised by the guards: answered with `status` and `message` (by `on_refused`), or with
    the login form when `sign_in` is set (a page that needs a session)."""

    def __init__(self, status: int, message: str, *, sign_in: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.sign_in = sign_in


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a path of this site, else the dashboard."""
    if (
        not raw
        or len(raw) > 2000
        or not raw.startswith("/")
        or raw.startswith("//")
        or "\\" in raw
        or any(ord(c) < 32 or ord(c) == 127 for c in raw)
        or raw.split("?", 1)[0] in ("/login", "/logout")
    ):
        return HOME
    return raw


def _login_url(request: Request) -> str:
    wanted = request.path + (f"?{request.query_string}" if request.query_string else "")
    return f"/login?next={quote(safe_next(wanted), safe='')}"


# --- the guards (for route handlers) ---------------------------------------------------------


def require_session(request: Request) -> Session:
    """The signed-in session; else SignInRefused: the login form for GET pages, 401 for changes."""
    session = session_of(request)
    if session is None:
        raise SignInRefused(401, SIGN_IN_FIRST, sign_in=request.method in SAFE_METHODS)
    return session


def require_role(request: Request, role: str = ADMIN) -> Session:
    """The session, if its role is `role` or above (admin > viewer); else SignInRefused 401/403."""
    session = require_session(request)
    if _RANK.get(session.role, -1) < _RANK[role]:
        raise SignInRefused(403, VIEWERS_ONLY_LOOK.format(role=session.role))
    return session


def csrf_token(request: Request) -> str:
    """The token for the forms of the signed-in session (the hidden field `csrf`)."""
    return web_of(request).sessions.signer.csrf_token(require_session(request))


def check_csrf(request: Request) -> None:
    """SignInRefused 403 unless the request carries its session's CSRF token (field or header)."""
    session = session_of(request)
    token = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if session is None or not web_of(request).sessions.csrf_ok(session, token):
        raise SignInRefused(403, EXPIRED_CHANGE)


def require_change(request: Request, role: str = ADMIN) -> Session:
    """What every change must pass: a session (401), the role (403), the CSRF token (403)."""
    session = require_role(request, role)
    check_csrf(request)
    return session


P = ParamSpec("P")
Handler = Callable[Concatenate[Request, P], Awaitable[HTTPResponse]]


def admin_changes(handler: Handler[P]) -> Handler[P]:
    """Decorate a route handler: GET/HEAD need a session; any other method is a change and
    needs an admin session and the CSRF token (`require_change`)."""

    @functools.wraps(handler)
    async def guarded(request: Request, /, *args: P.args, **kwargs: P.kwargs) -> HTTPResponse:
        if request.method in SAFE_METHODS:
            require_session(request)
        else:
            require_change(request, ADMIN)
        return await handler(request, *args, **kwargs)

    return guarded


def signed_in_page(
    request: Request, title: str, main: Html | Markup, *, refresh: int | None = None
) -> Html:
    """`html.page` with who is signed in, the sign-out button and the bar of sections (when
    someone is); `refresh`: reload after so many seconds."""
    session = session_of(request)
    if session is None:
        return page(title, main, refresh=refresh)
    return page(
        title,
        main,
        signout_csrf=web_of(request).sessions.signer.csrf_token(session),
        user=(session.username, session.role),
        current=str(getattr(request, "path", "")) or None,
        refresh=refresh,
    )


def on_refused(request: Request, exception: SignInRefused) -> HTTPResponse:
    if exception.sign_in:
        return redirect(_login_url(request))
    if str(getattr(request, "path", "")).startswith(UNAUTHENTICATED_401_PREFIXES):
        return text(exception.message + "\n", exception.status)
    link, link_text = (
        (_login_url(request), "Sign in")
        if exception.status == 401
        else ("/dashboard", "Back to the dashboard")
    )
    body = render_template(
        "message.html", message=exception.message, link=link, link_text=link_text
    )
    title = "Sign in first" if exception.status == 401 else "Not allowed"
    return page_response(signed_in_page(request, title, body), exception.status)


# --- accounts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Principal:
    username: str
    role: str
    stamp: str


def _builtin_stamp(web: WebContext) -> str:
    return web.sessions.stamp(BUILTIN_ADMIN, ADMIN, "token:" + web.settings.admin_token)


def _account_stamp(web: WebContext, username: str) -> str | None:
    account = web.accounts.get(username)
    if account is None:
        return None
    return web.sessions.stamp(account.username, account.role, "password:" + account.password)


def _still_valid(web: WebContext, session: Session) -> bool:
    """Whether the session's account is as it was at sign-in (not removed, same role and
    password; for the built-in admin, the same token)."""
    if session.username == BUILTIN_ADMIN and hmac.compare_digest(
        session.stamp, _builtin_stamp(web)
    ):
        return True
    stamp = _account_stamp(web, session.username)
    return stamp is not None and hmac.compare_digest(session.stamp, stamp)


async def _authenticate(web: WebContext, username: str, password: str) -> _Principal | None:
    if len(password) > MAX_PASSWORD or len(username) > 64:
        return None
    if not username:  # the bootstrap: the admin token
        if hmac.compare_digest(password.encode(), web.settings.admin_token.encode()):
            return _Principal(BUILTIN_ADMIN, ADMIN, _builtin_stamp(web))
        return None
    account = web.accounts.get(username)
    # An unknown name costs as much as a known one: the answer does not tell them apart.
    encoded = account.password if account is not None else DUMMY_HASH
    loop = asyncio.get_running_loop()
    matches = await loop.run_in_executor(None, verify_password, password, encoded)
    if account is None or not matches:
        return None
    stamp = web.sessions.stamp(account.username, account.role, "password:" + account.password)
    return _Principal(account.username, account.role, stamp)


def client_address(request: Request) -> str:
    """The client's address: the one the proxy headers name when the app is told to trust
    them (Sanic's PROXIES_COUNT, REAL_IP_HEADER or FORWARDED_SECRET), else the socket's peer."""
    return request.remote_addr or request.ip or "?"


def throttle_keys(username: str, address: str) -> tuple[str, str]:
    """The throttle's keys of a sign-in: the username (its failures lock that account from
    everywhere) and the address, counted apart for the accounts and for the admin token (the
    empty username) so that neither locks the other out."""
    scope = "address" if username else "token-address"
    return (f"user:{username}", f"{scope}:{address}")


# --- the routes ------------------------------------------------------------------------------


def _login_page(next_path: str, csrf: str, username: str, error: str | None) -> Html:
    form = render_template(
        "login.html", csrf=csrf, next_path=next_path, username=username, error=error
    )
    return page("Sign in", form)


def _login_response(
    request: Request, next_path: str, error: str | None, status: int, username: str = ""
) -> HTTPResponse:
    web = web_of(request)
    # Keep the nonce of a login form already open: a browser fetching /favicon.ico (sent
    # here while signed out) must not invalidate the form it is showing.
    nonce = request.cookies.get(LOGIN_COOKIE)
    if nonce and web.sessions.login_nonce_ok(nonce):
        csrf = web.sessions.signer.login_csrf_token(nonce)
    else:
        nonce, csrf = web.sessions.new_login_nonce()
    response = page_response(_login_page(next_path, csrf, username, error), status)
    secure = web.settings.secure_cookies
    set_cookie(
        response, LOGIN_COOKIE, nonce, max_age=LOGIN_COOKIE_SECONDS, path="/login", secure=secure
    )
    return response


async def login_form(request: Request) -> HTTPResponse:
    next_path = safe_next(request.args.get("next"))
    if session_of(request) is not None:
        return redirect(next_path)
    return _login_response(request, next_path, None, 200)


async def login(request: Request) -> HTTPResponse:
    web = web_of(request)
    form = request.form
    next_path = safe_next(form.get("next"))
    username = (form.get("username") or "").strip().lower()[:64]
    if not web.sessions.login_csrf_ok(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        return _login_response(request, next_path, EXPIRED_FORM, 403, username)
    address = client_address(request)
    keys = throttle_keys(username, address)
    wait = web.throttle.reserve(keys)  # counted now, before the (slow) password check
    if wait > 0:
        response = _login_response(request, next_path, THROTTLED, 429, username)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    principal: _Principal | None = None
    try:
        principal = await _authenticate(web, username, form.get("password") or "")
    finally:  # also when the client goes away: the attempt still counts
        web.throttle.settle(keys, failed=principal is None, forgive=keys[:1])
    if principal is None:
        logger.warning("Failed sign-in as %r from %r", username, address)
        return _login_response(request, next_path, BAD_SIGN_IN, 401, username)
    logger.info("%s signed in (%s) from %r", principal.username, principal.role, address)
    # The session store blocks (bot.web.session_records): in a worker thread.
    _session, value = await asyncio.to_thread(
        web.sessions.issue, principal.username, principal.role, principal.stamp
    )
    response = redirect(next_path)
    secure = web.settings.secure_cookies
    set_cookie(response, SESSION_COOKIE, value, max_age=web.sessions.lifetime, secure=secure)
    clear_cookie(response, LOGIN_COOKIE, path="/login", secure=secure)
    return response


async def logout(request: Request) -> HTTPResponse:
    web = web_of(request)
    secure = web.settings.secure_cookies
    session = session_of(request)
    if session is None:  # signed out already (expired, idle, or another tab)
        response = redirect("/login")
        clear_cookie(response, SESSION_COOKIE, secure=secure)
        return response
    if not web.sessions.csrf_ok(session, request.form.get(CSRF_FIELD)):
        return page_response(page("Sign out", render_template("signout_expired.html")), 403)
    await asyncio.to_thread(web.sessions.revoke, session)
    response = redirect("/login")
    clear_cookie(response, SESSION_COOKIE, secure=secure)
    return response


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


async def gate(request: Request) -> HTTPResponse | None:
    """Request middleware: note the session; turn away the signed-out from private paths."""
    web = web_of(request)
    session = await asyncio.to_thread(web.sessions.verify, request.cookies.get(SESSION_COOKIE))
    if session is not None and not _still_valid(web, session):
        session = None
    request.ctx.session = session
    if session is not None or _public(request.path):
        return None
    if request.path.startswith(UNAUTHENTICATED_401_PREFIXES):
        return text("Sign in first.\n", 401)
    if request.method not in SAFE_METHODS:
        return on_refused(request, SignInRefused(401, SIGN_IN_FIRST))
    return redirect(_login_url(request))


def register(app: Any) -> None:
    app.register_middleware(gate, "request")
    app.error_handler.add(SignInRefused, on_refused)
    app.add_route(login_form, "/login", methods=["GET"], name="login_form")
    app.add_route(login, "/login", methods=["POST"], name="login")
    app.add_route(logout, "/logout", methods=["POST"], name="logout")

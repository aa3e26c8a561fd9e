"""Signing in with the admin token, signing out, and the gate in front of every other page.

The gate is request middleware, so a page added later is protected without doing anything:
only /health, /login and /static/ are public. Signed out, pages redirect to the login form
and image/API routes answer 401.

CSRF: the login form carries an HMAC of a nonce kept in a pre-login cookie (double submit);
the forms of a session carry an HMAC of its id (`Sessions.csrf_ok`). All cookies are HttpOnly
and SameSite=Strict.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote

from sanic.response import HTTPResponse

from bot.web.context import session_of, web_of
from bot.web.html import Html, page, render
from bot.web.responses import clear_cookie, page_response, redirect, set_cookie, text

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "UNAUTHENTICATED_401_PREFIXES",
    "gate",
    "register",
    "safe_next",
]

SESSION_COOKIE = "kopru_session"
LOGIN_COOKIE = "kopru_login"
LOGIN_COOKIE_SECONDS = 3600
HOME = "/dashboard"

PUBLIC_PATHS = frozenset({"/health", "/login"})
PUBLIC_PREFIXES = ("/static/",)
# Signed out, these answer 401 instead of redirecting (images, later JSON).
UNAUTHENTICATED_401_PREFIXES = ("/dashboard/charts/",)

WRONG_TOKEN = "That token is not valid."  # noqa: S105 - a message
EXPIRED_FORM = "This sign-in form has expired. Please try again."


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


def _login_page(next_path: str, csrf: str, error: str | None) -> Html:
    message = render('<p class="error" role="alert">{}</p>', error) if error else Html("")
    form = render(
        '<section class="login"><h2>Sign in</h2>{message}'
        '<form method="post" action="/login">'
        '<input type="hidden" name="csrf" value="{csrf}">'
        '<input type="hidden" name="next" value="{next}">'
        '<label for="token">Admin token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        "required autofocus>"
        '<button type="submit">Sign in</button></form>'
        '<p class="hint">The token is KOPRU_ADMIN_TOKEN (or KOPRU_API_TOKEN), or the one '
        "<code>kopru web</code> printed at start.</p></section>",
        message=message,
        csrf=csrf,
        next=next_path,
    )
    return page("Sign in", form)


def _login_response(request: Any, next_path: str, error: str | None, status: int) -> HTTPResponse:
    web = web_of(request)
    nonce, csrf = web.sessions.new_login_nonce()
    response = page_response(_login_page(next_path, csrf, error), status)
    secure = web.settings.secure_cookies
    set_cookie(
        response, LOGIN_COOKIE, nonce, max_age=LOGIN_COOKIE_SECONDS, path="/login", secure=secure
    )
    return response


async def login_form(request: Any) -> HTTPResponse:
    next_path = safe_next(request.args.get("next"))
    if session_of(request) is not None:
        return redirect(next_path)
    return _login_response(request, next_path, None, 200)


async def login(request: Any) -> HTTPResponse:
    web = web_of(request)
    form = request.form
    next_path = safe_next(form.get("next"))
    if not web.sessions.login_csrf_ok(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        return _login_response(request, next_path, EXPIRED_FORM, 403)
    token = (form.get("token") or "").encode()
    if not hmac.compare_digest(token, web.settings.admin_token.encode()):
        return _login_response(request, next_path, WRONG_TOKEN, 401)
    _session, value = web.sessions.issue()
    response = redirect(next_path)
    secure = web.settings.secure_cookies
    set_cookie(response, SESSION_COOKIE, value, max_age=web.sessions.lifetime, secure=secure)
    clear_cookie(response, LOGIN_COOKIE, path="/login", secure=secure)
    return response


async def logout(request: Any) -> HTTPResponse:
    web = web_of(request)
    session = session_of(request)
    if session is None or not web.sessions.csrf_ok(session, request.form.get("csrf")):
        expired = Html(
            '<p class="error" role="alert">This sign-out form has expired. '
            '<a href="/dashboard">Back to the dashboard</a></p>'
        )
        return page_response(page("Sign out", expired), 403)
    web.sessions.revoke(session)
    response = redirect("/login")
    clear_cookie(response, SESSION_COOKIE, secure=web.settings.secure_cookies)
    return response


def _public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


async def gate(request: Any) -> HTTPResponse | None:
    """Request middleware: note the session; turn away the signed-out from private paths."""
    request.ctx.session = web_of(request).sessions.verify(request.cookies.get(SESSION_COOKIE))
    if request.ctx.session is not None or _public(request.path):
        return None
    if request.path.startswith(UNAUTHENTICATED_401_PREFIXES):
        return text("Sign in first.\n", 401)
    wanted = request.path + (f"?{request.query_string}" if request.query_string else "")
    return redirect(f"/login?next={quote(safe_next(wanted), safe='')}")


def register(app: Any) -> None:
    app.register_middleware(gate, "request")
    app.add_route(login_form, "/login", methods=["GET"], name="login_form")
    app.add_route(login, "/login", methods=["POST"], name="login")
    app.add_route(logout, "/logout", methods=["POST"], name="logout")

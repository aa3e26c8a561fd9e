"""Responses of the web app: pages, redirects, plain text, and its cookies."""

from __future__ import annotations

from markupsafe import Markup
from sanic.response import HTTPResponse
from sanic.response import html as html_response
from sanic.response import redirect as sanic_redirect
from sanic.response import text as text_response

from bot.web.html import Html

__all__ = ["clear_cookie", "page_response", "redirect", "set_cookie", "text"]


def page_response(document: Html | Markup, status: int = 200) -> HTTPResponse:
    response = html_response(str(document), status=status)
    # Pages show customer figures: keep them out of shared and browser caches.
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect(location: str) -> HTTPResponse:
    """303 See Other: after a form, and for pages that need a sign-in."""
    response = sanic_redirect(location, status=303)
    response.headers["Cache-Control"] = "no-store"
    return response


def text(body: str, status: int) -> HTTPResponse:
    response = text_response(body, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def set_cookie(
    response: HTTPResponse,
    name: str,
    value: str,
    *,
    max_age: int,
    path: str = "/",
    secure: bool = False,
) -> None:
    """An HttpOnly, SameSite=Strict cookie (values here are URL-safe: no quoting needed)."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly"]
    parts.append("SameSite=Strict")
    if secure:
        parts.append("Secure")
    response.headers.add("Set-Cookie", "; ".join(parts))


def clear_cookie(
    response: HTTPResponse, name: str, *, path: str = "/", secure: bool = False
) -> None:
    set_cookie(response, name, "", max_age=0, path=path, secure=secure)

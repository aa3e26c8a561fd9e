"""What the admin pages share: their layout (admin.html: notices, the note for viewers),
the feedback of a Check, names and URLs, and reading the project's data off the event loop.
The pages' forms, problem lists and buttons are macros of templates/macros.html.

Every page is for any signed-in session; the forms that change something are only shown
to admins (`can_change`), and every POST handler starts with `require_change` (a session,
the admin role and the CSRF token). A form has a "Check" button (shows the problems, writes
nothing) and a "Save" button (writes only when there is no problem, else shows them again).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from markupsafe import Markup
from ruamel.yaml.error import YAMLError
from sanic import Request
from sanic.response import HTTPResponse

from bot.authoring.answers import Answers
from bot.authoring.training_data import Change, Problem, TrainingData
from bot.errors import KopruError
from bot.web.accounts import ADMIN
from bot.web.admin_context import NoticeKind, admin_of
from bot.web.auth import signed_in_page
from bot.web.context import session_of
from bot.web.html import Html
from bot.web.responses import page_response
from bot.web.templates import render

__all__ = [
    "LANGUAGE_NAMES",
    "REFUSED",
    "Feedback",
    "Unreadable",
    "admin_page",
    "answer_url",
    "can_change",
    "change_notices",
    "form_lines",
    "intent_url",
    "language_label",
    "load_answers",
    "load_data",
    "notify",
    "path_name",
    "run",
    "timestamp",
    "wants_save",
]

LANGUAGE_NAMES: Mapping[str, str] = {"en": "English", "tr": "Turkish", "pl": "Polish"}
REFUSED = 422  # a Save refused because of problems: the page again, with them
T = TypeVar("T")


class Unreadable(KopruError):
    """The project's training data or domain cannot be read (answered with a 503 page)."""


@dataclass(frozen=True)
class Feedback:
    """The outcome of a Check (or of a refused Save) for one form of a page: its problems
    and what was typed, so that the form shows both."""

    form: str  # which form of the page, e.g. "add:tr", "edit:tr:<text>", "set:pl"
    problems: tuple[Problem, ...] = ()
    values: Mapping[str, str] = field(default_factory=dict)
    note: str = ""  # said when there is no problem ("Save adds 3 examples.")
    saved: bool = False  # a Save was refused (else it was a Check)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


def language_label(code: str) -> str:
    name = LANGUAGE_NAMES.get(code)
    return f"{name} ({code})" if name else code


def intent_url(name: str) -> str:
    return "/admin/intents/" + quote(name, safe="/")


def answer_url(name: str) -> str:
    return "/admin/answers/" + quote(name, safe="/")


def path_name(raw: str) -> str:
    """A name from the path (`<name:path>` routes keep %-escapes)."""
    return unquote(raw)


def timestamp(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def can_change(request: Request) -> bool:
    session = session_of(request)
    return session is not None and session.role == ADMIN


def wants_save(request: Request) -> bool:
    """Save was pressed (anything else is a Check)."""
    return bool(request.form.get("action") == "save")


def form_lines(text: str | None) -> list[str]:
    """The non-blank lines of a textarea."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def notify(request: Request, kind: NoticeKind, text: str) -> None:
    """A notice for the session's next page."""
    session = session_of(request)
    if session is not None:
        admin_of(request).notify(session, kind, text)


def change_notices(request: Request, change: Change, done: str) -> None:
    """`done` (or that nothing changed), and the change's warnings."""
    if change.files:
        notify(request, "ok", f"{done} ({', '.join(str(f) for f in change.files)}).")
    else:
        notify(request, "warning", "Nothing changed.")
    for warning in change.warnings:
        notify(request, "warning", warning.message)


def admin_page(
    request: Request,
    title: str,
    main: Html | Markup,
    *,
    status: int = 200,
    refresh: int | None = None,
) -> HTTPResponse:
    """The page (admin.html in the page shell): notices left by the last change first, a
    note for viewers, then `main`."""
    session = session_of(request)
    body = render(
        "admin.html",
        notices=admin_of(request).take_notices(session),
        viewer_role=session.role if session is not None and session.role != ADMIN else None,
        main=main,
    )
    return page_response(signed_in_page(request, title, body, refresh=refresh), status)


async def run(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a worker thread (file locks and databases block)."""
    return await asyncio.to_thread(function, *args, **kwargs)


def _read(load: Callable[[Path], T], root: Path) -> T:
    try:
        return load(root)
    except (OSError, YAMLError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise Unreadable(f"The training data in {root} cannot be read: {exc}") from exc


async def load_data(request: Request) -> TrainingData:
    return await run(_read, TrainingData.load, admin_of(request).root)


async def load_answers(request: Request) -> Answers:
    return await run(_read, Answers.load, admin_of(request).root)

"""What the admin pages share: their layout, problem lists, notices, form parts, and
reading the project's data off the event loop.

Every page is for any signed-in session; the forms that change something are only shown
to admins (`can_change`), and every POST handler starts with `require_change` (a session,
the admin role and the CSRF token). A form has a "Check" button (shows the problems, writes
nothing) and a "Save" button (writes only when there is no problem, else shows them again).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from ruamel.yaml.error import YAMLError
from sanic.response import HTTPResponse

from bot.authoring.answers import Answers
from bot.authoring.training_data import Change, Problem, TrainingData
from bot.web.accounts import ADMIN
from bot.web.admin_context import Notice, NoticeKind, admin_of
from bot.web.auth import csrf_token, signed_in_page
from bot.web.context import session_of
from bot.web.html import Html, join, render
from bot.web.responses import page_response

__all__ = [
    "LANGUAGE_NAMES",
    "REFUSED",
    "Feedback",
    "Unreadable",
    "admin_page",
    "answer_url",
    "buttons",
    "can_change",
    "change_notices",
    "csrf_field",
    "feedback_html",
    "form_lines",
    "intent_url",
    "language_label",
    "load_answers",
    "load_data",
    "notify",
    "path_name",
    "problems_html",
    "run",
    "timestamp",
    "wants_save",
]

LANGUAGE_NAMES: Mapping[str, str] = {"en": "English", "tr": "Turkish", "pl": "Polish"}
REFUSED = 422  # a Save refused because of problems: the page again, with them
T = TypeVar("T")


class Unreadable(Exception):
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


def can_change(request: Any) -> bool:
    session = session_of(request)
    return session is not None and session.role == ADMIN


def wants_save(request: Any) -> bool:
    """Save was pressed (anything else is a Check)."""
    return bool(request.form.get("action") == "save")


def form_lines(text: str | None) -> list[str]:
    """The non-blank lines of a textarea."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def csrf_field(request: Any) -> Html:
    return render('<input type="hidden" name="csrf" value="{}">', csrf_token(request))


def buttons(save: str = "Save", check: str = "Check") -> Html:
    """Check first: Enter in a text field presses the first button of the form."""
    return render(
        '<span class="buttons"><button type="submit" name="action" value="check" '
        'class="secondary">{}</button> <button type="submit" name="action" value="save">{}'
        "</button></span>",
        check,
        save,
    )


def problems_html(problems: Sequence[Problem], ok: str = "") -> Html:
    """Errors and warnings as a list (or `ok` when there are none)."""
    if not problems:
        if not ok:
            return Html("")
        return render('<p class="check-ok" role="status">{}</p>', ok)
    items = join(
        render(
            '<li class="problem problem-{}"><strong>{}:</strong> {}</li>',
            p.severity,
            "Problem" if p.severity == "error" else "Warning",
            p.message,
        )
        for p in problems
    )
    errors = sum(1 for p in problems if p.severity == "error")
    heading = (
        f"{errors} problem{'s' if errors != 1 else ''}: nothing was saved."
        if errors
        else "Warnings (saving is possible):"
    )
    return render('<div class="problems" role="alert"><p>{}</p><ul>{}</ul></div>', heading, items)


def feedback_html(feedback: Feedback | None, form: str) -> Html:
    """The feedback for `form`, if the page has some for it."""
    if feedback is None or feedback.form != form:
        return Html("")
    if feedback.errors:
        return problems_html(feedback.problems)
    return problems_html(feedback.problems, feedback.note or "No problems found.")


def _notices_html(notices: Iterable[Notice]) -> Html:
    return join(
        render('<p class="notice notice-{}" role="status">{}</p>', n.kind, n.text) for n in notices
    )


def notify(request: Any, kind: NoticeKind, text: str) -> None:
    """A notice for the session's next page."""
    session = session_of(request)
    if session is not None:
        admin_of(request).notify(session, kind, text)


def change_notices(request: Any, change: Change, done: str) -> None:
    """`done` (or that nothing changed), and the change's warnings."""
    if change.files:
        notify(request, "ok", f"{done} ({', '.join(str(f) for f in change.files)}).")
    else:
        notify(request, "warning", "Nothing changed.")
    for warning in change.warnings:
        notify(request, "warning", warning.message)


def admin_page(
    request: Any,
    title: str,
    main: Html,
    *,
    status: int = 200,
    refresh: int | None = None,
) -> HTTPResponse:
    """The page: notices left by the last change first, a note for viewers, then `main`."""
    session = session_of(request)
    notices = _notices_html(admin_of(request).take_notices(session))
    viewer = Html("")
    if session is not None and session.role != ADMIN:
        viewer = render(
            '<p class="notice notice-info">You are signed in as a {}: you can look at '
            "everything here; changes need the admin role.</p>",
            session.role,
        )
    body = render('<div class="admin">{}{}{}</div>', notices, viewer, main)
    return page_response(signed_in_page(request, title, body, refresh=refresh), status)


async def run(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a worker thread (file locks and databases block)."""
    return await asyncio.to_thread(function, *args, **kwargs)


def _read(load: Callable[[Path], T], root: Path) -> T:
    try:
        return load(root)
    except (OSError, YAMLError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise Unreadable(f"The training data in {root} cannot be read: {exc}") from exc


async def load_data(request: Any) -> TrainingData:
    return await run(_read, TrainingData.load, admin_of(request).root)


async def load_answers(request: Any) -> Answers:
    return await run(_read, Answers.load, admin_of(request).root)

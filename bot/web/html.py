"""HTML by small pure functions: every value is escaped unless it is already markup.

The pages are Jinja2 templates (bot/web/templates/, rendered by bot.web.templates); this
module puts a page's part into the shell (`page`: base.html) and makes the tables of values
(`table`: the macro of macros.html). `esc`, `render` and `join` escape values into constant
strings of the caller, as the templates do (`html.escape` with quotes), so text from the
store (agent names, channels, ...) can never become markup. `Html` and `markupsafe.Markup`
(what templates return) mix freely: each passes the other unchanged.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from markupsafe import Markup

from bot.web.templates import macro
from bot.web.templates import render as render_template

__all__ = [
    "NAV",
    "TITLE",
    "Html",
    "esc",
    "from_markup",
    "join",
    "page",
    "render",
    "sections",
    "table",
]

TITLE = "Köprü — support dashboard"
# The sections of the signed-in app: (path, label).
NAV = (
    ("/dashboard", "Dashboard"),
    ("/admin/intents", "Intents"),
    ("/admin/answers", "Answers"),
    ("/admin/training", "Train"),
    ("/admin/review", "Review"),
)


class Html(str):
    """Markup that is safe as it is (built by this module's functions)."""

    __slots__ = ()

    def __html__(self) -> str:
        """Markup as it is for Jinja2 and markupsafe (templates do not escape it again)."""
        return str(self)


def from_markup(markup: Markup) -> Html:
    """A template's or macro's output (markup already) as `Html`, for the parts of pages
    still built here."""
    return Html(markup.__html__())


def esc(value: object) -> Html:
    """`value` as text in HTML (attribute values included); markup (`Html`, `Markup`)
    passes unchanged."""
    if isinstance(value, Html):
        return value
    if hasattr(value, "__html__"):
        return Html(value.__html__())
    return Html(html.escape(str(value), quote=True))


def render(template: str, *args: object, **kwargs: object) -> Html:
    """`template.format(...)` with every argument escaped."""
    return Html(template.format(*(esc(a) for a in args), **{k: esc(v) for k, v in kwargs.items()}))


def join(parts: Iterable[Html], separator: str = "\n") -> Html:
    return Html(separator.join(esc(p) for p in parts))


def table(
    caption: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    text_columns: int = 1,
    empty: str = "No data for this period.",
) -> Html:
    """A table with a caption; the first `text_columns` columns are text, the rest numbers
    (the macro `table` of macros.html)."""
    return from_markup(macro("macros.html", "table", caption, headers, rows, text_columns, empty))


def sections(current: str | None) -> list[tuple[str, str, bool]]:
    """The bar of sections as (path, label, here): `here` for the one `current` (a request
    path) is in."""
    return [
        (path, label, current is not None and (current == path or current.startswith(path + "/")))
        for path, label in NAV
    ]


def page(
    title: str,
    main: Html | Markup,
    *,
    signout_csrf: str | None = None,
    user: tuple[str, str] | None = None,
    current: str | None = None,
    refresh: int | None = None,
) -> Html:
    """A whole document (base.html): the header (who is signed in, as what, and a sign-out
    button when signed in; then the bar of sections) and `main`. `user` is (username, role);
    `current` the request path (its section is marked); `refresh` reloads the page after so
    many seconds (a meta refresh: no script)."""
    document = render_template(
        "base.html",
        title=title if title == TITLE else f"{title} · {TITLE}",
        heading=TITLE,
        main=main,
        signout_csrf=signout_csrf,
        user=user,
        sections=sections(current) if user is not None else [],
        refresh=None if refresh is None else max(1, int(refresh)),
    )
    return from_markup(document + "\n")

"""HTML by small pure functions: every value is escaped unless it is already `Html`.

Templates are constant strings of this package; values go in through `render`, which escapes
them (`html.escape` with quotes), so text from the store (agent names, channels, ...) can
never become markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

__all__ = ["NAV", "TITLE", "Html", "esc", "join", "nav", "page", "render", "table"]

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


def esc(value: object) -> Html:
    """`value` as text in HTML (attribute values included); `Html` passes unchanged."""
    if isinstance(value, Html):
        return value
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
    """A table with a caption; the first `text_columns` columns are text, the rest numbers."""

    def cell(tag: str, i: int, value: object) -> Html:
        kind = "text" if i < text_columns else "num"
        scope = ' scope="col"' if tag == "th" else ""
        return render(f'<{tag} class="{kind}"{scope}>{{}}</{tag}>', value)

    head = join((cell("th", i, h) for i, h in enumerate(headers)), "")
    if rows:
        body = join(
            render("<tr>{}</tr>", join((cell("td", i, v) for i, v in enumerate(row)), ""))
            for row in rows
        )
    else:
        body = render('<tr><td class="empty" colspan="{}">{}</td></tr>', len(headers), empty)
    return render(
        '<div class="table-wrap"><table><caption>{}</caption><thead><tr>{}</tr></thead>'
        "<tbody>{}</tbody></table></div>",
        caption,
        head,
        body,
    )


def nav(current: str | None) -> Html:
    """The bar of sections; the one `current` (a request path) is in is marked."""

    def item(path: str, label: str) -> Html:
        here = current is not None and (current == path or current.startswith(path + "/"))
        mark = Html(' aria-current="page"') if here else Html("")
        return render('<li><a href="{}"{}>{}</a></li>', path, mark, label)

    items = join((item(path, label) for path, label in NAV), "")
    return render('<nav class="sections" aria-label="Sections"><ul>{}</ul></nav>\n', items)


def page(
    title: str,
    main: Html,
    *,
    signout_csrf: str | None = None,
    user: tuple[str, str] | None = None,
    current: str | None = None,
    refresh: int | None = None,
) -> Html:
    """A whole document: the header (who is signed in, as what, and a sign-out button when
    signed in; then the bar of sections) and `main`. `user` is (username, role); `current`
    the request path (its section is marked); `refresh` reloads the page after so many
    seconds (a meta refresh: no script)."""
    signout = Html("")
    if signout_csrf is not None:
        signout = render(
            '<form class="signout" method="post" action="/logout">'
            '<input type="hidden" name="csrf" value="{}">'
            '<button type="submit">Sign out</button></form>',
            signout_csrf,
        )
    if user is not None:
        signout = render(
            '<div class="account"><span class="who">Signed in as <strong>{}</strong> '
            '<span class="role role-{}">{}</span></span>{}</div>',
            user[0],
            user[1],
            user[1],
            signout,
        )
    sections = nav(current) if user is not None else Html("")
    reload = Html("")
    if refresh is not None:
        reload = render('<meta http-equiv="refresh" content="{}">\n', max(1, int(refresh)))
    return render(
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        "{reload}"
        "<title>{title}</title>\n"
        '<link rel="stylesheet" href="/static/dashboard.css">\n'
        "</head>\n<body>\n"
        '<header class="top"><h1>{heading}</h1>{signout}</header>\n'
        "{sections}"
        "<main>\n{main}\n</main>\n"
        "</body>\n</html>\n",
        title=title if title == TITLE else f"{title} · {TITLE}",
        heading=TITLE,
        signout=signout,
        sections=sections,
        reload=reload,
        main=main,
    )

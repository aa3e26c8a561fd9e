"""The web app's pages as Jinja2 templates (bot/web/templates/), every value escaped.

The environment autoescapes everything (also templates made from strings) and is strict:
a variable a template uses but is not given raises instead of rendering as nothing.
Values are escaped as `html.escape(value, quote=True)` does (`&quot;`, `&#x27;`: what
the pages have always sent), by `finalize`, which runs on every `{{ value }}` before Jinja's
own escape; what is markup already (`markupsafe.Markup`, `bot.web.html.Html`, a macro's
output) passes unchanged. Nothing is made on import: the environment on first `render`.
"""

from __future__ import annotations

import functools
import html
from typing import Any

import jinja2
from markupsafe import Markup

__all__ = ["environment", "escape", "macro", "render"]


def escape(value: object) -> Markup:
    """`value` as text in HTML, attribute values included; markup passes unchanged."""
    if hasattr(value, "__html__"):
        return Markup(value.__html__())  # noqa: S704 (markup already: `__html__` says so)
    return Markup(html.escape(str(value), quote=True))  # noqa: S704 (escaped just now)


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("bot.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        finalize=escape,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def render(name: str, /, **context: Any) -> Markup:
    """The template `name` (e.g. "login.html") with `context`: markup, ready to send."""
    document = environment().get_template(name).render(**context)
    return Markup(document)  # noqa: S704 (an autoescaped template's output)


def macro(template: str, name: str, /, *args: Any, **kwargs: Any) -> Markup:
    """Call the macro `name` of `template` (e.g. "macros.html", "table") from Python."""
    output = getattr(environment().get_template(template).module, name)(*args, **kwargs)
    assert isinstance(output, Markup)  # an autoescaped macro's output
    return output

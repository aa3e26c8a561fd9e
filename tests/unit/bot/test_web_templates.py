"""The web app's Jinja2 templates (bot/web/templates/): every value is escaped in every
page, whatever it holds; a missing value is an error, not an empty spot; the templates
ship with the package.

Each template is rendered with every text of its context set to a hostile value and again
to a plain one: the hostile rendering must hold the value escaped (as `html.escape` does)
and have exactly the elements and attribute names of the plain one (no value made markup).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import html
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest
import tomli
from markupsafe import Markup

import bot.web
from bot.authoring.training_data import Problem
from bot.web import templates
from bot.web.admin_training import Serving
from bot.web.admin_view import Feedback
from bot.web.dashboard_view import DashboardView
from bot.web.html import Html, esc, page, table

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = Path(bot.web.__file__).parent / "templates"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: shows what follows reversed
HOSTILE = [
    "<script>alert(1)</script>",
    "\"'><img src=x onerror=alert(1)>",
    "{{ 7*7 }}{% if 1 %}x{% endif %}",
    f"{RLO}gpj.exe",
    "&amp; &lt;b&gt; &#x27;",
    "</textarea><b>x</b>",
    "<!-- -->" + "ü<>&\"'" * 3_000,  # long
]


# --- what each template is given -------------------------------------------------------------


def _problems(v: str) -> list[Problem]:
    return [Problem("bad", v), Problem("thin", v, severity="warning")]


def _add(v: str, known: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(known=known, text=v, intent=v, language=v)


def _job(v: str, status: str = "failed") -> SimpleNamespace:
    return SimpleNamespace(
        id=v,
        status=status,
        stage=v,
        percent=31,
        error=v if status == "failed" else None,
        model=SimpleNamespace(name=v) if status == "succeeded" else None,
        up_to_date=False,
        activated=False,
        activation_error=v,
    )


def _model_row(v: str, switch: bool) -> SimpleNamespace:
    return SimpleNamespace(
        name=v, trained=v, active=not switch, current=True, switch=v if switch else "", size=v
    )


def _shell(v: str, signed_in: bool) -> dict[str, Any]:
    return {
        "title": v,
        "heading": v,
        "main": v,
        "signout_csrf": v if signed_in else None,
        "user": (v, v) if signed_in else None,
        "sections": [(v, v, True), (v, v, False)],
        "refresh": 2 if signed_in else None,
    }


def _dashboard(v: str, with_report: bool) -> dict[str, Any]:
    view = DashboardView(
        first=v,
        last=v,
        source=v,
        demo_available=True,
        csrf=v,
        report=object() if with_report else None,  # type: ignore[arg-type]
        label=v,
        error=v,
    )
    return {
        "view": view,
        "sources": [(v, v), ("live", v)] if with_report else None,
        "quick": [(v, 7), (v, 30)],
        "badge": v,
        "tiles": [(v, v, v, v)],
        "charts": [(v, v)],
        "chart_query": v,
        "tables": [(v, [v, v], [[v, v]], 1), (v, [v], [], 1)],
    }


def _answer(v: str, can_change: bool) -> dict[str, Any]:
    section = {
        "code": v,
        "label": v,
        "text": v,
        "preview": v,
        "buttons": [(v, v), (v, v)],
        "typed": v,
        "checked_preview": v,
    }
    empty = {**section, "text": None, "buttons": [], "checked_preview": None}
    return {
        "name": v,
        "placeholders": v,
        "samples": v,
        "faq": {"intent": v, "intent_url": v, "lists": [(v, [v, v]), (v, [v])]}
        if can_change
        else {"intent": v, "intent_url": v, "lists": None},
        "sections": [section, empty],
        "can_change": can_change,
        "url": v,
        "csrf": v,
        "feedback": Feedback("set:" + v, tuple(_problems(v)), note=v),
    }


def _answers(v: str, can_change: bool) -> dict[str, Any]:
    row = SimpleNamespace(
        url=v, name=v, present=v, missing=v, placeholders=v, buttons=v, intent_url=v, counts=v
    )
    return {
        "languages": v,
        "can_change": can_change,
        "plain": [row, row],
        "faq": [row] if can_change else [],
    }


def _intents(v: str, can_change: bool) -> dict[str, Any]:
    row = SimpleNamespace(
        url=v, name=v, answer=v, answer_url=v, counts=[(3, True), (9, False)], total=12
    )
    return {
        "languages": [v, v],
        "language_labels": v,
        "can_change": can_change,
        "new_url": v,
        "thin": 2,
        "thin_minimum": 10,
        "thin_percent": 50,
        "audit": _problems(v),
        "plain": [row, SimpleNamespace(**{**vars(row), "answer_url": None})],
        "faq": [],
    }


def _intent(v: str, can_change: bool) -> dict[str, Any]:
    section = {"code": v, "label": v, "thin": True, "examples": [(v, v), (v, v)], "typed": v}
    return {
        "name": v,
        "url": v,
        "problems": _problems(v),
        "total": 3,
        "counts": v,
        "can_change": can_change,
        "csrf": v,
        "feedback": Feedback("edit:" + v + ":" + v, (Problem("bad", v),), {"new": v}),
        "answer": {
            "response": v,
            "answer_url": v if not can_change else None,
            "can_add": can_change,
            "values": {"answer_" + v: v},
        },
        "answer_languages": [(v, v)],
        "sections": [section, {**section, "examples": [], "thin": False}],
    }


def _intent_new(v: str, can_change: bool) -> dict[str, Any]:
    return {
        "can_change": can_change,
        "url": v,
        "csrf": v,
        "name": v,
        "languages": [(v, v)],
        "answer_languages": [(v, v)],
        "values": {"examples_" + v: v, "answer_" + v: v},
        "feedback": Feedback("new", (), note=v),
    }


def _review(v: str, can_change: bool, customer: str | None = None) -> dict[str, Any]:
    said = v if customer is None else customer
    message = {"text": said, "at": v, "language": v, "guess": v, "sender": v, "add": _add(said)}
    escalation = {
        "ref": v,
        "at": v,
        "channel": v,
        "language": v,
        "reason": v,
        "state": v,
        "intents": v,
        "lines": [{"text": said, "add": _add(said)}, {"text": said, "add": _add(said, v)}],
    }
    detractor = {
        "nps": 3,
        "reason": said,
        "at": v,
        "channel": v,
        "language": v,
        "resolver": v,
        "topics": v,
        "messages": [{"text": said, "guess": v, "add": _add(said)}],
    }
    empty_escalation = {**escalation, "lines": []}
    empty_detractor = {**detractor, "messages": [], "reason": None}
    return {
        "days": 7,
        "quick": [(v, 1, False), (v, 7, True)],
        "error": v,
        "tracker_missing": True,
        "tracker_url": v,
        "tracker_error": v,
        "store_error": v,
        "counts": {"fallbacks": 1, "low": 0, "escalations": 2, "detractors": 2},
        "limit": 1,
        "sections": [
            {"kind": "message", "anchor": v, "title": v, "hint": v, "items": [message]},
            {"kind": "message", "anchor": v, "title": v, "hint": v, "items": []},
            {
                "kind": "escalation",
                "anchor": v,
                "title": v,
                "hint": v,
                "items": [escalation, empty_escalation],
            },
            {
                "kind": "detractor",
                "anchor": v,
                "title": v,
                "hint": v,
                "items": [detractor, empty_detractor],
            },
        ],
        "can_change": can_change,
        "csrf": v,
        "add_url": v,
        "intents": [v, "other"],
        "languages": [v, "tr"],
    }


def _review_add(v: str, can_change: bool) -> dict[str, Any]:
    return {
        "back": v,
        "url": v,
        "csrf": v,
        "days": 7,
        "text": v,
        "intent": v,
        "language": v,
        "intents": [v, "other"],
        "languages": [(v, v)],
        "feedback": Feedback("add", tuple(_problems(v))),
        "intent_url": v if can_change else None,
    }


def _training(v: str, can_change: bool | None) -> dict[str, Any]:
    model: Any = SimpleNamespace(name=v, data_hash=v + "x")
    # Each variant shows another state of the Rasa server: a model, an error, a file.
    now = {True: Serving(model=model, file=v), False: Serving(error=v), None: Serving(file=v)}
    return {
        "now": now[can_change],
        "can_change": can_change,
        "csrf": v,
        "path": v,
        "upload_path": v,
        "upload_field": v,
        "max_mb": v,
        "no_rasa_token": True,
        "models_dir": v,
        "active_trained": v,
        "fingerprint": v,
        "running": not can_change,
        "job": _job(v, "failed" if can_change else "succeeded"),
        "job_started": v,
        "job_duration": v,
        "log_lines": [v, v],
        "log_open": can_change,
        "models": [_model_row(v, True), _model_row(v, False)],
    }


# Each is called with a value for every text and a variant: True, False or None (falsy),
# which the contexts use to reach every branch of their template.
CONTEXTS: dict[str, Callable[[str, Any], dict[str, Any]]] = {
    "base.html": _shell,
    "admin.html": lambda v, flag: {
        "notices": [SimpleNamespace(kind=v, text=v), SimpleNamespace(kind="ok", text=v)],
        "viewer_role": v if flag else None,
        "main": v,
    },
    "login.html": lambda v, flag: {
        "csrf": v,
        "next_path": v,
        "username": v,
        "error": v if flag else None,
    },
    "message.html": lambda v, flag: {"message": v, "link": v, "link_text": v},
    "signout_expired.html": lambda v, flag: {},
    "unreadable.html": lambda v, flag: {"message": v},
    "dashboard.html": _dashboard,
    "admin_answers.html": _answers,
    "admin_answer.html": _answer,
    "admin_intents.html": _intents,
    "admin_intent.html": _intent,
    "admin_intent_new.html": _intent_new,
    "admin_review.html": _review,
    "admin_review_add.html": _review_add,
    "admin_training.html": _training,
    "admin_upload_refused.html": lambda v, flag: {"message": v, "back": v},
}
PAGES = sorted(CONTEXTS)
PLAIN = "plain"
VARIANTS = pytest.mark.parametrize("flag", [True, False, None], ids=["on", "off", "none"])


class _Structure(HTMLParser):
    """The elements of a document with their attribute names, and its text with the open
    elements around each piece."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.texts: list[tuple[str, tuple[str, ...]]] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(name for name, _ in attrs)))
        if tag not in {"input", "meta", "link", "img", "br"}:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(("/" + tag, ()))
        if tag in self.open:
            while self.open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.texts.append((data, tuple(self.open)))

    def handle_comment(self, data: str) -> None:
        self.tags.append(("<!--", ()))


def structure(document: str) -> _Structure:
    parser = _Structure()
    parser.feed(document)
    parser.close()
    return parser


# --- the tests ---------------------------------------------------------------------------------


def test_every_template_is_tested() -> None:
    shipped = {p.name for p in TEMPLATES.glob("*.html")} - {"macros.html"}
    assert shipped == set(CONTEXTS)
    assert set(templates.environment().list_templates()) == shipped | {"macros.html"}


@pytest.mark.parametrize("name", PAGES)
@VARIANTS
@pytest.mark.parametrize("value", HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_hostile_values_are_escaped_everywhere(name: str, flag: bool, value: str) -> None:
    hostile = templates.render(name, **CONTEXTS[name](value, flag))
    plain = templates.render(name, **CONTEXTS[name](PLAIN, flag))
    assert isinstance(hostile, Markup)
    # No value became an element or an attribute: the same tags as with plain text.
    assert structure(hostile).tags == structure(plain).tags
    assert "<script" not in hostile and "<b>" not in hostile and "<!--" not in hostile
    assert "{{" not in plain and "{%" not in plain
    if PLAIN in plain:  # the page shows values (some variants show none)
        assert html.escape(value, quote=True) in hostile
        assert hostile.replace(html.escape(value, quote=True), PLAIN) == plain


def test_values_are_escaped_like_html_escape() -> None:
    """As the pages always were: `&quot;` and `&#x27;` (not markupsafe's `&#34;`, `&#39;`)."""
    out = templates.render("message.html", message="a\"b'c<d>&", link='"x', link_text="'")
    assert "a&quot;b&#x27;c&lt;d&gt;&amp;" in out
    assert 'href="&quot;x">&#x27;</a>' in out
    # Markup (and Html) passes as it is: built by escaping functions only.
    assert "<b>" in templates.render("unreadable.html", message=Markup("<b>ok</b>"))
    assert "<i>" in templates.render("unreadable.html", message=Html("<i>ok</i>"))
    rendered = templates.render("unreadable.html", message="<i>")
    assert str(esc(rendered)) == str(rendered)  # and html.esc does not escape it again


def test_templates_from_strings_are_escaped_too() -> None:
    template = templates.environment().from_string("<p>{{ v }}</p>")
    assert template.render(v="<script>") == "<p>&lt;script&gt;</p>"


def test_customer_text_on_the_review_page_is_isolated() -> None:
    """Right-to-left or mixed text can reorder what follows it: each customer message (and
    a detractor's reason) is inside a <bdi>."""
    customer = f"{RLO}{'שלום'} <b>x</b> 123"
    page_text = templates.render("admin_review.html", **_review(PLAIN, True, customer))
    shown = [(text, around) for text, around in structure(page_text).texts if RLO in text]
    assert len(shown) == 5  # a fallback, two escalation lines, a detractor's message and reason
    for _text, around in shown:
        assert "bdi" in around
    assert page_text.count('<bdi><q class="said">') == 4


@pytest.mark.parametrize("name", [n for n in PAGES if n != "signout_expired.html"])
def test_a_missing_value_raises(name: str) -> None:
    """Leaving out any value of a template's context fails (in at least one variant: some
    values are only read in some branches), with the value's name."""
    variants = [CONTEXTS[name](PLAIN, flag) for flag in (True, False, None)]
    for key in variants[0]:
        raised = 0
        for context in variants:
            missing = {k: v for k, v in context.items() if k != key}
            try:
                templates.render(name, **missing)
            except jinja2.UndefinedError as exc:
                assert repr(key) in str(exc) or key in str(exc)
                raised += 1
        assert raised, f"{name} rendered without {key!r}"


def test_strict_undefined_names_what_is_missing() -> None:
    with pytest.raises(jinja2.UndefinedError, match="'csrf' is undefined"):
        templates.render("login.html", next_path="/", username="", error=None)


def test_the_environment_is_made_once_and_on_first_use() -> None:
    assert templates.environment() is templates.environment()
    env = templates.environment()
    assert env.autoescape is not False and env.undefined is jinja2.StrictUndefined
    assert isinstance(env.loader, jinja2.PackageLoader)


def test_the_templates_ship_with_the_package() -> None:
    """The loader finds them through the package (as installed, not this checkout's path),
    and pyproject.toml's package data takes every one into the wheel."""
    loader = templates.environment().loader
    assert isinstance(loader, jinja2.PackageLoader) and loader.package_name == "bot.web"
    project = tomli.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["bot.web"]
    files = [p.relative_to(TEMPLATES.parent).as_posix() for p in TEMPLATES.iterdir()]
    assert files and all(p.endswith(".html") for p in files)  # nothing else is needed
    for path in files:
        assert any(fnmatch.fnmatch(path, pattern) for pattern in patterns), path
    assert not any(p.is_dir() for p in TEMPLATES.iterdir())  # "*.html" does not recurse


def test_html_helpers_still_escape_through_the_templates() -> None:
    document = page("<t>", Html("<p>ok</p>"), signout_csrf='"', user=("<u>", "admin"))
    assert "<title>&lt;t&gt; · " in document and "<p>ok</p>" in document
    assert 'value="&quot;"' in document and "<strong>&lt;u&gt;</strong>" in document
    assert isinstance(document, Html) and document.endswith("</html>\n")
    assert '<td class="text">&lt;x&gt;</td>' in table("c", ["a"], [["<x>"]])


def test_values_that_are_not_text_are_shown_as_str_shows_them() -> None:
    out = templates.render("message.html", message=dt.date(2026, 11, 2), link=3, link_text=1.5)
    assert "2026-11-02" in out and 'href="3"' in out and ">1.5</a>" in out

"""/admin/answers: the bot's answers (the responses of domain.yml) and the frequent
questions (`utter_faq/<key>` with the examples of `faq/<key>`); one answer's text per
language to check, preview (its `{placeholders}` filled with sample values) and save.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sanic import Request
from sanic.response import HTTPResponse

from bot.authoring.answers import Answers, ResponseSummary
from bot.authoring.training_data import DataError, Problem, TrainingData
from bot.web.admin_view import (
    REFUSED,
    Feedback,
    admin_page,
    answer_url,
    can_change,
    change_notices,
    intent_url,
    language_label,
    load_answers,
    load_data,
    notify,
    path_name,
    run,
    wants_save,
)
from bot.web.auth import csrf_token, require_change
from bot.web.responses import redirect
from bot.web.templates import render

__all__ = ["SAMPLE_VALUES", "register"]

# What the preview puts in place of an answer's {placeholders} (slots and the values the
# actions pass); others stay as they are.
SAMPLE_VALUES: Mapping[str, str] = {
    "agent_name": "Ayşe",
    "answer_by": "Monday 10:00",
    "carrier": "DHL",
    "cost": "4.99 €",
    "countries": "Germany, Poland, Türkiye",
    "country_name": "Poland",
    "customer_name": "Deniz",
    "days_max": "5",
    "days_min": "2",
    "delivered_on": "12 March",
    "email": "deniz@example.com",
    "eta": "Thursday",
    "free_over": "50 €",
    "order_number": "204518",
    "payment_methods": "card, PayPal, bank transfer",
    "place": "2",
    "reference": "T-4F7K2Q",
    "return_item": "the blue jacket",
    "return_number": "R-1042",
    "ticket": "T-4F7K2Q",
    "tracking_number": "JJD000390007",
    "wait": "5 minutes",
}
FAQ_PREFIX = "utter_faq/"


def _faq_intent(response: str) -> str:
    return response.removeprefix("utter_")


# --- the list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """A row of the list (admin_answers.html): the answer's link, the languages it has and
    lacks; for a plain answer its placeholders and buttons, for a frequent question the
    counts of its question examples and their link."""

    url: str
    name: str
    present: str
    missing: str
    placeholders: str = ""
    buttons: str = ""
    intent_url: str = ""
    counts: str = ""


def _languages(summary: ResponseSummary, languages: Sequence[str]) -> dict[str, str]:
    return {
        "present": ", ".join(lang for lang in languages if lang in summary.languages),
        "missing": ", ".join(lang for lang in languages if lang not in summary.languages),
    }


def render_list(request: Request, answers: Answers, data: TrainingData) -> Markup:
    responses = answers.responses()
    plain = [
        _Row(
            answer_url(r.name),
            r.name,
            placeholders=", ".join("{" + p + "}" for p in r.placeholders) or "—",
            buttons="yes" if r.has_buttons else "—",
            **_languages(r, answers.languages),
        )
        for r in responses
        if not r.is_faq
    ]
    faq: list[_Row] = []
    for r in responses:
        if not r.is_faq:
            continue
        intent = _faq_intent(r.name)
        question = data.intent(intent)
        counts = (
            ", ".join(f"{question.counts.get(lang, 0)} {lang}" for lang in data.languages)
            if question is not None
            else "no examples"
        )
        faq.append(
            _Row(
                answer_url(r.name),
                r.faq_key or r.name,
                intent_url=intent_url(intent),
                counts=counts,
                **_languages(r, answers.languages),
            )
        )
    return render(
        "admin_answers.html",
        languages=", ".join(language_label(lang) for lang in answers.languages),
        can_change=can_change(request),
        plain=plain,
        faq=faq,
    )


async def answers_list(request: Request) -> HTTPResponse:
    answers = await load_answers(request)
    data = await load_data(request)
    return admin_page(request, "Answers", render_list(request, answers, data))


# --- one answer ----------------------------------------------------------------------------


def _preview(answers: Answers, name: str, language: str, text: str | None = None) -> str:
    return answers.preview(name, language, text, SAMPLE_VALUES)


def _language_section(
    request: Request, answers: Answers, name: str, language: str, feedback: Feedback | None
) -> dict[str, object]:
    """One language's part of admin_answer.html: its text and preview, buttons, and what
    the form shows (what was typed, and its preview, after a Check)."""
    text = answers.texts(name).get(language)
    mine = feedback is not None and feedback.form == f"set:{language}"
    typed = feedback.value("text") if feedback is not None and mine else (text or "")
    return {
        "code": language,
        "label": language_label(language),
        "text": text,
        "preview": _preview(answers, name, language) if text is not None else None,
        "buttons": [(b.title, b.payload) for b in answers.buttons(name, language)],
        "typed": typed,
        "checked_preview": (
            _preview(answers, name, language, typed)
            if mine and typed and can_change(request)
            else None
        ),
    }


def _faq_questions(data: TrainingData, name: str) -> dict[str, object]:
    intent = _faq_intent(name)
    lists = None
    if data.intent(intent) is not None:
        lists = [(language_label(lang), data.examples(intent, lang)) for lang in data.languages]
    return {"intent": intent, "intent_url": intent_url(intent), "lists": lists}


def render_answer(
    request: Request,
    answers: Answers,
    data: TrainingData,
    summary: ResponseSummary,
    feedback: Feedback | None = None,
) -> Markup:
    changes = can_change(request)
    return render(
        "admin_answer.html",
        name=summary.name,
        placeholders=", ".join("{" + p + "}" for p in summary.placeholders),
        samples="; ".join(
            f"{p} = {SAMPLE_VALUES[p]}" for p in summary.placeholders if p in SAMPLE_VALUES
        )
        or "none known",
        faq=_faq_questions(data, summary.name) if summary.is_faq else None,
        sections=[
            _language_section(request, answers, summary.name, lang, feedback)
            for lang in answers.languages
        ],
        can_change=changes,
        url=answer_url(summary.name),
        csrf=csrf_token(request) if changes else "",
        feedback=feedback,
    )


async def answer_page(request: Request, raw_name: str) -> HTTPResponse:
    name = path_name(raw_name)
    answers = await load_answers(request)
    summary = answers.response(name)
    if summary is None:
        body = render(
            "message.html",
            message=f"There is no answer {name!r}.",
            link="/admin/answers",
            link_text="All answers",
        )
        return admin_page(request, "No such answer", body, status=404)
    data = await load_data(request)
    if request.method != "POST":
        return admin_page(request, f"Answer {name}", render_answer(request, answers, data, summary))
    require_change(request)
    form = request.form
    if form.get("op") != "set":
        notify(request, "error", "Unknown change.")
        return redirect(answer_url(name))
    language = form.get("language") or ""
    text = (form.get("text") or "").replace("\r\n", "\n").strip()
    save = wants_save(request)
    problems: list[Problem] = []
    if language not in answers.languages:
        problems.append(Problem("unknown_language", f"Unknown language {language!r}."))
    else:
        problems = answers.check_text(name, language, text)
    feedback = Feedback(
        f"set:{language}",
        tuple(problems),
        {"text": text},
        saved=save,
        note="No problems: Save replaces the text.",
    )
    if save and not feedback.errors:
        try:
            change = await run(answers.set_text, name, language, text)
        except DataError as exc:
            feedback = Feedback(feedback.form, exc.problems, {"text": text}, saved=True)
        else:
            change_notices(request, change, f"The {language} text of {name} changed")
            return redirect(answer_url(name) + f"#lang-{language}")
    status = REFUSED if feedback.saved and feedback.errors else 200
    body = render_answer(request, answers, data, summary, feedback)
    return admin_page(request, f"Answer {name}", body, status=status)


def register(app: Any) -> None:
    app.add_route(answers_list, "/admin/answers", methods=["GET"], name="admin_answers")
    app.add_route(
        answer_page, "/admin/answers/<raw_name:path>", methods=["GET", "POST"], name="admin_answer"
    )

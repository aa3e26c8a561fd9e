"""/admin/answers: the bot's answers (the responses of domain.yml) and the frequent
questions (`utter_faq/<key>` with the examples of `faq/<key>`); one answer's text per
language to check, preview (its `{placeholders}` filled with sample values) and save.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sanic.response import HTTPResponse

from bot.authoring.answers import Answers, ResponseSummary
from bot.authoring.training_data import DataError, Problem, TrainingData
from bot.web.admin_view import (
    REFUSED,
    Feedback,
    admin_page,
    answer_url,
    buttons,
    can_change,
    change_notices,
    csrf_field,
    feedback_html,
    intent_url,
    language_label,
    load_answers,
    load_data,
    notify,
    path_name,
    run,
    wants_save,
)
from bot.web.auth import require_change
from bot.web.html import Html, join, render, table
from bot.web.responses import redirect

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


def _languages_cell(summary: ResponseSummary, languages: Sequence[str]) -> Html:
    missing = [lang for lang in languages if lang not in summary.languages]
    present = ", ".join(lang for lang in languages if lang in summary.languages)
    if not missing:
        return render("{}", present)
    return render(
        '{} <span class="thin" title="Customers in these languages get the English text">'
        "(no {} ⚠)</span>",
        present,
        ", ".join(missing),
    )


def render_list(request: Any, answers: Answers, data: TrainingData) -> Html:
    responses = answers.responses()
    plain = [r for r in responses if not r.is_faq]
    faq = [r for r in responses if r.is_faq]
    rows: list[list[object]] = [
        [
            render('<a href="{}">{}</a>', answer_url(r.name), r.name),
            _languages_cell(r, answers.languages),
            ", ".join("{" + p + "}" for p in r.placeholders) or "—",
            "yes" if r.has_buttons else "—",
        ]
        for r in plain
    ]
    faq_rows: list[list[object]] = []
    for r in faq:
        intent = _faq_intent(r.name)
        question = data.intent(intent)
        counts = (
            ", ".join(f"{question.counts.get(lang, 0)} {lang}" for lang in data.languages)
            if question is not None
            else "no examples"
        )
        faq_rows.append(
            [
                render('<a href="{}">{}</a>', answer_url(r.name), r.faq_key or r.name),
                _languages_cell(r, answers.languages),
                render('<a href="{}">{}</a>', intent_url(intent), counts),
            ]
        )
    add = Html("")
    if can_change(request):
        add = render(
            '<p><a class="button" href="/admin/intents/new?name=faq/">Add a frequent question</a>'
            "</p>"
        )
    return render(
        "<h2>Answers</h2>"
        '<p class="hint">What the bot says, in each language ({languages}). Open an answer to '
        "change its text and preview it.</p>{add}{plain}{faq}",
        languages=", ".join(language_label(lang) for lang in answers.languages),
        add=add,
        plain=table(
            "Answers",
            ["response", "languages", "placeholders", "buttons"],
            rows,
            text_columns=4,
            empty="No answers.",
        ),
        faq=table(
            "Frequent questions: answers (utter_faq/…) and questions (faq/…)",
            ["question", "answer languages", "question examples"],
            faq_rows,
            text_columns=3,
            empty="No frequent questions.",
        ),
    )


async def answers_list(request: Any) -> HTTPResponse:
    answers = await load_answers(request)
    data = await load_data(request)
    return admin_page(request, "Answers", render_list(request, answers, data))


# --- one answer ----------------------------------------------------------------------------


def _text_block(css: str, text: str) -> Html:
    return render('<div class="{}">{}</div>', css, text)


def _preview(answers: Answers, name: str, language: str, text: str | None = None) -> str:
    return answers.preview(name, language, text, SAMPLE_VALUES)


def _language_section(
    request: Any, answers: Answers, name: str, language: str, feedback: Feedback | None
) -> Html:
    texts = answers.texts(name)
    text = texts.get(language)
    label = language_label(language)
    if text is None:
        current = render(
            '<p class="hint">No {} text: customers writing {} get the English one.</p>',
            label,
            label,
        )
    else:
        current = render(
            '<div class="answer-pair"><div><h4>Saved text</h4>{}</div>'
            "<div><h4>Preview</h4>{}</div></div>",
            _text_block("answer-text", text),
            _text_block("preview", _preview(answers, name, language)),
        )
    button_list = answers.buttons(name, language)
    shown_buttons = Html("")
    if button_list:
        shown_buttons = render(
            '<p class="hint">Buttons: {}</p>',
            join(
                (
                    render("<code>{}</code> → <code>{}</code>", b.title, b.payload)
                    for b in button_list
                ),
                ", ",
            ),
        )
    form = Html("")
    key = f"set:{language}"
    if can_change(request):
        mine = feedback is not None and feedback.form == key
        typed = feedback.value("text") if feedback is not None and mine else (text or "")
        preview = Html("")
        if feedback is not None and mine and typed:
            preview = render(
                '<div class="checked-preview"><h4>Preview of the text above</h4>{}</div>',
                _text_block("preview", _preview(answers, name, language, typed)),
            )
        form = render(
            '<form method="post" action="{url}" class="stacked">{csrf}'
            '<input type="hidden" name="op" value="set">'
            '<input type="hidden" name="language" value="{code}">'
            '<label for="text-{code}">New {label} text</label>'
            '<textarea id="text-{code}" name="text" rows="4">{typed}</textarea>{buttons}</form>'
            "{feedback}{preview}",
            url=answer_url(name),
            csrf=csrf_field(request),
            code=language,
            label=label,
            typed=typed,
            buttons=buttons(check="Check and preview"),
            feedback=feedback_html(feedback, key),
            preview=preview,
        )
    return render(
        '<section class="language" id="lang-{}"><h3>{}</h3>{}{}{}</section>',
        language,
        label,
        current,
        shown_buttons,
        form,
    )


def _faq_questions(data: TrainingData, name: str) -> Html:
    intent = _faq_intent(name)
    question = data.intent(intent)
    if question is None:
        return render("<p>No examples of <code>{}</code>.</p>", intent)
    lists = join(
        render(
            "<details><summary>{} · {} question{}</summary><ul>{}</ul></details>",
            language_label(lang),
            len(examples),
            "" if len(examples) == 1 else "s",
            join(render("<li>{}</li>", e) for e in examples),
        )
        for lang in data.languages
        for examples in [data.examples(intent, lang)]
    )
    return render(
        '<section class="faq-questions"><h3>The questions</h3><p class="hint">How customers ask '
        'it (the examples of <a href="{}">{}</a>; edit them there).</p>{}</section>',
        intent_url(intent),
        intent,
        lists,
    )


def render_answer(
    request: Any,
    answers: Answers,
    data: TrainingData,
    summary: ResponseSummary,
    feedback: Feedback | None = None,
) -> Html:
    placeholders = Html("")
    if summary.placeholders:
        placeholders = render(
            '<p class="hint">Placeholders: {}. The preview fills them with samples: {}.</p>',
            ", ".join("{" + p + "}" for p in summary.placeholders),
            "; ".join(
                f"{p} = {SAMPLE_VALUES[p]}" for p in summary.placeholders if p in SAMPLE_VALUES
            )
            or "none known",
        )
    faq = _faq_questions(data, summary.name) if summary.is_faq else Html("")
    sections = join(
        _language_section(request, answers, summary.name, lang, feedback)
        for lang in answers.languages
    )
    return render(
        '<p><a href="/admin/answers">← All answers</a></p><h2>Answer <code>{}</code></h2>{}{}{}',
        summary.name,
        placeholders,
        faq,
        sections,
    )


async def answer_page(request: Any, raw_name: str) -> HTTPResponse:
    name = path_name(raw_name)
    answers = await load_answers(request)
    summary = answers.response(name)
    if summary is None:
        body = render(
            '<p class="error" role="alert">There is no answer {}.</p>'
            '<p><a href="/admin/answers">All answers</a></p>',
            repr(name),
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

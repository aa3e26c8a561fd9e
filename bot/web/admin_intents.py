"""/admin/intents: the intents with their example counts per language; one intent's
examples to add (several lines at once), edit and delete; and a new intent with its
examples and its answer.

Changes go through bot.authoring.training_data (and bot.authoring.answers for answers):
checked before anything is written, under the data lock, comments and layout of the YAML files kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sanic import Request
from sanic.response import HTTPResponse

from bot.authoring.answers import Answers
from bot.authoring.training_data import (
    THIN_MINIMUM,
    THIN_SHARE,
    DataError,
    IntentSummary,
    Problem,
    TrainingData,
)
from bot.web.admin_view import (
    REFUSED,
    Feedback,
    admin_page,
    answer_url,
    can_change,
    change_notices,
    form_lines,
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

__all__ = ["register"]

FAQ_PARENT = "faq"
NEW_PATH = "/admin/intents/new"


def response_for(intent: str) -> str:
    """The response that answers `intent` directly (`utter_faq/<key>` for `faq/<key>`)."""
    return f"utter_{intent}"


# --- the list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """A row of the list (admin_intents.html)."""

    url: str
    name: str
    answer: str  # the response that answers it
    answer_url: str | None  # None: there is no such response
    counts: list[tuple[int, bool]]  # per language: examples, thin
    total: int


def _rows(intents: Sequence[IntentSummary], data: TrainingData, answers: Answers) -> list[_Row]:
    rows = []
    for summary in intents:
        response = response_for(summary.name)
        rows.append(
            _Row(
                intent_url(summary.name),
                summary.name,
                response,
                answer_url(response) if answers.response(response) is not None else None,
                [
                    (summary.counts.get(lang, 0), lang in summary.thin_languages)
                    for lang in data.languages
                ],
                summary.total,
            )
        )
    return rows


def render_list(request: Request, data: TrainingData, answers: Answers) -> Markup:
    intents = data.intents()
    return render(
        "admin_intents.html",
        languages=list(data.languages),
        language_labels=", ".join(language_label(lang) for lang in data.languages),
        can_change=can_change(request),
        new_url=NEW_PATH,
        thin=sum(1 for s in intents if s.thin_languages),
        thin_minimum=THIN_MINIMUM,
        thin_percent=round(THIN_SHARE * 100),
        audit=data.audit(),
        plain=_rows([s for s in intents if s.retrieval_intent is None], data, answers),
        faq=_rows([s for s in intents if s.retrieval_intent is not None], data, answers),
    )


async def intents_list(request: Request) -> HTTPResponse:
    data = await load_data(request)
    answers = await load_answers(request)
    return admin_page(request, "Intents", render_list(request, data, answers))


# --- one intent ----------------------------------------------------------------------------


def _language_section(
    data: TrainingData, summary: IntentSummary, language: str, feedback: Feedback | None
) -> dict[str, object]:
    """One language's part of admin_intent.html: its examples (each with what its edit
    field shows: what was typed after a Check) and the add form's text."""

    def shown(text: str) -> str:
        if feedback is not None and feedback.form == f"edit:{language}:{text}":
            return feedback.value("new", text)
        return text

    add = f"add:{language}"
    return {
        "code": language,
        "label": language_label(language),
        "thin": language in summary.thin_languages,
        "examples": [(text, shown(text)) for text in data.examples(summary.name, language)],
        "typed": feedback.value("texts") if feedback is not None and feedback.form == add else "",
    }


def _answer_texts(form: Any, languages: Sequence[str]) -> dict[str, str]:
    texts = {lang: (form.get(f"answer_{lang}") or "").strip() for lang in languages}
    return {lang: text for lang, text in texts.items() if text}


def _answer_languages(answers: Answers) -> list[tuple[str, str]]:
    return [(lang, language_label(lang)) for lang in answers.languages]


def render_intent(
    request: Request,
    data: TrainingData,
    answers: Answers,
    summary: IntentSummary,
    feedback: Feedback | None = None,
    problems: Sequence[Problem] = (),
) -> Markup:
    changes = can_change(request)
    response = response_for(summary.name)
    answered = answers.response(response) is not None
    values = feedback.values if feedback is not None and feedback.form == "answer" else {}
    return render(
        "admin_intent.html",
        name=summary.name,
        url=intent_url(summary.name),
        problems=problems,
        total=summary.total,
        counts=", ".join(f"{summary.counts.get(lang, 0)} {lang}" for lang in data.languages),
        can_change=changes,
        csrf=csrf_token(request) if changes else "",
        feedback=feedback,
        answer={
            "response": response,
            "answer_url": answer_url(response) if answered else None,
            "can_add": changes and summary.retrieval_intent is None,
            "values": values,
        },
        answer_languages=_answer_languages(answers),
        sections=[_language_section(data, summary, lang, feedback) for lang in data.languages],
    )


def _not_found(request: Request, name: str) -> HTTPResponse:
    body = render(
        "message.html",
        message=f"There is no intent {name!r} with examples.",
        link="/admin/intents",
        link_text="All intents",
    )
    return admin_page(request, "No such intent", body, status=404)


def _language_problems(data: TrainingData, intent: str, language: str) -> list[Problem]:
    if language in data.languages:
        return []
    return [Problem("unknown_language", f"Unknown language {language!r}.", intent, language)]


async def intent_page(request: Request, name: str) -> HTTPResponse:
    if request.method == "POST":
        return await intent_change(request, name)
    name = path_name(name)
    data = await load_data(request)
    summary = data.intent(name)
    if summary is None:
        return _not_found(request, name)
    answers = await load_answers(request)
    title = f"Intent {name}"
    return admin_page(request, title, render_intent(request, data, answers, summary))


async def intent_change(request: Request, raw_name: str) -> HTTPResponse:
    require_change(request)
    name = path_name(raw_name)
    data = await load_data(request)
    summary = data.intent(name)
    if summary is None:
        return _not_found(request, name)
    form = request.form
    op = form.get("op") or ""
    language = form.get("language") or ""
    save = wants_save(request)
    feedback: Feedback | None = None
    if op == "add":
        texts = form_lines(form.get("texts"))
        problems = _language_problems(data, name, language)
        if not problems and not texts:
            problems = [Problem("empty", "No examples to add: write one per line.", name, language)]
        problems = problems or data.check_examples(name, language, texts)
        values = {"texts": "\n".join(texts)}
        feedback = Feedback(
            f"add:{language}",
            tuple(problems),
            values,
            saved=save,
            note=f"No problems: Save adds {len(texts)} example(s).",
        )
        if save and not feedback.errors:
            try:
                change = await run(data.add_examples, name, language, texts)
            except DataError as exc:
                feedback = Feedback(feedback.form, exc.problems, values, saved=True)
            else:
                change_notices(request, change, f"{len(texts)} example(s) added to {name}")
                return redirect(intent_url(name) + f"#lang-{language}")
    elif op == "edit":
        old = form.get("old") or ""
        new = (form.get("new") or "").strip()
        problems = _language_problems(data, name, language)
        if not problems and old not in data.examples(name, language):
            problems = [Problem("not_found", f"{old!r} is not an example of {name} any more.")]
        problems = problems or data.check_examples(name, language, [new], replacing=old)
        feedback = Feedback(
            f"edit:{language}:{old}",
            tuple(problems),
            {"new": new},
            saved=save,
            note="No problems: Save changes the example.",
        )
        if save and not feedback.errors:
            try:
                change = await run(data.edit_example, name, language, old, new)
            except DataError as exc:
                feedback = Feedback(feedback.form, exc.problems, {"new": new}, saved=True)
            else:
                change_notices(request, change, f"Example of {name} changed")
                return redirect(intent_url(name) + f"#lang-{language}")
    elif op == "delete":
        text = form.get("text") or ""
        try:
            change = await run(data.delete_example, name, language, text)
        except DataError as exc:
            answers = await load_answers(request)
            body = render_intent(request, data, answers, summary, problems=exc.problems)
            return admin_page(request, f"Intent {name}", body, status=REFUSED)
        change_notices(request, change, f"Example {text!r} of {name} deleted")
        return redirect(intent_url(name) + f"#lang-{language}")
    elif op == "answer":
        answers = await load_answers(request)
        texts_by_language = _answer_texts(form, answers.languages)
        response = response_for(name)
        problems = answers.check_new_response(response, texts_by_language, rule_for_intent=name)
        values = {f"answer_{lang}": text for lang, text in texts_by_language.items()}
        feedback = Feedback(
            "answer",
            tuple(problems),
            values,
            saved=save,
            note=f"No problems: Save adds {response} and its rule.",
        )
        if save and not feedback.errors:
            try:
                change = await run(
                    answers.add_response, response, texts_by_language, rule_for_intent=name
                )
            except DataError as exc:
                feedback = Feedback("answer", exc.problems, values, saved=True)
            else:
                change_notices(request, change, f"{response} added, answering {name}")
                return redirect(intent_url(name))
    else:
        notify(request, "error", "Unknown change.")
        return redirect(intent_url(name))
    answers = await load_answers(request)
    body = render_intent(request, data, answers, summary, feedback)
    status = REFUSED if feedback is not None and feedback.saved and feedback.errors else 200
    return admin_page(request, f"Intent {name}", body, status=status)


# --- a new intent --------------------------------------------------------------------------


def render_new(
    request: Request,
    data: TrainingData,
    answers: Answers,
    values: Mapping[str, str],
    feedback: Feedback | None = None,
) -> Markup:
    return render(
        "admin_intent_new.html",
        can_change=True,
        url=NEW_PATH,
        csrf=csrf_token(request),
        name=values.get("name", ""),
        languages=[(lang, language_label(lang)) for lang in data.languages],
        answer_languages=_answer_languages(answers),
        values=values,
        feedback=feedback,
    )


def check_new(
    data: TrainingData,
    answers: Answers,
    name: str,
    examples: Mapping[str, Sequence[str]],
    texts: Mapping[str, str],
) -> list[Problem]:
    """What stands against adding `name` with these examples and its answer."""
    parent, _, _ = name.partition("/")
    problems = data.check_new_intent(name, examples, answer_added=True)
    if "/" in name and parent != FAQ_PARENT and not problems:
        problems.append(
            Problem(
                "invalid_name",
                f"Only frequent questions ({FAQ_PARENT}/<key>) can be added "
                "here as retrieval intents.",
                name,
            )
        )
    bad_name = any(p.kind == "invalid_name" for p in problems)
    for problem in answers.check_new_response(response_for(name), texts, rule_for_intent=None):
        if not (bad_name and problem.kind == "invalid_name"):
            problems.append(problem)
    return problems


async def new_intent(request: Request) -> HTTPResponse:
    data = await load_data(request)
    answers = await load_answers(request)
    if request.method != "POST":
        if not can_change(request):
            body = render("admin_intent_new.html", can_change=False)
            return admin_page(request, "A new intent", body)
        values = {"name": (request.args.get("name") or "")[:64]}
        return admin_page(request, "A new intent", render_new(request, data, answers, values))
    require_change(request)
    form = request.form
    name = (form.get("name") or "").strip()
    examples = {lang: form_lines(form.get(f"examples_{lang}")) for lang in data.languages}
    examples = {lang: texts for lang, texts in examples.items() if texts}
    texts = _answer_texts(form, answers.languages)
    values = {
        "name": name,
        **{f"examples_{lang}": "\n".join(lines) for lang, lines in examples.items()},
        **{f"answer_{lang}": text for lang, text in texts.items()},
    }
    save = wants_save(request)
    problems = check_new(data, answers, name, examples, texts)
    note = "No problems: “Add the intent” writes it."
    feedback = Feedback("new", tuple(problems), values, note, saved=save)
    if save and not feedback.errors:
        try:
            if name.startswith(FAQ_PARENT + "/"):
                key = name.partition("/")[2]
                change = await run(answers.add_faq, key, examples, texts)
                change_notices(request, change, f"Frequent question {name} added with its answer")
            else:
                change = await run(data.add_intent, name, examples)
                change_notices(request, change, f"Intent {name} added")
                response = response_for(name)
                try:
                    change = await run(answers.add_response, response, texts, rule_for_intent=name)
                except DataError as exc:
                    reasons = " ".join(p.message for p in exc.problems)
                    notify(
                        request,
                        "error",
                        f"{response} was not added: {reasons} Add the answer below.",
                    )
                else:
                    change_notices(request, change, f"{response} added, answering {name}")
        except DataError as exc:
            feedback = Feedback("new", exc.problems, values, saved=True)
        else:
            return redirect(intent_url(name))
    status = REFUSED if feedback.saved and feedback.errors else 200
    body = render_new(request, data, answers, values, feedback)
    return admin_page(request, "A new intent", body, status=status)


def register(app: Any) -> None:
    app.add_route(intents_list, "/admin/intents", methods=["GET"], name="admin_intents")
    app.add_route(new_intent, NEW_PATH, methods=["GET", "POST"], name="admin_intent_new")
    app.add_route(
        intent_page, "/admin/intents/<name:path>", methods=["GET", "POST"], name="admin_intent"
    )

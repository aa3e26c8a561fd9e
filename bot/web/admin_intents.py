"""/admin/intents: the intents with their example counts per language; one intent's
examples to add (several lines at once), edit and delete; and a new intent with its
examples and its answer.

Changes go through bot.authoring.training_data (and bot.authoring.answers for answers):
checked before anything is written, under the data lock, comments and layout of the YAML files kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
    buttons,
    can_change,
    change_notices,
    csrf_field,
    feedback_html,
    form_lines,
    intent_url,
    language_label,
    load_answers,
    load_data,
    notify,
    path_name,
    problems_html,
    run,
    wants_save,
)
from bot.web.auth import require_change
from bot.web.html import Html, join, render, table
from bot.web.responses import redirect

__all__ = ["register"]

FAQ_PARENT = "faq"
NEW_PATH = "/admin/intents/new"


def response_for(intent: str) -> str:
    """The response that answers `intent` directly (`utter_faq/<key>` for `faq/<key>`)."""
    return f"utter_{intent}"


# --- the list ------------------------------------------------------------------------------


def _count_cell(summary: IntentSummary, language: str) -> Html:
    count = summary.counts.get(language, 0)
    if language in summary.thin_languages:
        return render('<span class="thin" title="Few examples in this language">{} ⚠</span>', count)
    return render("{}", count)


def _intents_table(
    caption: str, intents: Sequence[IntentSummary], data: TrainingData, answers: Answers
) -> Html:
    rows: list[list[object]] = []
    for summary in intents:
        response = response_for(summary.name)
        answer: object = "—"
        if answers.response(response) is not None:
            answer = render('<a href="{}">{}</a>', answer_url(response), response)
        rows.append(
            [
                render('<a href="{}">{}</a>', intent_url(summary.name), summary.name),
                answer,
                *(_count_cell(summary, lang) for lang in data.languages),
                summary.total,
            ]
        )
    return table(
        caption,
        ["intent", "answer", *data.languages, "total"],
        rows,
        text_columns=2,
        empty="No intents yet.",
    )


def render_list(request: Any, data: TrainingData, answers: Answers) -> Html:
    intents = data.intents()
    plain = [s for s in intents if s.retrieval_intent is None]
    faq = [s for s in intents if s.retrieval_intent is not None]
    thin = [s for s in intents if s.thin_languages]
    add = Html("")
    if can_change(request):
        add = render('<p><a class="button" href="{}">Add a new intent</a></p>', NEW_PATH)
    warning = Html("")
    if thin:
        warning = render(
            '<p class="notice notice-warning">{} intent{} {} thin in some language (⚠): fewer '
            "than {} examples, or under {}% of the best language. The bot understands those "
            "customers less well; add examples.</p>",
            len(thin),
            "" if len(thin) == 1 else "s",
            "is" if len(thin) == 1 else "are",
            THIN_MINIMUM,
            round(THIN_SHARE * 100),
        )
    audit = data.audit()
    audit_html = Html("")
    if audit:
        audit_html = render(
            '<details class="audit"><summary>{} warning{} about the data as it is</summary>{}'
            "</details>",
            len(audit),
            "" if len(audit) == 1 else "s",
            problems_html(audit),
        )
    return render(
        "<h2>Intents</h2>"
        '<p class="hint">What customers mean, taught by example messages in each language '
        "({languages}). Open an intent to add, edit or delete its examples.</p>"
        "{add}{warning}{audit}{plain}{faq}",
        languages=", ".join(language_label(lang) for lang in data.languages),
        add=add,
        warning=warning,
        audit=audit_html,
        plain=_intents_table("Intents", plain, data, answers),
        faq=_intents_table("Frequent questions (faq/…)", faq, data, answers),
    )


async def intents_list(request: Any) -> HTTPResponse:
    data = await load_data(request)
    answers = await load_answers(request)
    return admin_page(request, "Intents", render_list(request, data, answers))


# --- one intent ----------------------------------------------------------------------------


def _hidden(name: str, value: str) -> Html:
    return render('<input type="hidden" name="{}" value="{}">', name, value)


def _example_item(
    request: Any, intent: str, language: str, text: str, feedback: Feedback | None
) -> Html:
    if not can_change(request):
        return render('<li class="example">{}</li>', text)
    key = f"edit:{language}:{text}"
    value = feedback.value("new", text) if feedback is not None and feedback.form == key else text
    url = intent_url(intent)
    return render(
        '<li class="example">'
        '<form class="edit-example" method="post" action="{url}">{csrf}{op}{lang}{old}'
        '<input type="text" name="new" value="{value}" maxlength="500" aria-label="Example">'
        "{buttons}</form>"
        '<form class="delete-example" method="post" action="{url}">{csrf}{delete}{lang}{text}'
        '<button type="submit" class="danger">Delete</button></form>{feedback}</li>',
        url=url,
        csrf=csrf_field(request),
        op=_hidden("op", "edit"),
        delete=_hidden("op", "delete"),
        lang=_hidden("language", language),
        old=_hidden("old", text),
        text=_hidden("text", text),
        value=value,
        buttons=buttons(),
        feedback=feedback_html(feedback, key),
    )


def _add_form(request: Any, intent: str, language: str, feedback: Feedback | None) -> Html:
    key = f"add:{language}"
    typed = feedback.value("texts") if feedback is not None and feedback.form == key else ""
    return render(
        '<form class="add-examples" method="post" action="{url}">{csrf}{op}{lang}'
        '<label for="add-{language}">Add examples in {label}, one per line</label>'
        '<textarea id="add-{language}" name="texts" rows="3">{typed}</textarea>{buttons}</form>'
        "{feedback}",
        url=intent_url(intent),
        csrf=csrf_field(request),
        op=_hidden("op", "add"),
        lang=_hidden("language", language),
        language=language,
        label=language_label(language),
        typed=typed,
        buttons=buttons(save="Save examples"),
        feedback=feedback_html(feedback, key),
    )


def _language_section(
    request: Any,
    data: TrainingData,
    summary: IntentSummary,
    language: str,
    feedback: Feedback | None,
) -> Html:
    examples = data.examples(summary.name, language)
    thin = Html("")
    if language in summary.thin_languages:
        thin = Html('<span class="badge badge-warn">thin ⚠</span>')
    items = join(_example_item(request, summary.name, language, e, feedback) for e in examples)
    listing = (
        render('<ol class="examples">{}</ol>', items)
        if examples
        else Html('<p class="hint">No examples in this language yet.</p>')
    )
    add = _add_form(request, summary.name, language, feedback) if can_change(request) else Html("")
    return render(
        '<section class="language" id="lang-{code}"><h3>{label} · {count} example{s} {thin}'
        "</h3>{add}{listing}</section>",
        code=language,
        label=language_label(language),
        count=len(examples),
        s="" if len(examples) == 1 else "s",
        thin=thin,
        add=add,
        listing=listing,
    )


def _answer_texts(form: Any, languages: Sequence[str]) -> dict[str, str]:
    texts = {lang: (form.get(f"answer_{lang}") or "").strip() for lang in languages}
    return {lang: text for lang, text in texts.items() if text}


def _answer_fields(answers: Answers, values: Mapping[str, str]) -> Html:
    return join(
        render(
            '<label for="answer-{code}">Answer in {label}</label>'
            '<textarea id="answer-{code}" name="answer_{code}" rows="3">{typed}</textarea>',
            code=lang,
            label=language_label(lang),
            typed=values.get(f"answer_{lang}", ""),
        )
        for lang in answers.languages
    )


def _answer_section(
    request: Any, answers: Answers, summary: IntentSummary, feedback: Feedback | None
) -> Html:
    response = response_for(summary.name)
    if answers.response(response) is not None:
        return render(
            '<p>Answered with <a href="{}">{}</a> (edit its text on the Answers page).</p>',
            answer_url(response),
            response,
        )
    text = render(
        "<p>No <code>{}</code>: this intent is answered by an action or a story, or not at "
        "all.</p>",
        response,
    )
    if not can_change(request) or summary.retrieval_intent is not None:
        return text
    values = feedback.values if feedback is not None and feedback.form == "answer" else {}
    opened = Html(" open") if values else Html("")
    return render(
        '{text}<details class="add-answer"{opened}><summary>Answer it with a text</summary>'
        '<form method="post" action="{url}" class="stacked">{csrf}{op}'
        '<p class="hint">Adds {response} and a rule in data/rules.yml: {intent} → {response}.'
        "</p>{fields}{buttons}</form>{feedback}</details>",
        text=text,
        opened=opened,
        url=intent_url(summary.name),
        csrf=csrf_field(request),
        op=_hidden("op", "answer"),
        response=response,
        intent=summary.name,
        fields=_answer_fields(answers, values),
        buttons=buttons(save="Add the answer"),
        feedback=feedback_html(feedback, "answer"),
    )


def render_intent(
    request: Any,
    data: TrainingData,
    answers: Answers,
    summary: IntentSummary,
    feedback: Feedback | None = None,
    problems: Sequence[Problem] = (),
) -> Html:
    counts = ", ".join(f"{summary.counts.get(lang, 0)} {lang}" for lang in data.languages)
    sections = join(
        _language_section(request, data, summary, lang, feedback) for lang in data.languages
    )
    return render(
        '<p><a href="/admin/intents">← All intents</a></p>'
        "<h2>Intent <code>{name}</code></h2>{problems}"
        '<p class="hint">{total} examples ({counts}).</p>{answer}{sections}',
        name=summary.name,
        problems=problems_html(problems),
        total=summary.total,
        counts=counts,
        answer=_answer_section(request, answers, summary, feedback),
        sections=sections,
    )


def _not_found(request: Any, name: str) -> HTTPResponse:
    body = render(
        '<p class="error" role="alert">There is no intent {} with examples.</p>'
        '<p><a href="/admin/intents">All intents</a></p>',
        repr(name),
    )
    return admin_page(request, "No such intent", body, status=404)


def _language_problems(data: TrainingData, intent: str, language: str) -> list[Problem]:
    if language in data.languages:
        return []
    return [Problem("unknown_language", f"Unknown language {language!r}.", intent, language)]


async def intent_page(request: Any, name: str) -> HTTPResponse:
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


async def intent_change(request: Any, raw_name: str) -> HTTPResponse:
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
    request: Any,
    data: TrainingData,
    answers: Answers,
    values: Mapping[str, str],
    feedback: Feedback | None = None,
) -> Html:
    examples = join(
        render(
            '<label for="examples-{code}">Examples in {label}, one per line</label>'
            '<textarea id="examples-{code}" name="examples_{code}" rows="5">{typed}</textarea>',
            code=lang,
            label=language_label(lang),
            typed=values.get(f"examples_{lang}", ""),
        )
        for lang in data.languages
    )
    return render(
        '<p><a href="/admin/intents">← All intents</a></p><h2>A new intent</h2>'
        '<p class="hint">A name of lower-case letters, digits and _ (a frequent question: '
        "<code>faq/&lt;key&gt;</code>), examples in each language, and the answer: "
        "<code>utter_&lt;name&gt;</code>, with a rule <em>name → utter_name</em> in "
        "data/rules.yml (a frequent question is answered by the FAQ rule).</p>"
        '<form method="post" action="{url}" class="stacked">{csrf}'
        '<label for="name">Name</label>'
        '<input id="name" name="name" type="text" value="{name}" maxlength="64" '
        'autocapitalize="none" spellcheck="false">'
        "<fieldset><legend>Examples</legend>{examples}</fieldset>"
        "<fieldset><legend>Answer</legend>{answers}</fieldset>{buttons}</form>{feedback}",
        url=NEW_PATH,
        csrf=csrf_field(request),
        name=values.get("name", ""),
        examples=examples,
        answers=_answer_fields(answers, values),
        buttons=buttons(save="Add the intent"),
        feedback=feedback_html(feedback, "new"),
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


async def new_intent(request: Any) -> HTTPResponse:
    data = await load_data(request)
    answers = await load_answers(request)
    if request.method != "POST":
        if not can_change(request):
            body = Html(
                '<p><a href="/admin/intents">← All intents</a></p><h2>A new intent</h2>'
                "<p>Adding an intent needs the admin role.</p>"
            )
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

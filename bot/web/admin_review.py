"""/admin/review: customer messages worth a look, each one click from becoming an example.

- fallbacks: messages the model could not place (`nlu_fallback`),
- low confidence: messages placed with a confidence under 50 %,
- escalations: the customer's lines of conversations handed to a person,
- detractors: the customer's messages of conversations that got an NPS of 0-6.

Messages come from Rasa's tracker store (bot.storage.trackers), escalations and surveys from
Köprü's store; the last `days` days (7 unless asked), at most `review_limit` items a list.
"Add as example" checks the example like the intent pages do, then adds it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sanic.response import HTTPResponse

from bot.authoring.training_data import DataError, Problem, TrainingData
from bot.desk.handoff import Handoff, row_to_handoff
from bot.errors import KopruError
from bot.insights.survey import SurveyRecord, SurveyRepository
from bot.storage.tables import conversations, handoffs
from bot.storage.trackers import FALLBACK_INTENT, Message, TrackerUnavailable
from bot.web.admin_context import AdminContext, admin_of
from bot.web.admin_view import (
    REFUSED,
    Feedback,
    admin_page,
    buttons,
    can_change,
    csrf_field,
    feedback_html,
    intent_url,
    language_label,
    load_data,
    notify,
    run,
    timestamp,
    wants_save,
)
from bot.web.auth import require_change
from bot.web.html import Html, join, render
from bot.web.responses import redirect

__all__ = ["LOW_CONFIDENCE", "Review", "collect", "register"]

logger = logging.getLogger(__name__)

PATH = "/admin/review"
ADD_PATH = "/admin/review/add"
LOW_CONFIDENCE = 0.5
DETRACTOR_MAX = 6  # NPS 0-6
MAX_DAYS = 90
QUICK_DAYS = (1, 7, 30, 90)
LINES_PER_CONVERSATION = 20
DAY = 86_400.0


@dataclass(frozen=True)
class Escalation:
    handoff: Handoff
    lines: tuple[str, ...]  # what the customer wrote


@dataclass(frozen=True)
class Detractor:
    survey: SurveyRecord
    messages: tuple[Message, ...]


@dataclass(frozen=True)
class Review:
    fallbacks: list[Message] = field(default_factory=list)
    low: list[Message] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    detractors: list[Detractor] = field(default_factory=list)
    tracker_error: str | None = None
    tracker_missing: bool = False
    store_error: str | None = None


def _has_words(text: str) -> bool:
    """A message with letters (not a bare score, emoji or punctuation)."""
    return any(ch.isalpha() for ch in text)


def _customer_lines(handoff: Handoff) -> tuple[str, ...]:
    transcript = handoff.context.get("transcript") or []
    lines = [
        str(line.get("text") or "").strip()
        for line in transcript
        if isinstance(line, dict) and line.get("speaker") == "customer"
    ]
    return tuple(text for text in lines if text and not text.startswith("/"))[
        -LINES_PER_CONVERSATION:
    ]


def _conversation_start(conn: Any, survey: SurveyRecord) -> float:
    if survey.conversation_id is not None:
        c = conversations.c
        started = conn.execute(
            sa.select(c.session_started_at).where(c.id == survey.conversation_id)
        ).scalar()
        if started is not None:
            return float(started)
    return survey.asked_at - DAY


def collect(admin: AdminContext, since: float, until: float, limit: int) -> Review:
    """Everything the page lists (blocking: call it in a worker thread)."""
    fallbacks: list[Message] = []
    low: list[Message] = []
    tracker_error: str | None = None
    missing = not admin.tracker.exists()
    try:
        for message in admin.tracker.messages(since, until):
            if not _has_words(message.text):
                continue
            if message.intent == FALLBACK_INTENT:
                found = fallbacks
            elif message.confidence is not None and message.confidence < LOW_CONFIDENCE:
                found = low
            else:
                continue
            if len(found) < limit:
                found.append(message)
    except TrackerUnavailable as exc:
        logger.error("The tracker store cannot be read: %s", exc)
        tracker_error = str(exc)
    escalations: list[Escalation] = []
    detractors: list[Detractor] = []
    store_error: str | None = None
    try:
        store = admin.store()
        h = handoffs.c
        with store.transaction() as conn:
            rows = conn.execute(
                sa.select(handoffs)
                .where(h.created_at >= since, h.created_at < until)
                .order_by(h.created_at.desc(), h.id.desc())
                .limit(limit)
            ).all()
        for row in rows:
            handoff = row_to_handoff(row)
            escalations.append(Escalation(handoff, _customer_lines(handoff)))
        surveys = [
            s
            for s in SurveyRepository(store).between(since, until)
            if s.nps is not None and s.nps <= DETRACTOR_MAX
        ]
        surveys = sorted(surveys, key=lambda s: s.asked_at, reverse=True)[:limit]
        with store.transaction() as conn:
            starts = {s.id: _conversation_start(conn, s) for s in surveys}
        for survey in surveys:
            messages: list[Message] = []
            if tracker_error is None and not missing:
                try:
                    messages = admin.tracker.conversation(
                        survey.sender_id,
                        starts[survey.id],
                        survey.asked_at,
                        LINES_PER_CONVERSATION,
                    )
                except TrackerUnavailable as exc:
                    tracker_error = str(exc)
            detractors.append(Detractor(survey, tuple(messages)))
    except (KopruError, ImportError) as exc:
        logger.error("Köprü's store cannot be read: %s", exc)
        store_error = str(exc)
    return Review(fallbacks, low, escalations, detractors, tracker_error, missing, store_error)


# --- the page ------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _add_form(
    request: Any,
    data: TrainingData,
    text: str,
    language: str | None,
    guess: str | None,
    days: int,
) -> Html:
    """The small form that adds `text` as an example (or where it is an example already)."""
    places = data.find(text)
    if places:
        where = ", ".join(f"{intent} ({lang})" for intent, lang in places)
        return render('<p class="hint known">Already an example of {}.</p>', where)
    if not can_change(request):
        return Html("")
    intents = [s.name for s in data.intents()]
    choice = guess if guess in intents else None
    intent_options = join(
        [render('<option value="">Choose an intent…</option>')]
        + [
            render(
                '<option value="{}"{}>{}</option>',
                name,
                Html(" selected") if name == choice else Html(""),
                name,
            )
            for name in intents
        ]
    )
    chosen_language = language if language in data.languages else data.languages[0]
    language_options = join(
        render(
            '<option value="{}"{}>{}</option>',
            lang,
            Html(" selected") if lang == chosen_language else Html(""),
            lang,
        )
        for lang in data.languages
    )
    return render(
        '<form class="add-example" method="post" action="{url}">{csrf}'
        '<input type="hidden" name="days" value="{days}">'
        '<input type="text" name="text" value="{text}" maxlength="500" aria-label="Example">'
        '<select name="intent" aria-label="Intent">{intents}</select>'
        '<select name="language" aria-label="Language">{languages}</select>'
        "{buttons}</form>",
        url=ADD_PATH,
        csrf=csrf_field(request),
        days=days,
        text=text,
        intents=intent_options,
        languages=language_options,
        buttons=buttons(save="Add as example"),
    )


def _message_item(request: Any, data: TrainingData, message: Message, days: int) -> Html:
    if message.intent == FALLBACK_INTENT:
        guess = (
            f"fallback; best guess {message.guess} ({_percent(message.guess_confidence)})"
            if message.guess
            else "fallback"
        )
        suggested = message.guess
    else:
        guess = f"{message.intent} ({_percent(message.confidence)})"
        suggested = message.intent
    return render(
        '<li class="review-item"><p><q class="said">{text}</q></p>'
        '<p class="meta">{at} · {language} · {guess} · conversation <code>{sender}</code></p>'
        "{form}</li>",
        text=message.text,
        at=timestamp(message.at),
        language=message.language or "language unknown",
        guess=guess,
        sender=message.sender_id,
        form=_add_form(request, data, message.text, message.language, suggested, days),
    )


def _messages_section(
    request: Any,
    data: TrainingData,
    anchor: str,
    title: str,
    hint: str,
    messages: Sequence[Message],
    days: int,
    limit: int,
) -> Html:
    more = Html("")
    if len(messages) >= limit:
        more = render('<p class="hint">Only the latest {} are shown.</p>', limit)
    items = (
        render(
            '<ol class="review">{}</ol>',
            join(_message_item(request, data, m, days) for m in messages),
        )
        if messages
        else Html('<p class="hint">None in this period.</p>')
    )
    return render(
        '<section class="review-section" id="{}"><h3>{} <span class="count">{}</span></h3>'
        '<p class="hint">{}</p>{}{}</section>',
        anchor,
        title,
        len(messages),
        hint,
        more,
        items,
    )


def _escalation_item(request: Any, data: TrainingData, item: Escalation, days: int) -> Html:
    h = item.handoff
    lines = join(
        render(
            '<li><q class="said">{}</q>{}</li>',
            text,
            _add_form(request, data, text, h.language, None, days),
        )
        for text in item.lines
    )
    intents = ", ".join(
        f"{i.get('name')} ({_percent(i.get('confidence'))})"
        for i in h.context.get("intents") or []
        if isinstance(i, dict)
    )
    return render(
        '<li class="review-item"><p class="meta"><strong>{ref}</strong> · {at} · {channel} · '
        "{language} · reason: {reason} · {state}{intents}</p>{lines}</li>",
        ref=h.reference,
        at=timestamp(h.created_at),
        channel=h.channel,
        language=h.language,
        reason=h.reason.replace("_", " "),
        state=h.state.value,
        intents=f" · intents: {intents}" if intents else "",
        lines=render('<ul class="said-lines">{}</ul>', lines)
        if item.lines
        else Html('<p class="hint">No customer lines kept.</p>'),
    )


def _detractor_item(request: Any, data: TrainingData, item: Detractor, days: int) -> Html:
    s = item.survey
    messages = join(
        render(
            '<li><q class="said">{}</q> <span class="meta">{}</span>{}</li>',
            m.text,
            f"{m.intent} ({_percent(m.confidence)})" if m.intent else "",
            _add_form(
                request,
                data,
                m.text,
                m.language or s.language,
                m.guess if m.intent == FALLBACK_INTENT else m.intent,
                days,
            ),
        )
        for m in item.messages
    )
    reason = render(" · “{}”", s.reason) if s.reason else Html("")
    return render(
        '<li class="review-item"><p class="meta"><strong>NPS {nps}</strong>{reason} · {at} · '
        "{channel} · {language} · resolved by {resolver} · topics: {intents}</p>{messages}</li>",
        nps=s.nps,
        reason=reason,
        at=timestamp(s.asked_at),
        channel=s.channel,
        language=s.language,
        resolver=s.resolver,
        intents=", ".join(s.intents) or "–",
        messages=render('<ul class="said-lines">{}</ul>', messages)
        if item.messages
        else Html('<p class="hint">No messages found in the tracker store.</p>'),
    )


def _list_section(anchor: str, title: str, hint: str, items: Sequence[Html], limit: int) -> Html:
    more = Html("")
    if len(items) >= limit:
        more = render('<p class="hint">Only the latest {} are shown.</p>', limit)
    body = (
        render('<ol class="review">{}</ol>', join(items))
        if items
        else Html('<p class="hint">None in this period.</p>')
    )
    return render(
        '<section class="review-section" id="{}"><h3>{} <span class="count">{}</span></h3>'
        '<p class="hint">{}</p>{}{}</section>',
        anchor,
        title,
        len(items),
        hint,
        more,
        body,
    )


def render_review(
    request: Any,
    data: TrainingData,
    review: Review,
    days: int,
    limit: int,
    tracker_url: str,
    error: str | None = None,
) -> Html:
    quick = join(
        (
            render(
                '<a href="{}?{}"{}>{} day{}</a>',
                PATH,
                urlencode({"days": d}),
                Html(' aria-current="true"') if d == days else Html(""),
                d,
                "" if d == 1 else "s",
            )
            for d in QUICK_DAYS
        ),
        " · ",
    )
    problems = []
    if error:
        problems.append(render('<p class="error" role="alert">{}</p>', error))
    if review.tracker_missing:
        problems.append(
            render(
                '<p class="notice notice-warning">No conversations yet: the tracker store {} '
                "does not exist.</p>",
                tracker_url,
            )
        )
    if review.tracker_error:
        problems.append(
            render(
                '<p class="error" role="alert">The tracker store cannot be read: {}</p>',
                review.tracker_error,
            )
        )
    if review.store_error:
        problems.append(
            render(
                '<p class="error" role="alert">Köprü\'s store (escalations, surveys) cannot be '
                "read: {}</p>",
                review.store_error,
            )
        )
    sections = [
        _messages_section(
            request,
            data,
            "fallbacks",
            "Fallbacks",
            "Messages the bot could not place (nlu_fallback).",
            review.fallbacks,
            days,
            limit,
        ),
        _messages_section(
            request,
            data,
            "low-confidence",
            "Low confidence",
            f"Messages placed with a confidence under {LOW_CONFIDENCE:.0%}: are they right?",
            review.low,
            days,
            limit,
        ),
        _list_section(
            "escalations",
            "Escalations",
            "Conversations handed to a person: what the customer wrote.",
            [_escalation_item(request, data, e, days) for e in review.escalations],
            limit,
        ),
        _list_section(
            "detractors",
            "Detractors (NPS 0–6)",
            "Conversations whose customer would not recommend the shop.",
            [_detractor_item(request, data, d, days) for d in review.detractors],
            limit,
        ),
    ]
    return render(
        "<h2>Review</h2>"
        '<p class="hint">Customer messages of the last {days} day{s} worth a look; add the '
        "ones the bot should understand as examples of an intent (then train).</p>"
        '<nav class="quick" aria-label="Period">Show the last {quick}</nav>{problems}'
        '<p class="review-counts"><a href="#fallbacks">{f} fallbacks</a> · '
        '<a href="#low-confidence">{low} low confidence</a> · '
        '<a href="#escalations">{e} escalations</a> · <a href="#detractors">{d} detractors</a>'
        "</p>{sections}",
        days=days,
        s="" if days == 1 else "s",
        quick=quick,
        problems=join(problems),
        f=len(review.fallbacks),
        low=len(review.low),
        e=len(review.escalations),
        d=len(review.detractors),
        sections=join(sections),
    )


def _days(raw: str | None, default: int) -> tuple[int, str | None]:
    if not raw:
        return default, None
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        return default, f"Choose a number of days from 1 to {MAX_DAYS}."
    return days, None


async def review_page(request: Any) -> HTTPResponse:
    admin = admin_of(request)
    days, error = _days(request.args.get("days"), admin.settings.review_days)
    until = time.time()
    limit = admin.settings.review_limit
    data = await load_data(request)
    review = await run(collect, admin, until - days * DAY, until, limit)
    body = render_review(request, data, review, days, limit, admin.tracker.shown_url, error)
    return admin_page(request, "Review", body, status=400 if error else 200)


# --- adding an example ---------------------------------------------------------------------


def _add_page(
    request: Any, data: TrainingData, values: dict[str, str], feedback: Feedback, days: int
) -> Html:
    intents = [s.name for s in data.intents()]
    intent_options = join(
        render(
            '<option value="{}"{}>{}</option>',
            name,
            Html(" selected") if name == values.get("intent") else Html(""),
            name,
        )
        for name in intents
    )
    language_options = join(
        render(
            '<option value="{}"{}>{}</option>',
            lang,
            Html(" selected") if lang == values.get("language") else Html(""),
            language_label(lang),
        )
        for lang in data.languages
    )
    intent = values.get("intent", "")
    link = (
        render('<p>See <a href="{}">{}</a>.</p>', intent_url(intent), intent)
        if intent in intents
        else Html("")
    )
    return render(
        '<p><a href="{back}">← Back to the review</a></p><h2>Add an example</h2>'
        '<form method="post" action="{url}" class="stacked">{csrf}'
        '<input type="hidden" name="days" value="{days}">'
        '<label for="text">Example</label>'
        '<input id="text" type="text" name="text" value="{text}" maxlength="500">'
        '<label for="intent">Intent</label><select id="intent" name="intent">{intents}</select>'
        '<label for="language">Language</label>'
        '<select id="language" name="language">{languages}</select>{buttons}</form>'
        "{feedback}{link}",
        back=f"{PATH}?{urlencode({'days': days})}",
        url=ADD_PATH,
        csrf=csrf_field(request),
        days=days,
        text=values.get("text", ""),
        intents=intent_options,
        languages=language_options,
        buttons=buttons(save="Add as example"),
        feedback=feedback_html(feedback, "add"),
        link=link,
    )


async def add_example(request: Any) -> HTTPResponse:
    require_change(request)
    admin = admin_of(request)
    form = request.form
    days, _ = _days(form.get("days"), admin.settings.review_days)
    text = (form.get("text") or "").strip()
    intent = form.get("intent") or ""
    language = form.get("language") or ""
    values = {"text": text, "intent": intent, "language": language}
    data = await load_data(request)
    problems: list[Problem] = []
    if data.intent(intent) is None:
        problems.append(Problem("unknown_intent", "Choose the intent the message means."))
    if language not in data.languages:
        problems.append(Problem("unknown_language", f"Unknown language {language!r}."))
    if not problems:
        problems = data.check_examples(intent, language, [text])
    save = wants_save(request)
    feedback = Feedback(
        "add",
        tuple(problems),
        values,
        saved=save,
        note=f"No problems: “Add as example” adds it to {intent} ({language}).",
    )
    if save and not feedback.errors:
        try:
            change = await run(data.add_examples, intent, language, [text])
        except DataError as exc:
            feedback = Feedback("add", exc.problems, values, saved=True)
        else:
            notify(
                request,
                "ok",
                f"“{text}” is now an example of {intent} ({language}); "
                "train a new model to use it.",
            )
            for warning in change.warnings:
                notify(request, "warning", warning.message)
            return redirect(f"{PATH}?{urlencode({'days': days})}")
    status = REFUSED if feedback.saved and feedback.errors else 200
    body = _add_page(request, data, values, feedback, days)
    return admin_page(request, "Add an example", body, status=status)


def register(app: Any) -> None:
    app.add_route(review_page, PATH, methods=["GET"], name="admin_review")
    app.add_route(add_example, ADD_PATH, methods=["POST"], name="admin_review_add")

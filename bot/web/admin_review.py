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
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from markupsafe import Markup
from sanic import Request
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
    can_change,
    intent_url,
    language_label,
    load_data,
    notify,
    run,
    timestamp,
    wants_save,
)
from bot.web.auth import csrf_token, require_change
from bot.web.responses import redirect
from bot.web.templates import render

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


def _add(
    data: TrainingData, text: str, language: str | None, guess: str | None
) -> dict[str, object]:
    """What the form that adds `text` as an example shows (admin_review.html's add_form):
    where it is an example already, else the intent and language chosen for it."""
    places = data.find(text)
    if places:
        return {"known": ", ".join(f"{intent} ({lang})" for intent, lang in places)}
    return {
        "known": None,
        "text": text,
        "intent": guess,  # selected if it is one of the intents
        "language": language if language in data.languages else data.languages[0],
    }


def _message(data: TrainingData, message: Message) -> dict[str, object]:
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
    return {
        "text": message.text,
        "at": timestamp(message.at),
        "language": message.language or "language unknown",
        "guess": guess,
        "sender": message.sender_id,
        "add": _add(data, message.text, message.language, suggested),
    }


def _escalation(data: TrainingData, item: Escalation) -> dict[str, object]:
    h = item.handoff
    intents = ", ".join(
        f"{i.get('name')} ({_percent(i.get('confidence'))})"
        for i in h.context.get("intents") or []
        if isinstance(i, dict)
    )
    return {
        "ref": h.reference,
        "at": timestamp(h.created_at),
        "channel": h.channel,
        "language": h.language,
        "reason": h.reason.replace("_", " "),
        "state": h.state.value,
        "intents": intents,
        "lines": [{"text": text, "add": _add(data, text, h.language, None)} for text in item.lines],
    }


def _detractor(data: TrainingData, item: Detractor) -> dict[str, object]:
    s = item.survey
    return {
        "nps": s.nps,
        "reason": s.reason,
        "at": timestamp(s.asked_at),
        "channel": s.channel,
        "language": s.language,
        "resolver": s.resolver,
        "topics": ", ".join(s.intents) or "–",
        "messages": [
            {
                "text": m.text,
                "guess": f"{m.intent} ({_percent(m.confidence)})" if m.intent else "",
                "add": _add(
                    data,
                    m.text,
                    m.language or s.language,
                    m.guess if m.intent == FALLBACK_INTENT else m.intent,
                ),
            }
            for m in item.messages
        ],
    }


def render_review(
    request: Request,
    data: TrainingData,
    review: Review,
    days: int,
    limit: int,
    tracker_url: str,
    error: str | None = None,
) -> Markup:
    changes = can_change(request)
    sections = [
        {
            "kind": "message",
            "anchor": "fallbacks",
            "title": "Fallbacks",
            "hint": "Messages the bot could not place (nlu_fallback).",
            "items": [_message(data, m) for m in review.fallbacks],
        },
        {
            "kind": "message",
            "anchor": "low-confidence",
            "title": "Low confidence",
            "hint": (
                f"Messages placed with a confidence under {LOW_CONFIDENCE:.0%}: are they right?"
            ),
            "items": [_message(data, m) for m in review.low],
        },
        {
            "kind": "escalation",
            "anchor": "escalations",
            "title": "Escalations",
            "hint": "Conversations handed to a person: what the customer wrote.",
            "items": [_escalation(data, e) for e in review.escalations],
        },
        {
            "kind": "detractor",
            "anchor": "detractors",
            "title": "Detractors (NPS 0–6)",
            "hint": "Conversations whose customer would not recommend the shop.",
            "items": [_detractor(data, d) for d in review.detractors],
        },
    ]
    return render(
        "admin_review.html",
        days=days,
        quick=[(f"{PATH}?{urlencode({'days': d})}", d, d == days) for d in QUICK_DAYS],
        error=error,
        tracker_missing=review.tracker_missing,
        tracker_url=tracker_url,
        tracker_error=review.tracker_error,
        store_error=review.store_error,
        counts={
            "fallbacks": len(review.fallbacks),
            "low": len(review.low),
            "escalations": len(review.escalations),
            "detractors": len(review.detractors),
        },
        limit=limit,
        sections=sections,
        can_change=changes,
        csrf=csrf_token(request) if changes else "",
        add_url=ADD_PATH,
        intents=[s.name for s in data.intents()],
        languages=list(data.languages),
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


async def review_page(request: Request) -> HTTPResponse:
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
    request: Request, data: TrainingData, values: dict[str, str], feedback: Feedback, days: int
) -> Markup:
    intents = [s.name for s in data.intents()]
    intent = values.get("intent", "")
    return render(
        "admin_review_add.html",
        back=f"{PATH}?{urlencode({'days': days})}",
        url=ADD_PATH,
        csrf=csrf_token(request),
        days=days,
        text=values.get("text", ""),
        intent=intent,
        language=values.get("language"),
        intents=intents,
        languages=[(lang, language_label(lang)) for lang in data.languages],
        feedback=feedback,
        intent_url=intent_url(intent) if intent in intents else None,
    )


async def add_example(request: Request) -> HTTPResponse:
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

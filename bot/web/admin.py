"""The admin pages: intents and examples, answers, training and models, and the review of
conversations. `register(app)` puts their shared state on `app.ctx.admin` and their routes
on the app (all behind the sign-in gate; changes behind bot.web.auth's guard).

/admin/intents              the intents, example counts per language, thin languages
/admin/intents/new          a new intent with its examples and answer
/admin/intents/<name>       an intent's examples: add, edit, delete (Check, then Save)
/admin/answers              the answers and the frequent questions
/admin/answers/<name>       an answer's text per language, with a preview
/admin/training             train in the background, progress, log; switch models
/admin/review               fallbacks, low confidence, escalations, detractors
/admin/review/add           a reviewed message as an example (POST)
"""

from __future__ import annotations

from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from bot.web import admin_answers, admin_intents, admin_review, admin_training
from bot.web.admin_context import AdminContext
from bot.web.admin_view import Unreadable, admin_page
from bot.web.templates import render

__all__ = ["register"]


def on_unreadable(request: Request, exception: Unreadable) -> HTTPResponse:
    body = render("unreadable.html", message=str(exception))
    return admin_page(request, "Data unreadable", body, status=503)


def register(app: Any) -> None:
    admin = AdminContext(app.ctx.web.settings)
    app.ctx.admin = admin

    async def stop(_app: Any, _loop: Any) -> None:
        await admin.close()

    app.error_handler.add(Unreadable, on_unreadable)
    app.register_listener(stop, "before_server_stop")
    admin_intents.register(app)
    admin_answers.register(app)
    admin_training.register(app)
    admin_review.register(app)

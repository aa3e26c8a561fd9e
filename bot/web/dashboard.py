"""GET /dashboard and GET /dashboard/charts/<name>.png: the query, the report, the response.

Both take `from`, `to` (YYYY-MM-DD, whole days in the settings' zone), or `days` back from
today (default 30), and `data` (live or demo), parsed like `kopru report` parses its options.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, raw

from bot.insights.periods import DayRange, PeriodError, PeriodNames, parse_day_range
from bot.web.context import WebContext, session_of, web_of
from bot.web.dashboard_view import CHARTS, DashboardView, render_dashboard
from bot.web.data import DEMO, LIVE, SOURCES, Unavailable
from bot.web.responses import page_response, text

__all__ = ["register"]

logger = logging.getLogger(__name__)

DEFAULT_DAYS = "30"
FORM_NAMES = PeriodNames("the start date", "the end date", "the number of days")
CHART_SECONDS = 60  # as long as the report cache keeps the figures


@dataclass(frozen=True)
class _Query:
    first: str  # as typed (for the form when it is wrong)
    last: str
    source: str
    days: DayRange | None = None
    error: str | None = None


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _query(request: Request, web: WebContext) -> _Query:
    args = request.args
    first, last = args.get("from") or "", args.get("to") or ""
    source = args.get("data") or LIVE
    if source not in SOURCES:
        return _Query(first, last, LIVE, error="Choose live or demo data.")
    if not web.sources.available(source):
        no_demo = "There is no demo data yet: create it with `kopru demo-data`."
        return _Query(first, last, LIVE, error=no_demo)
    today = dt.datetime.now(web.settings.timezone).date()
    try:
        days = parse_day_range(
            first,
            last,
            args.get("days") or DEFAULT_DAYS,
            today,
            names=FORM_NAMES,
            tz=web.settings.timezone,
        )
    except PeriodError as exc:
        return _Query(first, last, source, error=_sentence(str(exc)))
    return _Query(days.first.isoformat(), days.last.isoformat(), source, days)


def _unavailable(source: str, exc: Exception) -> str:
    logger.error("The %s database cannot be read: %s", source, exc)
    where = "KOPRU_DATABASE_URL (or kopru web --database)"
    if source == DEMO:
        where = "the demo database (kopru web --demo-database; kopru demo-data fills it)"
    return (
        f"The {source} database cannot be opened or read. Check {where} and that the "
        "database is reachable; the server log has the details."
    )


async def dashboard(request: Request) -> HTTPResponse:
    web = web_of(request)
    session = session_of(request)
    assert session is not None  # the sign-in gate lets no one else through
    query = _query(request, web)
    view = DashboardView(
        first=query.first,
        last=query.last,
        source=query.source,
        demo_available=web.sources.available(DEMO),
        csrf=web.sessions.signer.csrf_token(session),
        error=query.error,
        user=(session.username, session.role),
    )
    if query.days is None:
        return page_response(render_dashboard(view), 400)
    try:
        report = await web.reports.report(query.source, query.days.period)
    except Unavailable as exc:
        error = _unavailable(query.source, exc)
        return page_response(render_dashboard(replace(view, error=error)), 503)
    label = f"{query.days.first.isoformat()} – {query.days.last.isoformat()}"
    return page_response(render_dashboard(replace(view, report=report, label=label)))


async def chart(request: Request, filename: str) -> HTTPResponse:
    name = filename.removesuffix(".png")
    if name == filename or name not in CHARTS:
        return text("No such chart.\n", 404)
    web = web_of(request)
    query = _query(request, web)
    if query.days is None:
        return text(f"{query.error}\n", 400)
    try:
        charts = await web.reports.charts(query.source, query.days.period)
    except Unavailable as exc:
        return text(_unavailable(query.source, exc) + "\n", 503)
    except ImportError as exc:  # matplotlib missing
        logger.error("Charts are not available: %s", exc)
        return text("Charts are not available on this server.\n", 503)
    response = raw(charts[name], content_type="image/png")
    response.headers["Cache-Control"] = f"private, max-age={CHART_SECONDS}"
    return response


def register(app: Any) -> None:
    app.add_route(dashboard, "/dashboard", methods=["GET"], name="dashboard")
    app.add_route(chart, "/dashboard/charts/<filename>", methods=["GET"], name="chart")

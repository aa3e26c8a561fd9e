"""The dashboard page as HTML (templates/dashboard.html), from a `Report` (pure: no I/O,
every value escaped).

Figures are formatted like `kopru report` does (bot.insights.report's helpers): "–" for a
figure that has nothing to be computed from, percentages with one decimal, durations in s/min/h.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from bot.insights.metrics import Figures, Report
from bot.insights.report import (
    BREAKDOWN_HEADERS,
    NONE,
    breakdown_cells,
    duration,
    percent,
    resolver_labels,
    score,
    with_n,
)
from bot.web.data import DEMO, LIVE
from bot.web.html import TITLE, Html, page
from bot.web.templates import render

__all__ = ["CHARTS", "QUICK_DAYS", "DashboardView", "render_dashboard"]

# Chart name (bot.insights.charts.charts_for) -> its title, also the image's alt text.
CHARTS: Mapping[str, str] = {
    "nps_per_week": "NPS per week",
    "nps_csat_by_channel": "NPS and CSAT by channel",
    "nps_csat_by_resolver": "NPS and CSAT by resolver",
    "containment_per_week": "Containment per week",
    "escalation_topics": "Escalation rate by topic",
    "detractor_topics": "Detractors by topic",
}
QUICK_DAYS = (7, 30, 90)
SOURCE_LABELS = {LIVE: "Live data", DEMO: "Demo data"}
Tile = tuple[str, str, str, str]  # key (its id is tile-<key>), label, value, note
TableSpec = tuple[str, Sequence[str], Sequence[Sequence[object]], int]  # macros.table's


@dataclass(frozen=True)
class DashboardView:
    first: str  # the form's values: the period's days, or what was typed when it was wrong
    last: str
    source: str  # LIVE or DEMO
    demo_available: bool
    csrf: str  # the session's CSRF token (sign-out form)
    report: Report | None = None
    label: str = ""  # the period as shown, e.g. "2026-11-02 – 2026-11-08"
    error: str | None = None
    user: tuple[str, str] | None = None  # (username, role) of the signed-in account


def _sources(view: DashboardView) -> list[tuple[str, str]] | None:
    """The data sources to choose from (None: only the one shown, as a hidden field)."""
    if view.demo_available or view.source == DEMO:
        return list(SOURCE_LABELS.items())
    return None


def _quick(view: DashboardView) -> list[tuple[str, int]]:
    return [
        ("/dashboard?" + urlencode({"days": days, "data": view.source}), days)
        for days in QUICK_DAYS
    ]


def _times(median: float | None, p90: float | None) -> tuple[str, str]:
    if median is None:
        return NONE, ""
    return duration(median), f"median · p90 {duration(p90)}"


def _tiles(f: Figures) -> list[Tile]:
    nps_note = (
        f"{f.respondents} respondents: {f.promoters} promoters, {f.passives} passives, "
        f"{f.detractors} detractors"
        if f.respondents
        else "no respondents"
    )
    escalated = f"{f.escalations} escalated to a person"
    tiles: list[Tile] = [
        ("conversations", "Conversations", str(f.conversations), escalated),
        ("containment", "Containment", percent(f.containment), "handled without a person"),
        (
            "escalation-rate",
            "Escalation rate",
            percent(f.escalation_rate),
            f"{f.escalations} of {f.conversations} conversations",
        ),
        (
            "fcr",
            "First contact resolution",
            percent(f.fcr),
            f"{f.first_contact_resolved} of {f.resolved} resolved",
        ),
        ("nps", "NPS", score(f.nps), nps_note),
        ("csat", "CSAT", percent(f.csat), f"{f.csat_answers} answers (4 or 5 of 5)"),
        (
            "first-answer",
            "Time to first answer",
            *_times(f.first_answer_median, f.first_answer_p90),
        ),
        (
            "queue-to-claim",
            "Queue to claim",
            *_times(f.queue_to_claim_median, f.queue_to_claim_p90),
        ),
        ("handling", "Handling time", *_times(f.handling_median, f.handling_p90)),
    ]
    return tiles


def _breakdown(
    caption: str, name: str, figures: Mapping[str, Figures], labels: Mapping[str, str]
) -> TableSpec:
    rows: list[Sequence[object]] = [
        [labels.get(key, key), *breakdown_cells(f)] for key, f in figures.items()
    ]
    return (caption, [name, *BREAKDOWN_HEADERS], rows, 1)


def _tables(report: Report) -> list[TableSpec]:
    weekly: TableSpec = (
        "Weekly (ISO weeks from Monday, UTC)",
        ["week", "from", "conversations", "containment", "NPS (n)", "CSAT (n)"],
        [
            [
                w.week,
                w.start,
                w.conversations,
                percent(w.containment),
                with_n(score(w.nps), w.respondents),
                with_n(percent(w.csat), w.csat_answers),
            ]
            for w in report.weekly
        ],
        2,
    )
    escalation: TableSpec = (
        "Topics that lead to escalation",
        ["topic", "conversations", "escalated", "rate"],
        [
            [t.topic, t.conversations, t.escalated, percent(t.rate)]
            for t in report.escalation_topics
        ],
        1,
    )
    detractors: TableSpec = (
        "Topics that lead to detractors (NPS 0–6)",
        ["topic", "respondents", "detractors", "share"],
        [[t.topic, t.respondents, t.detractors, percent(t.share)] for t in report.detractor_topics],
        1,
    )
    return [
        _breakdown("By channel", "channel", report.by_channel, {}),
        _breakdown("By language", "language", report.by_language, {}),
        _breakdown("By topic", "topic", report.by_topic, {}),
        _breakdown("By resolver", "resolver", report.by_resolver, resolver_labels(report, None)),
        weekly,
        escalation,
        detractors,
    ]


def render_dashboard(view: DashboardView) -> Html:
    """The whole page (dashboard.html in the page shell)."""
    report: dict[str, object] = {}
    if view.report is not None:
        report = {
            "tiles": _tiles(view.report.overall),
            "charts": list(CHARTS.items()),
            "chart_query": urlencode({"from": view.first, "to": view.last, "data": view.source}),
            "tables": _tables(view.report),
        }
    main = render(
        "dashboard.html",
        view=view,
        sources=_sources(view),
        quick=_quick(view),
        badge=SOURCE_LABELS.get(view.source, view.source),
        **report,
    )
    return page(TITLE, main, signout_csrf=view.csrf, user=view.user, current="/dashboard")

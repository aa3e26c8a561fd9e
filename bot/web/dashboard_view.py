"""The dashboard page as HTML, from a `Report` (pure: no I/O, every value escaped).

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
from bot.web.html import TITLE, Html, join, page, render, table

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


def _period_form(view: DashboardView) -> Html:
    if view.demo_available or view.source == DEMO:
        options = join(
            render(
                '<option value="{}"{}>{}</option>',
                key,
                Html(" selected") if key == view.source else Html(""),
                label,
            )
            for key, label in SOURCE_LABELS.items()
        )
        source = render('<label>Data <select name="data">{}</select></label>', options)
    else:
        source = render('<input type="hidden" name="data" value="{}">', view.source)
    quick = join(
        (
            render(
                '<a href="/dashboard?{}">last {} days</a>',
                urlencode({"days": days, "data": view.source}),
                days,
            )
            for days in QUICK_DAYS
        ),
        " · ",
    )
    return render(
        '<section class="controls"><form class="period" method="get" action="/dashboard">'
        '<label>From <input type="date" name="from" value="{first}" required></label>'
        '<label>To <input type="date" name="to" value="{last}" required></label>'
        '{source}<button type="submit">Show</button></form>'
        '<nav class="quick" aria-label="Quick periods">Show the {quick}</nav></section>',
        first=view.first,
        last=view.last,
        source=source,
        quick=quick,
    )


def _tile(key: str, label: str, value: str, note: str = "") -> Html:
    return render(
        '<div class="tile"><h3>{label}</h3><p class="value" id="tile-{key}">{value}</p>'
        '<p class="note">{note}</p></div>',
        key=key,
        label=label,
        value=value,
        note=note,
    )


def _times(median: float | None, p90: float | None) -> tuple[str, str]:
    if median is None:
        return NONE, ""
    return duration(median), f"median · p90 {duration(p90)}"


def _tiles(f: Figures) -> Html:
    nps_note = (
        f"{f.respondents} respondents: {f.promoters} promoters, {f.passives} passives, "
        f"{f.detractors} detractors"
        if f.respondents
        else "no respondents"
    )
    escalated = f"{f.escalations} escalated to a person"
    tiles = [
        _tile("conversations", "Conversations", str(f.conversations), escalated),
        _tile("containment", "Containment", percent(f.containment), "handled without a person"),
        _tile(
            "escalation-rate",
            "Escalation rate",
            percent(f.escalation_rate),
            f"{f.escalations} of {f.conversations} conversations",
        ),
        _tile(
            "fcr",
            "First contact resolution",
            percent(f.fcr),
            f"{f.first_contact_resolved} of {f.resolved} resolved",
        ),
        _tile("nps", "NPS", score(f.nps), nps_note),
        _tile("csat", "CSAT", percent(f.csat), f"{f.csat_answers} answers (4 or 5 of 5)"),
        _tile(
            "first-answer",
            "Time to first answer",
            *_times(f.first_answer_median, f.first_answer_p90),
        ),
        _tile(
            "queue-to-claim",
            "Queue to claim",
            *_times(f.queue_to_claim_median, f.queue_to_claim_p90),
        ),
        _tile("handling", "Handling time", *_times(f.handling_median, f.handling_p90)),
    ]
    return render('<section class="tiles" aria-label="Overall figures">{}</section>', join(tiles))


def _charts(view: DashboardView) -> Html:
    query = urlencode({"from": view.first, "to": view.last, "data": view.source})
    figures = join(
        render(
            '<figure class="chart"><img src="/dashboard/charts/{name}.png?{query}" '
            'alt="{title}, {label}" width="800" height="400" loading="lazy">'
            "<figcaption>{title}</figcaption></figure>",
            name=name,
            query=query,
            title=title,
            label=view.label,
        )
        for name, title in CHARTS.items()
    )
    return render('<section class="charts" aria-label="Charts">{}</section>', figures)


def _breakdown(
    caption: str, name: str, figures: Mapping[str, Figures], labels: Mapping[str, str]
) -> Html:
    rows: list[Sequence[object]] = [
        [labels.get(key, key), *breakdown_cells(f)] for key, f in figures.items()
    ]
    return table(caption, [name, *BREAKDOWN_HEADERS], rows)


def _tables(report: Report) -> Html:
    weekly = table(
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
        text_columns=2,
    )
    escalation = table(
        "Topics that lead to escalation",
        ["topic", "conversations", "escalated", "rate"],
        [
            [t.topic, t.conversations, t.escalated, percent(t.rate)]
            for t in report.escalation_topics
        ],
    )
    detractors = table(
        "Topics that lead to detractors (NPS 0–6)",
        ["topic", "respondents", "detractors", "share"],
        [[t.topic, t.respondents, t.detractors, percent(t.share)] for t in report.detractor_topics],
    )
    parts = [
        _breakdown("By channel", "channel", report.by_channel, {}),
        _breakdown("By language", "language", report.by_language, {}),
        _breakdown("By topic", "topic", report.by_topic, {}),
        _breakdown("By resolver", "resolver", report.by_resolver, resolver_labels(report, None)),
        weekly,
        escalation,
        detractors,
    ]
    return render('<section class="tables">{}</section>', join(parts))


def render_dashboard(view: DashboardView) -> Html:
    body = [_period_form(view)]
    if view.error:
        body.append(render('<p class="error" role="alert">{}</p>', view.error))
    if view.report is not None:
        badge = SOURCE_LABELS.get(view.source, view.source)
        body += [
            render(
                '<h2 class="period-label">{} <span class="badge badge-{}">{}</span></h2>',
                view.label,
                view.source,
                badge,
            ),
            _tiles(view.report.overall),
            _charts(view),
            _tables(view.report),
        ]
    return page(TITLE, join(body), signout_csrf=view.csrf, user=view.user, current="/dashboard")

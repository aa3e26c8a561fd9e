"""The metrics report as text or JSON, and straight from the store."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from bot.insights.analytics import Period, load
from bot.insights.metrics import BOT, Figures, Report, summarize
from bot.storage.store import Store

__all__ = ["format_text", "report_from_store", "to_json"]

NONE = "–"


def report_from_store(store: Store, period: Period) -> Report:
    """Load the period's rows from `store` and compute the report (raises StoreError)."""
    return summarize(load(store, period))


def to_json(report: Report) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)


# --- text ----------------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f}%"


def score(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def with_n(text: str, n: int) -> str:
    return f"{text} ({n})" if text != NONE else NONE


def _median_p90(median: float | None, p90: float | None) -> str:
    if median is None:
        return NONE
    return f"median {duration(median)}, p90 {duration(p90)}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Aligned columns: the first `left` ones left-aligned, the others right-aligned."""
    if not rows:
        return ["  (none)"]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(width) if i < left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return ("  " + "  ".join(parts)).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def _overall(f: Figures) -> list[str]:
    nps = score(f.nps)
    if f.respondents:
        nps += (
            f" ({f.respondents} respondents: promoters {f.promoters}, passives {f.passives}, "
            f"detractors {f.detractors})"
        )
    fcr = percent(f.fcr)
    if f.resolved:
        fcr += f" ({f.first_contact_resolved} of {f.resolved} resolved)"
    rows = [
        ("Conversations", str(f.conversations)),
        ("Escalated to a person", str(f.escalations)),
        ("Containment", percent(f.containment)),
        ("Escalation rate", percent(f.escalation_rate)),
        ("Resolved", str(f.resolved)),
        ("First contact resolution", fcr),
        ("NPS", nps),
        ("CSAT", f"{percent(f.csat)} ({f.csat_answers} answers)" if f.csat_answers else NONE),
        ("Time to first answer", _median_p90(f.first_answer_median, f.first_answer_p90)),
        ("Time from queue to claim", _median_p90(f.queue_to_claim_median, f.queue_to_claim_p90)),
        ("Handling time", _median_p90(f.handling_median, f.handling_p90)),
    ]
    width = max(len(label) for label, _ in rows)
    return [f"  {label.ljust(width)}  {value}" for label, value in rows]


# The columns of a breakdown (by channel, language, topic, resolver) after its key.
BREAKDOWN_HEADERS = ("conversations", "containment", "escalation rate", "FCR", "NPS (n)",
                     "CSAT (n)")  # fmt: skip


def breakdown_cells(f: Figures) -> list[str]:
    """One breakdown row's figures, in the order of BREAKDOWN_HEADERS."""
    return [
        str(f.conversations),
        percent(f.containment),
        percent(f.escalation_rate),
        percent(f.fcr),
        with_n(score(f.nps), f.respondents),
        with_n(percent(f.csat), f.csat_answers),
    ]


def _breakdown(
    title: str, name: str, figures: Mapping[str, Figures], labels: Mapping[str, str]
) -> list[str]:
    rows = [[labels.get(key, key), *breakdown_cells(f)] for key, f in figures.items()]
    return [title, *_table([name, *BREAKDOWN_HEADERS], rows)]


def resolver_labels(report: Report, agent_names: Mapping[str, str] | None) -> dict[str, str]:
    names = {**report.agent_names, **(agent_names or {})}
    return {
        key: f"{names[key]} ({key})" if key in names and key != BOT else key
        for key in report.by_resolver
    }


def format_text(report: Report, agent_names: Mapping[str, str] | None = None) -> str:
    """A plain-text report: overall figures, the breakdowns, weeks and topic tables.

    `agent_names` (agent id -> name) adds to and overrides the names the handoffs gave.
    """
    lines = [f"Köprü report {report.period.label()} (UTC)", "", "Overall"]
    lines += _overall(report.overall)
    for title, name, figures, labels in (
        ("By channel", "channel", report.by_channel, {}),
        ("By language", "language", report.by_language, {}),
        ("By topic", "topic", report.by_topic, {}),
        ("By resolver", "resolver", report.by_resolver, resolver_labels(report, agent_names)),
    ):
        lines += ["", *_breakdown(title, name, figures, labels)]

    lines += ["", "Weekly (ISO weeks from Monday, UTC)"]
    lines += _table(
        ["week", "from", "conversations", "containment", "NPS (n)", "CSAT (n)"],
        [
            [
                w.week,
                w.start,
                str(w.conversations),
                percent(w.containment),
                with_n(score(w.nps), w.respondents),
                with_n(percent(w.csat), w.csat_answers),
            ]
            for w in report.weekly
        ],
        left=2,
    )
    lines += ["", "Topics that lead to escalation"]
    lines += _table(
        ["topic", "conversations", "escalated", "rate"],
        [
            [t.topic, str(t.conversations), str(t.escalated), percent(t.rate)]
            for t in report.escalation_topics
        ],
    )
    lines += ["", "Topics that lead to detractors (NPS 0-6)"]
    lines += _table(
        ["topic", "respondents", "detractors", "share"],
        [
            [t.topic, str(t.respondents), str(t.detractors), percent(t.share)]
            for t in report.detractor_topics
        ],
    )
    return "\n".join(lines) + "\n"

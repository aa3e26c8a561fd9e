"""PNG charts for the metrics report: line and grouped-bar charts rendered off-screen.

Rendering uses matplotlib's Agg canvas directly (never `pyplot`, never `matplotlib.use`), so it
works headless and leaves no global state behind. matplotlib is imported inside the functions:
importing this module is cheap.

Every chart is 800x400 pixels, white, in DejaVu Sans (ships with matplotlib and covers Turkish
and Polish). Missing values (None or NaN) are gaps in lines and "n/a" in bar charts; a chart
with no data at all still renders, with a "no data for this period" note.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "HEIGHT",
    "NO_DATA",
    "PALETTE",
    "WIDTH",
    "bar_chart",
    "charts_for",
    "is_png",
    "line_chart",
    "write_charts",
]

WIDTH, HEIGHT, DPI = 800, 400, 100

# Teal, orange, grey first; then a few more calm colours for charts with many series.
PALETTE = ("#1b7f79", "#e07b39", "#8a8a8a", "#3d5a80", "#b08d2b", "#7a5c8e")
INK = "#333333"  # text, ticks
MUTED = "#888888"  # notes, "n/a" labels
GRID = "#e6e6e6"
FONT = "DejaVu Sans"

NO_DATA = "no data for this period"
NOT_AVAILABLE = "n/a"

# Category labels longer than this are rotated (vertical bars) or shortened with an ellipsis.
_ROTATE_OVER = 10
_MAX_LABEL = 32
# Horizontal bar charts built from the report show at most this many topics.
_TOP_TOPICS = 10

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"

_RC = {
    "font.family": "sans-serif",
    "font.sans-serif": [FONT],
    "font.size": 10,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.titlepad": 10,
    "axes.labelsize": 10,
    "axes.labelcolor": INK,
    "axes.edgecolor": "#b0b0b0",
    "axes.facecolor": "white",
    "axes.unicode_minus": True,
    "xtick.color": INK,
    "ytick.color": INK,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


# --- PNG check -------------------------------------------------------------------------------


def is_png(data: bytes) -> bool:
    """True for a complete PNG: the signature, a valid IHDR chunk first and IEND at the end."""
    data = bytes(data)
    if len(data) < 8 + 25 + len(_PNG_IEND) or not data.startswith(_PNG_SIGNATURE):
        return False
    length, kind = struct.unpack(">I4s", data[8:16])
    if length != 13 or kind != b"IHDR":
        return False
    body = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
        return False
    width, height = struct.unpack(">II", body[:8])
    return width > 0 and height > 0 and data.endswith(_PNG_IEND)


# --- chart primitives ------------------------------------------------------------------------


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    y_label: str = "",
    y_range: tuple[float, float] | None = None,
    zero_line: bool = False,
) -> bytes:
    """A line chart as PNG bytes: one line per series over `labels`, markers on the points.

    None (or NaN) is a gap in the line. A legend is shown when there is more than one series.
    """
    _check_lengths(labels, series)
    with _figure(title) as (fig, ax):
        positions = list(range(len(labels)))
        if not _has_data(series):
            _no_data(ax, y_range)
        else:
            for index, (name, values) in enumerate(series.items()):
                ax.plot(
                    positions,
                    [_nan(v) for v in values],
                    label=name,
                    color=_colour(index),
                    linewidth=2,
                    marker="o",
                    markersize=5,
                    zorder=3,
                )
            ax.set_xticks(positions)
            ax.set_xticklabels([_shorten(label) for label in labels])
            _thin_ticks(ax, len(labels))
            if _long(labels) or len(labels) > 8:
                _rotate(ax.get_xticklabels())
            ax.set_xlim(-0.5, len(labels) - 0.5)
            if y_range is not None:
                ax.set_ylim(*y_range)
            ax.grid(axis="y", color=GRID, linewidth=0.8)
            if zero_line:
                ax.axhline(0, color=MUTED, linewidth=1, zorder=2)
            if len(series) > 1:
                _legend(ax, len(series))
        ax.set_ylabel(y_label)
        return _png(fig)


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    y_label: str = "",
    y_range: tuple[float, float] | None = None,
    annotate: bool = True,
    horizontal: bool = False,
) -> bytes:
    """A grouped bar chart as PNG bytes: one group per category, one bar per series.

    With `annotate` each bar carries its value; a None (or NaN) value has no bar and an "n/a"
    label. `horizontal` puts the categories on the vertical axis (better for long names);
    `y_label` and `y_range` always describe the value axis.
    """
    _check_lengths(categories, series)
    with _figure(title) as (fig, ax):
        if not _has_data(series):
            _no_data(ax, y_range, horizontal=horizontal)
        else:
            _bars(ax, categories, series, y_range=y_range, annotate=annotate, horizontal=horizontal)
        (ax.set_xlabel if horizontal else ax.set_ylabel)(y_label)
        return _png(fig)


def _bars(
    ax: Any,
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    y_range: tuple[float, float] | None,
    annotate: bool,
    horizontal: bool,
) -> None:
    count = len(series)
    width = 0.8 / count
    values = [v for vs in series.values() for v in (_value(x) for x in vs) if v is not None]
    if y_range is None:
        low, high = _auto_range(values, annotate)
    else:
        low, high = _headroom(y_range, values) if annotate else y_range
    baseline = 0.0 if low <= 0 <= high else low
    centres = list(range(len(categories)))
    for index, (name, raw) in enumerate(series.items()):
        offset = (index - (count - 1) / 2) * width
        positions = [c + offset for c in centres]
        heights = [_value(v) for v in raw]
        drawn = [h if h is not None else 0.0 for h in heights]
        bar = ax.barh if horizontal else ax.bar
        bars = bar(positions, drawn, width * 0.92, label=name, color=_colour(index), zorder=3)
        for rect, position, height in zip(bars, positions, heights, strict=True):
            if height is None:
                rect.set_visible(False)
            if annotate or height is None:
                _bar_label(ax, position, height, baseline, horizontal=horizontal)

    labels = [_shorten(c) for c in categories]
    grid_axis = "x" if horizontal else "y"
    if horizontal:
        ax.set_yticks(centres)
        ax.set_yticklabels(labels)
        ax.set_ylim(len(categories) - 0.5, -0.5)  # first category on top
        ax.set_xlim(low, high)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(baseline == low)
        if baseline != low:
            ax.axvline(baseline, color=MUTED, linewidth=1, zorder=4)
    else:
        ax.set_xticks(centres)
        ax.set_xticklabels(labels)
        ax.set_xlim(-0.5, len(categories) - 0.5)
        ax.set_ylim(low, high)
        ax.tick_params(axis="x", length=0)
        if _long(categories) or len(categories) > 6:
            _rotate(ax.get_xticklabels())
        ax.spines["bottom"].set_visible(baseline == low)
        if baseline != low:
            ax.axhline(baseline, color=MUTED, linewidth=1, zorder=4)
    ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)
    if count > 1:
        _legend(ax, count)


def _bar_label(
    ax: Any, position: float, value: float | None, baseline: float, *, horizontal: bool
) -> None:
    """The value at the end of a bar (outside it), or "n/a" at the baseline."""
    if value is None:
        text, end, sign, style = NOT_AVAILABLE, baseline, 1, {"color": MUTED, "style": "italic"}
    else:
        text, end = _format(value), value
        sign = -1 if value < baseline else 1
        style = {"color": INK}
    if horizontal:
        ax.annotate(
            text,
            (end, position),
            xytext=(4 * sign, 0),
            textcoords="offset points",
            ha="left" if sign > 0 else "right",
            va="center",
            fontsize=8,
            zorder=5,
            **style,
        )
    else:
        ax.annotate(
            text,
            (position, end),
            xytext=(0, 3 * sign),
            textcoords="offset points",
            ha="center",
            va="bottom" if sign > 0 else "top",
            fontsize=8,
            zorder=5,
            **style,
        )


# --- report charts ---------------------------------------------------------------------------


def charts_for(report: Any) -> dict[str, bytes]:
    """The report's six charts as name -> PNG bytes (duck-typed on the report's attributes).

    Uses `report.weekly` (items with .week, .nps, .csat, .containment, .conversations),
    `report.by_channel` and `report.by_resolver` (key -> figures with .nps, .csat,
    .conversations), `report.escalation_topics` (items with .topic, .rate in percent) and
    `report.detractor_topics` (items with .topic, .share in percent). NPS is on -100..100;
    CSAT and containment are expected in percent (0..100).
    """
    weeks = list(report.weekly)
    week_labels = [str(w.week) for w in weeks]
    return {
        "nps_per_week": line_chart(
            "NPS per week",
            week_labels,
            {"NPS": [w.nps for w in weeks]},
            y_label="NPS",
            y_range=(-100, 100),
            zero_line=True,
        ),
        "nps_csat_by_channel": _nps_csat_bars("NPS and CSAT by channel", report.by_channel),
        "nps_csat_by_resolver": _nps_csat_bars(
            "NPS and CSAT by resolver",
            report.by_resolver,
            names=getattr(report, "agent_names", None) or {},
        ),
        "containment_per_week": line_chart(
            "Containment per week",
            week_labels,
            {"Containment": [w.containment for w in weeks]},
            y_label="% of conversations",
            y_range=(0, 100),
        ),
        "escalation_topics": _topic_bars(
            "Escalation rate by topic",
            [(str(t.topic), t.rate) for t in report.escalation_topics],
            "% of the topic's conversations escalated",
        ),
        "detractor_topics": _topic_bars(
            "Detractors by topic",
            [(str(t.topic), t.share) for t in report.detractor_topics],
            "% of the topic's respondents who are detractors",
        ),
    }


def write_charts(report: Any, directory: Path) -> list[Path]:
    """Write `charts_for(report)` to `directory/<name>.png` (creating it); the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in charts_for(report).items():
        path = directory / f"{name}.png"
        path.write_bytes(data)
        paths.append(path)
    return paths


def _nps_csat_bars(
    title: str, figures: Mapping[Any, Any], names: Mapping[str, str] | None = None
) -> bytes:
    # Groups with neither score (e.g. unresolved conversations, never surveyed) are left out.
    keys = [k for k in figures if figures[k].nps is not None or figures[k].csat is not None]
    names = names or {}
    categories = [f"{names.get(str(key), key)}\n(n={figures[key].conversations})" for key in keys]
    nps = [figures[key].nps for key in keys]
    csat = [figures[key].csat for key in keys]
    lowest = min([0.0, *(v for v in map(_value, nps) if v is not None)])
    # NPS can go down to -100; show only as much of the negative side as the data needs.
    low = max(-100.0, math.floor((lowest - 5) / 25) * 25.0) if lowest < 0 else 0.0
    return bar_chart(
        title, categories, {"NPS": nps, "CSAT %": csat}, y_label="NPS / CSAT %", y_range=(low, 100)
    )


def _topic_bars(title: str, rows: Sequence[tuple[str, float | None]], x_label: str) -> bytes:
    ranked = sorted(rows, key=lambda row: -(_value(row[1]) or 0.0))
    shown = ranked[:_TOP_TOPICS]
    if len(ranked) > len(shown):
        title = f"{title} (top {len(shown)} of {len(ranked)})"
    return bar_chart(
        title,
        [topic for topic, _ in shown],
        {title: [value for _, value in shown]},
        y_label=x_label,
        horizontal=True,
    )


# --- helpers ---------------------------------------------------------------------------------


@contextmanager
def _figure(title: str) -> Iterator[tuple[Any, Any]]:
    """A fresh 800x400 figure with one styled axes, under the chart style's rc settings."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, constrained_layout=True)
        ax = fig.add_subplot(1, 1, 1)
        fig.suptitle(title, x=0.01, ha="left", fontsize=13, fontweight="bold", color=INK)
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
        ax.set_axisbelow(True)
        yield fig, ax


def _png(fig: Any) -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    # No "Software" metadata: the same chart gives the same bytes across matplotlib versions.
    canvas.print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


def _no_data(ax: Any, y_range: tuple[float, float] | None, *, horizontal: bool = False) -> None:
    ax.text(
        0.5,
        0.5,
        NO_DATA,
        transform=ax.transAxes,
        ha="center",
        va="center",
        color=MUTED,
        fontsize=12,
        style="italic",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if y_range is not None:
        (ax.set_xlim if horizontal else ax.set_ylim)(*y_range)


def _check_lengths(labels: Sequence[str], series: Mapping[str, Sequence[float | None]]) -> None:
    for name, values in series.items():
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")


def _value(value: float | None) -> float | None:
    """A plain float, or None for a missing value (None or NaN)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _nan(value: float | None) -> float:
    number = _value(value)
    return math.nan if number is None else number


def _has_data(series: Mapping[str, Sequence[float | None]]) -> bool:
    return any(_value(v) is not None for values in series.values() for v in values)


def _auto_range(values: Sequence[float], annotate: bool) -> tuple[float, float]:
    """The value axis for bars: always including 0, with room for the value labels."""
    low, high = min([0.0, *values]), max([0.0, *values])
    if low == high:
        high = 1.0
    pad = (high - low) * (0.12 if annotate else 0.05)
    return (low - pad if low < 0 else low), (high + pad if high > 0 else high)


def _headroom(y_range: tuple[float, float], values: Sequence[float]) -> tuple[float, float]:
    """`y_range`, stretched where a value label at the edge would leave the plot."""
    low, high = y_range
    pad = (high - low) * 0.08
    if values and max(values) > high - pad:
        high += pad
    if values and min(values) < low + pad and low < 0:
        low -= pad
    return low, high


def _format(value: float) -> str:
    rounded = round(value, 1) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{rounded:.0f}" if rounded == int(rounded) else f"{rounded:.1f}"


def _shorten(label: str) -> str:
    lines = str(label).split("\n")
    return "\n".join(
        line if len(line) <= _MAX_LABEL else line[: _MAX_LABEL - 1].rstrip() + "…" for line in lines
    )


def _rotate(tick_labels: Any) -> None:
    for tick in tick_labels:
        tick.set_rotation(30)
        tick.set_horizontalalignment("right")
        tick.set_rotation_mode("anchor")


def _thin_ticks(ax: Any, count: int, most: int = 16) -> None:
    """Label at most `most` ticks so weekly labels stay readable over long periods."""
    if count <= most:
        return
    step = math.ceil(count / most)
    for index, tick in enumerate(ax.get_xticklabels()):
        tick.set_visible(index % step == 0)


def _long(labels: Sequence[str]) -> bool:
    return any(len(line) > _ROTATE_OVER for label in labels for line in str(label).split("\n"))


def _legend(ax: Any, count: int) -> None:
    """One row above the plot's top right corner, clear of the data."""
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=count, borderaxespad=0.2)


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]

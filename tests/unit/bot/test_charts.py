"""PNG charts: valid images of the right size, gaps, empty data, Turkish and Polish text."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.insights.charts import (
    HEIGHT,
    WIDTH,
    bar_chart,
    charts_for,
    is_png,
    line_chart,
    write_charts,
)

CHART_NAMES = {
    "nps_per_week",
    "nps_csat_by_channel",
    "nps_csat_by_resolver",
    "containment_per_week",
    "escalation_topics",
    "detractor_topics",
}

TURKISH = "İade ve değişim: ğüşöçıİĞÜŞÖÇ"
POLISH = "Zwroty i reklamacje: ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"


def image(data: bytes) -> Any:
    """The decoded PNG as an array of shape (height, width, channels)."""
    from matplotlib.image import imread

    return imread(io.BytesIO(data), format="png")


def assert_chart(data: bytes) -> None:
    assert is_png(data)
    pixels = image(data)
    assert pixels.shape[:2] == (HEIGHT, WIDTH) == (400, 800)
    # White background: the corners are white.
    for y, x in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
        assert list(pixels[y, x][:3]) == [1.0, 1.0, 1.0]


@contextmanager
def glyph_warnings() -> Iterator[list[str]]:
    """Collects the "Glyph ... missing from current font" warnings matplotlib raises meanwhile."""
    found: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield found
    found.extend(str(w.message) for w in caught if "Glyph" in str(w.message))


def week(label: str, nps: float | None, containment: float | None = 60.0) -> SimpleNamespace:
    return SimpleNamespace(
        week=label, nps=nps, csat=70.0, containment=containment, conversations=50
    )


def figures(nps: float | None, csat: float | None, conversations: int) -> SimpleNamespace:
    return SimpleNamespace(nps=nps, csat=csat, conversations=conversations)


def fake_report(*, empty: bool = False) -> SimpleNamespace:
    if empty:
        return SimpleNamespace(
            weekly=[], by_channel={}, by_resolver={}, escalation_topics=[], detractor_topics=[]
        )
    return SimpleNamespace(
        weekly=[
            week("2026-W44", 12.5),
            week("2026-W45", None, None),
            week("2026-W46", -20.0),
            week("2026-W47", 41.0, 72.5),
        ],
        by_channel={
            "telegram": figures(32.0, 81.5, 420),
            "slack": figures(-12.0, 58.0, 95),
            "webchat": figures(None, None, 2),
        },
        by_resolver={"bot": figures(18.0, 74.0, 800), "agent": figures(44.0, 88.0, 220)},
        escalation_topics=[
            SimpleNamespace(topic=TURKISH, rate=42.0),
            SimpleNamespace(topic=POLISH, rate=35.5),
            SimpleNamespace(topic="delivery", rate=7.5),
        ],
        detractor_topics=[
            SimpleNamespace(topic=f"topic {i}", share=100 / (i + 2)) for i in range(12)
        ],
    )


# --- is_png ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def png() -> bytes:
    return line_chart("NPS", ["W1", "W2"], {"NPS": [1.0, 2.0]})


def test_is_png_accepts_a_rendered_chart(png: bytes) -> None:
    assert is_png(png)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: b"",
        lambda data: b"GIF89a" + data[6:],
        lambda data: b"not a png at all, just some text bytes here...",
        lambda data: data[:8],
        lambda data: data[:33],
        lambda data: data[: len(data) // 2],
        lambda data: data[:-1],
        # A damaged IHDR: the width changes, the CRC no longer matches.
        lambda data: data[:16] + b"\x00\x00\x00\x00" + data[20:],
        lambda data: data[:12] + b"IDAT" + data[16:],
    ],
    ids=[
        "empty",
        "gif",
        "text",
        "signature-only",
        "header-only",
        "half",
        "no-iend-byte",
        "crc",
        "no-ihdr",
    ],
)
def test_is_png_rejects_other_or_truncated_bytes(
    png: bytes, mangle: Callable[[bytes], bytes]
) -> None:
    assert not is_png(mangle(png))


# --- line_chart ------------------------------------------------------------------------------


def test_line_chart_is_an_800x400_png() -> None:
    data = line_chart(
        "NPS per week",
        ["2026-W45", "2026-W46", "2026-W47"],
        {"NPS": [10.0, -5.0, 30.0]},
        y_label="NPS",
        y_range=(-100, 100),
        zero_line=True,
    )
    assert_chart(data)


def test_line_chart_with_gaps_and_several_series() -> None:
    labels = [f"2026-W{n}" for n in range(40, 48)]
    full = line_chart("Two", labels, {"A": [float(n) for n in range(8)], "B": [50.0] * 8})
    gappy = line_chart(
        "Two",
        labels,
        {"A": [0.0, None, 2.0, None, None, 5.0, math.nan, 7.0], "B": [None] * 7 + [50.0]},
    )
    assert_chart(full)
    assert_chart(gappy)
    assert (image(full) != image(gappy)).any()


def test_line_chart_with_many_weeks_stays_an_800x400_png() -> None:
    labels = [f"2026-W{n:02d}" for n in range(1, 53)]
    assert_chart(line_chart("A year", labels, {"NPS": [float(n % 20) for n in range(52)]}))


@pytest.mark.parametrize(
    "labels, series",
    [([], {"NPS": []}), ([], {}), (["W1", "W2"], {"NPS": [None, None]}), (["W1"], {})],
)
def test_line_chart_without_data_renders_a_note(
    labels: list[str], series: dict[str, list[float | None]]
) -> None:
    assert_chart(line_chart("Nothing", labels, series, y_range=(0, 100)))


def test_line_chart_rejects_a_series_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="'NPS' has 1 values for 2 labels"):
        line_chart("NPS", ["W1", "W2"], {"NPS": [1.0]})


# --- bar_chart -------------------------------------------------------------------------------


@pytest.mark.parametrize("horizontal", [False, True])
def test_bar_chart_grouped_with_missing_values(horizontal: bool) -> None:
    data = bar_chart(
        "NPS and CSAT by channel",
        ["telegram", "slack", "webchat"],
        {"NPS": [32.0, -12.0, None], "CSAT": [81.5, None, 70.0]},
        y_label="NPS / CSAT %",
        y_range=(-25, 100),
        horizontal=horizontal,
    )
    assert_chart(data)


def test_bar_chart_without_annotations_or_range() -> None:
    assert_chart(bar_chart("Plain", ["a", "b"], {"x": [3.0, 4.0]}, annotate=False))


def test_bar_chart_with_long_category_names() -> None:
    categories = [f"a rather long category name number {n} that goes on" for n in range(9)]
    values: list[float | None] = [float(n * 10) for n in range(9)]
    assert_chart(bar_chart("Long", categories, {"share": values}))
    assert_chart(bar_chart("Long", categories, {"share": values}, horizontal=True))


@pytest.mark.parametrize("horizontal", [False, True])
@pytest.mark.parametrize(
    "categories, series",
    [([], {"x": []}), ([], {}), (["a", "b"], {"x": [None, None], "y": [None, math.nan]})],
)
def test_bar_chart_without_data_renders_a_note(
    categories: list[str], series: dict[str, list[float | None]], horizontal: bool
) -> None:
    assert_chart(bar_chart("Nothing", categories, series, horizontal=horizontal))


def test_bar_chart_rejects_a_series_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="series 'x'"):
        bar_chart("Bars", ["a"], {"x": [1.0, 2.0]})


# --- fonts -----------------------------------------------------------------------------------


def test_turkish_and_polish_text_renders_without_missing_glyphs() -> None:
    with glyph_warnings() as missing:
        assert_chart(
            line_chart(
                f"{TURKISH} / {POLISH}",
                [TURKISH, POLISH],
                {TURKISH: [1.0, 2.0], POLISH: [2.0, 1.0]},
                y_label="Müşteri memnuniyeti – zadowolenie",
            )
        )
        assert_chart(bar_chart(TURKISH, [TURKISH, POLISH], {POLISH: [1.0, None]}, y_label=POLISH))
        assert_chart(bar_chart(POLISH, [TURKISH, POLISH], {"x": [1.0, 2.0]}, horizontal=True))
    assert missing == []


def test_a_missing_glyph_would_be_noticed() -> None:
    """The check above is meaningful: a character DejaVu Sans lacks does warn."""
    with glyph_warnings() as missing:
        line_chart("漢", ["a"], {"x": [1.0]})
    assert missing and "missing from current font" in missing[0]


# --- report charts ---------------------------------------------------------------------------


def test_charts_for_a_report_gives_six_pngs() -> None:
    with glyph_warnings() as missing:
        charts = charts_for(fake_report())
    assert set(charts) == CHART_NAMES
    for data in charts.values():
        assert_chart(data)
    assert missing == []


def test_charts_for_an_empty_report_still_gives_six_pngs() -> None:
    charts = charts_for(fake_report(empty=True))
    assert set(charts) == CHART_NAMES
    for data in charts.values():
        assert_chart(data)


def test_write_charts_writes_six_png_files(tmp_path: Path) -> None:
    directory = tmp_path / "reports" / "2026-W47"
    paths = write_charts(fake_report(), directory)
    assert {p.name for p in paths} == {f"{name}.png" for name in CHART_NAMES}
    assert sorted(directory.iterdir()) == sorted(paths)
    for path in paths:
        assert_chart(path.read_bytes())


def test_importing_charts_does_not_import_matplotlib() -> None:
    code = "import sys, bot.insights.charts; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"

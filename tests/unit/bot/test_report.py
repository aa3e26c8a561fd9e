"""`kopru report` and bot.insights.report against a temporary SQLite store with known rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.cli import build_parser, main
from bot.insights.metrics import summarize
from bot.insights.report import format_text, report_from_store, to_json
from bot.storage.store import Store
from bot.storage.tables import conversations, handoffs, metadata, surveys
from tests.unit.bot.test_metrics import EXPECTED_OVERALL, PERIOD, sample_dataset, sample_rows

FROM_TO = ["--from", "2026-11-02", "--to", "2026-11-15"]


def fill(store: Store) -> None:
    """Write the rows of test_metrics' example into the store, as Köprü would have."""
    convs, hands, asked = sample_rows()
    with store.transaction() as conn:
        for c in convs:
            row = dataclasses.asdict(c)
            conn.execute(conversations.insert().values(**{**row, "intents": json.dumps(c.intents)}))
        for h in hands:
            row = dataclasses.asdict(h)
            row.update(state=h.state.value, context=json.dumps(h.context))
            conn.execute(handoffs.insert().values(**row))
        for s in asked:
            row = dataclasses.asdict(s)
            conn.execute(surveys.insert().values(**{**row, "intents": json.dumps(s.intents)}))


@pytest.fixture
def database(tmp_database_url: str) -> str:
    store = Store(tmp_database_url)
    store.create_schema()
    fill(store)
    store.close()
    return tmp_database_url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_from_store_reads_what_summarize_expects(database: str) -> None:
    store = Store(database)
    try:
        report = report_from_store(store, PERIOD)
    finally:
        store.close()
    assert report == summarize(sample_dataset())


def test_json_report(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--database", database, *FROM_TO, "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["overall"] == pytest.approx(EXPECTED_OVERALL)
    assert data == json.loads(to_json(summarize(sample_dataset())))
    assert data["period"]["label"] == "2026-11-02 – 2026-11-15"
    assert data["by_channel"]["telegram"]["containment"] == 50.0
    assert data["by_resolver"]["U1"]["nps"] == -100.0
    assert data["agent_names"] == {"U1": "Ayşe", "U2": "Kuba"}
    assert [w["week"] for w in data["weekly"]] == ["2026-W45", "2026-W46"]
    assert [w["containment"] for w in data["weekly"]] == [75.0, 50.0]
    assert data["escalation_topics"][0] == {
        "topic": "delivery",
        "conversations": 1,
        "escalated": 1,
        "rate": 100.0,
    }
    assert data["detractor_topics"][0] == {
        "topic": "order status",
        "respondents": 2,
        "detractors": 1,
        "share": 50.0,
    }


def test_text_report(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--database", database, *FROM_TO)
    assert (code, err) == (0, "")
    assert "2026-11-02 – 2026-11-15" in out
    for needle in [
        "Conversations             8",
        "62.5%",  # containment
        "37.5%",  # escalation rate
        "80.0% (4 of 5 resolved)",  # FCR
        "20.0 (5 respondents: promoters 2, passives 2, detractors 1)",
        "50.0% (4 answers)",  # CSAT
        "median 3.5 s, p90 5.5 s",
        "median 2 min 00 s, p90 4 min 24 s",
        "median 12 min 30 s, p90 14 min 30 s",
        "Ayşe (U1)",
        "2026-W45  2026-11-02",
        "Topics that lead to escalation",
        "Topics that lead to detractors",
    ]:
        assert needle in out, needle
    lines = out.splitlines()
    # The breakdown tables' columns line up.
    start = lines.index("By channel") + 1
    header, telegram, webchat, rest = lines[start : start + 4]
    assert header.split() == [
        "channel",
        "conversations",
        "containment",
        "escalation",
        "rate",
        "FCR",
        "NPS",
        "(n)",
        "CSAT",
        "(n)",
    ]
    assert len({len(header), len(telegram), len(webchat), len(rest)}) == 1
    assert telegram.split() == [
        "telegram",
        "4",
        "50.0%",
        "50.0%",
        "66.7%",
        "0.0",
        "(3)",
        "50.0%",
        "(2)",
    ]
    assert rest.split() == ["rest", "1", "100.0%", "0.0%", "–", "–", "–"]


def test_text_report_uses_given_agent_names(database: str) -> None:
    store = Store(database)
    try:
        report = report_from_store(store, PERIOD)
    finally:
        store.close()
    text = format_text(report, {"U1": "Ayşe Yılmaz"})
    assert "Ayşe Yılmaz (U1)" in text
    assert "unresolved" in text


def test_fresh_database_reports_zeros(
    tmp_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--database", tmp_database_url, "--days", "7", "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["overall"]["conversations"] == 0
    assert data["overall"]["nps"] is None
    assert 1 <= len(data["weekly"]) <= 2
    engine = sa.create_engine(tmp_database_url)
    try:
        # Köprü's tables, migrated (alembic_version: bot.storage.migrate).
        tables = set(metadata.tables) | {"alembic_version"}
        assert set(sa.inspect(engine).get_table_names()) == tables
    finally:
        engine.dispose()


def test_default_period_is_the_last_days_up_to_today(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "--database", database, "--to", "2026-11-15", "--days", "7", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["period"]["label"] == "2026-11-09 – 2026-11-15"
    assert data["overall"]["conversations"] == 4

    code, out, _ = run(capsys, "--database", database, "--json")
    today = dt.datetime.now(dt.timezone.utc).date()
    first = today - dt.timedelta(days=29)
    assert json.loads(out)["period"]["label"] == f"{first.isoformat()} – {today.isoformat()}"


def test_database_defaults_to_the_settings(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOPRU_DATABASE_URL", database)
    code, out, _ = run(capsys, *FROM_TO, "--json")
    assert code == 0
    assert json.loads(out)["overall"]["conversations"] == 8


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "2026-13-01"], "--from must be a date as YYYY-MM-DD"),
        (["--to", "15.11.2026"], "--to must be a date as YYYY-MM-DD"),
        (["--from", "2026-11-16", "--to", "2026-11-15"], "is after --to"),
        (["--days", "0"], "--days must be 1 or more"),
        (["--days", "many"], "--days must be a whole number"),
        (["--days", "99999999"], "outside the calendar"),
        (["--from", "9999-12-30", "--to", "9999-12-31"], "outside the calendar"),
    ],
)
def test_bad_arguments_exit_2(
    database: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "--database", database, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize("make_url", ["under_a_file", "unknown_dialect"])
def test_unreachable_database_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_url: str
) -> None:
    if make_url == "under_a_file":
        (tmp_path / "file").write_text("not a directory")
        url = f"sqlite:///{tmp_path / 'file' / 'kopru.db'}"
    else:
        url = "nosuchdb://somewhere/kopru"
    code, out, err = run(capsys, "--database", url)
    assert code == 2
    assert out == ""
    assert err.startswith("kopru report: ")
    assert len(err.strip().splitlines()) == 1


def test_report_is_a_command() -> None:
    args = build_parser().parse_args(["report"])
    assert (args.days, args.from_date, args.to_date, args.json, args.charts) == (
        "30",
        None,
        None,
        False,
        None,
    )


try:
    from bot.insights.charts import write_charts  # noqa: F401

    charts_missing = False
except ImportError:  # another change brings bot.insights.charts
    charts_missing = True


@pytest.mark.skipif(charts_missing, reason="bot.insights.charts is not there yet")
def test_charts_are_written(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "charts"
    code, out, err = run(capsys, "--database", database, *FROM_TO, "--charts", str(directory))
    assert (code, err) == (0, "")
    printed = [
        line.removeprefix("Chart: ") for line in out.splitlines() if line.startswith("Chart: ")
    ]
    assert printed
    for path in printed:
        assert Path(path).parent == directory
        assert Path(path).read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(charts_missing, reason="bot.insights.charts is not there yet")
def test_charts_with_json_keep_stdout_json(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "charts"
    code, out, err = run(
        capsys, "--database", database, *FROM_TO, "--json", "--charts", str(directory)
    )
    assert code == 0
    assert json.loads(out)["overall"]["conversations"] == 8
    assert err.count("Chart: ") == len(list(directory.glob("*.png"))) > 0

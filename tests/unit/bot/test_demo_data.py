"""The simulated month for the dashboard: deterministic, consistent, realistic, and safe."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.cli import main
from bot.desk.hours import is_open
from bot.errors import KopruError
from bot.insights.demo_data import AGENTS, DESK, DemoSummary, generate, remove_demo_rows
from bot.insights.survey import SurveyRepository
from bot.storage.store import Outcome, Store, TurnRecord
from bot.storage.tables import conversations, handoffs, surveys

END = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc).timestamp()
AGENT_IDS = {agent_id for agent_id, _, _ in AGENTS}


def new_store(path: Path) -> Store:
    store = Store(f"sqlite:///{path}")
    store.create_schema()
    return store


def rows(store: Store, table: sa.Table) -> list[dict[str, Any]]:
    with store.transaction() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]


def count(store: Store, table: sa.Table) -> int:
    with store.transaction() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def real_turn(store: Store, sender: str = "4711") -> None:
    store.record_turn(
        TurnRecord(
            sender_id=sender,
            session_started_at=END - 100,
            channel="telegram",
            language="pl",
            intent="order_status",
            at=END - 99,
        )
    )


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, DemoSummary]]:
    store = new_store(tmp_path_factory.mktemp("demo") / "demo.db")
    summary = generate(store, end=END)
    yield store, summary
    store.close()


@pytest.fixture(scope="module")
def tables(month: tuple[Store, DemoSummary]) -> dict[str, list[dict[str, Any]]]:
    store, _ = month
    return {
        "conversations": rows(store, conversations),
        "handoffs": rows(store, handoffs),
        "surveys": rows(store, surveys),
    }


# --- determinism and counts ------------------------------------------------------------------


def test_the_same_seed_gives_the_same_rows(tmp_path: Path) -> None:
    first, second, other = (new_store(tmp_path / f"{n}.db") for n in ("a", "b", "c"))
    generate(first, days=5, end=END, seed=11)
    generate(second, days=5, end=END, seed=11)
    generate(other, days=5, end=END, seed=12)
    for table in (conversations, handoffs, surveys):
        assert rows(first, table) == rows(second, table)
        assert rows(first, table) != rows(other, table)


def test_the_summary_counts_the_rows_and_the_period(
    month: tuple[Store, DemoSummary], tables: dict[str, list[dict[str, Any]]]
) -> None:
    store, summary = month
    assert summary.conversations == count(store, conversations) == len(tables["conversations"])
    assert summary.handoffs == count(store, handoffs) > 0
    assert summary.surveys == count(store, surveys) > 0
    assert (summary.start, summary.end) == (END - 30 * 86400, END)
    assert summary.period.end - summary.period.start == 30 * 86400
    # About conversations_per_day (60) a day.
    assert 50 * 30 <= summary.conversations <= 70 * 30


def test_everything_happens_inside_the_period(
    month: tuple[Store, DemoSummary], tables: dict[str, list[dict[str, Any]]]
) -> None:
    _, summary = month
    for c in tables["conversations"]:
        assert summary.start <= c["session_started_at"] <= c["started_at"]
        assert c["started_at"] <= c["last_message_at"] <= c["ended_at"] < summary.end
    for h in tables["handoffs"]:
        assert summary.start <= h["created_at"] <= h["ended_at"] < summary.end
    for s in tables["surveys"]:
        assert summary.start <= s["asked_at"] <= (s["answered_at"] or s["asked_at"]) < summary.end


def test_every_sender_is_marked_demo(tables: dict[str, list[dict[str, Any]]]) -> None:
    pattern = re.compile(r"demo-(tg-\d+|web-[0-9a-f]{12}|rest-[0-9a-f]{8})")
    prefixes = {"telegram": "demo-tg-", "webchat": "demo-web-", "rest": "demo-rest-"}
    for table in tables.values():
        for row in table:
            assert pattern.fullmatch(row["sender_id"])
            assert row["sender_id"].startswith(prefixes[row["channel"]])


# --- consistency ------------------------------------------------------------------------------


def test_handoffs_belong_to_escalated_conversations_and_move_forward(
    tables: dict[str, list[dict[str, Any]]],
) -> None:
    by_id = {c["id"]: c for c in tables["conversations"]}
    states: Counter[str] = Counter()
    for h in tables["handoffs"]:
        conversation = by_id[h["conversation_id"]]
        assert (conversation["sender_id"], conversation["session_started_at"]) == (
            h["sender_id"],
            h["session_started_at"],
        )
        assert conversation["outcome"] == Outcome.ESCALATED
        assert (h["channel"], h["language"]) == (conversation["channel"], conversation["language"])
        assert h["created_at"] >= conversation["started_at"]
        assert re.fullmatch(r"E-[0-9A-F]{6}", h["reference"])
        context = json.loads(h["context"])
        assert context["reason"] == h["reason"]
        assert [i["name"] for i in context["intents"]] == json.loads(conversation["intents"])
        states[h["state"]] += 1
        if h["state"] == "ticket":
            assert re.fullmatch(r"T-[0-9A-F]{6}", h["ticket_reference"])
            assert h["ended_by"] in ("outside_hours", "queue_timeout")
            assert h["answer_by"] > h["ended_at"] >= h["created_at"]
            assert h["agent_id"] is h["claimed_at"] is None
            if h["ended_by"] == "outside_hours":
                assert not is_open(DESK, h["created_at"])
            else:
                assert is_open(DESK, h["created_at"])
                assert h["ended_at"] - h["created_at"] == DESK.queue_timeout
        else:
            assert h["state"] in ("resolved", "bot")
            assert is_open(DESK, h["created_at"])
            assert h["agent_id"] in AGENT_IDS and h["ended_by"] == h["agent_id"]
            assert h["created_at"] + 60 <= h["claimed_at"] < h["created_at"] + 600
            assert h["ended_at"] >= h["claimed_at"]
            if h["state"] == "resolved":
                assert 180 <= h["ended_at"] - h["claimed_at"] <= 1500
        assert h["ticket_reference"] is None or h["state"] == "ticket"
    assert states["resolved"] > states["bot"] > 0
    assert states["ticket"] > 0
    tickets = Counter(h["ended_by"] for h in tables["handoffs"] if h["state"] == "ticket")
    assert tickets["outside_hours"] > tickets["queue_timeout"] > 0
    # Every escalated conversation has its handoff.
    escalated = [c for c in tables["conversations"] if c["outcome"] == Outcome.ESCALATED]
    assert len(escalated) == len(tables["handoffs"])
    # References are unique.
    assert len({h["reference"] for h in tables["handoffs"]}) == len(tables["handoffs"])


def test_surveys_follow_resolutions_and_scores_are_in_range(
    tables: dict[str, list[dict[str, Any]]],
) -> None:
    by_id = {c["id"]: c for c in tables["conversations"]}
    resolved_by = {
        h["conversation_id"]: h["agent_id"] for h in tables["handoffs"] if h["state"] == "resolved"
    }
    statuses: Counter[str] = Counter()
    for s in tables["surveys"]:
        conversation = by_id[s["conversation_id"]]
        assert s["sender_id"] == conversation["sender_id"]
        assert s["intents"] == conversation["intents"]
        if conversation["outcome"] == Outcome.RESOLVED_BOT:
            assert s["resolver"] == "bot"
        else:
            assert s["resolver"] == resolved_by[conversation["id"]]
        statuses[s["status"]] += 1
        assert s["nps"] is None or 0 <= s["nps"] <= 10
        assert s["csat"] is None or 1 <= s["csat"] <= 5
        if s["status"] == "completed":
            assert s["nps"] is not None and s["csat"] is not None
            assert s["answered_at"] > s["asked_at"]
        else:
            assert s["status"] == "ended" and s["csat"] is None and s["reason"] is None
    total = len(tables["surveys"])
    unanswered = sum(1 for s in tables["surveys"] if s["nps"] is None)
    assert 0.05 <= unanswered / total <= 0.16
    answered = [s for s in tables["surveys"] if s["status"] == "completed"]
    with_reason = sum(1 for s in answered if s["reason"])
    assert 0.18 <= with_reason / len(answered) <= 0.42


def test_a_customer_is_surveyed_at_most_once_a_week(
    tables: dict[str, list[dict[str, Any]]],
) -> None:
    asked: dict[str, list[float]] = {}
    for s in tables["surveys"]:
        asked.setdefault(s["sender_id"], []).append(s["asked_at"])
    for times in asked.values():
        times.sort()
        assert all(b - a >= 7 * 86400 for a, b in itertools.pairwise(times))


# --- realism ----------------------------------------------------------------------------------


def shares(values: list[str]) -> dict[str, float]:
    return {k: v / len(values) for k, v in Counter(values).items()}


def test_channels_languages_and_topics_have_the_intended_shares(
    tables: dict[str, list[dict[str, Any]]],
) -> None:
    convs = tables["conversations"]
    channels = shares([c["channel"] for c in convs])
    assert 0.38 <= channels["telegram"] <= 0.52
    assert 0.33 <= channels["webchat"] <= 0.47
    assert 0.09 <= channels["rest"] <= 0.21
    languages = shares([c["language"] for c in convs])
    assert 0.38 <= languages["tr"] <= 0.52
    assert 0.23 <= languages["pl"] <= 0.37
    assert 0.18 <= languages["en"] <= 0.32
    first = shares([json.loads(c["intents"])[1 if json.loads(c["intents"])[0] == "greet" else 0]
                    for c in convs])  # fmt: skip
    assert 0.24 <= first["order_status"] <= 0.36
    assert 0.05 <= first["tech_problem"] <= 0.11


def test_outcomes_escalations_and_surveys_have_the_intended_shares(
    tables: dict[str, list[dict[str, Any]]],
) -> None:
    convs = tables["conversations"]
    outcomes = shares([c["outcome"] for c in convs])
    assert 0.18 <= outcomes[Outcome.ESCALATED] <= 0.26
    assert 0.03 <= outcomes[Outcome.ABANDONED] <= 0.15
    assert outcomes[Outcome.RESOLVED_BOT] > 0.6

    def rate(topic: str) -> float:
        of_topic = [c for c in convs if topic in json.loads(c["intents"])[:2]]
        return sum(c["outcome"] == Outcome.ESCALATED for c in of_topic) / len(of_topic)

    assert rate("tech_problem") > rate("order_status")
    assert rate("return_request") > rate("faq")
    resolved = outcomes[Outcome.RESOLVED_BOT] * len(convs) + sum(
        h["state"] == "resolved" for h in tables["handoffs"]
    )
    assert 0.45 <= len(tables["surveys"]) / resolved <= 0.65


def test_nps_is_higher_for_the_bot_than_after_complaints(
    tables: dict[str, list[dict[str, Any]]],
) -> None:
    def mean_nps(rows: list[dict[str, Any]]) -> float:
        scores = [s["nps"] for s in rows if s["nps"] is not None]
        return sum(scores) / len(scores)

    answered = tables["surveys"]
    bot = [s for s in answered if s["resolver"] == "bot"]
    complaints = [s for s in answered if "complaint" in json.loads(s["intents"])]
    assert mean_nps(bot) > mean_nps(complaints) + 1
    assert any(s["nps"] is not None and s["nps"] <= 6 for s in bot)  # some detractors
    promoters = [s for s in answered if s["csat"] is not None and s["nps"] >= 9]
    detractors = [s for s in answered if s["csat"] is not None and s["nps"] <= 6]
    assert sum(s["csat"] for s in promoters) / len(promoters) > sum(
        s["csat"] for s in detractors
    ) / len(detractors)


def test_traffic_peaks_on_weekday_daytime(tables: dict[str, list[dict[str, Any]]]) -> None:
    local = [dt.datetime.fromtimestamp(c["started_at"], DESK.timezone)
             for c in tables["conversations"]]  # fmt: skip
    night = sum(1 for t in local if t.hour < 6)
    late_morning = sum(1 for t in local if 10 <= t.hour < 16)
    assert late_morning > 8 * night
    days = Counter(t.date() for t in local)
    weekday = [n for d, n in days.items() if d.weekday() < 5]
    weekend = [n for d, n in days.items() if d.weekday() >= 5]
    assert sum(weekday) / len(weekday) > 1.15 * sum(weekend) / len(weekend)


def test_first_answers_are_mostly_quick_with_a_tail(
    tables: dict[str, list[dict[str, Any]]],
) -> None:
    seconds = [c["first_answer_seconds"] for c in tables["conversations"]]
    quick = sum(1 for s in seconds if 0.3 <= s <= 1.5)
    assert quick / len(seconds) > 0.8
    assert any(s > 3 for s in seconds)


def test_some_customers_come_back_about_the_same_topic(
    tables: dict[str, list[dict[str, Any]]],
) -> None:
    by_sender: dict[str, list[dict[str, Any]]] = {}
    for c in tables["conversations"]:
        by_sender.setdefault(c["sender_id"], []).append(c)
    same_topic = 0
    for convs in by_sender.values():
        convs.sort(key=lambda c: c["started_at"])
        for a, b in itertools.pairwise(convs):
            assert b["started_at"] > a["ended_at"]
            assert (a["channel"], a["language"]) == (b["channel"], b["language"])
            topic = next(i for i in json.loads(a["intents"]) if i != "greet")
            if b["started_at"] - a["started_at"] < 7 * 86400 and topic in json.loads(b["intents"]):
                same_topic += 1
    returning = sum(1 for convs in by_sender.values() if len(convs) > 1)
    assert 0.05 <= returning / len(by_sender) <= 0.3
    assert same_topic > 20


def test_a_month_has_more_than_a_thousand_conversations(tmp_path: Path) -> None:
    # How long it takes (within 5 s) is checked by `python -m bench.timings`.
    store = new_store(tmp_path / "month.db")
    summary = generate(store, days=30, end=END)
    assert summary.conversations > 1000


# --- safety -----------------------------------------------------------------------------------


def test_a_store_with_real_customers_is_refused(tmp_path: Path) -> None:
    store = new_store(tmp_path / "real.db")
    real_turn(store)
    for replace in (False, True):
        with pytest.raises(KopruError, match="real customers"):
            generate(store, days=2, end=END, replace=replace)
    assert [r["sender_id"] for r in rows(store, conversations)] == ["4711"]
    assert count(store, handoffs) == count(store, surveys) == 0


def test_a_real_survey_alone_is_enough_to_refuse(tmp_path: Path) -> None:
    store = new_store(tmp_path / "survey.db")
    SurveyRepository(store).start(
        sender_id="DEMO-not-really", conversation_id=None, channel="webchat",
        language="en", intents=["faq"], resolver="bot", at=END - 50,
    )  # fmt: skip
    with pytest.raises(KopruError, match="real customers"):
        generate(store, days=2, end=END)
    assert count(store, conversations) == 0


def test_earlier_demo_data_needs_replace(tmp_path: Path) -> None:
    store = new_store(tmp_path / "again.db")
    first = generate(store, days=3, end=END)
    with pytest.raises(KopruError, match="replace"):
        generate(store, days=3, end=END)
    assert count(store, conversations) == first.conversations
    second = generate(store, days=2, end=END, seed=99, replace=True)
    assert count(store, conversations) == second.conversations != first.conversations
    assert count(store, handoffs) == second.handoffs
    assert count(store, surveys) == second.surveys


def test_only_demo_rows_are_removed(tmp_path: Path) -> None:
    store = new_store(tmp_path / "mixed.db")
    summary = generate(store, days=2, end=END)
    real_turn(store, sender="demo_but_real")  # not the "demo-" prefix
    real_turn(store, sender="DEMO-shouting")  # prefixes are case-sensitive
    store.push_outbox("demo-tg-1", [{"text": "hello"}], END)  # other tables are not touched
    # Now that real customers are there, regenerating is refused and removes nothing.
    with pytest.raises(KopruError):
        generate(store, days=2, end=END, replace=True)
    assert count(store, conversations) == summary.conversations + 2
    removed = remove_demo_rows(store)
    assert removed == summary.conversations + summary.handoffs + summary.surveys
    assert sorted(r["sender_id"] for r in rows(store, conversations)) == [
        "DEMO-shouting",
        "demo_but_real",
    ]
    assert count(store, handoffs) == count(store, surveys) == 0
    assert store.outbox_after("demo-tg-1", 0) != []


@pytest.mark.parametrize(
    "kwargs", [{"days": 0}, {"days": -3}, {"conversations_per_day": 0}, {"end": float("nan")}]
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    store = new_store(tmp_path / "bad.db")
    with pytest.raises(KopruError):
        generate(store, **kwargs)
    assert count(store, conversations) == 0


# --- the command line -------------------------------------------------------------------------


def test_the_command_writes_to_the_given_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli' / 'demo.db'}"
    assert main(["demo-data", "--database", url, "--days", "3", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    store = Store(url)
    written = count(store, conversations)
    assert written > 100
    assert f"Wrote {written} demo conversations" in out
    assert f"kopru report --database {url}" in out

    # Again without --replace: one line on stderr, exit 2, nothing changed.
    assert main(["demo-data", "--database", url, "--days", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kopru demo-data: ") and err.count("\n") == 1
    assert count(store, conversations) == written

    assert main(["demo-data", "--database", url, "--days", "1", "--replace"]) == 0
    assert count(store, conversations) < written
    store.close()


def test_the_command_defaults_to_demo_db_in_the_var_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KOPRU_VAR_DIR", str(tmp_path / "var"))
    assert main(["demo-data", "--days", "1"]) == 0
    assert (tmp_path / "var" / "demo.db").is_file()
    assert not (tmp_path / "var" / "kopru.db").exists()
    assert str(tmp_path / "var" / "demo.db") in capsys.readouterr().out


def test_the_command_reports_errors_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'real.db'}"
    real_turn(new_store(tmp_path / "real.db"))
    assert main(["demo-data", "--database", url]) == 2
    err = capsys.readouterr().err
    assert "real customers" in err and err.count("\n") == 1
    assert main(["demo-data", "--database", url, "--days", "0"]) == 2

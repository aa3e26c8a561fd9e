"""`kopru forget` and `kopru export` (bot/privacy/rights.py) on SQLite and PostgreSQL, with the
stores filled through the real code paths: Köprü's store and repositories, and Rasa's own
SQLTrackerStore saving a tracker.

After forgetting a customer, every table with a sender column (found by inspecting the
schema, so a new table cannot be missed silently) holds 0 rows about them, and the other
customer's rows are all still there.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.desk.handoff import HandoffRepository
from bot.insights.survey import SurveyRepository
from bot.privacy.rights import (
    SENDER_COLUMN,
    Database,
    databases,
    export,
    exported_rows,
    forget,
    out_of_reach,
)
from bot.settings import PROJECT_ROOT
from bot.storage.store import Store, TurnRecord
from tests.services import postgres_databases as new_databases

# Tables that hold no customer data and so need no sender column. A new table that holds
# data about a customer gets a `sender_id` column instead (and `kopru forget` erases it);
# this test fails for any table that has neither.
# The migrations' revision; the dashboard's sign-ins (agents and admins, no customer).
NO_CUSTOMER_DATA: frozenset[str] = frozenset({"alembic_version", "kopru_web_sessions"})
# Column names that would mean "a customer" under another name.
SENDER_LIKE = ("sender", "chat_id", "customer", "user_id", "recipient")

TELEGRAM_CUSTOMER = "5550001"  # a Telegram chat id, as Rasa sees the sender
WEB_CUSTOMER = "webchat-7f3a2c"
BOT_ID = 424242


@dataclass(frozen=True)
class Stores:
    kopru_url: str
    tracker_url: str

    def databases(self) -> list[Database]:
        return databases(self.kopru_url, self.tracker_url)


# --- databases ------------------------------------------------------------------------------


@pytest.fixture
def postgres_databases() -> Iterator[list[str]]:
    """Throwaway PostgreSQL databases, created on demand and dropped afterwards."""
    with new_databases(2) as urls:
        yield urls


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-one-database"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Stores:
    if request.param == "sqlite":
        return Stores(f"sqlite:///{tmp_path / 'kopru.db'}", f"sqlite:///{tmp_path / 'rasa.db'}")
    urls = request.getfixturevalue("postgres_databases")
    if request.param == "postgresql-one-database":
        # The scaled mode may keep Köprü's tables and the tracker store in one database.
        return Stores(urls[0], urls[0])
    return Stores(urls[0], urls[1])


# --- filling the stores through the real code ------------------------------------------------


async def save_tracker(url: str, sender: str, texts: list[str], update_ids: list[int]) -> None:
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import (
        ActionExecuted,
        BotUttered,
        SessionStarted,
        SlotSet,
        UserUttered,
    )
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.from_dict(
        {"slots": {"email": {"type": "text", "mappings": [{"type": "custom"}]}}}
    )
    # Rasa takes a full URL in `host`.
    store = SQLTrackerStore(domain, host=url)
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
    ]
    for text, update_id in zip(texts, update_ids, strict=True):
        metadata = {"telegram_update_id": update_id} if update_id else {}
        events += [
            UserUttered(text, {"name": "greet", "confidence": 0.9}, metadata=metadata),
            SlotSet("email", f"{sender}@example.com"),
            BotUttered(f"Hello {sender}"),
            ActionExecuted("action_listen"),
        ]
    tracker = DialogueStateTracker.from_events(sender, events, domain.slots)
    await store.save(tracker)
    store.engine.dispose()


def fill_kopru(url: str, sender: str, update_ids: list[int]) -> None:
    store = Store(url)
    store.create_schema()
    now = time.time()
    conversation = store.record_turn(
        TurnRecord(sender, 1.0, "telegram", "tr", "order_status", now - 100)
    )
    store.record_turn(TurnRecord(sender, 2.0, "telegram", "tr", "greet", now - 50))
    store.add_deletion_request(sender, f"{sender}@example.com", now)
    store.push_outbox(sender, [{"text": f"An agent answered {sender}"}], now)
    # A delivery recorded with its sender, and one from before deliveries had one.
    store.claim_delivery(f"telegram:{BOT_ID}:{update_ids[0]}", now, sender_id=sender)
    store.finish_delivery(f"telegram:{BOT_ID}:{update_ids[0]}")
    store.claim_delivery(f"telegram:{BOT_ID}:{update_ids[1]}", now)
    repo = HandoffRepository(store)
    handoff, _new = repo.open(
        sender_id=sender,
        session_started_at=1.0,
        conversation_id=conversation.id,
        channel="telegram",
        language="tr",
        reason="customer_request",
        context={"customer_name": sender, "slots": {"email": f"{sender}@example.com"}},
        at=now - 40,
    )
    repo.set_card(handoff.id, "C0AGENTS", f"1700000000.{handoff.id:06d}")
    surveys = SurveyRepository(store)
    survey = surveys.start(
        sender_id=sender,
        conversation_id=conversation.id,
        channel="telegram",
        language="tr",
        intents=["order_status"],
        resolver="bot",
        at=now - 10,
    )
    surveys.update(survey.id, nps=9, reason="hızlıydı", status="completed", answered_at=now)
    store.close()


async def fill(stores: Stores, sender: str, update_ids: list[int]) -> None:
    fill_kopru(stores.kopru_url, sender, update_ids)
    await save_tracker(
        stores.tracker_url, sender, ["merhaba", "siparişim nerede? 0532 123 45 67"], update_ids
    )


# --- counting what is left -------------------------------------------------------------------


def rows_about(stores: Stores, sender: str, delivery_keys: list[str]) -> dict[str, int]:
    """Rows about `sender` in every table of both databases, found by inspecting them."""
    counts: dict[str, int] = {}
    for url in {stores.kopru_url, stores.tracker_url}:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                inspector = sa.inspect(conn)
                for name in inspector.get_table_names():
                    columns = [c["name"] for c in inspector.get_columns(name)]
                    table = sa.Table(name, sa.MetaData(), autoload_with=conn)
                    clauses = []
                    if SENDER_COLUMN in columns:
                        clauses.append(table.c[SENDER_COLUMN] == sender)
                    if name == "kopru_deliveries":
                        clauses.append(table.c.key.in_(delivery_keys))
                    assert clauses or name in NO_CUSTOMER_DATA, (
                        f"table {name} has no {SENDER_COLUMN} column: does it hold customer "
                        "data? Add the column (kopru forget erases it) or list the table in "
                        "NO_CUSTOMER_DATA"
                    )
                    odd = [c for c in columns if c != SENDER_COLUMN and c.startswith(SENDER_LIKE)]
                    assert not odd, f"{name}.{odd}: name the customer column {SENDER_COLUMN}"
                    if not clauses:
                        continue  # listed in NO_CUSTOMER_DATA: no row is about anyone
                    query = sa.select(sa.func.count()).select_from(table).where(sa.or_(*clauses))
                    counts[name] = counts.get(name, 0) + int(conn.execute(query).scalar() or 0)
        finally:
            engine.dispose()
    return counts


def keys(update_ids: list[int]) -> list[str]:
    return [f"telegram:{BOT_ID}:{u}" for u in update_ids]


# --- tests -------------------------------------------------------------------------------------


async def test_forget_leaves_no_row_about_the_customer_and_all_of_the_other(
    stores: Stores,
) -> None:
    await fill(stores, TELEGRAM_CUSTOMER, [9001, 9002])
    await fill(stores, WEB_CUSTOMER, [9101, 9102])
    mine = rows_about(stores, TELEGRAM_CUSTOMER, keys([9001, 9002]))
    theirs = rows_about(stores, WEB_CUSTOMER, keys([9101, 9102]))
    expected_tables = {
        "events",
        "kopru_conversations",
        "kopru_deletion_requests",
        "kopru_deliveries",
        "kopru_handoffs",
        "kopru_outbox",
        "kopru_surveys",
    }
    assert expected_tables <= {t for t, n in mine.items() if n > 0}
    assert mine["kopru_deliveries"] == 2  # also the one recorded without a sender

    erasure = forget(TELEGRAM_CUSTOMER, stores.databases())

    assert rows_about(stores, TELEGRAM_CUSTOMER, keys([9001, 9002])) == dict.fromkeys(mine, 0)
    assert rows_about(stores, WEB_CUSTOMER, keys([9101, 9102])) == theirs
    erased = {c.table: c.rows for c in erasure.counts if c.rows}
    assert erased == {t: n for t, n in mine.items() if n}
    assert erasure.total == sum(mine.values())
    assert [(c.channel, c.ts) for c in erasure.slack_cards] == [("C0AGENTS", "1700000000.000001")]
    assert not erasure.notes

    # Forgetting again finds nothing and changes nothing.
    again = forget(TELEGRAM_CUSTOMER, stores.databases())
    assert again.total == 0
    assert rows_about(stores, WEB_CUSTOMER, keys([9101, 9102])) == theirs


async def test_a_dry_run_counts_and_changes_nothing(stores: Stores) -> None:
    await fill(stores, TELEGRAM_CUSTOMER, [9001, 9002])
    before = rows_about(stores, TELEGRAM_CUSTOMER, keys([9001, 9002]))
    erasure = forget(TELEGRAM_CUSTOMER, stores.databases(), dry_run=True)
    assert erasure.total == sum(before.values()) > 0
    assert rows_about(stores, TELEGRAM_CUSTOMER, keys([9001, 9002])) == before


async def test_export_has_every_row_about_the_customer_and_round_trips_as_json(
    stores: Stores,
) -> None:
    await fill(stores, TELEGRAM_CUSTOMER, [9001, 9002])
    await fill(stores, WEB_CUSTOMER, [9101, 9102])
    mine = rows_about(stores, TELEGRAM_CUSTOMER, keys([9001, 9002]))

    data = export(TELEGRAM_CUSTOMER, stores.databases(), now=1_700_000_000.0)

    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert data["sender_id"] == TELEGRAM_CUSTOMER
    assert data["exported_at"] == "2023-11-14T22:13:20+00:00"
    tables: dict[str, list[dict[str, object]]] = {}
    for store in data["stores"]:
        tables.update(store["tables"])
    assert {t: len(rows) for t, rows in tables.items()} == {t: n for t, n in mine.items() if n}
    assert exported_rows(data) == sum(mine.values())
    # What the customer wrote, as the tracker store has it, with JSON columns as JSON.
    texts = [e["data"].get("text") for e in tables["events"] if e["type_name"] == "user"]
    assert texts == ["merhaba", "siparişim nerede? 0532 123 45 67"]
    assert tables["kopru_handoffs"][0]["context"]["slots"] == {
        "email": f"{TELEGRAM_CUSTOMER}@example.com"
    }
    assert tables["kopru_surveys"][0]["reason"] == "hızlıydı"
    assert tables["kopru_outbox"][0]["message"] == {
        "text": f"An agent answered {TELEGRAM_CUSTOMER}"
    }
    assert sorted(d["key"] for d in tables["kopru_deliveries"]) == keys([9001, 9002])
    assert WEB_CUSTOMER not in json.dumps(data)
    assert any("Slack" in line for line in data["not_included"])


async def test_an_unknown_customer_is_reported_and_nothing_changes(stores: Stores) -> None:
    await fill(stores, WEB_CUSTOMER, [9101, 9102])
    theirs = rows_about(stores, WEB_CUSTOMER, keys([9101, 9102]))
    erasure = forget("nobody-like-this", stores.databases())
    assert erasure.total == 0
    assert erasure.slack_cards == []
    assert rows_about(stores, WEB_CUSTOMER, keys([9101, 9102])) == theirs
    assert exported_rows(export("nobody-like-this", stores.databases())) == 0


def test_missing_sqlite_files_mean_nothing_stored(tmp_path: Path) -> None:
    dbs = databases(f"sqlite:///{tmp_path / 'none.db'}", f"sqlite:///{tmp_path / 'no.db'}")
    erasure = forget(TELEGRAM_CUSTOMER, dbs)
    assert erasure.total == 0
    assert len(erasure.notes) == 2 and all("does not exist" in n for n in erasure.notes)
    assert not (tmp_path / "none.db").exists()  # looking does not create the store


def test_out_of_reach_lists_the_slack_cards_and_the_rest() -> None:
    from bot.privacy.rights import SlackCard

    lines = out_of_reach([SlackCard("E-7F3A2C", "C0AGENTS", "1700000000.000100")])
    text = "\n".join(lines)
    assert "E-7F3A2C: channel C0AGENTS, message ts 1700000000.000100" in text
    for where in ("Telegram", "Backups", "RabbitMQ", "localStorage"):
        assert where in text


async def test_telegram_deliveries_record_their_sender_and_are_forgotten(tmp_path: Path) -> None:
    from rasa.core.channels.channel import UserMessage

    from channels.telegram import TelegramConfig, TelegramInput
    from tests.fakes.telegram_api import DEFAULT_TOKEN, FakeTelegram, callback_update, text_update

    url = f"sqlite:///{tmp_path / 'kopru.db'}"
    store = Store(url)
    store.create_schema()
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    async with FakeTelegram() as telegram:
        config = TelegramConfig(
            token=DEFAULT_TOKEN, mode="webhook", webhook_secret="s", webhook_url=None,
            api_base_url=telegram.base_url, poll_timeout=1,
        )  # fmt: skip
        channel = TelegramInput(config, store=store)
        await channel.bot.initialize()
        try:
            await channel.handle_update(text_update(701, 5550001, "merhaba"), on_new_message)
            await channel.handle_update(
                callback_update(702, 5550001, "/affirm", message_id=1), on_new_message
            )
            await channel.handle_update(text_update(703, 5550002, "cześć"), on_new_message)
        finally:
            await channel.stop()
    assert [m.sender_id for m in received] == ["5550001", "5550001", "5550002"]
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, sender_id FROM kopru_deliveries ORDER BY key"))
        senders = {key.rsplit(":", 1)[1]: sender for key, sender in rows}
    assert senders == {"701": "5550001", "702": "5550001", "703": "5550002"}

    erasure = forget("5550001", [Database("Köprü's store", url)])
    assert {c.table: c.rows for c in erasure.counts}["kopru_deliveries"] == 2
    with engine.connect() as conn:
        left = conn.execute(sa.text("SELECT sender_id FROM kopru_deliveries")).scalars().all()
    assert left == ["5550002"]
    engine.dispose()
    store.close()


# --- the command line ---------------------------------------------------------------------------


def kopru(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv],
        cwd=PROJECT_ROOT,
        env={**os.environ, "SQLALCHEMY_SILENCE_UBER_WARNING": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("stores", ["sqlite"], indirect=True)
async def test_the_commands(stores: Stores, tmp_path: Path) -> None:
    await fill(stores, TELEGRAM_CUSTOMER, [9001, 9002])
    await fill(stores, WEB_CUSTOMER, [9101, 9102])
    mine = rows_about(stores, TELEGRAM_CUSTOMER, keys([9001, 9002]))
    theirs = rows_about(stores, WEB_CUSTOMER, keys([9101, 9102]))
    where = ["--database", stores.kopru_url, "--tracker-database", stores.tracker_url]

    output = tmp_path / "export.json"
    done = kopru("export", TELEGRAM_CUSTOMER, *where, "--output", str(output))
    assert done.returncode == 0, done.stderr
    assert f"Wrote {sum(mine.values())} rows" in done.stderr
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    exported = json.loads(output.read_text(encoding="utf-8"))
    assert exported_rows(exported) == sum(mine.values())

    done = kopru("export", TELEGRAM_CUSTOMER, *where)  # to standard output
    assert done.returncode == 0, done.stderr
    assert exported_rows(json.loads(done.stdout)) == sum(mine.values())

    done = kopru("forget", TELEGRAM_CUSTOMER, *where)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"Erased {sum(mine.values())} rows about customer '{TELEGRAM_CUSTOMER}'" in out
    for table, rows in mine.items():
        if rows:
            assert any(line.split() == [table, str(rows)] for line in out.splitlines()), table
    assert "channel C0AGENTS, message ts 1700000000.000001" in out
    assert "Telegram" in out and "Backups" in out
    assert rows_about(stores, TELEGRAM_CUSTOMER, keys([9001, 9002])) == dict.fromkeys(mine, 0)
    assert rows_about(stores, WEB_CUSTOMER, keys([9101, 9102])) == theirs

    done = kopru("forget", TELEGRAM_CUSTOMER, *where)
    assert done.returncode == 0, done.stderr
    assert f"Nothing stored about customer '{TELEGRAM_CUSTOMER}'" in done.stdout

    done = kopru("forget", "someone", "--database", "postgresql://nobody@127.0.0.1:1/none",
                 "--tracker-database", stores.tracker_url)  # fmt: skip
    assert done.returncode == 1
    assert "kopru forget:" in done.stderr and "Traceback" not in done.stderr

"""The scaled mode under faults: 2 Rasa replicas behind nginx, PostgreSQL, Redis.

Short versions of `bench.load` (the figures come from there): concurrent conversations
over REST and the Telegram webhook while one replica is killed with SIGKILL, PostgreSQL
restarted in the middle of a conversation, and Telegram delivering updates twice and out
of order to different replicas.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from bench.load import (
    SECRET,
    TOKEN,
    Scenario,
    kill_first_replica,
    postgres,
    replica_pids,
    run_load,
    scaled_kopru,
)
from bot.authoring.training import ensure_model
from bot.settings import PROJECT_ROOT
from bot.storage.store import Store
from tests.e2e.conftest import KopruProcess
from tests.fakes.telegram_api import FakeTelegramThread, text_update
from tests.services import POSTGRES, RABBITMQ, REDIS, require
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/webhooks/webchat/health").status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def kopru(tmp_path_factory: pytest.TempPathFactory, telegram: FakeTelegramThread
          ) -> Iterator[KopruProcess]:  # fmt: skip
    # Started by scripts/services.sh, never by the tests (a test below stops PostgreSQL
    # and starts it again).
    require(POSTGRES, REDIS, RABBITMQ)
    model = ensure_model(PROJECT_ROOT, PROJECT_ROOT / "models", quiet=True)
    process = scaled_kopru(model, tmp_path_factory.mktemp("scaled"), 2, telegram, rabbitmq=True)
    process.start()
    yield process
    process.stop()


def test_two_replicas_serve_behind_nginx(kopru: KopruProcess) -> None:
    assert len(replica_pids(kopru)) == 2
    status = httpx.get(f"{kopru.url}/status", params={"token": TOKEN}, timeout=30)
    assert status.status_code == 200 and status.json()["model_file"]


def test_the_event_broker_feeds_the_first_answer_time_of_a_one_message_conversation(
    kopru: KopruProcess,
) -> None:
    sender = "ev-" + uuid.uuid4().hex[:8]
    said = httpx.post(
        f"{kopru.url}/webhooks/rest/webhook",
        json={"sender": sender, "message": "where is my order?"},
        timeout=60,
    )
    assert said.status_code == 200
    store = Store(kopru.env["KOPRU_DATABASE_URL"])
    try:
        deadline = time.monotonic() + 30
        while True:
            conversations = store.conversations_of(sender)
            if conversations and conversations[0].first_answer_seconds is not None:
                break
            assert time.monotonic() < deadline, conversations
            time.sleep(0.5)
    finally:
        store.close()
    assert 0 <= conversations[0].first_answer_seconds < 30


def test_killing_a_replica_loses_no_acknowledged_message(
    kopru: KopruProcess, telegram: FakeTelegramThread
) -> None:
    before = replica_pids(kopru)
    for channel in ("rest", "telegram"):
        scenario = Scenario(
            channel, conversations=8, messages=5,
            fault=lambda: kill_first_replica(kopru), fault_name="kill -9 replica",
        )  # fmt: skip
        figures = run_load(kopru, telegram, scenario, replicas=2)
        print(figures.line())  # shown with -s
        assert figures.unacknowledged == 0, figures
        assert figures.lost == 0, figures
        assert figures.wrong_answers == 0 and figures.out_of_order == 0, figures
        # The supervisor starts the killed replica again.
        deadline = time.monotonic() + 120
        while not (len(replica_pids(kopru)) == 2 and all(map(_healthy, kopru.replica_ports()))):
            if time.monotonic() > deadline:
                pytest.fail("the killed replica did not come back")
            time.sleep(1)
    assert replica_pids(kopru)[0] != before[0]


def test_a_postgres_restart_refuses_messages_meanwhile_and_the_conversation_goes_on(
    kopru: KopruProcess,
) -> None:
    sender = "pg-" + uuid.uuid4().hex[:8]
    url = f"{kopru.url}/webhooks/rest/webhook"
    first = httpx.post(url, json={"sender": sender, "message": "where is my order?"}, timeout=60)
    assert first.status_code == 200 and "order number" in first.text
    postgres("stop")
    try:
        refused = httpx.post(url, json={"sender": sender, "message": "204518"}, timeout=60)
        assert refused.status_code in (502, 503), refused.text  # never a 200 kept in memory
    finally:
        postgres("start")
    deadline = time.monotonic() + 60
    while True:  # the client sends the message again, as the web chat page does
        again = httpx.post(url, json={"sender": sender, "message": "204518"}, timeout=60)
        if again.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert again.status_code == 200, again.text
    # The order number was asked for before the restart: the context survived.
    assert "204518" in again.text
    tracker = httpx.get(
        f"{kopru.url}/conversations/{sender}/tracker", params={"token": TOKEN}, timeout=30
    ).json()
    said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert said == ["where is my order?", "204518"]


def test_telegram_updates_twice_and_out_of_order_are_answered_once_each(
    kopru: KopruProcess, telegram: FakeTelegramThread
) -> None:
    chat = 8_000_000 + int(uuid.uuid4().int % 100_000)
    base = int(time.time()) % 10**8
    first = text_update(base, chat, "where is my order?", language_code="en")
    second = text_update(base + 1, chat, "what are your opening hours?", language_code="en")
    url = f"{kopru.url}/webhooks/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    # The later update first, then each again: nginx spreads them over both replicas.
    statuses = [
        httpx.post(url, json=update, headers=headers, timeout=60).status_code
        for update in (second, first, second, first)
    ]
    assert statuses == [200, 200, 200, 200]

    # Each 200 came once its update was processed: both answers are there, then the counts.
    def answered() -> list[str]:
        texts = [str(m["text"]) for m in telegram.sent_messages(chat)]
        both = any("order number" in t for t in texts) and any(
            "Monday to Friday" in t for t in texts
        )
        return texts if both else []

    texts = wait_until(answered, timeout=30, what="both answers")
    assert sum("order number" in t for t in texts) == 1, texts
    assert sum("Monday to Friday" in t for t in texts) == 1, texts
    tracker = httpx.get(
        f"{kopru.url}/conversations/{chat}/tracker", params={"token": TOKEN}, timeout=30
    ).json()
    said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert sorted(said) == sorted(["where is my order?", "what are your opening hours?"])

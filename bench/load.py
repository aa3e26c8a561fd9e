"""Load and fault figures for the scaled deployment: replicas, lost and doubled messages.

Starts `kopru run --scaled --replicas N` (PostgreSQL, Redis, N Rasa replicas behind
nginx; each run in a fresh PostgreSQL database) with the Telegram channel pointed at the
fake Bot API on 127.0.0.1, and drives C concurrent customer conversations of M messages
each, through REST and through the Telegram webhook, as customers and Telegram would:
each conversation sends its next message when the previous one was acknowledged; a
refused or failed delivery (502, 503, a dropped connection) is sent again after a
second, as Telegram re-delivers an update and the web chat page re-sends.

Checked for every conversation against a reference run of the same script, one message
at a time before the load: the answers, in order (REST: per message; Telegram: what the
fake Bot API received for the chat), and at the end the conversation in the tracker
store (every customer message exactly once, in order). Printed: messages per second,
latency p50/p95/p99 (from the first delivery attempt to the acknowledgement),
deliveries refused, messages lost (acknowledged but never answered or not in the
tracker), answered twice (more answers than the reference) and processed twice (the
message twice in the tracker).

    .venv/bin/python -m bench.load                      # 200 x 10, 1 and 2 replicas
    .venv/bin/python -m bench.load --kill-replica       # also kill -9 one replica mid-load
    .venv/bin/python -m bench.load --conversations 20 --messages 5 --replicas 2

`--kill-replica` sends SIGKILL to the first replica when a third of the messages are
acknowledged (2 or more replicas); `--restart-postgres` restarts PostgreSQL at the same
point. The figures are written as JSON with `--json FILE`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.authoring.training import ensure_model
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import KopruProcess
from tests.fakes.telegram_api import FakeTelegramThread, text_update

__all__ = [
    "SCRIPTS",
    "LoadFigures",
    "Scenario",
    "postgres",
    "replica_pids",
    "run_load",
    "scaled_kopru",
]

SECRET = "bench-load-secret"  # noqa: S105 - a test value for the local fake
TOKEN = "bench-load-token"  # noqa: S105 - the HTTP API token of the local run
RETRY_SECONDS = 1.0
# A message not acknowledged after this counts as unacknowledged. Telegram itself goes on
# re-delivering for hours; an update whose processing died with a killed replica is
# taken over once its claim is stale (bot/storage/store.py: 120 s), so wait longer than that.
GIVE_UP_SECONDS = 240.0

# Ten messages per language that stay in self-service (no survey, no handoff), so each
# conversation's answers are the same under load as one at a time.
SCRIPTS: dict[str, list[str]] = {
    "en": ["hello", "where is my order?", "204518", "how much is delivery to Poland?",
           "what are your opening hours?", "how can I pay?", "I forgot my password",
           "where is my order?", "123456", "what are your opening hours?"],
    "tr": ["merhaba", "siparişim nerede?", "204518", "Türkiye'ye kargo ne kadar?",
           "çalışma saatleriniz nedir?", "nasıl ödeme yapabilirim?", "şifremi unuttum",
           "siparişim nerede?", "123456", "çalışma saatleriniz nedir?"],
    "pl": ["dzień dobry", "gdzie jest moje zamówienie?", "204518",
           "ile kosztuje dostawa do Polski?", "w jakich godzinach pracujecie?",
           "jak mogę zapłacić?", "zapomniałem hasła", "gdzie jest moje zamówienie?",
           "123456", "w jakich godzinach pracujecie?"],
}  # fmt: skip
LANGUAGES = tuple(SCRIPTS)


@dataclass
class Delivery:
    """One customer message: when it was first sent, when it was acknowledged."""

    conversation: str
    step: int
    first_sent: float
    acknowledged: float | None = None
    attempts: int = 0
    refused: int = 0  # attempts answered 5xx or dropped
    answers: list[str] = field(default_factory=list)  # REST only

    @property
    def latency(self) -> float | None:
        return None if self.acknowledged is None else self.acknowledged - self.first_sent


@dataclass
class LoadFigures:
    channel: str
    replicas: int
    conversations: int
    messages: int
    seconds: float
    messages_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    deliveries_refused: int
    unacknowledged: int  # still refused after GIVE_UP_SECONDS
    lost: int
    answered_twice: int
    processed_twice: int
    out_of_order: int
    wrong_answers: int
    fault: str | None = None

    def line(self) -> str:
        return (
            f"{self.channel:8} replicas={self.replicas} fault={self.fault or '-':16} "
            f"{self.conversations}x{self.messages // max(self.conversations, 1)} "
            f"{self.messages_per_second:6.1f} msg/s  p50 {self.p50_ms:6.0f} ms  "
            f"p95 {self.p95_ms:6.0f} ms  p99 {self.p99_ms:6.0f} ms  "
            f"refused {self.deliveries_refused}  unacknowledged {self.unacknowledged}  "
            f"lost {self.lost}  "
            f"answered twice {self.answered_twice}  processed twice {self.processed_twice}  "
            f"out of order {self.out_of_order}  wrong {self.wrong_answers}"
        )


@dataclass
class Scenario:
    """What to drive against a running deployment."""

    channel: str  # "rest" or "telegram"
    conversations: int
    messages: int
    fault: Callable[[], None] | None = None  # run once a third of the messages are done
    fault_name: str | None = None


def scaled_kopru(
    model: Path,
    tmp: Path,
    replicas: int,
    telegram: FakeTelegramThread | None = None,
    *,
    rabbitmq: bool = False,
) -> KopruProcess:
    """`kopru run --scaled` on free ports with its own PostgreSQL database (and Rasa's
    event broker on the local RabbitMQ feeding the metrics, with `rabbitmq`)."""
    database = f"kopru_load_{uuid.uuid4().hex[:10]}"
    kopru = KopruProcess(model, tmp, args=["--scaled", "--replicas", str(replicas)])
    kopru.env = {
        "KOPRU_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "KOPRU_API_TOKEN": TOKEN,
    }
    if rabbitmq:
        kopru.env["KOPRU_RABBITMQ_URL"] = "amqp://guest:guest@127.0.0.1:5672/%2F"
    if telegram is not None:
        kopru.env.update(
            {
                "TELEGRAM_TOKEN": telegram.token,
                "TELEGRAM_API_BASE_URL": telegram.base_url,
                "TELEGRAM_WEBHOOK_SECRET": SECRET,
                "TELEGRAM_WEBHOOK_URL": f"{kopru.url}/webhooks/telegram/webhook",
            }
        )
    return kopru


def replica_pids(kopru: KopruProcess) -> list[int]:
    """The process ids of the Rasa replicas `kopru run` started, in port order."""
    found = {
        int(argv[argv.index("--port") + 1]): pid
        for pid, argv in kopru.children()
        if "bot.serving.rasa_server" in argv and "--port" in argv
    }
    return [found[port] for port in sorted(found)]


def kill_first_replica(kopru: KopruProcess) -> None:
    os.kill(replica_pids(kopru)[0], signal.SIGKILL)


def postgres(action: str) -> None:
    """pg_ctlcluster start, stop or restart, as the machine's page says; starting a
    running cluster or stopping a stopped one does nothing (pg_ctlcluster would fail)."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
    running = subprocess.run([*command, "status"], capture_output=True).returncode == 0  # noqa: S603
    if action == "restart" or (action == "start") != running:
        subprocess.run([*command, action], check=True, capture_output=True)  # noqa: S603


def _script(index: int, messages: int) -> tuple[str, list[str]]:
    language = LANGUAGES[index % len(LANGUAGES)]
    texts = list(itertools.islice(itertools.cycle(SCRIPTS[language]), messages))
    return language, texts


async def _deliver(
    send: Callable[[], Awaitable[httpx.Response]], delivery: Delivery
) -> httpx.Response | None:
    """Send until acknowledged (200), as a channel's sender would; None: gave up."""
    while time.monotonic() - delivery.first_sent < GIVE_UP_SECONDS:
        delivery.attempts += 1
        try:
            response = await send()
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            delivery.acknowledged = time.monotonic()
            return response
        if response is not None and response.status_code not in (429, 500, 502, 503, 504):
            raise RuntimeError(f"unexpected {response.status_code}: {response.text[:300]}")
        delivery.refused += 1
        await asyncio.sleep(RETRY_SECONDS)
    return None


class _Driver:
    def __init__(self, kopru: KopruProcess, telegram: FakeTelegramThread | None) -> None:
        self.kopru = kopru
        self.telegram = telegram
        self.update_ids = itertools.count(int(time.time() * 1000) % 10**9)
        # Chats unique to this run: the fake Bot API keeps what every run sent.
        self.chat_base = 7_000_000 + int(uuid.uuid4().int % 10**6) * 1000
        self.acknowledged = 0

    def sender(self, channel: str, index: int, run: str) -> str:
        return f"{run}-{index}" if channel == "rest" else str(self.chat_base + index)

    async def conversation(
        self, client: httpx.AsyncClient, channel: str, sender: str, texts: Sequence[str]
    ) -> list[Delivery]:
        deliveries = []
        for step, text in enumerate(texts):
            delivery = Delivery(sender, step, time.monotonic())
            if channel == "rest":
                url = f"{self.kopru.url}/webhooks/rest/webhook"
                body: dict[str, Any] = {"sender": sender, "message": text}
                headers: dict[str, str] = {}
            else:
                url = f"{self.kopru.url}/webhooks/telegram/webhook"
                body = text_update(next(self.update_ids), int(sender), text, language_code=None)
                headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

            def send(
                url: str = url, body: dict[str, Any] = body, headers: dict[str, str] = headers
            ) -> Awaitable[httpx.Response]:
                return client.post(url, json=body, headers=headers)

            response = await _deliver(send, delivery)
            if response is not None and channel == "rest":
                delivery.answers = [m.get("text") or "" for m in response.json()]
            deliveries.append(delivery)
            if response is None:
                break  # the customer gave up; the rest of their script is never sent
            self.acknowledged += 1
        return deliveries

    def telegram_answers(self, sender: str) -> list[str]:
        assert self.telegram is not None
        return [m.get("text") or "" for m in self.telegram.sent_messages(int(sender))]

    def tracker_texts(self, sender: str) -> list[str]:
        response = httpx.get(
            f"{self.kopru.url}/conversations/{sender}/tracker",
            params={"token": TOKEN, "include_events": "ALL"},
            timeout=60,
        )
        response.raise_for_status()
        return [e.get("text") or "" for e in response.json()["events"] if e["event"] == "user"]


def _common_subsequence(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence: what arrived once and in order."""
    row = [0] * (len(b) + 1)
    for x in a:
        previous = 0
        for j, y in enumerate(b):
            current = row[j + 1]
            row[j + 1] = previous + 1 if x == y else max(row[j + 1], row[j])
            previous = current
    return row[-1]


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def _reference(driver: _Driver, channel: str, messages: int, run: str) -> dict[str, Any]:
    """Each language's answers, one message at a time, before the load."""
    reference: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=60) as client:
        for index, language in enumerate(LANGUAGES):
            sender = driver.sender(channel, 900 + index, f"{run}-ref")
            _, texts = _script(index, messages)
            deliveries = await driver.conversation(client, channel, sender, texts)
            if channel == "rest":
                reference[language] = [d.answers for d in deliveries]
            else:
                await asyncio.sleep(2)  # the last answers reach the fake
                reference[language] = driver.telegram_answers(sender)
    return reference


async def _drive(driver: _Driver, scenario: Scenario, replicas: int, run: str) -> LoadFigures:
    reference = await _reference(driver, scenario.channel, scenario.messages, run)
    total = scenario.conversations * scenario.messages
    limits = httpx.Limits(max_connections=scenario.conversations + 10)
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=GIVE_UP_SECONDS, limits=limits) as client:
        jobs = [
            driver.conversation(
                client, scenario.channel, driver.sender(scenario.channel, i, run),
                _script(i, scenario.messages)[1],
            )
            for i in range(scenario.conversations)
        ]  # fmt: skip
        tasks = [asyncio.ensure_future(job) for job in jobs]
        if scenario.fault is not None:
            while driver.acknowledged < total // 3 and not all(t.done() for t in tasks):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            await asyncio.get_running_loop().run_in_executor(None, scenario.fault)
        results = await asyncio.gather(*tasks)
    seconds = time.monotonic() - started
    if scenario.channel == "telegram":
        await asyncio.sleep(3)  # answers still on their way to the fake Bot API
    lost = answered_twice = processed_twice = out_of_order = wrong = unacknowledged = 0
    latencies: list[float] = []
    for index, deliveries in enumerate(results):
        language, texts = _script(index, scenario.messages)
        sender = driver.sender(scenario.channel, index, run)
        acknowledged = [d for d in deliveries if d.acknowledged is not None]
        latencies += [d.latency for d in acknowledged if d.latency is not None]
        unacknowledged += scenario.messages - len(acknowledged)
        sent = texts[: len(acknowledged)]
        in_tracker = await asyncio.get_running_loop().run_in_executor(
            None, driver.tracker_texts, sender
        )
        kept = _common_subsequence(sent, in_tracker)
        lost += len(sent) - kept  # acknowledged, yet not in the conversation
        processed_twice += len(in_tracker) - kept
        if len(in_tracker) == len(sent) and in_tracker != sent:
            out_of_order += sorted(in_tracker) == sorted(sent)
        if scenario.channel == "rest":
            wrong += sum(d.answers != reference[language][d.step] for d in acknowledged)
            continue
        if len(acknowledged) < scenario.messages:
            continue  # the reference covers whole conversations only
        got, expected = driver.telegram_answers(sender), reference[language]
        common = _common_subsequence(expected, got)
        answered_twice += len(got) - common
        lost += len(expected) - common
        if len(got) == len(expected) and got != expected:
            out_of_order += sorted(got) == sorted(expected)
            wrong += sorted(got) != sorted(expected)
    done = sum(len([d for d in r if d.acknowledged is not None]) for r in results)
    return LoadFigures(
        channel=scenario.channel,
        replicas=replicas,
        conversations=scenario.conversations,
        messages=total,
        seconds=round(seconds, 1),
        messages_per_second=round(done / seconds, 1),
        p50_ms=round(_percentile(latencies, 50) * 1000),
        p95_ms=round(_percentile(latencies, 95) * 1000),
        p99_ms=round(_percentile(latencies, 99) * 1000),
        deliveries_refused=sum(d.refused for r in results for d in r),
        unacknowledged=unacknowledged,
        lost=lost,
        answered_twice=answered_twice,
        processed_twice=processed_twice,
        out_of_order=out_of_order,
        wrong_answers=wrong,
        fault=scenario.fault_name,
    )


def run_load(
    kopru: KopruProcess, telegram: FakeTelegramThread | None, scenario: Scenario, replicas: int
) -> LoadFigures:
    """Drive one scenario against a running deployment; blocking."""
    driver = _Driver(kopru, telegram)
    run = uuid.uuid4().hex[:6]
    return asyncio.run(_drive(driver, scenario, replicas, run))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10, help="per conversation (10)")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--channels", nargs="+", default=["rest", "telegram"],
                        choices=["rest", "telegram"])  # fmt: skip
    parser.add_argument("--kill-replica", action="store_true",
                        help="also a run that kills one replica with SIGKILL")  # fmt: skip
    parser.add_argument("--restart-postgres", action="store_true",
                        help="also a run that restarts PostgreSQL mid-load")  # fmt: skip
    parser.add_argument("--faults-only", action="store_true",
                        help="only the fault runs (on the most replicas)")  # fmt: skip
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    model = ensure_model(PROJECT_ROOT, PROJECT_ROOT / "models", quiet=True)
    figures: list[LoadFigures] = []
    with FakeTelegramThread() as telegram:
        runs: list[tuple[int, str | None]] = (
            [] if args.faults_only else [(r, None) for r in args.replicas]
        )
        most = max(args.replicas)
        if args.kill_replica and most >= 2:
            runs.append((most, "kill -9 replica"))
        if args.restart_postgres:
            runs.append((most, "restart postgres"))
        for replicas, fault_name in runs:
            tmp = Path(tempfile.mkdtemp(prefix="kopru-load-"))
            kopru = scaled_kopru(model, tmp, replicas, telegram)
            print(f"== {replicas} replica(s){', ' + fault_name if fault_name else ''}",
                  flush=True)  # fmt: skip
            kopru.start()
            try:
                for channel in args.channels:
                    fault: Callable[[], None] | None = None
                    if fault_name == "kill -9 replica":
                        fault = lambda kopru=kopru: kill_first_replica(kopru)  # noqa: E731
                    elif fault_name == "restart postgres":
                        fault = lambda: postgres("restart")  # noqa: E731
                    scenario = Scenario(channel, args.conversations, args.messages, fault,
                                        fault_name)  # fmt: skip
                    result = run_load(kopru, telegram, scenario, replicas)
                    print(result.line(), flush=True)
                    figures.append(result)
                    if fault_name == "kill -9 replica":
                        time.sleep(10)  # the supervisor restarts the killed replica
            finally:
                kopru.stop()
    print()
    for result in figures:
        print(result.line())
    baseline = next((f for f in figures if f.replicas == 1 and f.fault is None), None)
    if baseline is not None:
        for result in figures:
            if result.fault is None and result.replicas > 1:
                twin = next(
                    (f for f in figures if f.replicas == 1 and f.channel == result.channel
                     and f.fault is None), None,
                )  # fmt: skip
                if twin:
                    print(
                        f"{result.channel}: {result.replicas} replicas / 1 replica: "
                        f"{result.messages_per_second / twin.messages_per_second:.2f}x msg/s, "
                        f"p50 {result.p50_ms / max(twin.p50_ms, 1):.2f}x"
                    )
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(f) for f in figures], indent=2))
    bad = sum(
        f.lost + f.unacknowledged + f.answered_twice + f.out_of_order + f.wrong_answers
        for f in figures
    )
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

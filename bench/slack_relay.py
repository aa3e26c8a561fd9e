"""Slack relay figures: latency and exactly-once delivery between customers and agents.

Starts one `kopru run` with the Telegram channel (webhook mode) and the Slack agent desk,
both against the fakes the tests use (on 127.0.0.1, on threads of this process), with the
desk open all week, all day (UTC). C Telegram customers escalate and an agent claims each
one (signed block_actions). Then, round by round over the customers:

* customer -> Slack: a Telegram webhook update, timed from the start of the POST to the
  fake Slack's record of the chat.postMessage with that text in the card's thread;
* agent -> customer: a signed Slack message event in the card's thread, timed from the
  start of the POST to the fake Telegram's record of the sendMessage to that chat; every
  event is sent again with the same event_id and ``X-Slack-Retry-Num: 1`` (even rounds
  at once, while the first is in flight; odd rounds after it was delivered);
* baseline: "hello" from one of C customers who did not escalate, timed from the start
  of the POST to the bot's first sendMessage to that chat.

Both fakes record ``time.monotonic()`` when a request arrives, in this process, so the
times are comparable with the monotonic clock read here. Every text carries a unique
marker; afterwards each marker's arrivals are counted: more than one is a duplicate,
none (or only after --timeout seconds) a loss. Exit code 1 if there are any.

    .venv/bin/python -m bench.slack_relay --customers 5 --messages 20
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import httpx

from bot.authoring.training import ensure_model
from bot.desk.handoff import Handoff, State
from bot.settings import PROJECT_ROOT
from channels.slack_card import ActionId
from tests.e2e.conftest import AGENTS, KopruProcess
from tests.e2e.slack_desk import (
    ALL_WEEK,
    SIGNING_SECRET,
    Customer,
    desk_config,
    escalate,
    wait_handoff,
)
from tests.e2e.slack_desk import desk_env as _env
from tests.e2e.test_slack_handoff import press
from tests.fakes.slack_api import (
    FakeSlackThread,
    event_callback,
    json_body,
    message_event,
    new_event_id,
    signed_headers,
)
from tests.fakes.telegram_api import FakeTelegramThread, text_update

TELEGRAM_SECRET = "bench-telegram-secret"  # noqa: S105 - a test value for the local fake
AGENT_IDS = ["UAYSE", "UPIOTR", "UJOHN"]
ESCALATE = "I want to talk to a person"
BASELINE_QUESTION = "hello"
TO_AGENT = re.compile(r"\bcu(\d{3})m(\d{4})\b")
TO_CUSTOMER = re.compile(r"\bag(\d{3})m(\d{4})\b")
_Fake = TypeVar("_Fake", FakeSlackThread, FakeTelegramThread)
_update_ids = itertools.count(5_000_000)
_slack_ts = itertools.count(1)


@dataclass
class Sent:
    """One relayed text: when its request started and when the other side recorded it."""

    marker: str
    text: str
    target: object
    """Where it must arrive: the card's thread ts in Slack, or the customer's chat id."""
    t0: float
    arrivals: list[float] = field(default_factory=list)
    misrouted: int = 0

    def latency(self, timeout: float) -> float | None:
        if not self.arrivals or min(self.arrivals) - self.t0 > timeout:
            return None
        return min(self.arrivals) - self.t0


@dataclass
class Relay:
    """An escalated customer and the agent who claimed them."""

    index: int
    customer: Customer
    handoff: Handoff
    agent: str


def customer_text(c: int, m: int) -> tuple[str, str]:
    marker = f"cu{c:03d}m{m:04d}"
    return marker, f"my parcel question {marker}, is there any news?"


def agent_text(c: int, m: int) -> tuple[str, str]:
    marker = f"ag{c:03d}m{m:04d}"
    return marker, f"Agent reply {marker}: I am checking it for you now."


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def wait_until(check: Callable[[], bool], timeout: float, pause: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
    return True


class Bench:
    def __init__(self, args: argparse.Namespace, kopru: KopruProcess) -> None:
        self.args = args
        self.kopru = kopru
        self.http = httpx.Client(timeout=60)
        self.webhook = f"{kopru.url}/webhooks/telegram/webhook"
        self.events = f"{kopru.url}/webhooks/slack/events"
        self.statuses: Counter[str] = Counter()

    def telegram_post(self, chat_id: int, text: str) -> float:
        """POST one customer update to the webhook; returns the monotonic start of the POST."""
        update = text_update(next(_update_ids), chat_id, text, first_name="Ayşe",
                             language_code="en")  # fmt: skip
        body = json.dumps(update, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json",
                   "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}  # fmt: skip
        t0 = time.monotonic()
        status = self.http.post(self.webhook, content=body, headers=headers).status_code
        self.statuses[f"telegram {status}"] += 1
        return t0

    def slack_event(self, relay: Relay, text: str, event_id: str, *, retry: bool) -> float:
        """POST a signed thread reply by the relay's agent; returns the start of the POST."""
        assert relay.handoff.card_ts
        ts = f"{int(time.time())}.{next(_slack_ts):06d}"
        event = message_event(AGENTS, relay.agent, text, ts=ts, thread_ts=relay.handoff.card_ts)
        body = json_body(event_callback(event, event_id=event_id))
        headers = signed_headers(SIGNING_SECRET, body, content_type="application/json")
        if retry:
            headers["X-Slack-Retry-Num"] = "1"
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        t0 = time.monotonic()
        status = self.http.post(self.events, content=body, headers=headers).status_code
        self.statuses[f"slack{' retry' if retry else ''} {status}"] += 1
        return t0


def slack_arrivals(slack: FakeSlackThread, marker: str) -> list[tuple[object, float]]:
    found = []
    for call in slack.calls("chat.postMessage"):
        if call.ok and marker in str(call.params.get("text", "")):
            found.append((call.params.get("thread_ts"), call.at))
    return found


def telegram_arrivals(telegram: FakeTelegramThread, marker: str) -> list[tuple[object, float]]:
    return [
        (call.params.get("chat_id"), call.at)
        for call in telegram.attempts("sendMessage")
        if call.ok and marker in str(call.params.get("text", ""))
    ]


def arrived(
    arrivals: Callable[[_Fake, str], list[tuple[object, float]]], fake: _Fake, marker: str
) -> bool:
    return bool(arrivals(fake, marker))


def setup(
    bench: Bench, slack: FakeSlackThread, telegram: FakeTelegramThread, customers: int
) -> tuple[list[Relay], list[Customer]]:
    relays: list[Relay] = []
    for c in range(customers):
        customer = Customer(telegram, "en", name=f"Bench{c}")
        handoff, told = escalate(customer, bench.kopru, ESCALATE)
        assert handoff.reference in told, told
        relays.append(Relay(c, customer, handoff, AGENT_IDS[c % len(AGENT_IDS)]))
    for relay in relays:
        assert press(bench.kopru, slack, relay.handoff, relay.agent, ActionId.CLAIM) == 200
        notice = "\n".join(relay.customer.wait_new())
        assert "joined" in notice, notice
        relay.handoff = wait_handoff(bench.kopru, relay.customer.sender, State.CLAIMED)
        assert relay.handoff.agent_id == relay.agent
    baseline = []
    for c in range(customers):
        customer = Customer(telegram, "en", name=f"Plain{c}")
        customer.say(BASELINE_QUESTION)  # session start, untimed
        customer.wait_new()
        baseline.append(customer)
    return relays, baseline


def measure(
    bench: Bench,
    slack: FakeSlackThread,
    telegram: FakeTelegramThread,
    relays: list[Relay],
    baseline: list[Customer],
) -> tuple[list[Sent], list[Sent], list[float], int]:
    args = bench.args
    to_slack: list[Sent] = []
    to_customer: list[Sent] = []
    bot_answer: list[float] = []
    unanswered = 0
    missed_wait = 0.0  # time spent waiting for texts that did not come; bounded

    def wait_for(check: Callable[[], bool]) -> None:
        nonlocal missed_wait
        budget = max(min(args.wait, args.timeout - missed_wait), 0.0)
        started = time.monotonic()
        if not wait_until(check, budget):
            missed_wait += time.monotonic() - started

    for m in range(args.messages):
        for relay, plain in zip(relays, baseline, strict=True):
            # Customer -> Slack thread (the webhook answers after processing).
            marker, text = customer_text(relay.index, m)
            target = relay.handoff.card_ts
            sent = Sent(marker, text, target, bench.telegram_post(relay.customer.chat_id, text))
            to_slack.append(sent)
            wait_for(partial(arrived, slack_arrivals, slack, marker))

            # Agent -> customer, and Slack's retry of the same event.
            marker, text = agent_text(relay.index, m)
            event_id = new_event_id()
            chat = relay.customer.chat_id
            sent = Sent(marker, text, chat, bench.slack_event(relay, text, event_id, retry=False))
            to_customer.append(sent)
            if m % 2 == 0:
                bench.slack_event(relay, text, event_id, retry=True)
            wait_for(partial(arrived, telegram_arrivals, telegram, marker))
            if m % 2 == 1:
                bench.slack_event(relay, text, event_id, retry=True)

            # Baseline: the bot's own answer to a customer who did not escalate.
            t0 = bench.telegram_post(plain.chat_id, BASELINE_QUESTION)

            def answers(chat_id: int = plain.chat_id, t0: float = t0) -> list[float]:
                return [
                    call.at
                    for call in telegram.attempts("sendMessage")
                    if call.ok and call.params.get("chat_id") == chat_id and call.at >= t0
                ]

            if wait_until(lambda: bool(answers()), min(args.wait, args.timeout)):
                bot_answer.append(min(answers()) - t0)
            else:
                unanswered += 1
    return to_slack, to_customer, bot_answer, unanswered


def settle(
    slack: FakeSlackThread,
    telegram: FakeTelegramThread,
    to_slack: list[Sent],
    to_customer: list[Sent],
    timeout: float,
) -> None:
    """Wait for late arrivals (up to `timeout` after the last send), then count them."""

    def count() -> bool:
        for sent in to_slack:
            hits = slack_arrivals(slack, sent.marker)
            sent.arrivals = [at for thread, at in hits if thread == sent.target]
            sent.misrouted = len(hits) - len(sent.arrivals)
        for sent in to_customer:
            hits = telegram_arrivals(telegram, sent.marker)
            sent.arrivals = [at for chat, at in hits if chat == sent.target]
            sent.misrouted = len(hits) - len(sent.arrivals)
        return all(s.arrivals for s in [*to_slack, *to_customer])

    last = max(s.t0 for s in [*to_slack, *to_customer])
    if not count():
        wait_until(count, max(last + timeout - time.monotonic(), 0.0), pause=0.2)
    time.sleep(1.5)  # a retry or duplicate would come within this
    count()


def row(name: str, values: Sequence[float]) -> str:
    if not values:
        return f"{name:24} {0:5}      -      -      -      -"
    ms = [v * 1000 for v in values]
    figures = [percentile(ms, p) for p in (50, 90, 99)] + [max(ms)]
    return f"{name:24} {len(ms):5} " + " ".join(f"{f:6.0f}" for f in figures)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=5, help="escalated customers (5)")
    parser.add_argument("--messages", type=int, default=20, help="messages each way (20)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds after which a text counts as lost (30)")  # fmt: skip
    parser.add_argument("--wait", type=float, default=5.0,
                        help="seconds to wait for a text before sending the next (5)")  # fmt: skip
    args = parser.parse_args()
    started = time.monotonic()
    model = ensure_model(PROJECT_ROOT, PROJECT_ROOT / "models", quiet=True)
    tmp = Path(tempfile.mkdtemp(prefix="kopru-bench-slack-"))
    slack = FakeSlackThread()
    telegram = FakeTelegramThread()
    kopru: KopruProcess | None = None
    bench: Bench | None = None
    try:
        slack.start()
        telegram.start()
        slack.add_channel(AGENTS, AGENT_IDS, name="support-agents")
        for user, first, last in [("UAYSE", "Ayşe", "Yılmaz"), ("UPIOTR", "Piotr", "Nowak"),
                                  ("UJOHN", "John", "Smith")]:  # fmt: skip
            slack.add_user(user, first, last)
        config = desk_config(
            tmp, {"timezone": "UTC", "days": ALL_WEEK, "hours": "00:00-24:00",
                  "queue_timeout_minutes": 10}
        )  # fmt: skip
        kopru = KopruProcess(model, tmp)
        kopru.env = {
            **_env(slack, config),
            "KOPRU_QUEUE_SWEEP_SECONDS": "15",  # the production default, not the tests' 1 s
            "TELEGRAM_TOKEN": telegram.token,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_WEBHOOK_URL": f"{kopru.url}/webhooks/telegram/webhook",
        }
        kopru.start()
        ready = time.monotonic()
        bench = Bench(args, kopru)
        relays, baseline = setup(bench, slack, telegram, args.customers)
        first_measured = time.monotonic()
        to_slack, to_customer, bot_answer, unanswered = measure(
            bench, slack, telegram, relays, baseline
        )
        measured = time.monotonic()
        settle(slack, telegram, to_slack, to_customer, args.timeout)
        relay_chats = {r.customer.chat_id for r in relays}
        bot_in_handoff = sum(
            1
            for call in telegram.attempts("sendMessage")
            if call.ok
            and call.at >= first_measured
            and call.params.get("chat_id") in relay_chats
            and not TO_CUSTOMER.search(str(call.params.get("text", "")))
        )
    finally:
        if bench is not None:
            bench.http.close()
        try:
            if kopru is not None:
                kopru.stop()
        finally:
            telegram.stop()
            slack.stop()
    elapsed = time.monotonic() - started

    lat_slack = [x for s in to_slack if (x := s.latency(args.timeout)) is not None]
    lat_customer = [x for s in to_customer if (x := s.latency(args.timeout)) is not None]
    retried = to_customer  # every agent event was retried once
    figures = {
        "customers": args.customers,
        "messages_per_customer": args.messages,
        "customer_to_slack_sent": len(to_slack),
        "customer_to_slack_duplicates": sum(max(len(s.arrivals) - 1, 0) for s in to_slack),
        "customer_to_slack_lost": len(to_slack) - len(lat_slack),
        "agent_to_customer_sent": len(to_customer),
        "agent_to_customer_duplicates": sum(max(len(s.arrivals) - 1, 0) for s in to_customer),
        "agent_to_customer_lost": len(to_customer) - len(lat_customer),
        "misrouted": sum(s.misrouted for s in [*to_slack, *to_customer]),
        "slack_retries_sent": len(retried),
        "slack_retries_ignored": sum(len(s.arrivals) == 1 for s in retried),
        "bot_spoke_in_handoff": bot_in_handoff,
        "baseline_questions": len(bot_answer) + unanswered,
        "baseline_unanswered": unanswered,
        "http_statuses": dict(sorted(bench.statuses.items())) if bench else {},
    }
    p50_base = percentile(bot_answer, 50) if bot_answer else math.nan
    ratios = {
        "customer_to_slack": percentile(lat_slack, 50) / p50_base if lat_slack else math.nan,
        "agent_to_customer": percentile(lat_customer, 50) / p50_base if lat_customer else math.nan,
    }
    duplicates = figures["customer_to_slack_duplicates"] + figures["agent_to_customer_duplicates"]
    losses = figures["customer_to_slack_lost"] + figures["agent_to_customer_lost"]

    print(f"slack relay: {args.customers} customers x {args.messages} messages each way, "
          f"{args.customers} baseline chats")  # fmt: skip
    print(
        f"customer->slack   sent {len(to_slack):4}  duplicates "
        f"{figures['customer_to_slack_duplicates']}  lost {figures['customer_to_slack_lost']}"
    )
    print(
        f"agent->customer   sent {len(to_customer):4}  duplicates "
        f"{figures['agent_to_customer_duplicates']}  lost {figures['agent_to_customer_lost']}"
    )
    print(
        f"slack retries     sent {len(retried):4}  ignored {figures['slack_retries_ignored']}"
        "  (half while the first was in flight, half after delivery)"
    )
    print(
        f"misrouted {figures['misrouted']}  bot spoke in handoff chats {bot_in_handoff}  "
        f"baseline unanswered {unanswered}"
    )
    print(f"http statuses     {figures['http_statuses']}")
    print(f"{'latency ms':24} {'n':>5} {'p50':>6} {'p90':>6} {'p99':>6} {'max':>6}")
    print(row("customer->slack", lat_slack))
    print(row("agent->customer", lat_customer))
    print(row("bot answer (baseline)", bot_answer))
    print(
        f"p50 ratio to baseline   customer->slack {ratios['customer_to_slack']:.2f}  "
        f"agent->customer {ratios['agent_to_customer']:.2f}"
    )
    print(
        f"seconds: start {ready - started:.1f}  setup {first_measured - ready:.1f}  "
        f"measure {measured - first_measured:.1f}  total {elapsed:.1f}"
    )
    print(f"machine: {os.cpu_count()} shared cores; compare ratios, not absolute ms")
    summary = {
        **figures,
        "ms": {
            name: {p: round(percentile(v, q) * 1000, 1) for p, q in
                   (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))} if v else None
            for name, v in (("customer_to_slack", lat_slack), ("agent_to_customer", lat_customer),
                            ("bot_answer", bot_answer))
        },
        "p50_ratio_to_baseline": {k: round(v, 2) for k, v in ratios.items()},
        "seconds": round(elapsed, 1),
    }  # fmt: skip
    print(json.dumps(summary))
    return 0 if duplicates == 0 and losses == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

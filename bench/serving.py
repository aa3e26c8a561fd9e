"""Serving figures of Köprü beside Rasa's own `rasa init` assistant, started the same way.

    .venv/bin/python -m bench.serving                   # loads 20, 50, 100, 200 msg/s, 10 s each
    .venv/bin/python -m bench.serving --quick           # loads 20, 50, 5 s each (development)
    .venv/bin/python -m bench.serving --loads 10 30 --seconds 20 --json var/serving.json
    .venv/bin/python -m bench.serving --replicas 2      # Köprü in the scaled mode

Two assistants, one after the other, each with its own fake Telegram Bot API on 127.0.0.1
(tests/fakes/telegram_api.py):

* Köprü: `kopru run` with the model of the current data (bot.authoring.training.ensure_model), in
  the embedded mode (one Rasa server, action server, demo backend, dashboard; SQLite) or,
  with `--replicas N`, the scaled mode of bench.load (PostgreSQL, Redis, nginx);
* the baseline: the assistant `rasa init --no-prompt` creates, trained once and cached
  under var/bench/ (bench/rasa_init.py), run with `rasa run --enable-api` and its own
  endpoints.yml (no action server, conversations in memory), with the REST channel and
  Köprü's Telegram channel class in its credentials.yml (that class needs none of
  Köprü's actions).

For each, through REST (`POST /webhooks/rest/webhook`, the answers in the response) and
through the Telegram webhook (an update POSTed to `/webhooks/telegram/webhook`; the
answers are what the fake Bot API receives for the chat):

* one at a time: each script once, in new conversations, one message in flight at a time
  (the scripts take turns; through Telegram a customer writes at most every --think
  seconds, as Telegram paces a chat at about one message a second): the reference
  answers and the latency of a single message on an otherwise idle server;
* offered loads (`--loads`, messages per second, open loop): messages are scheduled at
  the offered rate over `--seconds`, round robin over `rate x --think` conversations (so
  each customer writes every `--think` seconds). A message is sent at its scheduled
  time or when its conversation's previous answer arrived, whichever is later (so each
  conversation keeps its order); when the step ends, a conversation still waiting sends
  nothing more (counted as "behind"). Latency is measured from the *scheduled* time, so
  waiting behind a slow answer counts (no coordinated omission); achieved msg/s is the
  messages answered over the time from the first scheduled send to the last answer;
* saturation (closed loop): `--saturation` conversations (100) each send their next
  message as soon as the previous one is answered, for `--seconds`; latency from the send.

A Telegram message's latency ends when the fake Bot API receives the bot's last answer
to it (the webhook answers 200 only after that). Köprü's Telegram channel keeps
Telegram's own limits (about 30 messages a second per bot, one a second per chat, short
bursts allowed), so the Telegram figures of both assistants are capped by them.

Every conversation follows a script whose answers do not depend on timing (Köprü:
bench.load.SCRIPTS, 10 self-service messages in English, Turkish and Polish; rasa init:
bench.rasa_init.SCRIPTS), and every answered message's answers are compared with the
reference run's for the same step ("wrong"; for Telegram also answers that belong to no
message). A message refused (5xx, a dropped connection) is sent again after a second as
in bench.load; "errors" counts those refusals and the messages left unanswered when the
step ended (after up to `--drain` seconds of waiting). Before each step the server
settles: the answers of the previous one have arrived and a probe message is answered.

Also measured: the time from starting the server to the first answer to a REST message
(polled every 0.1 s), the resident memory (VmRSS from /proc, summed over the server's
process tree; also the Rasa server's own), idle after the start and at most during the
loads, and the pause while the model is switched: `PUT /model` with the same model file
through Rasa's HTTP API (bot.authoring.models; Köprü's token is KOPRU_API_TOKEN) while one
conversation sends one REST message at a time; reported: how long the PUT took, the
longest latency of a message around it and the longest gap between two answers. And the
CPU time the server's processes used over the load steps (from /proc/PID/stat), per
answered message, beside the CPU time of this process (load generator, fake Bot API);
the JSON has it per process.

The load generator, the fake Bot API and the servers share the machine: on 2 cores the
generator takes some of the CPU the servers would otherwise have. A full run takes about
12 minutes on 2 cores, `--quick` about 5 (plus, the first time, `rasa init`'s training,
about 2 minutes, and Köprü's if its data changed). Figures go to `--json FILE`; the
exit status is 1 if any answer was wrong or missing.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import rasa_init
from bench.load import (
    SCRIPTS,
    SECRET,
    TOKEN,
    Delivery,
    _deliver,
    _percentile,
    postgres,
    scaled_kopru,
)
from bot.authoring.models import RasaCluster
from bot.authoring.training import ensure_model
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import KopruProcess
from tests.fakes.telegram_api import FakeTelegramThread, text_update
from tests.processes import process_tree

__all__ = [
    "Figures",
    "Latency",
    "Step",
    "Switch",
    "attribute_answers",
    "comparison_tables",
    "cpu_ticks",
    "format_table",
    "main",
    "open_loop_schedule",
    "process_name",
    "ratio",
    "rest_answer_texts",
    "switch_pause",
    "vm_rss_kib",
]

DEFAULT_LOADS = (20.0, 50.0, 100.0, 200.0)
QUICK_LOADS = (20.0, 50.0)
CHANNELS = ("rest", "telegram")
CHANNEL_NAMES = {"rest": "REST", "telegram": "Telegram"}
KOPRU = "Köprü"
BASELINE = "rasa init"
ANSWER_METHODS = ("sendMessage", "sendPhoto")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SWITCH_AROUND = 2.0  # seconds of one-at-a-time traffic before and after the switch
TELEGRAM_NOTE = (
    "Telegram: both assistants answer through Köprü's Telegram channel, which paces its "
    "answers as Telegram allows: per bot set to 1,000 a second here "
    "(TELEGRAM_MESSAGES_PER_SECOND, Telegram's ceiling with paid broadcasts; 30 without), "
    "per chat 1 a second after a burst of 3. 'One at a time' has one message in flight, "
    "the scripts taking turns, each customer writing at most every --think seconds."
)


# --------------------------------------------------------------------------------------
# Pure parts: schedule, percentiles, attribution, ratios, tables
# --------------------------------------------------------------------------------------


def open_loop_schedule(rate: float, seconds: float, think: float) -> list[list[float]]:
    """When each conversation's messages are due, in seconds from the start.

    `rate x seconds` messages, the i-th at i / rate, dealt round robin to
    `ceil(rate x think)` conversations: each conversation writes every `think` seconds
    or so, and all of them together at `rate` messages a second.
    """
    if rate <= 0 or seconds <= 0:
        return []
    total = max(1, math.floor(rate * seconds + 1e-9))
    conversations = min(total, max(1, math.ceil(rate * think - 1e-9)))
    plan: list[list[float]] = [[] for _ in range(conversations)]
    for i in range(total):
        plan[i % conversations].append(i / rate)
    return plan


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        """Nearest-rank percentiles (bench.load's) of latencies in seconds, in ms."""
        return cls(*(round(_percentile(seconds, q) * 1000, 1) for q in (50, 95, 99)))


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, or None when either is missing or the baseline is 0."""
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def format_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [
            str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def attribute_answers(
    answers: Sequence[tuple[float, str]], windows: Sequence[tuple[float, float | None]]
) -> tuple[list[list[tuple[float, str]]], int]:
    """Which of a chat's answers (time received, text) belong to which message.

    A message's window runs from its first send to its acknowledgement (None: never
    acknowledged, so nothing is its answer). A chat sends its next message only after
    the previous one is acknowledged, so the windows do not overlap. Returns each
    window's answers and how many answers fell into no window (sent twice, or late).
    """
    found: list[list[tuple[float, str]]] = [[] for _ in windows]
    stray = 0
    for at, text in sorted(answers):
        index = next(
            (i for i, (start, end) in enumerate(windows) if end is not None and start <= at <= end),
            None,
        )
        if index is None:
            stray += 1
        else:
            found[index].append((at, text))
    return found, stray


def rest_answer_texts(messages: Any) -> list[str]:
    """What the customer reads in a REST answer: each message's text and image."""
    texts: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        if message.get("text"):
            texts.append(str(message["text"]))
        if message.get("image"):
            texts.append(f"[image] {message['image']}")
    return texts


def telegram_answer_text(method: str, params: Mapping[str, Any], result: Any) -> str:
    """A sendMessage's text as Telegram shows it (entities parsed), a sendPhoto's photo."""
    if method == "sendPhoto":
        return f"[image] {params.get('photo')}"
    if isinstance(result, dict) and result.get("text"):
        return str(result["text"])
    return str(params.get("text") or "")


def switch_pause(
    exchanges: Sequence[tuple[float, float | None]], started: float, ended: float
) -> tuple[float, float]:
    """Longest latency of a message in flight during the switch (sent before it ended,
    answered after it started; an unanswered one counts until `ended`) and the longest
    gap between two answers around it, in seconds. `exchanges`: (sent, answered)."""
    longest = 0.0
    for sent, answered in exchanges:
        finish = ended if answered is None else answered
        if sent <= ended and finish >= started:
            longest = max(longest, finish - sent)
    times = sorted(answered for _, answered in exchanges if answered is not None)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)
            if later >= started and earlier <= ended]  # fmt: skip
    return longest, max(gaps, default=0.0)


def cpu_ticks(stat: str) -> int:
    """User plus system CPU time from the text of /proc/PID/stat, in clock ticks."""
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    return int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15


def process_name(argv: Sequence[str]) -> str:
    """A short name for a server process: `bot.cli actions`, `rasa run`, ..."""
    words = [a for a in argv[1:] if a and not a.startswith("-")]
    if len(argv) > 1 and argv[1] == "-m" and len(argv) > 2:
        module = argv[2]
        command = next((a for a in argv[3:] if a and not a.startswith("-")), "")
        return f"{module} {command}".strip() if module != "bot.serving.rasa_server" else module
    return " ".join([Path(argv[0]).name, *words[:1]]) if argv and argv[0] else "?"


def vm_rss_kib(status: str) -> int:
    """VmRSS from the text of /proc/PID/status, in KiB (0 for a zombie, which has none)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------


@dataclass
class Step:
    """One measurement of one channel."""

    channel: str  # "rest" or "telegram"
    kind: str  # "one at a time", "offered", "saturation" or "half saturation" (offered)
    offered: float | None  # msg/s (open loop); None for the closed loops
    conversations: int
    seconds: float  # from the first scheduled send to the last answer
    scheduled: int
    sent: int
    answered: int
    achieved: float  # msg/s: answered / seconds
    latency_from: str  # "scheduled" or "sent"
    p50_ms: float
    p95_ms: float
    p99_ms: float
    refused: int  # deliveries refused (5xx, dropped) and sent again
    unanswered: int  # sent, but not answered when the step ended
    behind: int  # scheduled, not sent: the conversation still waited when the step ended
    wrong: int  # answered differently from the reference, or answers of no message

    @property
    def label(self) -> str:
        channel = CHANNEL_NAMES[self.channel]
        if self.kind == "offered":
            return f"{channel} {self.offered:g} msg/s offered"
        if self.kind == "saturation":
            return f"{channel} saturation ({self.conversations} conv.)"
        if self.kind == "half saturation":
            return f"{channel} {self.offered:g} msg/s (half sat.)"
        return f"{channel} one at a time"

    @property
    def errors(self) -> int:
        return self.refused + self.unanswered


@dataclass
class Switch:
    put_seconds: float
    longest_latency_ms: float
    longest_gap_ms: float
    messages: int
    errors: int  # messages refused or unanswered around the switch
    wrong: int


@dataclass
class Figures:
    assistant: str
    mode: str
    first_answer_seconds: float = 0.0
    rss_idle_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rasa_rss_idle_mb: float = 0.0  # the Rasa server(s) alone
    rasa_rss_peak_mb: float = 0.0
    processes: int = 0
    # CPU time over the load steps (not the start or the model switch), in seconds: the
    # server's processes, and this process (load generator, fake Bot API, sampler).
    server_cpu_seconds: float = 0.0
    server_cpu_by_process: dict[str, float] = field(default_factory=dict)
    generator_cpu_seconds: float = 0.0
    switch: Switch | None = None
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def server_cpu_ms_per_message(self) -> float | None:
        answered = sum(step.answered for step in self.steps)
        return self.server_cpu_seconds * 1000 / answered if answered else None

    def step(self, channel: str, kind: str, offered: float | None) -> Step | None:
        """The step of that channel and kind (and offered load; half the saturation is
        each assistant's own, so it matches by kind)."""
        if kind == "half saturation":
            offered = None
        return next(
            (s for s in self.steps
             if (s.channel, s.kind, s.offered if offered is not None else None)
             == (channel, kind, offered)), None,
        )  # fmt: skip


def _cells(step: Step | None) -> list[str]:
    if step is None:
        return ["n/a", "", "", "", "", ""]
    return [f"{step.achieved:.1f}", f"{step.p50_ms:.0f}", f"{step.p95_ms:.0f}",
            f"{step.p99_ms:.0f}", str(step.errors), str(step.wrong)]  # fmt: skip


def comparison_tables(kopru: Figures, baseline: Figures | None) -> str:
    """Köprü's figures, the baseline's, and Köprü's divided by the baseline's (the load
    table, then the single figures); without a baseline, Köprü's alone."""
    name = baseline.assistant if baseline else BASELINE
    figures = ["p50 ms", "p95", "p99", "err", "wrong"]
    header = ["", f"{kopru.assistant} msg/s", *figures]
    if baseline:
        header += [f"{name} msg/s", *figures, "msg/s x", "p50 x", "p99 x"]
    rows = []
    for step in kopru.steps:
        cells = [step.label, *_cells(step)]
        if baseline:
            twin = baseline.step(step.channel, step.kind, step.offered)
            cells += [*_cells(twin),
                    format_ratio(ratio(step.achieved, twin.achieved if twin else None)),
                    format_ratio(ratio(step.p50_ms, twin.p50_ms if twin else None)),
                    format_ratio(ratio(step.p99_ms, twin.p99_ms if twin else None))]  # fmt: skip
        rows.append(cells)
    loads = format_table(header, rows)

    def row(label: str, get: Callable[[Figures], float | None], digits: int) -> list[str]:
        mine, theirs = get(kopru), get(baseline) if baseline else None
        shown = ["-" if v is None else f"{v:.{digits}f}" for v in (mine, theirs)]
        if baseline is None:
            return [label, shown[0]]
        return [label, *shown, format_ratio(ratio(mine, theirs))]

    def switch(attribute: str) -> Callable[[Figures], float | None]:
        return lambda f: None if f.switch is None else float(getattr(f.switch, attribute))

    single = format_table(
        ["", kopru.assistant, name, "ratio"] if baseline else ["", kopru.assistant],
        [
            row("start to first answer (s)", lambda f: f.first_answer_seconds, 1),
            row("RSS idle, all processes (MB)", lambda f: f.rss_idle_mb, 0),
            row("RSS at most under load (MB)", lambda f: f.rss_peak_mb, 0),
            row("RSS idle, Rasa server (MB)", lambda f: f.rasa_rss_idle_mb, 0),
            row("RSS at most, Rasa server (MB)", lambda f: f.rasa_rss_peak_mb, 0),
            row("processes", lambda f: f.processes, 0),
            row("server CPU per answered message (ms)", lambda f: f.server_cpu_ms_per_message, 0),
            row("server CPU over the steps (s)", lambda f: f.server_cpu_seconds, 0),
            row("load generator CPU over the steps (s)", lambda f: f.generator_cpu_seconds, 0),
            row("model switch: PUT /model (s)", switch("put_seconds"), 1),
            row("model switch: longest latency (ms)", switch("longest_latency_ms"), 0),
            row("model switch: longest gap (ms)", switch("longest_gap_ms"), 0),
            row("model switch: errors", switch("errors"), 0),
        ],
    )
    return f"{loads}\n\n{single}"


# --------------------------------------------------------------------------------------
# The servers
# --------------------------------------------------------------------------------------


def _rss_mb(pids: Sequence[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += vm_rss_kib(Path(f"/proc/{pid}/status").read_text())
        except OSError:
            continue
    return total / 1024


@dataclass
class Target:
    """A running assistant, as the load sees it."""

    name: str
    mode: str
    url: str
    rasa_urls: list[str]  # for PUT /model
    token: str
    model: Path
    scripts: Mapping[str, Sequence[str]]
    telegram: FakeTelegramThread
    root_pid: int
    is_rasa: Callable[[list[str]], bool]  # whether a process of the tree is a Rasa server
    telegram_off: str | None = None  # why the Telegram channel is not measured
    notes: list[str] = field(default_factory=list)

    def cpu(self) -> dict[tuple[int, str], float]:
        """CPU seconds used so far by each of the server's processes (id, name)."""
        used = {}
        for pid, argv in process_tree(self.root_pid):
            try:
                ticks = cpu_ticks(Path(f"/proc/{pid}/stat").read_text())
            except OSError:  # exited meanwhile
                continue
            used[pid, process_name(argv)] = ticks / CLOCK_TICKS
        return used

    def memory(self) -> tuple[float, float, int]:
        """RSS of all the server's processes and of its Rasa server(s), MB; how many."""
        tree = process_tree(self.root_pid)
        rasa = [pid for pid, argv in tree if self.is_rasa(argv)]
        return _rss_mb([pid for pid, _ in tree]), _rss_mb(rasa), len(tree)


class _MemoryWatch:
    """The largest RSS seen, sampled every second on a thread."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.peak = (0.0, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _sample(self) -> None:
        total, rasa, _ = self.target.memory()
        self.peak = (max(self.peak[0], total), max(self.peak[1], rasa))

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()


# Telegram lets a bot send about 30 messages a second, and up to 1,000 with paid
# broadcasts; the benchmark lifts Köprü's channel to that ceiling for both assistants,
# so that the figures show the servers, not Telegram's pacing (per chat it stays ~1/s).
TELEGRAM_MESSAGES_PER_SECOND = "1000"


def _telegram_env(telegram: FakeTelegramThread, url: str) -> dict[str, str]:
    return {
        "TELEGRAM_MESSAGES_PER_SECOND": TELEGRAM_MESSAGES_PER_SECOND,
        "TELEGRAM_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_WEBHOOK_URL": f"{url}/webhooks/telegram/webhook",
    }


def _first_answer(start: Callable[[], object], url: str, text: str) -> float:
    """Seconds from calling `start` (on a thread) to the first answer to a REST message."""
    sender = f"first-{uuid.uuid4().hex[:8]}"
    began = time.monotonic()
    with ThreadPoolExecutor(1) as pool, httpx.Client(timeout=30) as client:
        started = pool.submit(start)
        while True:
            try:
                response = client.post(f"{url}/webhooks/rest/webhook",
                                       json={"sender": sender, "message": text})  # fmt: skip
                if response.status_code == 200 and rest_answer_texts(response.json()):
                    seconds = time.monotonic() - began
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if started.done():
                started.result()  # raises if it failed to start
            time.sleep(0.1)
        started.result()
    return seconds


@contextmanager
def kopru_target(replicas: int | None) -> Iterator[tuple[Target, float]]:
    """`kopru run` with the fake Bot API: embedded, or scaled with `replicas`."""
    model = ensure_model(PROJECT_ROOT, PROJECT_ROOT / "models", quiet=True)
    tmp = Path(tempfile.mkdtemp(prefix="kopru-serving-"))
    with FakeTelegramThread() as telegram:
        if replicas:
            postgres("start")
            kopru = scaled_kopru(model, tmp, replicas, telegram)
            mode = f"scaled, {replicas} replica(s)"
        else:
            kopru = KopruProcess(model, tmp, env={"KOPRU_API_TOKEN": TOKEN})
            kopru.env.update(_telegram_env(telegram, kopru.url))
            mode = "embedded"
        try:
            first = _first_answer(kopru.start, kopru.url, SCRIPTS["en"][0])
            assert kopru.process is not None
            ports = kopru.replica_ports()
            target = Target(
                name=KOPRU, mode=mode, url=kopru.url,
                rasa_urls=[f"http://127.0.0.1:{p}" for p in ports] or [kopru.url],
                token=TOKEN, model=model, scripts=SCRIPTS, telegram=telegram,
                root_pid=kopru.process.pid, is_rasa=lambda argv: "bot.serving.rasa_server" in argv,
            )  # fmt: skip
            if replicas:
                target.notes.append("RSS without PostgreSQL and Redis (not started by kopru run)")
            yield target, first
        finally:
            kopru.stop()
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def baseline_target() -> Iterator[tuple[Target, float]]:
    """The rasa init assistant with `rasa run --enable-api`, REST and Köprü's Telegram channel."""
    model = rasa_init.ensure_model(rasa_init.ensure_project())
    tmp = Path(tempfile.mkdtemp(prefix="rasa-init-serving-"))
    with FakeTelegramThread() as telegram:
        server = rasa_init.RasaInitProcess(model, tmp, TOKEN)
        server.env = _telegram_env(telegram, server.url)
        try:
            first = _first_answer(server.start, server.url, rasa_init.SCRIPTS["sad"][0])
            assert server.process is not None
            telegram_off = None
            health = httpx.get(f"{server.url}/webhooks/telegram/", timeout=10)
            if health.status_code != 200 or health.json().get("status") != "ok":
                telegram_off = f"Telegram channel not loaded by rasa run: {health.text[:200]}"
            yield Target(
                name=BASELINE, mode="rasa run", url=server.url, rasa_urls=[server.url],
                token=TOKEN, model=model, scripts=rasa_init.SCRIPTS, telegram=telegram,
                root_pid=server.process.pid, is_rasa=lambda argv: True,
                telegram_off=telegram_off,
            ), first  # fmt: skip
        finally:
            server.stop()
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Driving the load
# --------------------------------------------------------------------------------------


@dataclass
class _Message:
    script: str
    step: int
    sender: str  # REST sender or Telegram chat id
    scheduled: float
    delivery: Delivery | None = None  # None: never sent
    answered: float | None = None  # REST: the response; Telegram: the last answer's arrival
    answers: list[str] = field(default_factory=list)
    failed: str | None = None

    @property
    def acknowledged(self) -> float | None:
        return None if self.delivery is None else self.delivery.acknowledged


class _Driver:
    def __init__(self, target: Target, client: httpx.AsyncClient, drain: float) -> None:
        self.target = target
        self.client = client
        self.drain = drain
        self.run = uuid.uuid4().hex[:6]
        self.names = sorted(target.scripts)
        self.update_ids = itertools.count(int(time.time() * 1000) % 10**9)
        self.chat_ids = itertools.count(8_000_000 + uuid.uuid4().int % 10**6 * 1000)
        self.senders: dict[tuple[str, str, int, int], str] = {}
        self.reference: dict[str, dict[str, list[list[str]]]] = {}

    def message(self, channel: str, tag: str, conversation: int, k: int,
                scheduled: float) -> _Message:  # fmt: skip
        """The k-th message of a conversation; a finished script starts a new one."""
        name = self.names[conversation % len(self.names)]
        length = len(self.target.scripts[name])
        key = (channel, tag, conversation, k // length)
        if key not in self.senders:
            self.senders[key] = (
                f"{self.run}-{tag}-{conversation}-{k // length}" if channel == "rest"
                else str(next(self.chat_ids))
            )  # fmt: skip
        return _Message(name, k % length, self.senders[key], scheduled)

    async def send(self, channel: str, message: _Message) -> None:
        text = self.target.scripts[message.script][message.step]
        delivery = Delivery(message.sender, message.step, time.monotonic())
        message.delivery = delivery
        if channel == "rest":
            url = f"{self.target.url}/webhooks/rest/webhook"
            body: dict[str, Any] = {"sender": message.sender, "message": text}
            headers: dict[str, str] = {}
        else:
            url = f"{self.target.url}/webhooks/telegram/webhook"
            body = text_update(next(self.update_ids), int(message.sender), text,
                               language_code=None)  # fmt: skip
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        try:
            response = await _deliver(
                lambda: self.client.post(url, json=body, headers=headers), delivery
            )
        except RuntimeError as exc:  # an answer other than 200 or a retryable error
            message.failed = str(exc)
            return
        if response is None:
            message.failed = "gave up"
        elif channel == "rest":
            message.answers = rest_answer_texts(response.json())
            message.answered = delivery.acknowledged

    def telegram_answers(self, messages: Sequence[_Message]) -> int:
        """Attributes what the fake received to the messages; returns the stray answers."""
        by_chat: dict[str, list[tuple[float, str]]] = {}
        for call in self.target.telegram.records:
            if call.method in ANSWER_METHODS and call.ok:
                by_chat.setdefault(str(call.params.get("chat_id")), []).append(
                    (call.at, telegram_answer_text(call.method, call.params, call.result))
                )
        chats: dict[str, list[_Message]] = {}
        for message in messages:
            if message.delivery is not None:
                chats.setdefault(message.sender, []).append(message)
        stray = 0
        for chat, sent in chats.items():
            windows = [(m.delivery.first_sent, m.acknowledged) for m in sent if m.delivery]
            found, extra = attribute_answers(by_chat.get(chat, []), windows)
            stray += extra
            for message, answers in zip(sent, found, strict=True):
                if message.acknowledged is None:
                    continue
                message.answers = [text for _, text in answers]
                message.answered = max((at for at, _ in answers), default=message.acknowledged)
        return stray

    async def settle(self, channel: str) -> None:
        """Wait for the previous step's answers, then for a probe message's answer."""
        if channel == "telegram":
            count, quiet_since = -1, time.monotonic()
            deadline = time.monotonic() + self.drain
            while time.monotonic() - quiet_since < 1.5 and time.monotonic() < deadline:
                now = len(self.target.telegram.records)
                if now != count:
                    count, quiet_since = now, time.monotonic()
                await asyncio.sleep(0.25)
        probe = self.message("rest", f"probe{uuid.uuid4().hex[:4]}", 0, 0, time.monotonic())
        await self.send("rest", probe)

    async def one_at_a_time(self, channel: str, spacing: float = 0.0) -> Step:
        """Each script once, one message in flight at a time: the reference answers.

        The scripts take turns, message by message; with `spacing`, a conversation's
        next message waits until that many seconds after its previous one (Telegram
        paces a chat at about a message a second: a customer does not type faster)."""
        messages: list[_Message] = []
        self.reference[channel] = {}
        last: dict[int, float] = {}
        longest = max(len(self.target.scripts[name]) for name in self.names)
        for k in range(longest):
            for index, name in enumerate(self.names):
                if k >= len(self.target.scripts[name]):
                    continue
                wait = last.get(index, -math.inf) + spacing - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                message = self.message(channel, "ref", index, k, time.monotonic())
                messages.append(message)
                last[index] = time.monotonic()
                await self.send(channel, message)
                if message.failed:
                    raise RuntimeError(f"the reference run failed: {message.failed}")
        self._attribute(channel, messages)
        for name in self.names:
            self.reference[channel][name] = [m.answers for m in messages if m.script == name]
        return self._figures(channel, "one at a time", None, len(self.names), messages,
                             latency_from="sent")  # fmt: skip

    def _attribute(self, channel: str, messages: Sequence[_Message]) -> int:
        return self.telegram_answers(messages) if channel == "telegram" else 0

    async def offered(self, channel: str, rate: float, seconds: float, think: float) -> Step:
        plan = open_loop_schedule(rate, seconds, think)
        start = time.monotonic() + 0.5
        end = start + seconds
        tag = f"open{rate:g}"
        conversations = [
            [self.message(channel, tag, c, k, start + due) for k, due in enumerate(dues)]
            for c, dues in enumerate(plan)
        ]

        async def converse(messages: list[_Message]) -> None:
            for message in messages:
                delay = message.scheduled - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif time.monotonic() > end:
                    return  # still waiting for an answer when the step ended: behind
                await self.send(channel, message)
                if message.failed:
                    return  # what it would say next would not match the reference

        await self._run([converse(c) for c in conversations], end)
        messages = [m for c in conversations for m in c]
        return self._figures(channel, "offered", rate, len(plan), messages,
                             latency_from="scheduled")  # fmt: skip

    async def saturation(self, channel: str, conversations: int, seconds: float) -> Step:
        start = time.monotonic()
        end = start + seconds
        sent: list[list[_Message]] = [[] for _ in range(conversations)]

        async def converse(index: int) -> None:
            for k in itertools.count():
                if time.monotonic() >= end:
                    return
                message = self.message(channel, "sat", index, k, time.monotonic())
                sent[index].append(message)
                await self.send(channel, message)
                if message.failed:
                    return

        await self._run([converse(i) for i in range(conversations)], end)
        messages = [m for c in sent for m in c]
        return self._figures(channel, "saturation", None, conversations, messages,
                             latency_from="sent")  # fmt: skip

    async def _run(self, jobs: Sequence[Any], end: float) -> None:
        """Run the conversations; those still waiting `drain` s after `end` are stopped."""
        tasks = [asyncio.ensure_future(job) for job in jobs]
        timeout = max(0.0, end - time.monotonic()) + self.drain
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _figures(self, channel: str, kind: str, offered: float | None, conversations: int,
                 messages: Sequence[_Message], *, latency_from: str) -> Step:  # fmt: skip
        stray = self._attribute(channel, messages) if kind != "one at a time" else 0
        reference = self.reference.get(channel, {})
        answered = [m for m in messages if m.answered is not None and m.delivery is not None]
        sent = [m for m in messages if m.delivery is not None]
        wrong = stray + sum(
            m.answers != reference[m.script][m.step] for m in answered if m.script in reference
        )
        latencies = [
            m.answered - (m.scheduled if latency_from == "scheduled" else m.delivery.first_sent)
            for m in answered
            if m.answered is not None and m.delivery is not None
        ]
        first = min((m.scheduled for m in messages), default=0.0)
        last = max((m.answered for m in answered if m.answered is not None), default=first)
        seconds = max(last - first, 1e-9)
        latency = Latency.of(latencies)
        return Step(
            channel=channel, kind=kind, offered=offered, conversations=conversations,
            seconds=round(seconds, 2), scheduled=len(messages), sent=len(sent),
            answered=len(answered), achieved=round(len(answered) / seconds, 1),
            latency_from=latency_from, p50_ms=latency.p50_ms, p95_ms=latency.p95_ms,
            p99_ms=latency.p99_ms,
            refused=sum(m.delivery.refused for m in sent if m.delivery is not None),
            unanswered=len(sent) - len(answered), behind=len(messages) - len(sent),
            wrong=wrong,
        )  # fmt: skip

    async def model_switch(self) -> Switch:
        """PUT /model with the same model while one conversation writes one at a time."""
        messages: list[_Message] = []
        stop = asyncio.Event()

        async def converse() -> None:
            for k in itertools.count():
                if stop.is_set():
                    return
                message = self.message("rest", "switch", 0, k, time.monotonic())
                messages.append(message)
                await self.send("rest", message)

        writer = asyncio.ensure_future(converse())
        await asyncio.sleep(SWITCH_AROUND)
        cluster = RasaCluster(self.target.rasa_urls, self.target.token)
        started = time.monotonic()
        try:
            await cluster.activate(self.target.model)
        finally:
            ended = time.monotonic()
            await cluster.aclose()
        await asyncio.sleep(SWITCH_AROUND)
        stop.set()
        await asyncio.wait_for(writer, self.drain)
        exchanges = [(m.delivery.first_sent, m.answered) for m in messages if m.delivery]
        longest, gap = switch_pause(exchanges, started, ended)
        reference = self.reference.get("rest", {})
        return Switch(
            put_seconds=round(ended - started, 2),
            longest_latency_ms=round(longest * 1000),
            longest_gap_ms=round(gap * 1000),
            messages=len(messages),
            errors=sum(m.answered is None or bool(m.delivery and m.delivery.refused)
                       for m in messages),
            wrong=sum(m.answers != reference[m.script][m.step] for m in messages
                      if m.answered is not None and m.script in reference),
        )  # fmt: skip


async def _measure(target: Target, args: argparse.Namespace, figures: Figures) -> None:
    connections = max(args.saturation, math.ceil(max(args.loads, default=1) * args.think)) + 20
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(timeout=args.drain + 60, limits=limits) as client:
        driver = _Driver(target, client, args.drain)
        server_before, own_before = target.cpu(), time.process_time()
        for channel in args.channels:
            if channel == "telegram" and target.telegram_off:
                figures.notes.append(target.telegram_off)
                continue
            kinds: list[tuple[str, float]] = [("one at a time", 0.0)]
            kinds += [("offered", rate) for rate in args.loads]
            if args.saturation:
                # then half the rate the saturation reached, offered (the p99 goal's load)
                kinds += [("saturation", 0.0), ("half saturation", 0.0)]
            for kind, rate in kinds:
                await driver.settle(channel)
                if kind == "half saturation":
                    half = round(figures.steps[-1].achieved / 2, 1)
                    step = await driver.offered(channel, half, args.seconds, args.think)
                    step.kind = "half saturation"
                elif kind == "offered":
                    step = await driver.offered(channel, rate, args.seconds, args.think)
                elif kind == "saturation":
                    step = await driver.saturation(channel, args.saturation, args.seconds)
                else:
                    spacing = args.think if channel == "telegram" else 0.0
                    step = await driver.one_at_a_time(channel, spacing)
                figures.steps.append(step)
                print(f"  {step.label:32} {step.achieved:6.1f} msg/s  p50 {step.p50_ms:6.0f}  "
                      f"p95 {step.p95_ms:6.0f}  p99 {step.p99_ms:6.0f} ms "
                      f"(from {step.latency_from})  sent {step.sent}/{step.scheduled}  "
                      f"errors {step.errors}  wrong {step.wrong}", flush=True)  # fmt: skip
        server_after = target.cpu()
        for key, used in server_after.items():
            spent = used - server_before.get(key, 0.0)
            by_name = figures.server_cpu_by_process
            by_name[key[1]] = round(by_name.get(key[1], 0.0) + spent, 1)
        figures.server_cpu_seconds = round(sum(figures.server_cpu_by_process.values()), 1)
        figures.generator_cpu_seconds = round(time.process_time() - own_before, 1)
        if "rest" in args.channels and not args.no_switch:
            await driver.settle("rest")
            figures.switch = await driver.model_switch()
            print(f"  model switch: {asdict(figures.switch)}", flush=True)


def measure(make: Callable[[], Any], args: argparse.Namespace) -> Figures:
    """Start one assistant, measure it, stop it."""
    with make() as (target, first):
        figures = Figures(target.name, target.mode, first_answer_seconds=round(first, 1),
                          notes=list(target.notes))  # fmt: skip
        print(f"== {target.name} ({target.mode}): first answer {first:.1f} s after the start",
              flush=True)  # fmt: skip
        time.sleep(1)  # the first answer's aftermath (warm-up, logs) settles
        total, rasa, processes = target.memory()
        figures.rss_idle_mb, figures.rasa_rss_idle_mb = round(total), round(rasa)
        figures.processes = processes
        with _MemoryWatch(target) as watch:
            asyncio.run(_measure(target, args, figures))
        figures.rss_peak_mb, figures.rasa_rss_peak_mb = (round(v) for v in watch.peak)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--loads", type=float, nargs="*", default=None,
                        help="offered loads in messages/s (20 50 100 200)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=None,
                        help="length of each load step (10; --quick: 5)")  # fmt: skip
    parser.add_argument("--saturation", type=int, default=100,
                        help="conversations of the closed loop (100; 0: none)")  # fmt: skip
    parser.add_argument("--think", type=float, default=2.0,
                        help="seconds between a customer's messages, open loop (2)")  # fmt: skip
    parser.add_argument("--drain", type=float, default=60.0,
                        help="seconds to wait for the answers after a step (60)")  # fmt: skip
    parser.add_argument("--channels", nargs="+", default=list(CHANNELS), choices=CHANNELS)
    parser.add_argument("--replicas", type=int, default=None,
                        help="Köprü scaled, with N replicas (default: embedded)")  # fmt: skip
    parser.add_argument("--only", choices=["kopru", "baseline"], help="measure one assistant")
    parser.add_argument("--no-switch", action="store_true", help="skip the model switch")
    parser.add_argument("--quick", action="store_true", help="loads 20 and 50, 5 s each")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    if args.loads is None:
        args.loads = list(QUICK_LOADS if args.quick else DEFAULT_LOADS)
    if args.seconds is None:
        args.seconds = 5.0 if args.quick else 10.0
    began = time.monotonic()
    kopru = baseline = None
    if args.only != "baseline":
        kopru = measure(lambda: kopru_target(args.replicas), args)
    if args.only != "kopru":
        baseline = measure(baseline_target, args)
    print(f"\nServing figures ({time.monotonic() - began:.0f} s). Latency in ms: from the "
          "scheduled time for offered loads, from the send otherwise; err = refused or "
          "unanswered; ratio = Köprü / rasa init.\n")  # fmt: skip
    if kopru is not None:
        print(comparison_tables(kopru, baseline))
    elif baseline is not None:
        print(comparison_tables(baseline, None))
    if "telegram" in args.channels:
        print(f"\n{TELEGRAM_NOTE}")
    for figures in (kopru, baseline):
        for note in figures.notes if figures else []:
            print(f"{figures.assistant if figures else ''}: {note}")
    if args.json:
        document = {
            "command": ["python", "-m", "bench.serving", *(sys.argv[1:] if argv is None else argv)],
            "options": {k: v for k, v in vars(args).items() if k != "json"},
            "assistants": [asdict(f) for f in (kopru, baseline) if f is not None],
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(document, indent=2, ensure_ascii=False))
    measured = [f for f in (kopru, baseline) if f is not None]
    bad = sum(s.wrong + s.unanswered for f in measured for s in f.steps)
    bad += sum(f.switch.errors + f.switch.wrong for f in measured if f.switch)
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

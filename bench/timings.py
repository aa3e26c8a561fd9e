"""Wall-clock budgets that used to be asserted inside unit tests (where a loaded machine
made them flaky and a fast one hid nothing): each piece is timed here and compared with
its budget. The unit tests keep the behaviour; these keep the speed.

    .venv/bin/python -m bench.timings            # exit status 1 if a piece is over budget

- masking: `mask` on four long texts of the kind that make a careless regular expression
  take quadratic time (1 MB of letters, 600 kB of "a@", 400 kB of "1 ", 600 kB of
  words and order numbers), each within 5 s (tests/unit/bot/test_masking.py);
- demo data: a month of demo conversations into a new SQLite store within 5 s
  (tests/unit/bot/test_demo_data.py);
- claims: the race of tests/unit/bot/test_handoff.py (agents claiming one handoff at
  once on SQLite) with 20 agents, all answered within 5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

BUDGET_SECONDS = 5.0
LONG_TEXTS = {
    "letters": "a" * 1_000_000,
    "a@": "a@" * 300_000,
    "ones and spaces": "1 " * 200_000,
    "words and numbers": "word 204518 " * 50_000,
}
DEMO_END = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc).timestamp()
AGENTS = 20


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: float
    budget: float

    @property
    def ok(self) -> bool:
        return self.seconds < self.budget

    def line(self) -> str:
        verdict = "ok" if self.ok else "OVER BUDGET"
        return f"{self.name:<32} {self.seconds:7.3f} s  (budget {self.budget:g} s)  {verdict}"


def timed(name: str, work: Callable[[], object], budget: float = BUDGET_SECONDS) -> Timing:
    started = time.perf_counter()
    work()
    return Timing(name, time.perf_counter() - started, budget)


def masking() -> list[Timing]:
    from bot.privacy.masking import mask

    return [timed(f"mask: {name}", partial(mask, text)) for name, text in LONG_TEXTS.items()]


def demo_month(tmp: Path) -> Timing:
    from bot.insights.demo_data import generate
    from bot.storage.store import Store

    store = Store(f"sqlite:///{tmp / 'demo.db'}")
    store.create_schema()
    try:
        return timed("demo data: a month", lambda: generate(store, days=30, end=DEMO_END))
    finally:
        store.close()


def claims(tmp: Path) -> Timing:
    """AGENTS threads press Claim on one queued handoff at the same moment."""
    from bot.desk.handoff import HandoffRepository, IllegalTransition, State
    from bot.storage.store import Store

    store = Store(f"sqlite:///{tmp / 'claims.db'}")
    store.create_schema()
    try:
        repo = HandoffRepository(store)
        queued, _ = repo.open(
            sender_id="bench", session_started_at=1.0, conversation_id=None, channel="webchat",
            language="en", reason="customer_request", context={}, at=10.0,
        )  # fmt: skip
        start = threading.Barrier(AGENTS)

        def press(agent: int) -> None:
            start.wait()
            with contextlib.suppress(IllegalTransition):  # all but one lose: that is the race
                repo.move(queued, State.CLAIMED, agent_id=f"U{agent}", agent_name=f"Agent {agent}")

        def all_at_once() -> None:
            threads = [threading.Thread(target=press, args=(i,)) for i in range(AGENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        return timed(f"claims: {AGENTS} agents at once", all_at_once)
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.timings", description=__doc__)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kopru-timings-") as name:
        tmp = Path(name)
        timings = [*masking(), demo_month(tmp), claims(tmp)]
    for timing in timings:
        print(timing.line())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = [{**asdict(t), "ok": t.ok} for t in timings]
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if all(t.ok for t in timings) else 1


if __name__ == "__main__":
    sys.exit(main())

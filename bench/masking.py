"""How long the log masking takes on hostile text, per size: the figures behind
"masking is linear in its input and bounded" (issue 15, item 2).

    .venv/bin/python -m bench.masking            # a table: ms, and ms per kB, per size
    .venv/bin/python -m bench.masking --json var/bench/masking.json

For each kind of text that makes a careless regular expression scan again from every
start position (a long word, a URL scheme with no end, a form-encoded body, ...) it times
`bot.privacy.logsafety.redact` (the secret patterns on the whole text: linear, so the
ms per kB stay flat as the size grows) and `scrub` (redaction and
`bot.privacy.masking.mask`) at 10 kB to 500 kB, and a whole log record of 500 kB made by
the installed record factory (cut at `MESSAGE_LIMIT` first: bounded, whatever the size).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

SIZES = (10_000, 20_000, 40_000, 100_000, 200_000, 500_000)
HOSTILE: dict[str, Callable[[int], str]] = {
    "letters": lambda n: "a" * n,
    "scheme, no userinfo end": lambda n: "a://" + "b" * n,
    "userinfo, no @": lambda n: "a://:" + "b" * n,
    "digits": lambda n: "1" * n,
    "key=value words": lambda n: "xtoken" * (n // 6),
    "header, no value": lambda n: "authorization:" + " " * n,
    "form body": lambda n: "payload=%7B%22text%22%3A%22" + "merhaba+dunya+" * (n // 14),
    "digits and spaces": lambda n: "1 " * (n // 2),
}


@dataclass(frozen=True)
class Row:
    kind: str
    step: str
    size: int
    seconds: float

    def line(self) -> str:
        ms = self.seconds * 1000
        per_kb = ms / (self.size / 1000)
        return f"{self.kind:<26} {self.step:<11} {self.size:>8} {ms:>9.1f} {per_kb:>7.3f}"


def _seconds(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _record_seconds(text: str) -> float:
    from bot.privacy.logsafety import install

    previous = logging.getLogRecordFactory()
    install(secrets=[])
    try:
        factory = logging.getLogRecordFactory()
        return _seconds(
            lambda: factory("bench", logging.WARNING, __file__, 1, "body=%s", (text,), None)
        )
    finally:
        logging.setLogRecordFactory(previous)


def measure() -> list[Row]:
    from bot.privacy.logsafety import redact, scrub

    rows: list[Row] = []
    for kind, make in HOSTILE.items():
        for size in SIZES:
            text = make(size)
            rows.append(Row(kind, "redact", len(text), _seconds(partial(redact, text))))
            rows.append(Row(kind, "scrub", len(text), _seconds(partial(scrub, text))))
        text = make(SIZES[-1])
        rows.append(Row(kind, "log record", len(text), _record_seconds(text)))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.masking", description=__doc__)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    rows = measure()
    print(f"{'kind':<26} {'step':<11} {'size':>8} {'ms':>9} {'ms/kB':>7}")
    for row in rows:
        print(row.line())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = [asdict(row) for row in rows]
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

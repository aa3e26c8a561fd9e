"""Köprü's benchmark harness, one command: NLU accuracy and speed, then serving.

    .venv/bin/python -m bench --quick      # DIET capped at 5 epochs, short load steps
    .venv/bin/python -m bench              # Rasa's default epochs (hours), 10 s load steps
    .venv/bin/python -m bench --only nlu   # or: --only serving

Runs bench.nlu (Banking77, CLINC150, xSID-tr: Köprü's pipeline beside Rasa's default,
plus Köprü's cross-validated accuracy per language) and bench.serving (REST and Telegram,
fixed loads and saturation, memory, start-up, model switch: Köprü beside the `rasa init`
assistant), one after the other so that neither slows the other down. Each prints its
table; the figures go to var/bench/nlu.json and var/bench/serving.json. BENCHMARKS.md
holds the latest tables with the date, the machine and the command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.settings import PROJECT_ROOT

OUTPUT = PROJECT_ROOT / "var" / "bench"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="DIET capped, short load steps")
    parser.add_argument("--only", choices=["nlu", "serving"], help="run one part")
    args = parser.parse_args(argv)
    quick = ["--quick"] if args.quick else []
    status = 0
    if args.only != "serving":
        from bench import nlu

        print("== NLU", flush=True)
        status |= nlu.main([*quick, "--cv", "--json", str(OUTPUT / "nlu.json")])
    if args.only != "nlu":
        from bench import serving

        print("\n== Serving", flush=True)
        status |= serving.main([*quick, "--json", str(OUTPUT / "serving.json")])
    return status


if __name__ == "__main__":
    sys.exit(main())

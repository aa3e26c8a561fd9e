"""`python -m bot.rasa_server run ...`: Rasa's own command line, started the way Köprü
starts its other processes: with the log record factory that masks personal data and
secrets installed before Rasa logs anything."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    from rasa.__main__ import main as rasa_main

    from bot.logsafety import install

    install()
    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()

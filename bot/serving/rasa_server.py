"""`python -m bot.serving.rasa_server run ...`: Rasa's own command line, started the way Köprü
starts its other processes: with the log record factory that masks personal data and
secrets installed before Rasa logs anything, and the HTTP API token taken from the
environment (`KOPRU_RASA_AUTH_TOKEN`) rather than the command line, where any local user
could read it with `ps`. `run --enable-api` without a token or JWT secret is refused. Rasa's
message path gets the speed-ups of bot.serving.rasa_speedups (no change in behaviour), and
its HTTP server refuses a malformed Content-Length (bot.serving.http_guard). With
KOPRU_METRICS_PORT set, Prometheus metrics are served on 127.0.0.1 (bot.observability)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

__all__ = ["TOKEN_ENV", "main", "with_token"]

TOKEN_ENV = "KOPRU_RASA_AUTH_TOKEN"  # noqa: S105 - the variable's name


def with_token(argv: Sequence[str], token: str | None) -> list[str]:
    """Rasa's arguments with the token added; ValueError when the HTTP API would be open."""
    args = list(argv)
    protected = any(a.startswith(("--auth-token", "--jwt-secret")) for a in args)
    if token and not protected:
        args.append(f"--auth-token={token}")  # the "=" form: a token may start with "-"
        protected = True
    if args[:1] == ["run"] and "--enable-api" in args and not protected:
        raise ValueError(f"the HTTP API needs a token: set {TOKEN_ENV}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from bot.privacy.logsafety import install
    from bot.quiet import install as quiet_warnings

    quiet_warnings()

    try:
        args = with_token(sys.argv[1:] if argv is None else argv, os.environ.get(TOKEN_ENV))
    except ValueError as exc:
        print(f"Köprü will not start Rasa: {exc}", file=sys.stderr)
        return 2
    install()
    from bot.observability import RASA_PORT_ENV, start_metrics_listener

    # The channels count messages into this process's registry (channels/processing.py).
    start_metrics_listener(RASA_PORT_ENV)
    from bot.serving import rasa_speedups

    rasa_speedups.install()
    from bot.serving import http_guard

    http_guard.install()  # Rasa builds its Sanic app itself: guard every app it starts
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *args]
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())

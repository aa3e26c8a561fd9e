"""The supervisor restarts a child that stops answering its health check without exiting:
a small HTTP server that answers once, then hangs on every request and ignores SIGTERM,
is killed and started again, and the new process answers the supervisor's check."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bot.serving.health import HealthPolicy
from bot.serving.runner import Supervisor
from tests.e2e.conftest import free_port
from tests.waiting import wait_until

HANGS_AFTER_ONE_ANSWER = """
import os, signal, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as a process stuck in a loop would
with open(sys.argv[2], "a") as starts:
    starts.write(f"{os.getpid()}\\n")


class Handler(BaseHTTPRequestHandler):
    answered = False

    def do_GET(self):
        if Handler.answered:
            time.sleep(3600)
        Handler.answered = True
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_a_child_that_hangs_is_killed_and_restarted(tmp_path: Path) -> None:
    port = free_port()
    starts = tmp_path / "starts"
    supervisor = Supervisor(
        health_policy=HealthPolicy(interval=0.3, timeout=0.5, max_failures=2, startup_grace=10),
        kill_grace=1.0,
    )
    argv = [sys.executable, "-c", HANGS_AFTER_ONE_ANSWER, str(port), str(starts)]
    supervisor.start("hanging server", argv, f"http://127.0.0.1:{port}/health", {}, tmp_path)
    child = supervisor.children[0]
    try:
        supervisor.wait_healthy("hanging server", 10)  # its one answer
        first = child.process

        def restarted_and_answered() -> bool:
            assert supervisor.tend() is None
            return child.process is not first and child.health.answered

        started = time.monotonic()
        # Within the start-up grace: the answer wait_healthy saw counts as its first.
        wait_until(restarted_and_answered, timeout=8, interval=0.1, what="a restart")
        assert time.monotonic() - started < 8
        assert first.returncode == -9  # SIGTERM ignored: killed after the grace
        assert starts.read_text().split() == [str(first.pid), str(child.process.pid)]
        assert child.process.poll() is None and len(child.restarts) == 1
    finally:
        supervisor.stop(grace=1)

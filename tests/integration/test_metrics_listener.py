"""A Köprü process serves /metrics on 127.0.0.1 when its variable names a port: the event
consumer, started as its own process, answered while it waits for RabbitMQ."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from bot.observability import EVENTS_PORT_ENV
from bot.settings import PROJECT_ROOT

CHILD = (
    "from bot.serving.events import consume\n"
    # Nothing listens on port 1: the consumer keeps retrying, its listener stays up.
    "consume('amqp://guest:guest@127.0.0.1:1/', lambda answer: None, retry_seconds=0.5)\n"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return str(answer.read().decode("utf-8"))
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_the_event_consumer_serves_metrics_on_loopback() -> None:
    port = free_port()
    env = {**os.environ, EVENTS_PORT_ENV: str(port), "PYTHONPATH": str(PROJECT_ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        text = scrape(f"http://127.0.0.1:{port}/metrics", time.monotonic() + 60)
    finally:
        child.terminate()
        child.wait(10)
    names = {family.name for family in text_string_to_metric_families(text)}
    # The process's own figures, and Köprü's families declared (HELP/TYPE) before any count.
    assert "process_cpu_seconds" in names
    assert {"kopru_errors", "kopru_messages_received", "kopru_training_runs"} <= names

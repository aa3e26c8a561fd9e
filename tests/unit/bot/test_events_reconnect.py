"""`kopru events` keeps trying an unreachable RabbitMQ, and stops when told to."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from bot.serving.events import consume

UNREACHABLE = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens on port 1


def test_an_unreachable_broker_is_tried_again_until_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bot.serving.events"):
        consume(UNREACHABLE, lambda _answer: None, stop=stop, retry_seconds=0.05)
    timer.join()
    assert time.monotonic() - started < 5
    tries = [r for r in caplog.records if "RabbitMQ is not reachable" in r.getMessage()]
    assert len(tries) >= 3

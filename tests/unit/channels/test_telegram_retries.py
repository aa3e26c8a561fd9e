"""Telegram's retries: which errors are tried again, how long each pause is, when it ends."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import pytest
from telegram import Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from tenacity import AsyncRetrying, RetryCallState

from bot.errors import KopruError
from channels.telegram import (
    Busy,
    TelegramConfig,
    TelegramInput,
    UpdateRefused,
    _PollWait,
    _send_wait,
    _update_wait,
    _worth_sending_again,
)


def _failed(attempt: int, exc: BaseException) -> RetryCallState:
    state = RetryCallState(AsyncRetrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    try:
        raise exc
    except BaseException:
        state.set_exception(sys.exc_info())  # type: ignore[arg-type]
    return state


@pytest.mark.parametrize(
    ("exc", "again"),
    [
        (RetryAfter(3), True),
        (TimedOut(), True),
        (NetworkError("connection reset"), True),
        (BadRequest("chat not found"), False),
        (ValueError("bug"), False),
    ],
)
def test_what_is_sent_again(exc: Exception, again: bool) -> None:
    assert _worth_sending_again(exc) is again


def test_sending_waits_as_told_after_429_else_backs_off() -> None:
    assert _send_wait(_failed(1, RetryAfter(7))) == 7.0
    assert _send_wait(_failed(2, RetryAfter(dt.timedelta(seconds=2.5)))) == 2.5
    assert [_send_wait(_failed(n, TimedOut())) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]


def test_polling_backs_off_to_30_s_and_a_429_does_not_count() -> None:
    wait = _PollWait()
    pauses = [wait(_failed(n, NetworkError("down"))) for n in range(1, 4)]
    pauses.append(wait(_failed(4, RetryAfter(5))))
    pauses += [wait(_failed(n, NetworkError("down"))) for n in range(5, 9)]
    assert pauses == [1.0, 2.0, 4.0, 5.0, 8.0, 16.0, 30.0, 30.0]


def test_an_update_busy_elsewhere_is_looked_at_every_second() -> None:
    assert _update_wait(_failed(3, Busy("telegram:1:2"))) == 1.0
    assert [_update_wait(_failed(n, RuntimeError())) for n in (1, 2, 3, 4, 5)] == [
        2.0, 4.0, 8.0, 16.0, 30.0,
    ]  # fmt: skip


def test_the_channels_refusals_are_kopru_errors() -> None:
    assert issubclass(Busy, KopruError)
    refused = UpdateRefused(4)
    assert isinstance(refused, KopruError)
    assert refused.retry_after == 4
    assert str(refused) == "retry after 4 s"


class Polled:
    """A TelegramInput whose processing of one update fails as told."""

    def __init__(self, *failures: BaseException) -> None:
        config = TelegramConfig.from_env({"TELEGRAM_TOKEN": "1:x", "TELEGRAM_MODE": "polling"})
        self.channel = TelegramInput(config)
        self.failures = list(failures)
        self.calls = 0
        self.pauses: list[float] = []

        async def handle(update: Update, on_new_message: Any) -> str:
            self.calls += 1
            if self.failures:
                raise self.failures.pop(0)
            return "new"

        async def pause(seconds: float) -> None:
            self.pauses.append(seconds)

        self.channel._handle = handle  # type: ignore[method-assign]
        self.channel._pause = pause

    async def process(self) -> None:
        await self.channel._process_polled(Update(update_id=9), None)  # type: ignore[arg-type]


async def test_a_polled_update_is_tried_again_until_it_works() -> None:
    polled = Polled(Busy("k"), RuntimeError("action server down"))
    await polled.process()
    assert polled.calls == 3
    assert polled.pauses == [1.0, 4.0]


async def test_a_polled_update_is_given_up_after_five_tries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    polled = Polled(*(RuntimeError(f"failure {n}") for n in range(10)))
    await polled.process()
    assert polled.calls == 5
    assert polled.pauses == [2.0, 4.0, 8.0, 16.0]
    assert "Telegram update 9 given up after 5 attempts" in caplog.text
    assert "failure 4" in caplog.text  # the last failure is logged too


async def test_a_refused_polled_update_is_not_tried_again() -> None:
    polled = Polled(UpdateRefused(2))
    with pytest.raises(UpdateRefused):
        await polled.process()
    assert polled.calls == 1
    assert polled.pauses == []

"""channels/processing.py: the apology after a failed action, the refusal when the
conversation store is unavailable, and the logging watch that tells them apart."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor

from bot.errors import TrackerStoreUnavailable
from bot.phrases import action_failed_apology
from channels import processing
from channels.processing import (
    ACTION_FAILED_MESSAGE,
    DEFAULT_RETRY_AFTER,
    ActionFailureWatch,
    Outcome,
    process,
    tracker_language,
    unavailable_response,
    watch_action_failures,
)

processor_logger = logging.getLogger(processing.PROCESSOR_LOGGER)

BOT_TEXT = "Let me check that for you."


@pytest.fixture(autouse=True)
def no_watch() -> Iterator[None]:
    """Each test starts without the watch and leaves none behind."""

    def remove() -> None:
        for handler in list(processor_logger.handlers):
            if isinstance(handler, ActionFailureWatch):
                processor_logger.removeHandler(handler)

    remove()
    yield
    remove()


def rasa_action_failure(action: str = "action_order_status") -> None:
    """What Rasa 3.6's MessageProcessor._run_action logs when an action raises."""
    try:
        raise RuntimeError("Failed to execute custom action: connection refused")
    except RuntimeError:
        processor_logger.exception(
            f"Encountered an exception while running action '{action}'."
            "Bot will continue, but the actions events are lost. "
            "Please check the logs of your action server for "
            "more information."
        )


def bot(*, fail: bool = False, error: BaseException | None = None) -> Callable[
    [UserMessage], Awaitable[None]
]:  # fmt: skip
    async def on_new_message(message: UserMessage) -> None:
        await message.output_channel.send_response(message.sender_id, {"text": BOT_TEXT})
        if fail:
            rasa_action_failure()
        if error is not None:
            raise error

    return on_new_message


def user_message(
    text: str, sender: str = "s1", metadata: dict[str, Any] | None = None
) -> tuple[UserMessage, CollectingOutputChannel]:
    collector = CollectingOutputChannel()
    return UserMessage(text, collector, sender, input_channel="rest", metadata=metadata), collector


def texts(collector: CollectingOutputChannel) -> list[str]:
    return [m["text"] for m in collector.messages]


def test_the_watched_sentence_is_rasas_own() -> None:
    # If a Rasa upgrade rewords it, the apology would silently stop: fail here instead.
    assert ACTION_FAILED_MESSAGE in inspect.getsource(MessageProcessor._run_action)
    assert MessageProcessor.__module__ == processing.PROCESSOR_LOGGER


def test_watch_is_attached_once() -> None:
    first = watch_action_failures()
    second = watch_action_failures()
    assert first is second
    watches = [h for h in processor_logger.handlers if isinstance(h, ActionFailureWatch)]
    assert watches == [first]


async def test_a_normal_answer_is_left_alone() -> None:
    message, collector = user_message("where is my order?")
    result = await process(bot(), message)
    assert result.outcome is Outcome.ANSWERED
    assert texts(collector) == [BOT_TEXT]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("where is my order 204518?", "en"),
        ("204518 numaralı siparişim nerede?", "tr"),
        ("gdzie jest moja paczka? zamówienie 204518", "pl"),
    ],
)
async def test_a_failed_action_gets_an_apology_after_what_the_bot_said(
    text: str, language: str
) -> None:
    message, collector = user_message(text)
    result = await process(bot(fail=True), message)
    assert result.outcome is Outcome.APOLOGISED
    assert result.language == language
    assert texts(collector) == [BOT_TEXT, action_failed_apology(language)]


async def test_the_conversation_language_comes_from_the_tracker() -> None:
    asked: list[str] = []

    async def lookup(sender_id: str) -> str | None:
        asked.append(sender_id)
        return "pl"

    # "ok" says nothing about its language: the conversation's language decides.
    message, collector = user_message("ok", sender="kasia")
    result = await process(bot(fail=True), message, lookup)
    assert asked == ["kasia"]
    assert texts(collector)[-1] == action_failed_apology("pl")
    assert result.language == "pl"


async def test_the_client_hint_decides_when_nothing_else_does() -> None:
    message, collector = user_message("/greet", metadata={"language_code": "tr"})
    await process(bot(fail=True), message)
    assert texts(collector)[-1] == action_failed_apology("tr")


async def test_a_failing_lookup_falls_back_to_the_text() -> None:
    async def lookup(sender_id: str) -> str | None:
        raise TrackerStoreUnavailable("down")

    message, collector = user_message("kargom nerede, sipariş numaram 204518")
    await process(bot(fail=True), message, lookup)
    assert texts(collector)[-1] == action_failed_apology("tr")


async def test_failures_are_told_apart_between_concurrent_messages() -> None:
    """Each message runs in its own task; only the one whose action failed apologises."""
    gate = asyncio.Event()

    def slow_bot(fail: bool) -> Callable[[UserMessage], Awaitable[None]]:
        async def on_new_message(message: UserMessage) -> None:
            await gate.wait()
            await message.output_channel.send_response(message.sender_id, {"text": BOT_TEXT})
            if fail:
                rasa_action_failure()
            await asyncio.sleep(0.01)

        return on_new_message

    failing, failing_out = user_message("where is my order?", sender="a")
    fine, fine_out = user_message("where is my order?", sender="b")
    tasks = [
        asyncio.create_task(process(slow_bot(True), failing)),
        asyncio.create_task(process(slow_bot(False), fine)),
    ]
    await asyncio.sleep(0.01)
    gate.set()
    first, second = await asyncio.gather(*tasks)
    assert first.outcome is Outcome.APOLOGISED
    assert second.outcome is Outcome.ANSWERED
    assert texts(fine_out) == [BOT_TEXT]
    assert texts(failing_out)[-1] == action_failed_apology("en")


async def test_a_failure_logged_outside_any_message_flags_nothing() -> None:
    watch_action_failures()
    rasa_action_failure()  # e.g. a reminder or an API call, not a customer's message
    message, collector = user_message("hello there")
    assert (await process(bot(), message)).outcome is Outcome.ANSWERED
    assert texts(collector) == [BOT_TEXT]


async def test_other_errors_of_the_processor_do_not_count() -> None:
    async def on_new_message(message: UserMessage) -> None:
        processor_logger.error("Something else went wrong")
        await message.output_channel.send_response(message.sender_id, {"text": BOT_TEXT})

    message, collector = user_message("hello there")
    assert (await process(on_new_message, message)).outcome is Outcome.ANSWERED
    assert texts(collector) == [BOT_TEXT]


async def test_an_unavailable_store_is_an_outcome_not_an_exception() -> None:
    message, collector = user_message("where is my order?")
    result = await process(bot(error=TrackerStoreUnavailable("database down")), message)
    assert result.outcome is Outcome.UNAVAILABLE
    assert result.retry_after == DEFAULT_RETRY_AFTER
    # What was collected is the channel's to drop; no apology is added to it.
    assert texts(collector) == [BOT_TEXT]


async def test_the_store_may_say_how_long_to_wait() -> None:
    error = TrackerStoreUnavailable("database down")
    error.retry_after = 12  # type: ignore[attr-defined]
    message, _ = user_message("hi")
    assert (await process(bot(error=error), message)).retry_after == 12


async def test_other_exceptions_propagate_and_leave_no_flag_behind() -> None:
    message, _ = user_message("hi")
    with pytest.raises(RuntimeError):
        await process(bot(fail=True, error=RuntimeError("boom")), message)
    assert processing._current_turn.get() is None


async def test_cancellation_propagates() -> None:
    message, _ = user_message("hi")
    with pytest.raises(asyncio.CancelledError):
        await process(bot(error=asyncio.CancelledError()), message)
    assert processing._current_turn.get() is None


def test_unavailable_response() -> None:
    answer = unavailable_response(7, language="pl")
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "7"
    body = json.loads(answer.body)
    assert body["retry_after"] == 7
    assert body["language"] == "pl"
    assert "again" in body["error"]


class FakeTracker:
    def __init__(self, slots: dict[str, Any]) -> None:
        self.slots = slots

    def get_slot(self, name: str) -> Any:
        return self.slots.get(name)


class FakeTrackerStore:
    def __init__(self, trackers: dict[str, FakeTracker]) -> None:
        self.trackers = trackers

    async def retrieve(self, sender_id: str) -> FakeTracker | None:
        return self.trackers.get(sender_id)


class Ctx:
    def __init__(self, agent: Any) -> None:
        self.agent = agent


class App:
    def __init__(self, agent: Any) -> None:
        self.ctx = Ctx(agent)


class Agent:
    def __init__(self, store: Any) -> None:
        self.tracker_store = store


async def test_tracker_language_reads_the_slot() -> None:
    store = FakeTrackerStore({"a": FakeTracker({"language": "tr"}), "b": FakeTracker({})})
    lookup = tracker_language(App(Agent(store)))
    assert await lookup("a") == "tr"
    assert await lookup("b") is None
    assert await lookup("unknown") is None
    assert await tracker_language(App(None))("a") is None

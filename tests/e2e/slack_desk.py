"""What the Slack agent desk's end-to-end modules share (test_slack_handoff.py over the HTTP
request URL, test_slack_socket_mode.py over Socket Mode): the fake workspace and `kopru run`
with the desk on it (each module's `slack` and `kopru` fixtures are these), a Telegram
customer, and reading handoffs and cards back."""

from __future__ import annotations

import html
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from bot.desk.handoff import Handoff, HandoffRepository, State
from bot.settings import PROJECT_ROOT
from bot.storage.store import Store
from tests.e2e.conftest import AGENTS, KopruProcess, add_agents
from tests.fakes.slack_api import FakeSlackThread
from tests.fakes.telegram_api import FakeTelegramThread, text_update
from tests.waiting import wait_until

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "e2e-" + uuid.uuid4().hex
ALL_WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Open all day, every day, and a queue nobody claims from for ten minutes opens a ticket.
ALWAYS_OPEN = {"timezone": "UTC", "days": ALL_WEEK, "hours": "00:00-24:00",
               "queue_timeout_minutes": 10}  # fmt: skip

_update_ids = itertools.count(50_000)
_chat_ids = itertools.count(90_001)


def desk_config(tmp: Path, agent_desk: dict[str, Any]) -> Path:
    raw = yaml.safe_load((PROJECT_ROOT / "kopru.yml").read_text(encoding="utf-8"))
    raw["agent_desk"] = agent_desk
    path = tmp / "kopru.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def desk_env(slack: FakeSlackThread, config: Path) -> dict[str, str]:
    """`kopru run`'s environment for the Slack desk on the fake workspace (HTTP mode)."""
    return {
        "KOPRU_API_TOKEN": TOKEN,
        "KOPRU_CONFIG": str(config),
        "KOPRU_QUEUE_SWEEP_SECONDS": "1",
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_AGENT_CHANNEL": AGENTS,
        "SLACK_API_BASE_URL": slack.base_url,
    }


def telegram_env(process: KopruProcess, telegram: FakeTelegramThread) -> dict[str, str]:
    """Customers on Telegram, the fake Bot API delivering to `process`'s webhook."""
    return {
        "TELEGRAM_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "TELEGRAM_WEBHOOK_SECRET": "telegram-secret",
        "TELEGRAM_WEBHOOK_URL": f"{process.url}/webhooks/telegram/webhook",
    }


@contextmanager
def slack_workspace(**options: Any) -> Iterator[FakeSlackThread]:
    """The fake Slack: the agents' channel with three agents, and #random with one of them
    and an outsider (not an agent). `options` go to FakeSlack (app_token=...)."""
    with FakeSlackThread(**options) as fake:
        add_agents(fake, AGENTS)
        fake.add_channel("CRANDOM", ["UAYSE", "UOUTSIDER"], name="random")
        fake.add_user("UOUTSIDER", "Olaf", "Outsider")
        yield fake


@contextmanager
def running_desk(
    model: Path,
    tmp: Path,
    slack: FakeSlackThread,
    telegram: FakeTelegramThread,
    env: dict[str, str] | None = None,
) -> Iterator[KopruProcess]:
    """`kopru run` with the desk always open on `slack` and customers on `telegram`;
    `env` adds to (or overrides) its environment."""
    config = desk_config(tmp, ALWAYS_OPEN)
    process = KopruProcess(model, tmp)
    process.env = {**desk_env(slack, config), **telegram_env(process, telegram), **(env or {})}
    process.start()
    try:
        yield process
    finally:
        process.stop()


class Customer:
    """A Telegram customer talking to the bot through the fake Bot API.

    `say` returns once Köprü answered the webhook, which it does after processing the
    update: whatever the bot said to it has been sent by then, and the customer's words
    have reached the agents' thread if an agent has the chat.
    """

    def __init__(self, telegram: FakeTelegramThread, language: str, name: str = "Ayşe"):
        self.telegram = telegram
        self.chat_id = next(_chat_ids)
        self.language = language
        self.name = name
        self.seen = 0

    @property
    def sender(self) -> str:
        return str(self.chat_id)

    def say(self, text: str) -> None:
        update = text_update(
            next(_update_ids), self.chat_id, text, first_name=self.name,
            language_code=self.language,
        )  # fmt: skip
        assert self.telegram.deliver_webhook(update, timeout=60) == 200

    def replies(self) -> list[str]:
        return [html.unescape(m["text"]) for m in self.telegram.sent_messages(self.chat_id)]

    def wait_new(self, count: int = 1, timeout: float = 30) -> list[str]:
        self.telegram.wait_for_messages(self.seen + count, timeout=timeout, chat_id=self.chat_id)
        replies = self.replies()
        new = replies[self.seen :]
        self.seen = len(replies)
        return new

    def assert_quiet(self) -> None:
        """Nothing new was sent to the customer; call it once the input that could have
        made the bot speak is known to be processed."""
        assert self.replies()[self.seen :] == [], "the bot spoke while an agent had the chat"


def repo(kopru: KopruProcess) -> HandoffRepository:
    return HandoffRepository(Store(kopru.database_url))


def wait_handoff(
    kopru: KopruProcess, sender: str, state: State | None = None, timeout: float = 30
) -> Handoff:
    def found() -> Handoff | None:
        handoffs = repo(kopru).of_sender(sender)
        # A queued handoff counts once its card is in Slack.
        if (
            handoffs
            and (state is None or handoffs[-1].state is state)
            and (state is not State.QUEUED or handoffs[-1].card_ts)
        ):
            return handoffs[-1]
        return None

    handoff = wait_until(found, timeout, interval=0.2, what=f"a {state} handoff for {sender}")
    assert handoff is not None
    return handoff


def events_url(kopru: KopruProcess) -> str:
    return f"{kopru.url}/webhooks/slack/events"


def thread_texts(slack: FakeSlackThread, handoff: Handoff) -> list[str]:
    assert handoff.card_channel and handoff.card_ts
    return [str(m.get("text")) for m in slack.thread(handoff.card_channel, handoff.card_ts)]


def card_text(slack: FakeSlackThread, handoff: Handoff) -> str:
    assert handoff.card_channel and handoff.card_ts
    message = slack.message(handoff.card_channel, handoff.card_ts)
    assert message is not None
    return json.dumps(message, ensure_ascii=False)


def buttons(slack: FakeSlackThread, handoff: Handoff) -> list[str]:
    assert handoff.card_channel and handoff.card_ts
    message = slack.message(handoff.card_channel, handoff.card_ts) or {}
    return [
        element["action_id"]
        for block in message.get("blocks", [])
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


def responses_to(slack: FakeSlackThread, user: str) -> list[dict[str, Any]]:
    """Messages only `user` saw (answers to their button presses and replies)."""
    return [e for e in slack.ephemerals() if e.get("user") == user]


def escalate(customer: Customer, kopru: KopruProcess, text: str) -> tuple[Handoff, str]:
    customer.say(text)
    told = "\n".join(customer.wait_new())
    return wait_handoff(kopru, customer.sender, State.QUEUED), told


def agent_ts() -> str:
    """A fresh Slack message timestamp for an agent's reply."""
    return f"{int(time.time())}.{next(_reply_ts):06d}"


_reply_ts = itertools.count(1)

"""Access to a running `kopru run`: Rasa's HTTP API answers only with its token, the action
server and the demo backend listen on 127.0.0.1 only (and the action server wants its shared
secret), and the log of the whole run holds none of the secrets it was given, after
conversations over REST and Telegram, a handoff to Slack and a row of refused requests."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.serving.action_server import SECRET_HEADER
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import KopruProcess, add_agents
from tests.fakes.slack_api import FakeSlackThread, signed_headers
from tests.fakes.telegram_api import FakeTelegramThread, text_update
from tests.listening import can_connect, listening_addresses, non_loopback_ipv4
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

_run = uuid.uuid4().hex[:12]
API_TOKEN = f"api-token-{_run}-Qx7"
ADMIN_TOKEN = f"admin-token-{_run}-Zp4"
WEB_SECRET = f"web-cookie-secret-{_run}-Lm2"
TELEGRAM_TOKEN = f"987654:tg-token-{_run}"
TELEGRAM_SECRET = f"tg-webhook-secret-{_run}"
SLACK_TOKEN = f"xoxb-slack-token-{_run}"
SLACK_SIGNING = f"slack-signing-{_run}"
AGENTS = "CAGENTSACCESS"
SECRETS = {
    "KOPRU_API_TOKEN": API_TOKEN,
    "KOPRU_ADMIN_TOKEN": ADMIN_TOKEN,
    "KOPRU_WEB_SECRET": WEB_SECRET,
    "TELEGRAM_TOKEN": TELEGRAM_TOKEN,
    "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
    "SLACK_BOT_TOKEN": SLACK_TOKEN,
    "SLACK_SIGNING_SECRET": SLACK_SIGNING,
}


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegramThread]:
    fake = FakeTelegramThread(TELEGRAM_TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlackThread]:
    with FakeSlackThread(SLACK_TOKEN) as fake:
        yield add_agents(fake, AGENTS)


@pytest.fixture(scope="module")
def kopru(
    model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    telegram: FakeTelegramThread,
    slack: FakeSlackThread,
) -> Iterator[KopruProcess]:
    tmp = tmp_path_factory.mktemp("access")
    config = yaml.safe_load((PROJECT_ROOT / "kopru.yml").read_text(encoding="utf-8"))
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    config["agent_desk"] = {"timezone": "UTC", "days": days, "hours": "00:00-24:00",
                            "queue_timeout_minutes": 10}  # fmt: skip
    (tmp / "kopru.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    process = KopruProcess(model, tmp)
    process.env = {
        **SECRETS,
        "KOPRU_CONFIG": str(tmp / "kopru.yml"),
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "TELEGRAM_WEBHOOK_URL": f"{process.url}/webhooks/telegram/webhook",
        "SLACK_AGENT_CHANNEL": AGENTS,
        "SLACK_API_BASE_URL": slack.base_url,
    }
    process.start()
    yield process
    process.stop()


# --- Rasa's HTTP API -------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/status", None, 200),
    ("GET", "/conversations/x/tracker", None, 200),
    ("POST", "/conversations/x/messages", {"text": "merhaba", "sender": "user"}, 200),
    ("PUT", "/model", "model", 204),
]


@pytest.mark.parametrize(("method", "path", "body", "ok"), ENDPOINTS)
def test_the_http_api_needs_its_token(
    kopru: KopruProcess, method: str, path: str, body: object, ok: int
) -> None:
    payload = {"model_file": str(kopru.model)} if body == "model" else body

    def call(**options: Any) -> httpx.Response:
        return httpx.request(method, kopru.url + path, json=payload, timeout=120, **options)

    assert call().status_code == 401
    assert call(params={"token": ""}).status_code == 401
    assert call(params={"token": "wrong-" + API_TOKEN}).status_code == 401
    assert call(params={"token": API_TOKEN[:-1]}).status_code == 401
    assert call(params={"token": ADMIN_TOKEN}).status_code == 401  # the admin's is not the API's
    assert call(headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 401  # no JWT
    refused = call(params={"token": "wrong"})
    assert refused.json()["reason"] == "NotAuthenticated"
    assert call(params={"token": API_TOKEN}).status_code == ok


# --- where the helpers listen ----------------------------------------------------------------


def test_the_action_server_and_the_demo_backend_listen_on_loopback_only(
    kopru: KopruProcess,
) -> None:
    for port in (kopru.action_port, kopru.backend_port):
        assert listening_addresses(port) == {"127.0.0.1"}, port
        assert can_connect("127.0.0.1", port)
    addresses = non_loopback_ipv4()
    if not addresses:
        pytest.skip("this machine has no non-loopback address to try")
    for address in addresses:
        for port in (kopru.action_port, kopru.backend_port):
            assert not can_connect(address, port), (address, port)


def test_the_action_server_of_kopru_run_wants_its_secret(kopru: KopruProcess) -> None:
    url = f"http://127.0.0.1:{kopru.action_port}"
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    call = {"next_action": "action_greet", "sender_id": "x", "tracker": {}, "domain": {}}
    assert httpx.post(f"{url}/webhook", json=call, timeout=10).status_code == 401
    assert httpx.get(f"{url}/actions", timeout=10).status_code == 401
    # ...while the bot's own calls get through: a custom action answers.
    answers = kopru.say("access-" + uuid.uuid4().hex[:8], "204518 numaralı siparişim nerede?")
    assert "204518" in "\n".join(a.get("text", "") for a in answers)


# --- secrets never reach the log -------------------------------------------------------------


WRONG_TELEGRAM_SECRET = "Telegram webhook request with a wrong or missing secret"


def _effective_action_secret(kopru: KopruProcess) -> str | None:
    """The action server's secret as the runner wrote it for Rasa (None: not there)."""
    path = PROJECT_ROOT / "var" / "run" / f"endpoints-{kopru.port}.yml"
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    headers = (data.get("action_endpoint") or {}).get("headers") or {}
    value = headers.get(SECRET_HEADER)
    return value if isinstance(value, str) and not value.startswith("${") else None


def test_the_log_holds_no_secret(
    kopru: KopruProcess, telegram: FakeTelegramThread, slack: FakeSlackThread
) -> None:
    # A conversation over REST, one over Telegram, and a handoff to the agents in Slack.
    answers = kopru.say("access-rest", "merhaba, 204518 numaralı siparişim nerede?")
    assert "204518" in "\n".join(a.get("text", "") for a in answers)
    chat = 4242_0001
    update = text_update(31_337, chat, "where is my order 331907?", language_code="en")
    assert telegram.deliver_webhook(update, timeout=60) == 200
    telegram.wait_for_messages(1, timeout=60, chat_id=chat)
    before = len(slack.messages(AGENTS))
    kopru.say("access-handoff", "I want to talk to a real person")
    slack.wait_for(lambda: len(slack.messages(AGENTS)) > before, timeout=60, what="a card")

    # Refused requests, each with a wrong secret.
    assert httpx.get(f"{kopru.url}/status", params={"token": "nope"}, timeout=10).status_code == 401
    forged = httpx.post(
        f"{kopru.url}/webhooks/telegram/webhook",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": "forged-" + TELEGRAM_SECRET},
        timeout=10,
    )
    assert forged.status_code in (401, 403)
    body = '{"type": "event_callback", "event": {"type": "message"}}'
    bad_signature = signed_headers("not-" + SLACK_SIGNING, body, content_type="application/json")
    slack_answer = httpx.post(
        f"{kopru.url}/webhooks/slack/events", content=body, headers=bad_signature, timeout=10
    )
    assert slack_answer.status_code == 401
    web = f"http://127.0.0.1:{kopru.web_port}"
    with httpx.Client(base_url=web, timeout=10) as client:
        form = client.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf
        wrong = {"csrf": csrf.group(1), "username": "", "password": ADMIN_TOKEN + "x"}
        assert client.post("/login", data=wrong).status_code == 401
        right = {"csrf": csrf.group(1), "username": "", "password": ADMIN_TOKEN}
        assert client.post("/login", data=right).status_code == 303
        assert client.get("/admin/training").status_code == 200  # the app asks Rasa: /status
    # The children log each record as it happens: once the refused Telegram request is in
    # the log, so is what came before it.
    wait_until(lambda: WRONG_TELEGRAM_SECRET in kopru.log_text(), 30, what=WRONG_TELEGRAM_SECRET)
    log = kopru.log_text()
    secrets = dict(SECRETS)
    action_secret = _effective_action_secret(kopru)
    if action_secret:
        secrets["KOPRU_ACTION_SECRET"] = action_secret
    leaks = {
        name: [line.strip()[:200] for line in log.splitlines() if value in line]
        for name, value in secrets.items()
        if value in log
    }
    assert leaks == {}, "secrets in the log of kopru run:\n" + "\n".join(
        f"{name}: {lines[:3]}" for name, lines in leaks.items()
    )


def test_no_command_line_shows_a_secret(kopru: KopruProcess) -> None:
    """`ps` is readable by every local user: tokens go through the environment."""
    secrets = dict(SECRETS)
    action_secret = _effective_action_secret(kopru)
    if action_secret:
        secrets["KOPRU_ACTION_SECRET"] = action_secret
    children = kopru.children()
    for _pid, argv in children:
        shown = [name for name, value in secrets.items() if value in "\0".join(argv)]
        assert shown == [], f"{' '.join(argv)[:200]} shows {shown}"
    assert len(children) >= 3  # demo backend, action server, web app, Rasa server

"""The action server as `kopru run` starts it (`kopru actions`, a real subprocess on 127.0.0.1):
only callers with the shared secret run actions, /health stays open, the secret never
reaches the log, and Rasa's own EndpointConfig, read from an endpoints.yml with `headers:`,
sends the secret so that Rasa's RemoteAction gets its answer."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import rasa_sdk
import yaml

from bot.authoring.training import child_env
from bot.serving.action_server import SECRET_ENV, SECRET_HEADER, action_endpoint_headers
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import free_port
from tests.listening import can_connect, listening_addresses, non_loopback_ipv4
from tests.waiting import wait_until

SECRET = "the-shared-action-secret-" + "7" * 16
WRONG = "a-wrong-but-long-enough-secret-0042"
START_TIMEOUT = 120.0


@dataclass
class ActionServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = child_env({"KOPRU_DATABASE_URL": f"sqlite:///{tmp / 'kopru.db'}", **extra})
    for name in (SECRET_ENV, "KOPRU_ACTION_HOST", "SANIC_HOST"):
        if name not in extra:
            env.pop(name, None)
    return env


def _actions_argv(*extra: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", "actions", *extra]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    tmp = tmp_path_factory.mktemp("action-server")
    port = free_port()
    log = tmp / "actions.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _actions_argv("--port", str(port)),
            cwd=PROJECT_ROOT,
            env=_env(tmp, **{SECRET_ENV: SECRET}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if process.poll() is not None:
                pytest.fail("the action server exited:\n" + log.read_text(errors="replace"))
            if time.monotonic() > deadline:
                pytest.fail("the action server did not start:\n" + log.read_text(errors="replace"))
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield ActionServer(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def domain_dict() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text("utf-8"))
    return data


def greet_call(sender: str = "ayse", name: str = "Ayşe") -> dict[str, Any]:
    """An action call as Rasa sends it (rasa_sdk.executor reads these keys)."""
    return {
        "next_action": "action_greet",
        "sender_id": sender,
        "version": rasa_sdk.__version__,
        "domain": domain_dict(),
        "tracker": {
            "sender_id": sender,
            "slots": {"customer_name": name, "language": "tr"},
            "latest_message": {"text": "/start", "intent": {"name": "greet"}, "entities": []},
            "latest_event_time": time.time(),
            "latest_input_channel": "telegram",
            "latest_action_name": "action_listen",
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
        },
    }


def test_health_is_open(server: ActionServer) -> None:
    answer = httpx.get(f"{server.url}/health", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/webhook", "/webhook/"])
def test_an_action_call_without_the_secret_is_refused(server: ActionServer, path: str) -> None:
    answer = httpx.post(f"{server.url}{path}", json=greet_call(), timeout=10)
    assert answer.status_code == 401
    assert answer.json() == {
        "error": f"This action server needs its shared secret in the {SECRET_HEADER} header."
    }
    listing = httpx.get(f"{server.url}/actions", timeout=10)
    assert listing.status_code == 401
    wait_until(lambda: "GET /actions from 127.0.0.1: no" in server.log_text(), 5,
               what="the refusal in the log")  # fmt: skip
    assert f"Refused POST {path} from 127.0.0.1: no {SECRET_HEADER} header" in server.log_text()


def test_a_wrong_secret_is_refused_and_not_logged(server: ActionServer) -> None:
    for wrong in (WRONG, SECRET[:-1], SECRET + "x", SECRET.upper(), ""):
        answer = httpx.post(
            f"{server.url}/webhook",
            json=greet_call(),
            headers={SECRET_HEADER: wrong},
            timeout=10,
        )
        assert answer.status_code == 401, wrong
        listing = httpx.get(f"{server.url}/actions", headers={SECRET_HEADER: wrong}, timeout=10)
        assert listing.status_code == 401, wrong
    refusals = (
        "Refused POST /webhook from 127.0.0.1: wrong X-Kopru-Action-Secret",
        "Refused GET /actions from 127.0.0.1: wrong X-Kopru-Action-Secret",
    )

    def logged() -> str:
        text = server.log_text()
        return text if all(refusal in text for refusal in refusals) else ""

    # Both refusals are logged (the positive sign), then nothing secret is.
    log = wait_until(logged, 5, what="both refusals in the log")
    for refusal in refusals:
        assert refusal in log
    assert WRONG not in log
    assert SECRET not in log


def test_the_right_secret_runs_the_action(server: ActionServer) -> None:
    answer = httpx.post(
        f"{server.url}/webhook",
        json=greet_call(name="Ayşe"),
        headers=action_endpoint_headers(SECRET),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["events"] == []
    assert [r["response"] for r in body["responses"]] == ["utter_greet_name"]
    assert body["responses"][0]["customer_name"] == "Ayşe"
    listing = httpx.get(f"{server.url}/actions", headers={SECRET_HEADER: SECRET}, timeout=10)
    assert listing.status_code == 200
    assert {"name": "action_greet"} in listing.json()
    assert SECRET not in server.log_text()


def test_it_listens_on_loopback_only(server: ActionServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"127.0.0.1"}
    for address in non_loopback_ipv4():
        assert not can_connect(address, port), address


async def test_rasas_endpoint_config_sends_the_secret_from_endpoints_yml(
    server: ActionServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import BotUttered, SlotSet
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.exceptions import RasaException
    from rasa.utils.endpoints import read_endpoint_config

    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    monkeypatch.setenv(SECRET_ENV, SECRET)
    url = f"{server.url}/webhook"

    def endpoint(name: str, headers: dict[str, str] | None) -> Any:
        path = tmp_path / name
        section: dict[str, Any] = {"url": url}
        if headers is not None:
            section["headers"] = headers
        # As runner.effective_endpoints writes it: PyYAML's safe_dump.
        path.write_text(yaml.safe_dump({"action_endpoint": section}), encoding="utf-8")
        config = read_endpoint_config(str(path), "action_endpoint")
        assert config is not None
        return config

    async def greet(config: Any) -> list[Any]:
        tracker = DialogueStateTracker.from_events(
            "ayse-over-rasa",
            [SlotSet("customer_name", "Ayşe"), SlotSet("language", "tr")],
            slots=domain.slots,
        )
        action = RemoteAction("action_greet", config)
        nlg = TemplatedNaturalLanguageGenerator(domain.responses)
        return list(await action.run(CollectingOutputChannel(), nlg, tracker, domain))

    literal = endpoint("literal.yml", action_endpoint_headers(SECRET))
    # `${VAR}` keeps the secret out of the file: Rasa expands it when reading.
    from_env = endpoint("env.yml", action_endpoint_headers("${" + SECRET_ENV + "}"))
    assert from_env.headers == {SECRET_HEADER: SECRET}
    assert SECRET not in (tmp_path / "env.yml").read_text(encoding="utf-8")
    for config in (literal, from_env):
        events = await greet(config)
        texts = [e.text for e in events if isinstance(e, BotUttered)]
        assert len(texts) == 1, events
        assert texts[0].startswith("Merhaba Ayşe, ben Köprü"), texts

    for headers in (None, action_endpoint_headers(WRONG)):
        with pytest.raises(RasaException, match="Failed to execute custom action"):
            await greet(endpoint("bad.yml", headers))


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--host", "0.0.0.0"], {}),
        (["--host", "::"], {}),
        ([], {"KOPRU_ACTION_HOST": "0.0.0.0"}),
        (["--host", "192.0.2.10"], {SECRET_ENV: ""}),
    ],
)
def test_a_reachable_address_without_a_secret_refuses_to_start(
    tmp_path: Path, argv: list[str], env: dict[str, str]
) -> None:
    port = free_port()
    done = subprocess.run(
        _actions_argv(*argv, "--port", str(port)),
        cwd=PROJECT_ROOT,
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "kopru actions: the action server would listen on" in done.stderr
    assert f"without a shared secret: set {SECRET_ENV}" in done.stderr
    assert "Registered function" not in done.stdout + done.stderr  # refused before loading


def test_a_short_secret_refuses_to_start(tmp_path: Path) -> None:
    done = subprocess.run(
        _actions_argv("--port", str(free_port())),
        cwd=PROJECT_ROOT,
        env=_env(tmp_path, **{SECRET_ENV: "tooshort"}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"{SECRET_ENV} must be 16 characters or longer" in done.stderr
    assert "tooshort" not in done.stderr

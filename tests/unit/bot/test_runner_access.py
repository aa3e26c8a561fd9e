"""`kopru run` never starts Rasa without its HTTP API token, and gives the action server and
the Rasa server the same shared secret (the argv and env it builds, nothing started)."""

from __future__ import annotations

import signal
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import runner
from bot.action_server import SECRET_ENV, SECRET_HEADER
from bot.errors import ConfigError
from bot.runner import RunConfig, StartupFailed, Supervisor, rasa_argv

MODEL = Path("/models/kopru-0000000000000000.tar.gz")


def _auth_tokens(argv: list[str]) -> list[str]:
    return [a.split("=", 1)[1] for a in argv if a.startswith("--auth-token")]


def test_rasa_argv_always_enables_the_api_behind_the_token() -> None:
    argv = rasa_argv("python", model=MODEL, token="-starts-with-a-dash", host="127.0.0.1",
                     port=5005, endpoints=Path("e.yml"), credentials=Path("c.yml"))  # fmt: skip
    assert "--enable-api" in argv
    assert _auth_tokens(argv) == ["-starts-with-a-dash"]
    assert "--auth-token" not in argv  # the "=" form: a token starting with "-" stays a value
    with pytest.raises(ConfigError, match="needs a token"):
        rasa_argv("python", model=MODEL, token="", host="127.0.0.1", port=5005,
                  endpoints=Path("e.yml"), credentials=Path("c.yml"))  # fmt: skip


@pytest.fixture
def started(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, tuple[list[str], dict[str, str]]]]:
    """What `run` starts, by name; it stops at the first health check."""
    seen: dict[str, tuple[list[str], dict[str, str]]] = {}

    def start(self: Supervisor, name: str, argv: Any, health_url: str, env: dict[str, str],
              cwd: Path) -> None:  # fmt: skip
        seen[name] = (list(argv), dict(env))

    def wait_all_healthy(self: Supervisor, timeout: float) -> None:
        raise StartupFailed("stopped by the test")

    monkeypatch.setattr(Supervisor, "start", start)
    monkeypatch.setattr(Supervisor, "wait_all_healthy", wait_all_healthy)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield seen
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


@pytest.mark.parametrize("token", [None, "the-configured-api-token"])
def test_run_starts_rasa_with_a_token_and_the_action_secret(
    tmp_path: Path, started: dict[str, tuple[list[str], dict[str, str]]], token: str | None
) -> None:
    (tmp_path / "endpoints.yml").write_text("action_endpoint:\n  url: http://elsewhere/\n")
    (tmp_path / "credentials.yml").write_text("rest:\n")
    config = RunConfig(root=tmp_path, model=MODEL, port=50_005, action_port=50_055,
                       demo_backend=False, web_port=0, token=token)  # fmt: skip
    assert runner.run(config, {}) == 1
    rasa, rasa_env = started["rasa server"]
    tokens = _auth_tokens(rasa)
    assert "--enable-api" in rasa and len(tokens) == 1
    assert tokens[0] == token if token else len(tokens[0]) >= 24

    _actions, action_env = started["action server"]
    secret = action_env[SECRET_ENV]
    assert len(secret) >= 16 and rasa_env[SECRET_ENV] == secret
    assert "--host" not in _actions  # its default: 127.0.0.1
    endpoints = tmp_path / "var" / "run" / "endpoints-50005.yml"
    assert rasa[rasa.index("--endpoints") + 1] == str(endpoints)
    action_endpoint = yaml.safe_load(endpoints.read_text())["action_endpoint"]
    assert action_endpoint == {
        "url": "http://127.0.0.1:50055/webhook",
        "headers": {SECRET_HEADER: secret},
    }
    assert stat.S_IMODE(endpoints.stat().st_mode) == 0o600


def test_a_configured_action_secret_is_used(
    tmp_path: Path, started: dict[str, tuple[list[str], dict[str, str]]]
) -> None:
    (tmp_path / "endpoints.yml").write_text("{}\n")
    config = RunConfig(root=tmp_path, model=MODEL, port=50_006, demo_backend=False, web_port=0,
                       token="t" * 24, extra_env={SECRET_ENV: "s" * 32})  # fmt: skip
    assert runner.run(config, {}) == 1
    assert started["action server"][1][SECRET_ENV] == "s" * 32

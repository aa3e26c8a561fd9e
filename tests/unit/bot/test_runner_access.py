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

from bot.errors import ConfigError
from bot.serving import runner
from bot.serving.action_server import SECRET_ENV, SECRET_HEADER
from bot.serving.rasa_server import TOKEN_ENV, with_token
from bot.serving.runner import RunConfig, StartupFailed, Supervisor, rasa_argv, rasa_env

MODEL = Path("/models/kopru-0000000000000000.tar.gz")


def _auth_tokens(argv: list[str]) -> list[str]:
    return [a.split("=", 1)[1] for a in argv if a.startswith("--auth-token")]


def test_rasa_gets_the_token_from_its_environment_not_its_command_line() -> None:
    argv = rasa_argv("python", model=MODEL, host="127.0.0.1", port=5005,
                     endpoints=Path("e.yml"), credentials=Path("c.yml"))  # fmt: skip
    assert argv[:4] == ["python", "-m", "bot.serving.rasa_server", "run"]
    assert "--enable-api" in argv and _auth_tokens(argv) == []  # `ps` shows no token
    assert rasa_env({"PATH": "/bin"}, "-starts-with-a-dash")[TOKEN_ENV] == "-starts-with-a-dash"
    with pytest.raises(ConfigError, match="needs a token"):
        rasa_env({}, "")


def test_the_rasa_entry_point_adds_the_token_and_refuses_an_open_api() -> None:
    args = with_token(["run", "--enable-api", "--port", "5005"], "-starts-with-a-dash")
    # the "=" form: a token starting with "-" stays a value
    assert args == ["run", "--enable-api", "--port", "5005", "--auth-token=-starts-with-a-dash"]
    assert with_token(["run", "--enable-api", "--jwt-secret", "j"], None)[-1] == "j"
    assert with_token(["run"], None) == ["run"]  # no HTTP API at all
    with pytest.raises(ValueError, match=TOKEN_ENV):
        with_token(["run", "--enable-api"], None)
    with pytest.raises(ValueError, match=TOKEN_ENV):
        with_token(["run", "--enable-api"], "")


@pytest.fixture
def started(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, tuple[list[str], dict[str, str]]]]:
    """What `run` starts, by name; it stops at the first health check."""
    seen: dict[str, tuple[list[str], dict[str, str]]] = {}

    def start(self: Supervisor, name: str, argv: Any, health_url: str, env: dict[str, str],
              cwd: Path) -> None:  # fmt: skip
        seen[name] = (list(argv), dict(env))
        if "--endpoints" in argv:  # the file goes when `run` ends: keep what it held
            path = Path(argv[list(argv).index("--endpoints") + 1])
            mode = stat.S_IMODE(path.stat().st_mode)
            seen["endpoints file"] = ([path.read_text(), oct(mode)], {})

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
    rasa, environment = started["rasa server"]
    assert "--enable-api" in rasa and _auth_tokens(rasa) == []
    given = environment[TOKEN_ENV]
    assert given == token if token else len(given) >= 24

    _actions, action_env = started["action server"]
    secret = action_env[SECRET_ENV]
    assert len(secret) >= 16 and environment[SECRET_ENV] == secret
    assert "--host" not in _actions  # its default: 127.0.0.1
    endpoints = tmp_path / "var" / "run" / "endpoints-50005.yml"
    assert rasa[rasa.index("--endpoints") + 1] == str(endpoints)
    (text, mode), _ = started["endpoints file"]
    action_endpoint = yaml.safe_load(text)["action_endpoint"]
    assert action_endpoint == {
        "url": "http://127.0.0.1:50055/webhook",
        "headers": {SECRET_HEADER: secret},
    }
    assert mode == oct(0o600)
    assert not endpoints.exists()  # removed when `kopru run` stopped: it holds secrets


def test_a_configured_action_secret_is_used(
    tmp_path: Path, started: dict[str, tuple[list[str], dict[str, str]]]
) -> None:
    (tmp_path / "endpoints.yml").write_text("{}\n")
    (tmp_path / "credentials.yml").write_text("rest:\n")
    config = RunConfig(root=tmp_path, model=MODEL, port=50_006, demo_backend=False, web_port=0,
                       token="t" * 24, extra_env={SECRET_ENV: "s" * 32})  # fmt: skip
    assert runner.run(config, {}) == 1
    assert started["action server"][1][SECRET_ENV] == "s" * 32

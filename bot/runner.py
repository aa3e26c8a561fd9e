"""Start and supervise Köprü's processes: demo backend, action server, Rasa server."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import yaml

from bot.errors import ConfigError, KopruError

__all__ = ["RunConfig", "Supervisor", "effective_endpoints", "run"]


class StartupFailed(KopruError):
    """A process exited or did not become healthy in time."""


@dataclass
class RunConfig:
    root: Path
    model: Path
    host: str = "0.0.0.0"  # noqa: S104 - the web chat must be reachable from a browser
    port: int = 5005
    action_port: int = 5055
    demo_backend: bool = True
    demo_backend_port: int = 5056
    web_port: int = 5057  # the dashboard; 0: not started
    endpoints: Path | None = None
    credentials: Path | None = None
    token: str | None = None
    startup_timeout: float = 300.0
    extra_env: dict[str, str] = field(default_factory=dict)


def effective_endpoints(source: Path, action_port: int, target: Path) -> Path:
    """Copy of endpoints.yml whose action endpoint is the action server we start."""
    data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    data["action_endpoint"] = {
        **(data.get("action_endpoint") or {}),
        "url": f"http://127.0.0.1:{action_port}/webhook",
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[bytes]
    health_url: str


class Supervisor:
    """Owns the child processes: waits for them to be healthy, stops them together."""

    def __init__(self) -> None:
        self.children: list[_Child] = []

    def start(self, name: str, argv: Sequence[str], health_url: str, env: dict[str, str],
              cwd: Path) -> None:  # fmt: skip
        process = subprocess.Popen(argv, cwd=cwd, env=env)  # noqa: S603 - fixed argv
        self.children.append(_Child(name, process, health_url))

    def start_demo_backend(self, port: int, env: dict[str, str], cwd: Path) -> None:
        self.start(
            "demo order backend",
            [sys.executable, "-m", "bot.cli", "demo-backend", "--port", str(port)],
            f"http://127.0.0.1:{port}/health", env, cwd,
        )  # fmt: skip

    def start_action_server(self, port: int, env: dict[str, str], cwd: Path) -> None:
        # While the Rasa server loads a new model its event loop is busy for seconds; a
        # connection it opened to the action server just before must not be closed under
        # it by Sanic's default 5 s keep-alive (the customer would get no answer).
        env = {**env, "SANIC_KEEP_ALIVE_TIMEOUT": env.get("SANIC_KEEP_ALIVE_TIMEOUT") or "75"}
        self.start(
            "action server",
            [sys.executable, "-m", "bot.cli", "actions", "--port", str(port)],
            f"http://127.0.0.1:{port}/health", env, cwd,
        )  # fmt: skip

    def start_web(self, host: str, port: int, env: dict[str, str], cwd: Path) -> None:
        self.start(
            "dashboard",
            [sys.executable, "-m", "bot.cli", "web", "--host", host, "--port", str(port)],
            f"http://127.0.0.1:{port}/health", env, cwd,
        )  # fmt: skip

    def wait_all_healthy(self, timeout: float) -> None:
        for child in list(self.children):
            self.wait_healthy(child.name, timeout)

    def wait_healthy(self, child_name: str, timeout: float) -> None:
        child = next(c for c in self.children if c.name == child_name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise StartupFailed(f"{child.name} exited with {child.process.returncode}")
            try:
                if httpx.get(child.health_url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise StartupFailed(f"{child.name} was not healthy after {timeout:.0f} s")

    def first_exited(self) -> _Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop(self, grace: float = 10.0) -> None:
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + grace
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()


def run(config: RunConfig, env: dict[str, str]) -> int:
    """Start everything, print where to find it, and supervise until a signal or a crash."""
    token = config.token or secrets.token_urlsafe(24)
    var_dir = config.root / "var"
    endpoints = effective_endpoints(
        config.endpoints or config.root / "endpoints.yml",
        config.action_port,
        var_dir / "run" / f"endpoints-{config.port}.yml",
    )
    env = {**env, **config.extra_env}
    if config.demo_backend:
        env["KOPRU_ORDERS_URL"] = f"http://127.0.0.1:{config.demo_backend_port}"
    try:
        slack = _slack_status(env, shown_url=f"http://{config.host}:{config.port}")
    except ConfigError as exc:
        print(f"Köprü could not start: {exc}", file=sys.stderr)
        return 2
    python = sys.executable
    supervisor = Supervisor()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Also SIGINT: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if config.demo_backend:
            supervisor.start_demo_backend(config.demo_backend_port, env, config.root)
        supervisor.start_action_server(config.action_port, env, config.root)
        if config.web_port:
            # Signed in with the same token as the HTTP API unless KOPRU_ADMIN_TOKEN says.
            web_env = {
                **env,
                "KOPRU_ADMIN_TOKEN": env.get("KOPRU_ADMIN_TOKEN") or token,
                # The admin pages train and switch the running Rasa server's model.
                "KOPRU_RASA_URL": f"http://127.0.0.1:{config.port}",
                "KOPRU_API_TOKEN": token,
                "KOPRU_MODELS_DIR": env.get("KOPRU_MODELS_DIR") or str(config.model.parent),
            }
            supervisor.start_web(config.host, config.web_port, web_env, config.root)
        supervisor.start(
            "rasa server",
            [
                python, "-m", "rasa", "run",
                "--model", str(config.model),
                "--enable-api", f"--auth-token={token}",  # a token may start with "-"
                "--interface", config.host, "--port", str(config.port),
                "--endpoints", str(endpoints),
                "--credentials", str(config.credentials or config.root / "credentials.yml"),
            ],
            f"http://127.0.0.1:{config.port}/webhooks/webchat/health", env, config.root,
        )  # fmt: skip
        supervisor.wait_all_healthy(config.startup_timeout)
        # The REST channel answers as soon as Sanic is up; wait for the model too.
        _wait_model_loaded(config.port, token, config.startup_timeout)
        shown = "localhost" if config.host in ("0.0.0.0", "::") else config.host  # noqa: S104
        secret = "KOPRU_ADMIN_TOKEN" if env.get("KOPRU_ADMIN_TOKEN") else "HTTP API token"
        dashboard = (
            f"http://{shown}:{config.web_port}/ (an account from `kopru admin-user`, or no "
            f"username and the {secret} as the password)"
            if config.web_port
            else "off"
        )
        print(
            f"\nKöprü is ready.\n"
            f"  Web chat:       http://{shown}:{config.port}/webhooks/webchat/\n"
            f"  REST channel:   POST http://{shown}:{config.port}/webhooks/rest/webhook\n"
            f"  Telegram:       {_telegram_status(env)}\n"
            f"  Slack desk:     {slack}\n"
            f"  Dashboard:      {dashboard}\n"
            f"  HTTP API token: {token}"
            f"{'' if config.token else '  (generated; set KOPRU_API_TOKEN to fix it)'}\n"
            f"  Stop with Ctrl-C.\n",
            flush=True,
        )
        while True:
            crashed = supervisor.first_exited()
            if crashed is not None:
                print(f"{crashed.name} exited with {crashed.process.returncode}; stopping.",
                      file=sys.stderr)  # fmt: skip
                return 1
            time.sleep(0.5)
    except StartupFailed as exc:
        print(f"Köprü could not start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        supervisor.stop()


def _wait_model_loaded(port: int, token: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = httpx.get(
                f"http://127.0.0.1:{port}/status", params={"token": token}, timeout=2.0
            )
            if status.status_code == 200 and status.json().get("model_file"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise StartupFailed(f"the model was not loaded after {timeout:.0f} s")


def _telegram_status(env: dict[str, str]) -> str:
    if not env.get("TELEGRAM_TOKEN"):
        return "off (set TELEGRAM_TOKEN)"
    if (env.get("TELEGRAM_MODE") or "webhook").lower() == "polling":
        return "polling"
    return f"webhook {env.get('TELEGRAM_WEBHOOK_URL') or '(URL registered elsewhere)'}"


def _slack_status(env: dict[str, str], shown_url: str) -> str:
    # The composition root may know the channels; bot/ itself stays channel-free.
    from channels.slack_desk import SlackConfig

    config = SlackConfig.from_env(env)
    if config is None:
        return "off (set SLACK_BOT_TOKEN; escalations become tickets)"
    where = "Socket Mode" if config.socket_mode else f"events at {shown_url}/webhooks/slack/events"
    return f"channel {config.agent_channel}, {where}"


def api_token_from_env() -> str | None:
    return os.environ.get("KOPRU_API_TOKEN") or None

"""Start and supervise Köprü's processes: demo backend, action server, Rasa server(s),
and in the scaled mode nginx in front of the replicas."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import yaml

from bot.errors import ConfigError, KopruError
from bot.observability import RASA_PORT_ENV
from bot.serving.channel_status import channel_lines, format_lines
from bot.serving.health import Action, HealthPolicy, HealthState, judge, probe

__all__ = [
    "ACTION_SECRET_HEADER",
    "RunConfig",
    "Supervisor",
    "check_tracker_store",
    "effective_endpoints",
    "rasa_argv",
    "rasa_env",
    "run",
    "run_var_dir",
]

# Loading a model (`PUT /model` from the admin pages) holds the Rasa server's event loop:
# under a second for Köprü's model, 24 s for a TensorFlow one. A minute of silence first.
RASA_HEALTH_FAILURES = 12


class StartupFailed(KopruError):
    """A process exited or did not become healthy in time."""


@dataclass
class RunConfig:
    root: Path
    model: Path
    host: str = "0.0.0.0"  # noqa: S104 - the web chat must be reachable from a browser
    port: int = 5005
    action_port: int = 5055
    action_url: str | None = None  # an action server run elsewhere: none is started
    demo_backend: bool = True
    demo_backend_port: int = 5056
    web_port: int = 5057  # the dashboard; 0: not started
    endpoints: Path | None = None
    credentials: Path | None = None
    token: str | None = None
    startup_timeout: float = 300.0
    extra_env: dict[str, str] = field(default_factory=dict)
    # The scaled mode: PostgreSQL, Redis, `replicas` Rasa servers on port+1.. behind nginx
    # listening on `port` (bot/serving/scaled.py).
    scaled: bool = False
    replicas: int = 1

    def replica_ports(self) -> list[int]:
        if not self.scaled:
            return [self.port]
        return [self.port + 1 + index for index in range(self.replicas)]


# Checked by bot/serving/action_server.py against KOPRU_ACTION_SECRET.
ACTION_SECRET_HEADER = "X-Kopru-Action-Secret"  # noqa: S105 - a header name


def effective_endpoints(
    source: Path,
    action: int | str,
    target: Path,
    *,
    action_secret: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """Copy of endpoints.yml whose action endpoint is the action server we start (a port
    on this machine) or name (a URL), sending the shared secret when there is one, with
    `overrides` replacing whole sections (the scaled mode's stores)."""
    data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    url = action if isinstance(action, str) else f"http://127.0.0.1:{action}/webhook"
    endpoint: dict[str, Any] = {**(data.get("action_endpoint") or {}), "url": url}
    if action_secret:
        endpoint["headers"] = {**(endpoint.get("headers") or {}),
                               ACTION_SECRET_HEADER: action_secret}  # fmt: skip
    data["action_endpoint"] = endpoint
    data.update(overrides or {})
    target.parent.mkdir(parents=True, exist_ok=True)
    # The file holds secrets (the action secret, database passwords): owner only.
    target.touch(mode=0o600, exist_ok=True)
    target.chmod(0o600)
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return target


def check_tracker_store(endpoints: Path) -> None:
    """Rasa replaces a tracker store class it cannot import by an in-memory store with a
    mere warning: conversations would vanish at the next restart. Refuse to start."""
    import importlib

    data = yaml.safe_load(endpoints.read_text(encoding="utf-8")) or {}
    kind = str((data.get("tracker_store") or {}).get("type") or "")
    if "." not in kind:
        return
    module_name, _, class_name = kind.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"tracker_store type {kind!r} in {endpoints} cannot be loaded: {exc}"
        ) from exc


def rasa_argv(
    python: str, *, model: Path, host: str, port: int, endpoints: Path, credentials: Path
) -> list[str]:
    """`rasa run` as Köprü starts it, through bot.serving.rasa_server: the log record factory that
    masks secrets and personal data installed first, and the HTTP API always on behind
    the token, which comes from `rasa_env` (not the command line: `ps` shows that)."""
    return [
        python, "-m", "bot.serving.rasa_server", "run",
        "--model", str(model),
        "--enable-api",
        "--interface", host, "--port", str(port),
        "--endpoints", str(endpoints),
        "--credentials", str(credentials),
    ]  # fmt: skip


def rasa_env(env: dict[str, str], token: str) -> dict[str, str]:
    """The Rasa server's environment: the HTTP API token for bot.serving.rasa_server."""
    from bot.serving.rasa_server import TOKEN_ENV

    if not token:
        raise ConfigError("the Rasa server's HTTP API needs a token")
    return {**env, TOKEN_ENV: token}


def run_var_dir(root: Path, env: Mapping[str, str]) -> Path:
    """Where `kopru run` writes its files: KOPRU_VAR_DIR (relative to the checkout, the
    children's working directory) as bot.settings reads it, else the checkout's var/."""
    configured = env.get("KOPRU_VAR_DIR")
    return root / configured if configured else root / "var"


@dataclass
class _Child:
    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen[bytes]
    restarts: list[float] = field(default_factory=list)  # monotonic times
    health: HealthState = field(default_factory=lambda: HealthState(time.monotonic()))
    check: Future[bool] | None = None  # the health check under way
    next_check: float = 0.0
    kill_at: float | None = None  # stopping a child that hangs: SIGKILL from then


class Supervisor:
    """Owns the child processes: waits for them to be healthy, restarts one that
    crashes or stops answering its health check (backing off; gives up after
    `max_restarts` in `restart_window` s), stops them together."""

    def __init__(
        self,
        *,
        max_restarts: int = 5,
        restart_window: float = 300.0,
        health_policy: HealthPolicy | None = None,
        kill_grace: float = 10.0,
        health_probe: Callable[[str, float], bool] = probe,
    ) -> None:
        self.children: list[_Child] = []
        self.max_restarts = max_restarts
        self.restart_window = restart_window
        self.health_policy = health_policy or HealthPolicy()
        # By child name, for the children that need more patience than health_policy.
        self.health_policies: dict[str, HealthPolicy] = {}
        self.kill_grace = kill_grace
        self._probe = health_probe
        self._checks: ThreadPoolExecutor | None = None  # made on the first check

    def start(self, name: str, argv: Sequence[str], health_url: str, env: dict[str, str],
              cwd: Path) -> None:  # fmt: skip
        process = subprocess.Popen(argv, cwd=cwd, env=env)  # noqa: S603 - fixed argv
        self.children.append(_Child(name, list(argv), health_url, env, cwd, process))

    def policy_for(self, child_name: str) -> HealthPolicy:
        return self.health_policies.get(child_name, self.health_policy)

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

    def start_events(self, env: dict[str, str], cwd: Path) -> None:
        """The event broker's consumer (no HTTP: healthy while it runs)."""
        self.start("event consumer", [sys.executable, "-m", "bot.cli", "events"], "", env, cwd)

    def wait_all_healthy(self, timeout: float) -> None:
        for child in list(self.children):
            self.wait_healthy(child.name, timeout)

    def wait_healthy(self, child_name: str, timeout: float) -> None:
        child = next(c for c in self.children if c.name == child_name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise StartupFailed(f"{child.name} exited with {child.process.returncode}")
            if not child.health_url:
                return
            try:
                if httpx.get(child.health_url, timeout=2.0).status_code == 200:
                    child.health = replace(child.health, answered=True, failures=0)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise StartupFailed(f"{child.name} was not healthy after {timeout:.0f} s")

    def tend(self, now: float | None = None) -> _Child | None:
        """Restart crashed children, check the health of the others and stop those that
        hang (restarted when they have exited); the child that crashed too often (None:
        all well)."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.process.poll() is None:
                self._watch(child, now)
                continue
            child.restarts = [t for t in child.restarts if now - t < self.restart_window]
            if len(child.restarts) >= self.max_restarts:
                return child
            delay = min(2.0 ** len(child.restarts), 30.0) if child.restarts else 0.0
            if child.restarts and now - child.restarts[-1] < delay:
                continue  # backing off
            print(f"{child.name} exited with {child.process.returncode}; restarting it.",
                  file=sys.stderr, flush=True)  # fmt: skip
            child.restarts.append(now)
            child.process = subprocess.Popen(  # noqa: S603 - fixed argv
                child.argv, cwd=child.cwd, env=child.env
            )
            child.health, child.check, child.kill_at = HealthState(now), None, None
            child.next_check = now + self.policy_for(child.name).interval
        return None

    def _watch(self, child: _Child, now: float) -> None:
        """One step of the health watch of a running child (never waits for a check)."""
        if not child.health_url:
            return
        if child.kill_at is not None:  # asked to stop: it gets kill_grace seconds
            if now >= child.kill_at:
                child.process.kill()
            return
        policy = self.policy_for(child.name)
        if child.check is not None:
            if not child.check.done():
                return
            ok, child.check = child.check.result(), None
            child.health, action = judge(child.health, ok, now, policy)
            if action is Action.RESTART:
                print(f"{child.name} stopped answering {child.health_url} "
                      f"({child.health.failures} checks failed in a row); restarting it.",
                      file=sys.stderr, flush=True)  # fmt: skip
                child.process.terminate()
                child.kill_at = now + self.kill_grace
                return
        if now >= child.next_check:
            if self._checks is None:
                self._checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health")
            child.check = self._checks.submit(self._probe, child.health_url, policy.timeout)
            child.next_check = now + policy.interval

    def stop(self, grace: float = 10.0) -> None:
        if self._checks is not None:
            self._checks.shutdown(wait=False, cancel_futures=True)
            self._checks = None
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
    env = {**env, **config.extra_env}
    var_dir = run_var_dir(config.root, env)
    # Rasa sends this with every action call; the action server refuses calls without it.
    action_secret = env.get("KOPRU_ACTION_SECRET") or secrets.token_urlsafe(24)
    env["KOPRU_ACTION_SECRET"] = action_secret
    if config.demo_backend:
        env["KOPRU_ORDERS_URL"] = f"http://127.0.0.1:{config.demo_backend_port}"
    endpoints = var_dir / "run" / f"endpoints-{config.port}.yml"
    try:
        overrides = _prepare_scaled(config, env) if config.scaled else None
        effective_endpoints(
            config.endpoints or config.root / "endpoints.yml",
            config.action_url or config.action_port,
            endpoints,
            action_secret=action_secret,
            overrides=overrides,
        )
        check_tracker_store(endpoints)
        shown = "localhost" if config.host in ("0.0.0.0", "::") else config.host  # noqa: S104
        channels = channel_lines(
            config.credentials or config.root / "credentials.yml",
            env,
            f"http://{shown}:{config.port}",
        )
    except ConfigError as exc:
        endpoints.unlink(missing_ok=True)
        print(f"Köprü could not start: {exc}", file=sys.stderr)
        return 2
    from bot.storage.trackers import tracker_db_url

    python = sys.executable
    supervisor = Supervisor(health_policy=HealthPolicy(startup_grace=config.startup_timeout))

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Also SIGINT: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    replica_ports = config.replica_ports()
    try:
        if config.demo_backend:
            supervisor.start_demo_backend(config.demo_backend_port, env, config.root)
        if config.action_url is None:
            supervisor.start_action_server(config.action_port, env, config.root)
        if config.web_port:
            # Signed in with the same token as the HTTP API unless KOPRU_ADMIN_TOKEN says.
            web_env = {
                **env,
                "KOPRU_ADMIN_TOKEN": env.get("KOPRU_ADMIN_TOKEN") or token,
                # The admin pages train and switch the running Rasa servers' model, one
                # replica after the other.
                "KOPRU_RASA_URL": ",".join(f"http://127.0.0.1:{p}" for p in replica_ports),
                "KOPRU_API_TOKEN": token,
                "KOPRU_MODELS_DIR": env.get("KOPRU_MODELS_DIR") or str(config.model.parent),
                "KOPRU_TRACKER_DB_URL": env.get("KOPRU_TRACKER_DB_URL")
                or tracker_db_url(config.root, env, endpoints),
            }
            supervisor.start_web(config.host, config.web_port, web_env, config.root)
        replica_host = "127.0.0.1" if config.scaled else config.host
        for index, port in enumerate(replica_ports):
            name = f"rasa server {index + 1}" if config.scaled else "rasa server"
            argv = rasa_argv(
                python, model=config.model, host=replica_host, port=port, endpoints=endpoints,
                credentials=config.credentials or config.root / "credentials.yml",
            )  # fmt: skip
            health = f"http://127.0.0.1:{port}/webhooks/webchat/health"
            replica_env = rasa_env(env, token)
            if index and env.get(RASA_PORT_ENV, "").isdigit():  # one /metrics per replica
                replica_env[RASA_PORT_ENV] = str(int(env[RASA_PORT_ENV]) + index)
            if config.scaled:  # behind nginx's keep-alive connections: see nginx_config
                replica_env["SANIC_KEEP_ALIVE_TIMEOUT"] = (
                    env.get("SANIC_KEEP_ALIVE_TIMEOUT") or "75"
                )
            supervisor.health_policies[name] = replace(
                supervisor.health_policy, max_failures=RASA_HEALTH_FAILURES
            )
            supervisor.start(name, argv, health, replica_env, config.root)
        if config.scaled:
            _start_nginx(supervisor, config, replica_ports, var_dir / "run", env)
            if env.get("KOPRU_RABBITMQ_URL"):
                supervisor.start_events(env, config.root)
        supervisor.wait_all_healthy(config.startup_timeout)
        # The REST channel answers as soon as Sanic is up; wait for the model too.
        for port in replica_ports:
            _wait_model_loaded(port, token, config.startup_timeout)
        secret = "KOPRU_ADMIN_TOKEN" if env.get("KOPRU_ADMIN_TOKEN") else "HTTP API token"
        dashboard = (
            f"http://{shown}:{config.web_port}/ (an account from `kopru admin-user`, or no "
            f"username and the {secret} as the password)"
            if config.web_port
            else "off"
        )
        # A token the operator chose is their secret: never repeated in the log.
        shown_token = (
            "from KOPRU_API_TOKEN"
            if config.token
            else f"{token}  (generated; set KOPRU_API_TOKEN to fix it)"
        )
        mode = (
            f"scaled, {config.replicas} Rasa replicas behind nginx, PostgreSQL, Redis"
            f"{', RabbitMQ' if overrides and 'event_broker' in overrides else ''}"
            if config.scaled
            else "embedded, SQLite, one Rasa server"
        )
        print(
            f"\nKöprü is ready ({mode}).\n"
            f"{format_lines(channels)}"
            f"  Dashboard:      {dashboard}\n"
            f"  HTTP API token: {shown_token}\n"
            f"  Stop with Ctrl-C.\n",
            flush=True,
        )
        while True:
            failed = supervisor.tend()
            if failed is not None:
                print(f"{failed.name} keeps exiting ({failed.process.returncode}); stopping.",
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
        # What this run wrote for its children (secrets among it) goes with it.
        endpoints.unlink(missing_ok=True)
        shutil.rmtree(var_dir / "run" / f"nginx-{config.port}", ignore_errors=True)


def _prepare_scaled(config: RunConfig, env: dict[str, str]) -> dict[str, Any]:
    """Check the scaled mode's services and return the endpoints sections for them."""
    from bot.serving.scaled import ScaledConfig, prepare_database, scaled_endpoints

    if config.replicas < 1:
        raise ConfigError("--replicas must be at least 1")
    if (env.get("TELEGRAM_MODE") or "").lower() == "polling" and config.replicas > 1:
        raise ConfigError(
            "TELEGRAM_MODE=polling cannot run on several replicas (Telegram allows one "
            "poller per bot): use the webhook"
        )
    if _nginx() is None:
        raise ConfigError("the scaled mode needs nginx (Debian: apt-get install nginx-light)")
    scaled = ScaledConfig.from_env(env)
    prepare_database(scaled.database_url)
    _check_redis(scaled.redis_url)
    env["KOPRU_DATABASE_URL"] = scaled.database_url
    return scaled_endpoints(scaled)


def _nginx() -> str | None:
    """nginx on the PATH, or where Debian puts it (/usr/sbin is not on every user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def _check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=3).ping()
    except redis.RedisError as exc:
        raise ConfigError(f"Redis at {url.split('@')[-1]}: {exc}") from exc


def _start_nginx(
    supervisor: Supervisor, config: RunConfig, ports: list[int], run_dir: Path,
    env: dict[str, str],
) -> None:  # fmt: skip
    from bot.serving.scaled import nginx_config

    prefix = run_dir / f"nginx-{config.port}"
    prefix.mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        nginx_config(listen_host=config.host, listen_port=config.port, upstream_ports=ports,
                     prefix=str(prefix)),
        encoding="utf-8",
    )  # fmt: skip
    supervisor.start(
        "nginx",
        [_nginx() or "nginx", "-p", str(prefix), "-c", str(conf)],
        f"http://127.0.0.1:{config.port}/nginx-health", env, config.root,
    )  # fmt: skip


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


def api_token_from_env() -> str | None:
    return os.environ.get("KOPRU_API_TOKEN") or None

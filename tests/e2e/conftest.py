"""Start `kopru run` (Rasa server, action server, demo backend) as a customer would."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.authoring.training import child_env
from bot.settings import PROJECT_ROOT
from tests.fakes.slack_api import FakeSlackThread
from tests.fakes.telegram_api import FakeTelegramThread
from tests.processes import process_table, stop_politely

AGENTS = "CAGENTS"  # the agents' Slack channel in the end-to-end tests
AGENT_NAMES = {"UAYSE": ("Ayşe", "Yılmaz"), "UPIOTR": ("Piotr", "Nowak"),
               "UJOHN": ("John", "Smith")}  # fmt: skip


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegramThread]:
    """The fake Telegram Bot API on 127.0.0.1, one per test module."""
    with FakeTelegramThread() as fake:
        yield fake


def add_agents(fake: FakeSlackThread, channel: str = AGENTS) -> FakeSlackThread:
    """The agents' channel with its three agents in a fake Slack workspace."""
    fake.add_channel(channel, list(AGENT_NAMES), name="support-agents")
    for user, (first, last) in AGENT_NAMES.items():
        fake.add_user(user, first, last)
    return fake


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class KopruProcess:
    """`kopru run` on free ports with its own databases; can be stopped and started again."""

    model: Path
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    action_port: int = field(default_factory=free_port)
    backend_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    args: list[str] = field(default_factory=list)  # more `kopru run` options (--scaled ...)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.tmp / 'kopru.db'}"

    @property
    def log(self) -> Path:
        return self.tmp / f"kopru-{self.starts}.log"

    def start(self, timeout: float = 300) -> KopruProcess:
        endpoints = self.tmp / "endpoints.yml"
        endpoints.write_text(
            yaml.safe_dump(
                {
                    "action_endpoint": {"url": f"http://127.0.0.1:{self.action_port}/webhook"},
                    "tracker_store": {
                        "type": "bot.serving.tracker_store.DurableSQLTrackerStore",
                        "dialect": "sqlite",
                        "db": str(self.tmp / "tracker.db"),
                    },
                }
            )
        )
        self.starts += 1
        env = child_env({"KOPRU_DATABASE_URL": self.database_url, **self.env})
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "bot.cli", "run",
                    "--host", "127.0.0.1", "--port", str(self.port),
                    "--action-port", str(self.action_port),
                    "--demo-backend-port", str(self.backend_port),
                    "--web-port", str(self.web_port),
                    "--endpoints", str(endpoints),
                    "--model", str(self.model),
                    *self.args,
                ],
                cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while b"is ready" not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail("kopru run did not start:\n" + self.log_text()[-5000:])
            time.sleep(0.5)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        stop_politely(self.process)
        self.process = None
        for port in (self.port, self.action_port, self.backend_port, self.web_port,
                     *self.replica_ports()):  # fmt: skip
            with socket.socket() as sock:
                assert sock.connect_ex(("127.0.0.1", port)) != 0, "a child outlived kopru run"

    def children(self) -> list[tuple[int, list[str]]]:
        """The processes `kopru run` started (process id, argv), read from /proc (Linux)."""
        assert self.process is not None
        parent = self.process.pid
        return [(pid, argv) for pid, (ppid, argv) in process_table().items() if ppid == parent]

    def replica_ports(self) -> list[int]:
        """The Rasa replicas' ports in the scaled mode (`--replicas N`: port+1..port+N)."""
        if "--scaled" not in self.args:
            return []
        replicas = (
            int(self.args[self.args.index("--replicas") + 1]) if "--replicas" in self.args else 2
        )
        return [self.port + 1 + i for i in range(replicas)]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def say(self, sender: str, text: str, channel: str = "rest") -> list[dict[str, Any]]:
        response = httpx.post(
            f"{self.url}/webhooks/{channel}/webhook",
            json={"sender": sender, "message": text},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        messages: list[dict[str, Any]] = response.json()
        return messages

"""A malformed Content-Length (negative, not a number, two values) is answered 400 at once by
every Köprü server, over a raw socket as an attacker would send it, and the server goes on
answering: the Rasa server as bot.serving.rasa_server starts it (Rasa's own app stood in
for by a small Sanic app, built after Köprü's start-up code ran), the action server
(`kopru actions`) and the dashboard (`kopru web`, its `POST /login` needs no session).

Before bot.serving.http_guard, Sanic 21.12 took `-1` as the body's length and never
finished reading it (the process spun at 100% CPU), and answered `abc` with 500."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.authoring.training import child_env
from bot.serving.action_server import SECRET_ENV
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import free_port

START_TIMEOUT = 120.0
ANSWER_WITHIN = 1.0  # seconds

# Rasa's command line replaced by an app with a route of each kind the channels have: a
# body Sanic reads before the handler, and one the handler streams.
RASA_LIKE = """
import sys

import rasa.__main__
from sanic import Sanic, response


def rasa_main():
    app = Sanic("rasa_like")

    async def health(request):
        return response.json({"status": "ok"})

    async def webhook(request):
        return response.json({"bytes": len(request.body)})

    async def streamed(request):
        body = b"".join([chunk async for chunk in request.stream])
        return response.json({"bytes": len(body)})

    app.add_route(health, "/webhooks/rest/health", methods=["GET"])
    app.add_route(webhook, "/webhooks/rest/webhook", methods=["POST"])
    app.add_route(streamed, "/webhooks/streamed/webhook", methods=["POST"], stream=True)
    app.run(host="127.0.0.1", port=int(sys.argv[-1]), access_log=False, motd=False)


rasa.__main__.main = rasa_main
from bot.serving.rasa_server import main

sys.exit(main(["run", "--port", sys.argv[1]]))
"""

MALFORMED = {
    "negative": ["-1"],
    "not a number": ["abc"],
    "two values": ["5", "6"],
    "a sign": ["+5"],
    "non-ASCII digits": ["\u0661\u0662"],
}


@dataclass
class Server:
    name: str
    port: int
    health: str
    posts: tuple[str, ...]  # paths that take a body
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _start(name: str, argv: list[str], port: int, health: str, posts: tuple[str, ...],
           tmp: Path) -> Server:  # fmt: skip
    env = child_env({"KOPRU_DATABASE_URL": f"sqlite:///{tmp / 'kopru.db'}",
                     "KOPRU_VAR_DIR": str(tmp)})  # fmt: skip
    for variable in (SECRET_ENV, "KOPRU_ACTION_HOST", "SANIC_HOST", "KOPRU_ADMIN_TOKEN"):
        env.pop(variable, None)
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(name, port, health, posts, process, log)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"{name} exited:\n{server.log_text()}")
        if time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"{name} did not start:\n{server.log_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{health}", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()  # a server that spins may not stop when asked
    process.wait(10)


@pytest.fixture(scope="module", params=["rasa server", "action server", "dashboard"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:  # fmt: skip
    tmp = tmp_path_factory.mktemp(request.param.replace(" ", "-"))
    port = free_port()
    python = sys.executable
    if request.param == "rasa server":
        started = _start(
            request.param, [python, "-c", RASA_LIKE, str(port)], port, "/webhooks/rest/health",
            ("/webhooks/rest/webhook", "/webhooks/streamed/webhook"), tmp,
        )  # fmt: skip
    elif request.param == "action server":
        started = _start(
            request.param, [python, "-m", "bot.cli", "actions", "--port", str(port)], port,
            "/health", ("/webhook",), tmp,
        )  # fmt: skip
    else:
        started = _start(
            request.param,
            [python, "-m", "bot.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
            port, "/health", ("/login",), tmp,
        )  # fmt: skip
    try:
        yield started
    finally:
        _stop(started.process)


def send_raw(port: int, method: str, path: str, lengths: list[str], body: bytes = b"") -> str:
    """The status line of the answer to a request with these Content-Length headers;
    AssertionError when none comes within ANSWER_WITHIN seconds."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += "".join(f"Content-Length: {value}\r\n" for value in lengths)
    head += "Content-Type: application/json\r\n\r\n"
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN) as sock:
        sock.sendall(head.encode("utf-8") + body)
        deadline = time.monotonic() + ANSWER_WITHIN
        try:
            while b"\r\n" not in answer and time.monotonic() < deadline:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            pass
    assert b"\r\n" in answer, f"no answer within {ANSWER_WITHIN} s to Content-Length {lengths}"
    return answer.split(b"\r\n", 1)[0].decode("latin-1")


def still_answers(server: Server) -> None:
    started = time.monotonic()
    health = httpx.get(f"http://127.0.0.1:{server.port}{server.health}", timeout=ANSWER_WITHIN)
    assert health.status_code == 200
    assert time.monotonic() - started < ANSWER_WITHIN
    assert server.process.poll() is None


@pytest.mark.parametrize("lengths", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_content_length_is_refused_and_the_server_answers_on(
    server: Server, lengths: list[str]
) -> None:
    requests = [("GET", server.health), *(("POST", path) for path in server.posts)]
    for method, path in requests:
        status = send_raw(server.port, method, path, lengths, b'{"a": 1}')
        assert status == "HTTP/1.1 400 Bad Request", (method, path, status)
        still_answers(server)


def test_a_sound_content_length_still_gets_its_body_read(server: Server) -> None:
    assert send_raw(server.port, "GET", server.health, ["0"]) == "HTTP/1.1 200 OK"
    if server.name == "rasa server":  # the stand-in's routes echo the length they read
        body = b'{"sender": "1", "message": "merhaba"}'
        for path in server.posts:
            answer = httpx.post(f"http://127.0.0.1:{server.port}{path}", content=body)
            assert (answer.status_code, answer.json()) == (200, {"bytes": len(body)})
    still_answers(server)

"""`kopru web` as `kopru run` would start it: a child process, healthy, stopped by SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_kopru_web_serves_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("KOPRU_ADMIN_TOKEN", "KOPRU_API_TOKEN", "KOPRU_DATABASE_URL")
    }
    env["KOPRU_VAR_DIR"] = str(tmp_path)
    argv = [sys.executable, "-m", "bot.cli", "web", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        argv, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.strip() == f"Köprü dashboard: {base}/dashboard"
        token = re.fullmatch(r"Admin token: (\S+)  \(generated; .*\)\n", process.stdout.readline())
        assert token
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        with httpx.Client(base_url=base) as client:
            form = client.get("/login")
            found = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert found
            # The username empty and the token as the password: the built-in admin.
            signed = client.post(
                "/login",
                data={"csrf": found.group(1), "username": "", "password": token.group(1)},
            )
            assert signed.status_code == 303
            page = client.get("/dashboard")
            assert page.status_code == 200
            assert 'id="tile-conversations">0<' in page.text  # a fresh store: zeros
        assert (tmp_path / "kopru.db").exists()
        assert not (tmp_path / "demo.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(15)
        finally:
            if process.poll() is None:
                process.kill()
    assert code == 0

"""The baseline of bench.serving: the `rasa init` assistant, trained once, run by plain Rasa.

`ensure_project` creates it with `rasa init --no-prompt --init-dir var/bench/rasa-init`
(which also trains it); `ensure_model` keeps that model under var/bench/rasa-init-models/,
named by a hash of its training data, so later runs reuse it and a changed project is
trained again. `RasaInitProcess` starts it as its README says, `rasa run
--enable-api` with its own endpoints.yml (no action server, conversations in memory),
with the REST channel and, for the Telegram figures, Köprü's Telegram channel
(channels.telegram.TelegramInput, importable through PYTHONPATH; it needs none of Köprü's
actions, only a database for its delivery claims: a SQLite file of the run).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import httpx
import yaml

from bot.authoring import training
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import free_port
from tests.processes import stop_politely

__all__ = [
    "MODELS",
    "PROJECT",
    "SCRIPTS",
    "RasaInitProcess",
    "ensure_model",
    "ensure_project",
    "model_path",
]

PROJECT = PROJECT_ROOT / "var" / "bench" / "rasa-init"
MODELS = PROJECT_ROOT / "var" / "bench" / "rasa-init-models"

# Scripts the rasa init assistant answers the same way every time (its stories: greet,
# mood, the cheer-up picture, "did that help?", goodbye; its rule for "are you a bot?").
SCRIPTS: dict[str, list[str]] = {
    "sad": ["hello", "I am sad", "yes", "are you a bot?", "bye",
            "hi", "I am very sad", "no", "hello", "bye"],
    "happy": ["hey", "I am great", "are you a bot?", "bye", "good morning",
              "I am feeling wonderful", "bye", "hello", "I am sad", "yes"],
}  # fmt: skip


def ensure_project(directory: Path = PROJECT) -> Path:
    """The `rasa init` project in `directory`, created (and trained) when missing."""
    if (directory / "domain.yml").exists():
        return directory
    # Built aside and renamed: an interrupted `rasa init` leaves no half project behind.
    partial = directory.with_name(f".partial-{directory.name}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(partial)],
        cwd=partial, env=training.child_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0 or not (partial / "domain.yml").exists():
        raise training.TrainingFailed(
            f"rasa init failed (exit {result.returncode})\n{result.stdout[-3000:]}"
        )
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(partial, directory)
    return directory


def model_path(directory: Path = PROJECT, models_dir: Path = MODELS) -> Path:
    """Where the project's model is kept: named by a hash of Rasa's version and of what
    training reads (not of Köprü's components, which this assistant does not use)."""
    digest = hashlib.sha256(f"rasa {version('rasa')}\n".encode())
    data = sorted(p for p in (directory / "data").rglob("*") if p.suffix in (".yml", ".yaml"))
    for path in [directory / "config.yml", directory / "domain.yml", *data]:
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return models_dir / f"rasa-init-{digest.hexdigest()[:16]}.tar.gz"


def ensure_model(directory: Path = PROJECT, models_dir: Path = MODELS) -> Path:
    """The project's model, trained when its data changed; the one `rasa init` trained
    is taken over, so a new project is trained once."""
    target = model_path(directory, models_dir)
    if target.exists():
        return target
    trained = sorted((directory / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not trained:
        result = subprocess.run(
            [sys.executable, "-m", "rasa", "train", "--out", "models"],
            cwd=directory, env=training.child_env(), capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        trained = sorted((directory / "models").glob("*.tar.gz"),
                         key=lambda p: p.stat().st_mtime)  # fmt: skip
        if result.returncode != 0 or not trained:
            raise training.TrainingFailed(
                f"rasa train failed (exit {result.returncode})\n{result.stdout[-3000:]}"
            )
    models_dir.mkdir(parents=True, exist_ok=True)
    os.replace(trained[-1], target)
    return target


@dataclass
class RasaInitProcess:
    """`rasa run --enable-api` serving the rasa init model on a free port."""

    model: Path
    tmp: Path
    token: str
    env: dict[str, str] = field(default_factory=dict)  # TELEGRAM_* for the Telegram channel
    project: Path = PROJECT
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.tmp / "rasa-init.log"

    def start(self, timeout: float = 300) -> RasaInitProcess:
        """Start it and wait until the model is loaded (GET /status answers 200)."""
        credentials = self.tmp / "credentials.yml"
        channels: dict[str, None] = {"rest": None}
        if self.env.get("TELEGRAM_TOKEN"):
            channels["channels.telegram.TelegramInput"] = None
        credentials.write_text(yaml.safe_dump(channels))
        env = training.child_env(
            {
                # Köprü's channel module; its claims of Telegram updates in a file of this run.
                "PYTHONPATH": str(PROJECT_ROOT),
                "KOPRU_DATABASE_URL": f"sqlite:///{self.tmp / 'telegram-claims.db'}",
                **self.env,
            }
        )
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv
                [
                    sys.executable, "-m", "rasa", "run",
                    "--model", str(self.model),
                    "--enable-api", f"--auth-token={self.token}",
                    "--interface", "127.0.0.1", "--port", str(self.port),
                    "--credentials", str(credentials),
                    "--endpoints", str(self.project / "endpoints.yml"),
                ],
                cwd=self.project, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self._loaded():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("rasa run did not start:\n" + self.log_text()[-3000:])
            time.sleep(0.25)
        return self

    def _loaded(self) -> bool:
        try:
            status = httpx.get(f"{self.url}/status", params={"token": self.token}, timeout=5)
        except httpx.HTTPError:
            return False
        return status.status_code == 200

    def stop(self) -> None:
        if self.process is None:
            return
        stop_politely(self.process)
        self.process = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

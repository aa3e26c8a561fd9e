"""End to end: the running bot switches models (and back) without failing a message, and a
training started from the admin flow ends with the new model answering.

Customers keep writing during every switch: a message goes out every 100 ms, several
are in flight at once, and every one must be answered (HTTP 200, a non-empty answer).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bot.authoring.models import ModelRegistry, RasaServer, active
from bot.authoring.trainer import Trainer
from bot.authoring.training import model_path
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import KopruProcess

pytestmark = pytest.mark.e2e

TOKEN = "switch-" + uuid.uuid4().hex
INTERVAL = 0.1  # seconds between two customer messages
AROUND = 3.0  # seconds of traffic before and after each switch
# One harmless NLU example more: a new data hash, so a new model is trained.
EXTRA_NLU = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hello hello kopru\n'


@pytest.fixture(scope="module")
def bot(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KopruProcess]:
    kopru = KopruProcess(model, tmp_path_factory.mktemp("switch"), env={"KOPRU_API_TOKEN": TOKEN})
    yield kopru.start()
    kopru.stop()


@dataclass
class Reply:
    sent_at: float
    seconds: float
    status: int | None  # None: no HTTP answer at all
    texts: list[str]
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200 and any(t.strip() for t in self.texts)


@dataclass
class Traffic:
    """Customers writing "hello" every INTERVAL seconds, each as a new conversation,
    without waiting for the earlier answers."""

    url: str
    replies: list[Reply] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _futures: list[Future[Reply]] = field(default_factory=list)

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stop.is_set()

    def start(self) -> Traffic:
        self._pool = ThreadPoolExecutor(max_workers=32)
        self._client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=32))
        self._thread = threading.Thread(target=self._send_loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sending and wait for every answer."""
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.replies = sorted((f.result() for f in self._futures), key=lambda r: r.sent_at)
        self._pool.shutdown()
        self._client.close()

    def _send_loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._futures.append(self._pool.submit(self._say, f"switch-{uuid.uuid4().hex}"))
            next_at += INTERVAL
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _say(self, sender: str) -> Reply:
        sent = time.monotonic()
        try:
            response = self._client.post(
                f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": "hello"}
            )
        except httpx.HTTPError as exc:
            return Reply(sent, time.monotonic() - sent, None, [], repr(exc))
        seconds = time.monotonic() - sent
        try:
            texts = [m.get("text") or "" for m in response.json()]
        except ValueError:
            texts = []
        return Reply(sent, seconds, response.status_code, texts, response.text[:200])

    def report(self, label: str) -> str:
        failed = [r for r in self.replies if not r.ok]
        slowest = max((r.seconds for r in self.replies), default=0.0)
        return (
            f"{label}: {len(self.replies)} messages, {len(failed)} failed, "
            f"slowest answer {slowest:.2f} s"
        )


def switch(bot: KopruProcess, model: Path) -> float:
    """Activate `model` over the HTTP API; the seconds it took (load and confirmation)."""

    async def run() -> float:
        async with RasaServer(bot.url, TOKEN) as server:
            started = time.monotonic()
            await server.activate(model)
            seconds = time.monotonic() - started
            assert (await server.status())["model_file"] == model.name
            return seconds

    return asyncio.run(run())


def test_switching_models_and_back_answers_every_message(
    bot: KopruProcess, model: Path, tmp_path: Path
) -> None:
    other = tmp_path / "kopru-rollback-test.tar.gz"  # another valid model file
    shutil.copy(model, other)
    durations = []
    with Traffic(bot.url) as traffic:
        time.sleep(AROUND)
        durations.append(switch(bot, other))
        time.sleep(AROUND)
        durations.append(switch(bot, model))  # the rollback
        time.sleep(AROUND)
    print(
        f"\n{traffic.report('model switch')}; switch to {other.name} took {durations[0]:.2f} s, "
        f"back to {model.name} {durations[1]:.2f} s"
    )
    failed = [r for r in traffic.replies if not r.ok]
    assert len(traffic.replies) >= (3 * AROUND + sum(durations)) / INTERVAL * 0.8
    assert failed == [], f"{len(failed)} messages failed, e.g. {failed[:3]}"

    async def serving() -> str | None:
        async with RasaServer(bot.url, TOKEN) as server:
            info = await active(server, ModelRegistry(model.parent))
            return info.name if info else None

    assert asyncio.run(serving()) == model.name


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project with one NLU example more; the real files stay untouched."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("config.yml", "domain.yml", "kopru.yml"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    (root / "data" / "nlu" / "zz_model_switch_test.yml").write_text(EXTRA_NLU)
    return root


def test_train_then_the_new_model_answers(
    bot: KopruProcess, model: Path, project: Path, tmp_path: Path
) -> None:
    """The one real training of the test suite; customers write around the switch.

    (Not during the whole training: on 2 cores the traffic would double its time.)
    """
    models_dir = tmp_path / "models"
    traffic = Traffic(bot.url)
    activation: list[float] = []

    async def activate(path: Path) -> None:  # what the web app's callback does
        traffic.start()
        await asyncio.sleep(AROUND)
        started = time.monotonic()
        async with RasaServer(bot.url, TOKEN) as server:
            await server.activate(path)
        activation.append(time.monotonic() - started)

    async def run() -> float:
        trainer = Trainer(project, models_dir, on_success=activate)
        started = time.monotonic()
        job = trainer.start()
        percents = [job.percent]
        while trainer.current() is not None:
            await asyncio.sleep(0.5)
            percents.append(job.percent)
        assert job.status == "succeeded", job.error
        assert job.activated is True, job.activation_error
        assert percents == sorted(percents) and job.percent == 100
        assert job.model == model_path(project, models_dir)  # named after the data it learnt
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.post(
                f"{bot.url}/webhooks/rest/webhook",
                json={"sender": f"switch-{uuid.uuid4().hex}", "message": "hello"},
            )
        assert response.status_code == 200 and response.json(), response.text
        answered = time.monotonic() - started - AROUND  # without the pause for the traffic
        async with RasaServer(bot.url, TOKEN) as server:
            assert (await server.status())["model_file"] == job.model.name
        assert job.started_at is not None and job.finished_at is not None
        training = (job.finished_at - job.started_at).total_seconds()
        print(
            f"\nTrain -> new model answering: {answered:.1f} s (training {training:.1f} s, "
            f"activation {activation[0]:.2f} s)"
        )
        await asyncio.sleep(AROUND)
        return answered

    try:
        asyncio.run(run())
    finally:
        if traffic.running:
            traffic.stop()
    print(traffic.report("around the switch to the trained model"))
    failed = [r for r in traffic.replies if not r.ok]
    assert traffic.replies and failed == [], f"{len(failed)} messages failed, e.g. {failed[:3]}"
    switch(bot, model)  # leave the module's bot as it was

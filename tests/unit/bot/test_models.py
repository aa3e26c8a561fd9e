"""The model registry (names only, newest first) and switching models over Rasa's API."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.authoring.models import (
    InvalidModelName,
    ModelNotFound,
    ModelRegistry,
    RasaServer,
    RasaServerError,
    active,
)
from bot.errors import KopruError

HASHED = "kopru-0123456789abcdef.tar.gz"


def make_model(directory: Path, name: str, mtime: float, size: int = 10) -> Path:
    path = directory / name
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def models(tmp_path: Path) -> Path:
    directory = tmp_path / "models"
    directory.mkdir()
    make_model(directory, HASHED, 1_700_000_000, size=123)
    make_model(directory, "kopru-rollback-test.tar.gz", 1_700_000_500)
    make_model(directory, "kopru-fedcba9876543210.tar.gz", 1_600_000_000)
    (directory / ".train.lock").write_text("")
    (directory / "notes.txt").write_text("not a model")
    (directory / "sub.tar.gz").mkdir()  # a directory, not a model
    return directory


def test_the_registry_lists_models_newest_first(models: Path) -> None:
    listed = ModelRegistry(models).list()
    assert [m.name for m in listed] == [
        "kopru-rollback-test.tar.gz",
        HASHED,
        "kopru-fedcba9876543210.tar.gz",
    ]
    info = listed[1]
    assert (info.path, info.size, info.data_hash) == (models / HASHED, 123, "0123456789abcdef")
    assert info.created_at.timestamp() == 1_700_000_000
    assert info.created_at.utcoffset() is not None
    assert listed[0].data_hash is None
    assert json.loads(json.dumps(info.to_dict()))["name"] == HASHED


def test_an_absent_models_directory_has_no_models(tmp_path: Path) -> None:
    assert ModelRegistry(tmp_path / "nowhere").list() == []


def test_get_finds_a_model_by_name(models: Path) -> None:
    assert ModelRegistry(models).get(HASHED).path == models / HASHED


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../models/" + HASHED,
        "..",
        "kopru-..tar.gz",
        "sub/" + HASHED,
        "sub\\" + HASHED,
        "/etc/passwd",
        "notes.txt",
        ".hidden.tar.gz",
        "kopru\x00.tar.gz",
        "a" * 300 + ".tar.gz",
    ],
)
def test_get_refuses_anything_but_a_plain_name(models: Path, name: str) -> None:
    with pytest.raises(InvalidModelName):
        ModelRegistry(models).get(name)
    assert ModelRegistry(models).find(name) is None


def test_get_refuses_unknown_models_and_links_out_of_the_directory(
    models: Path, tmp_path: Path
) -> None:
    registry = ModelRegistry(models)
    with pytest.raises(ModelNotFound):
        registry.get("kopru-ffffffffffffffff.tar.gz")
    with pytest.raises(ModelNotFound):
        registry.get("sub.tar.gz")  # a directory
    outside = make_model(tmp_path, "elsewhere.tar.gz", 1_700_000_000)
    (models / "link.tar.gz").symlink_to(outside)
    with pytest.raises(ModelNotFound):
        registry.get("link.tar.gz")
    assert issubclass(ModelNotFound, KopruError) and issubclass(InvalidModelName, KopruError)


# --- RasaServer against a fake Rasa HTTP API --------------------------------------------


class FakeRasa:
    """The parts of Rasa's HTTP API that RasaServer uses."""

    def __init__(self, token: str = "secret") -> None:
        self.token = token
        self.model_file: str | None = "kopru-fedcba9876543210.tar.gz"
        self.requests: list[httpx.Request] = []
        self.load_error: tuple[int, dict[str, Any]] | None = None
        self.ignore_loads = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.params.get("token") != self.token:
            return httpx.Response(401, json={"message": "User is not authenticated."})
        if request.method == "GET" and request.url.path == "/status":
            if self.model_file is None:
                return httpx.Response(409, json={"message": "No agent loaded. To continue..."})
            return httpx.Response(
                200,
                json={
                    "model_file": self.model_file,
                    "model_id": "x",
                    "num_active_training_jobs": 0,
                },
            )
        if request.method == "PUT" and request.url.path == "/model":
            if self.load_error is not None:
                return httpx.Response(self.load_error[0], json=self.load_error[1])
            if not self.ignore_loads:
                self.model_file = Path(json.loads(request.content)["model_file"]).name
            return httpx.Response(204)
        return httpx.Response(404)


def server(fake: FakeRasa, token: str = "secret") -> RasaServer:
    return RasaServer("http://rasa.test:5005/", token, transport=httpx.MockTransport(fake))


async def test_activate_loads_the_model_and_checks_the_status(models: Path) -> None:
    fake = FakeRasa()
    async with server(fake) as rasa:
        await rasa.activate(models / HASHED)
        assert (await rasa.status())["model_file"] == HASHED
    put, status = fake.requests[0], fake.requests[1]
    assert (put.method, put.url.path, put.url.params["token"]) == ("PUT", "/model", "secret")
    assert json.loads(put.content) == {"model_file": str(models / HASHED)}
    assert (status.method, status.url.path) == ("GET", "/status")


async def test_a_refused_model_raises_the_servers_message(models: Path) -> None:
    fake = FakeRasa()
    fake.load_error = (
        500,
        {"status": "failure", "reason": "LoadingError",
         "message": "An unexpected error occurred. Error: not a gzip file"},
    )  # fmt: skip
    async with server(fake) as rasa:
        with pytest.raises(RasaServerError, match="not a gzip file") as raised:
            await rasa.activate(models / HASHED)
    assert raised.value.status_code == 500
    assert HASHED in str(raised.value)
    assert fake.model_file == "kopru-fedcba9876543210.tar.gz"


async def test_a_wrong_token_is_reported(models: Path) -> None:
    async with server(FakeRasa(), token="wrong") as rasa:
        with pytest.raises(RasaServerError, match="not authenticated"):
            await rasa.activate(models / HASHED)


async def test_a_switch_the_status_does_not_show_is_an_error(models: Path) -> None:
    fake = FakeRasa()
    fake.ignore_loads = True
    async with server(fake) as rasa:
        with pytest.raises(RasaServerError, match="serves 'kopru-fedcba9876543210"):
            await rasa.activate(models / HASHED)


async def test_a_missing_file_is_not_sent(tmp_path: Path) -> None:
    fake = FakeRasa()
    async with server(fake) as rasa:
        with pytest.raises(ModelNotFound):
            await rasa.activate(tmp_path / HASHED)
    assert fake.requests == []


async def test_an_unreachable_server_is_a_kopru_error(models: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    rasa = RasaServer("http://127.0.0.1:9", "t", transport=httpx.MockTransport(refuse))
    with pytest.raises(RasaServerError, match="not reachable") as raised:
        await rasa.activate(models / HASHED)
    assert raised.value.status_code is None
    await rasa.aclose()


async def test_active_is_the_registry_entry_the_server_serves(models: Path) -> None:
    fake = FakeRasa()
    registry = ModelRegistry(models)
    async with server(fake) as rasa:
        current = await active(rasa, registry)
        assert current is not None and current.name == "kopru-fedcba9876543210.tar.gz"
        fake.model_file = "kopru-from-elsewhere.tar.gz"
        assert await active(rasa, registry) is None
        fake.model_file = None  # Rasa answers 409 without a model
        assert await active(rasa, registry) is None

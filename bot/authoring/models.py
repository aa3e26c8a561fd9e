"""The trained models on disk, and switching the running Rasa server to one of them.

`ModelRegistry` lists the model archives in the models directory and finds one by its
file name (never by a path: names come from web forms). `RasaServer` talks to the Rasa
server's HTTP API (`kopru run` starts it with `--enable-api --auth-token=...`):
`activate` loads a model with `PUT /model`, which builds the new agent and then swaps it
for the old one, and confirms the switch with `GET /status`.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from bot.authoring.training import MODEL_PREFIX
from bot.errors import KopruError

__all__ = [
    "InvalidModelName",
    "ModelInfo",
    "ModelNotFound",
    "ModelRegistry",
    "RasaCluster",
    "RasaServer",
    "RasaServerError",
    "active",
]

SUFFIX = ".tar.gz"
HASHED_NAME = re.compile(rf"^{re.escape(MODEL_PREFIX)}([0-9a-f]{{16}}){re.escape(SUFFIX)}$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LOAD_TIMEOUT = 180.0  # loading a model takes seconds; on a busy machine much longer


class InvalidModelName(KopruError):
    """Not the file name of a model archive (a path, `..`, another suffix...)."""


class ModelNotFound(KopruError):
    """No model archive with that name in the models directory."""


class RasaServerError(KopruError):
    """The Rasa server could not be reached or refused the request."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code  # None: no answer at all


@dataclass(frozen=True)
class ModelInfo:
    """One model archive in the models directory."""

    path: Path
    name: str
    size: int  # bytes
    created_at: dt.datetime  # the file's modification time, UTC
    data_hash: str | None  # from `kopru-<hash>.tar.gz`; None for other names

    @classmethod
    def from_path(cls, path: Path) -> ModelInfo:
        stat = path.stat()
        match = HASHED_NAME.match(path.name)
        return cls(
            path=path,
            name=path.name,
            size=stat.st_size,
            created_at=dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc),
            data_hash=match[1] if match else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "size": self.size,
            "created_at": self.created_at.isoformat(),
            "data_hash": self.data_hash,
        }


class ModelRegistry:
    """The model archives (`*.tar.gz`) in one directory."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir

    def list(self) -> builtins.list[ModelInfo]:
        """All models, newest first (by modification time, then name)."""
        if not self.models_dir.is_dir():
            return []
        models = []
        for path in self.models_dir.iterdir():
            if path.name.endswith(SUFFIX) and NAME.match(path.name) and path.is_file():
                try:
                    models.append(ModelInfo.from_path(path))
                except OSError:  # deleted meanwhile
                    continue
        return sorted(models, key=lambda m: (m.created_at, m.name), reverse=True)

    def get(self, name: str) -> ModelInfo:
        """The model with this file name; only names, never paths, are accepted."""
        check_name(name)
        path = self.models_dir / name
        try:
            if not path.is_file() or path.resolve().parent != self.models_dir.resolve():
                raise ModelNotFound(f"There is no model called {name!r}.")
            return ModelInfo.from_path(path)
        except OSError as exc:
            raise ModelNotFound(f"There is no model called {name!r}.") from exc

    def find(self, name: str) -> ModelInfo | None:
        """Like `get`, but None for an unknown or invalid name."""
        try:
            return self.get(name)
        except KopruError:
            return None


def check_name(name: str) -> None:
    """Refuse anything but a plain model file name."""
    if (
        not name
        or len(name) > 255
        or "/" in name
        or "\\" in name
        or ".." in name
        or not name.endswith(SUFFIX)
        or not NAME.match(name)
    ):
        raise InvalidModelName(f"{name[:100]!r} is not the name of a model archive.")


class RasaServer:
    """The Rasa server's HTTP API, with the token given to `rasa run --auth-token`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = LOAD_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._client = httpx.AsyncClient(
            base_url=self.base_url, timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
        )  # fmt: skip
        self._switch = asyncio.Lock()

    async def __aenter__(self) -> RasaServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def status(self) -> dict[str, Any]:
        """`GET /status`: `model_file` (the archive's file name), `model_id`, ..."""
        response = await self._request("GET", "/status", timeout=30.0)
        if response.status_code != 200:
            raise RasaServerError(
                f"The Rasa server's status: {_message(response)}", response.status_code
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise RasaServerError("The Rasa server's status is not JSON.") from exc
        if not isinstance(data, dict):
            raise RasaServerError("The Rasa server's status is not a JSON object.")
        return data

    async def activate(self, model_path: Path) -> None:
        """Load this model into the running server and check that it now serves it.

        Rasa loads the model inside its event loop: for those seconds (3-10 s for
        Köprü's model on 2 cores) messages wait, then are answered; conversations that
        were mid-turn finish with the model they started with. If loading fails, the old
        model stays. One switch at a time per `RasaServer`.
        """
        model_file = _existing_file(model_path)  # the server shares our file system
        async with self._switch:
            response = await self._request("PUT", "/model", json={"model_file": model_file})
            if response.status_code != 204:
                raise RasaServerError(
                    f"The Rasa server could not load {model_path.name}: {_message(response)}",
                    response.status_code,
                )
            serving = (await self.status()).get("model_file")
            if serving != model_path.name:
                raise RasaServerError(
                    f"The Rasa server serves {serving!r} after loading {model_path.name}."
                )

    async def _request(
        self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any
    ) -> httpx.Response:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            return await self._client.request(
                method, path, params={"token": self._token}, **extra, **kwargs
            )
        except httpx.TimeoutException as exc:
            raise RasaServerError(
                f"The Rasa server at {self.base_url} did not answer {method} {path} in time."
            ) from exc
        except httpx.HTTPError as exc:
            raise RasaServerError(
                f"The Rasa server at {self.base_url} is not reachable: {exc}"
            ) from exc


class RasaCluster:
    """The Rasa servers behind one load balancer, switched one after the other so the
    others keep answering while one loads the new model (a single server is a cluster
    of one)."""

    def __init__(self, base_urls: Sequence[str], token: str, **kwargs: Any) -> None:
        if not base_urls:
            raise ValueError("a cluster needs at least one Rasa server")
        self.servers = [RasaServer(url, token, **kwargs) for url in base_urls]

    @property
    def base_url(self) -> str:
        return ", ".join(server.base_url for server in self.servers)

    async def aclose(self) -> None:
        for server in self.servers:
            await server.aclose()

    async def status(self) -> dict[str, Any]:
        """The first replica's status; after a switch every replica serves the same."""
        return await self.servers[0].status()

    async def activate(self, model_path: Path) -> None:
        """Switch every replica in turn; stop at the first that fails and say which
        replicas serve the new model already (a second activation of the old model,
        the rollback, switches them back)."""
        for index, server in enumerate(self.servers):
            try:
                await server.activate(model_path)
            except RasaServerError as exc:
                if len(self.servers) == 1:
                    raise
                switched = f"replicas 1-{index} serve it" if index else "no replica serves it"
                raise RasaServerError(
                    f"Replica {index + 1} of {len(self.servers)} ({server.base_url}): {exc} "
                    f"({switched}).",
                    exc.status_code,
                ) from exc


def _existing_file(path: Path) -> str:
    """The absolute path of this model file (not resolved: /status shows its name)."""
    if not path.is_file():
        raise ModelNotFound(f"There is no model at {path}.")
    return str(path.absolute())


def _message(response: httpx.Response) -> str:
    """The server's own explanation (Rasa's error JSON has `message`)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("message"):
        return f"{data['message']} (HTTP {response.status_code})"
    text = response.text.strip()[:300]
    return f"HTTP {response.status_code}{': ' + text if text else ''}"


async def active(server: RasaServer | RasaCluster, registry: ModelRegistry) -> ModelInfo | None:
    """The registry's model the server is serving; None when it serves none of them
    (no model loaded, or one from elsewhere). Errors reaching the server are raised."""
    try:
        status = await server.status()
    except RasaServerError as exc:
        if exc.status_code == 409:  # "No agent loaded": a server without a model
            return None
        raise
    name = status.get("model_file")
    return registry.find(name) if isinstance(name, str) else None

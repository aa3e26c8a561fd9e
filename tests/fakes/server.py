"""What every fake server shares: listening on 127.0.0.1 (a free port) with aiohttp, and
running an asyncio fake on a background thread with its own event loop, so plain
synchronous tests (and `kopru run` in a subprocess) can talk to it.

A fake is any object with ``async start() -> url`` and ``async stop()``::

    class FakeThing(BackgroundServer[FakeThingAsync]):
        def __init__(self) -> None:
            super().__init__(FakeThingAsync(), name="fake-thing")

    with FakeThing() as thing:
        requests.get(thing.url)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from aiohttp import web

__all__ = ["HOST", "AsyncFake", "BackgroundServer", "listen"]

HOST = "127.0.0.1"  # the fakes never listen anywhere else

_T = TypeVar("_T")
_F = TypeVar("_F", bound="AsyncFake")
_B = TypeVar("_B", bound="BackgroundServer[Any]")


class AsyncFake(Protocol):
    async def start(self) -> str: ...

    async def stop(self) -> None: ...


async def listen(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve `app` on 127.0.0.1 at a free port; the runner (to clean up) and the port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    server = site._server
    assert server is not None
    return runner, int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]


class BackgroundServer(Generic[_F]):
    """`fake` on a background thread with its own event loop: start/stop (or `with`), the
    URL `fake.start()` returned, and `_run` to await one of its coroutines from this thread."""

    def __init__(self, fake: _F, *, name: str = "fake-server") -> None:
        self.fake = fake
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._url

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self, timeout: float = 10.0) -> str:
        """Start the loop thread and the fake; returns the fake's URL."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name=self._name, daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._url = asyncio.run_coroutine_threadsafe(self.fake.start(), loop).result(timeout)
        except BaseException:
            self._halt(timeout)
            raise
        return self._url

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.fake.stop(), self._loop).result(timeout)
        finally:
            self._halt(timeout)

    def _halt(self, timeout: float) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        self._url = None
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout)

    def __enter__(self: _B) -> _B:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        """Run `coroutine` on the fake's loop and wait for its result (at most `timeout` s)."""
        if self._loop is None:
            coroutine.close()
            raise RuntimeError(f"{type(self).__name__} is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

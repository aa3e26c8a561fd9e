"""Where the dashboard's figures come from: the live and demo stores, and a report cache.

A page and its six chart images ask for the same report at once; the cache computes it once
per (data, period) and keeps it for a minute (bounded), and renders the charts once too.
Store access and chart rendering run in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import KopruError
from bot.insights.analytics import Period
from bot.insights.metrics import Report
from bot.insights.report import report_from_store
from bot.storage.store import Store

__all__ = ["DEMO", "LIVE", "SOURCES", "DataSources", "ReportCache", "Unavailable"]

LIVE, DEMO = "live", "demo"
SOURCES = (LIVE, DEMO)

# matplotlib's rc settings (used by bot.insights.charts) are process-global: one rendering
# at a time.
_CHARTS_LOCK = threading.Lock()


class Unavailable(KopruError):
    """The store cannot be opened or read; the message is for the server log."""


def _sqlite_file(url: str) -> Path | None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        return Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    return None


class DataSources:
    """The live store and the demo store, opened on first use (so a bad URL fails a request,
    not the start) and closed with the app."""

    def __init__(self, live_url: str, demo_url: str) -> None:
        self.urls = {LIVE: live_url, DEMO: demo_url}
        self._stores: dict[str, Store] = {}
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    def available(self, source: str) -> bool:
        """Live always; demo when its SQLite file exists (any other demo URL: always)."""
        if source == LIVE:
            return True
        url = self.urls[DEMO]
        path = _sqlite_file(url)
        if path is None:
            return not url.startswith("sqlite:///:memory:")
        return path.is_file()

    def report(self, source: str, period: Period) -> Report:
        """The period's report (blocking: call it in a worker thread). Raises Unavailable."""
        try:
            with self._lock:
                store = self._stores.get(source)
                if store is None:
                    store = self._stores[source] = Store(self.urls[source])
                if source not in self._ready:
                    # As `kopru report`: a fresh database gets Köprü's tables, reports zeros.
                    store.create_schema()
                    self._ready.add(source)
            return report_from_store(store, period)
        except (KopruError, ImportError) as exc:
            # ImportError: a database URL whose driver is not installed.
            raise Unavailable(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
            self._ready.clear()


@dataclass
class _Entry:
    report: Report
    created: float
    charts: dict[str, bytes] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


Key = tuple[str, float, float]


class ReportCache:
    """Reports (and their charts) per (source, period), for `ttl` seconds, at most `size`."""

    def __init__(
        self,
        compute: Callable[[str, Period], Report],
        *,
        ttl: float = 60.0,
        size: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._pending: dict[Key, asyncio.Lock] = {}

    async def _entry(self, source: str, period: Period) -> _Entry:
        key = (source, period.start, period.end)
        entry = self._fresh(key)
        if entry is not None:
            return entry
        lock = self._pending.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                entry = self._fresh(key)
                if entry is None:
                    loop = asyncio.get_running_loop()
                    report = await loop.run_in_executor(None, self._compute, source, period)
                    entry = _Entry(report, self._clock())
                    self._entries[key] = entry
                    while len(self._entries) > self._size:
                        self._entries.popitem(last=False)
                return entry
        finally:
            if not lock.locked() and self._pending.get(key) is lock:
                del self._pending[key]

    def _fresh(self, key: Key) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() - entry.created >= self._ttl:
            del self._entries[key]
            return None
        return entry

    async def report(self, source: str, period: Period) -> Report:
        return (await self._entry(source, period)).report

    async def charts(self, source: str, period: Period) -> dict[str, bytes]:
        """The report's charts (`charts_for` of bot.insights.charts), once per cached report."""
        entry = await self._entry(source, period)
        async with entry.lock:
            if entry.charts is None:
                loop = asyncio.get_running_loop()
                entry.charts = await loop.run_in_executor(None, _render_charts, entry.report)
            return entry.charts


def _render_charts(report: Report) -> dict[str, bytes]:
    from bot.insights.charts import charts_for

    with _CHARTS_LOCK:
        return charts_for(report)

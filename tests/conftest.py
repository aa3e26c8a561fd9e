"""Shared fixtures: a demo order backend on 127.0.0.1, Köprü services on a temporary store."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.shop.demo_backend import create_app

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
async def demo_backend_url() -> AsyncIterator[str]:
    runner = web.AppRunner(create_app(TODAY))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
def tmp_database_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'kopru.db'}"


@pytest.fixture(scope="session")
def model() -> Path:
    """The trained model for the current data (trained once, reused while data is unchanged)."""
    import os

    from bot.authoring.training import ensure_model
    from bot.settings import PROJECT_ROOT

    models_dir = Path(os.environ.get("KOPRU_MODELS_DIR") or PROJECT_ROOT / "models")
    return ensure_model(PROJECT_ROOT, models_dir, quiet=True)

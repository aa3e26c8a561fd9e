"""The admin pages' shared state, kept on `app.ctx.admin`: the trainer, the Rasa server,
the model registry, the stores the review page reads, and per-session notices.

Everything is made on first use, so a bad URL fails a page, not the start, and closed
when the app stops (a running training is cancelled: its child process is killed).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bot.authoring.models import ModelRegistry, RasaCluster
from bot.authoring.trainer import Trainer
from bot.storage.store import Store
from bot.storage.trackers import TrackerReader, tracker_db_url
from bot.web.session import Session
from bot.web.settings import WebSettings

if TYPE_CHECKING:
    from sanic import Request

__all__ = ["AdminContext", "Notice", "NoticeKind", "admin_of"]

NoticeKind = Literal["ok", "warning", "error"]
MAX_NOTICE_SESSIONS = 1000
MAX_NOTICES = 10


@dataclass(frozen=True)
class Notice:
    """A message for the next page a session sees (after a POST and its redirect)."""

    kind: NoticeKind
    text: str


class AdminContext:
    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self.root: Path = settings.project_root
        self.models_dir: Path = settings.models_path()
        self.registry = ModelRegistry(self.models_dir)
        self.trainer = Trainer(self.root, self.models_dir, on_success=self.activate)
        self.tracker = TrackerReader(settings.tracker_db_url or tracker_db_url(self.root))
        self._rasa: RasaCluster | None = None
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self._notices: OrderedDict[str, list[Notice]] = OrderedDict()

    # --- the Rasa server ---------------------------------------------------------------------

    def rasa(self) -> RasaCluster:
        if self._rasa is None:
            self._rasa = RasaCluster(self.settings.rasa_urls(), self.settings.rasa_token)
        return self._rasa

    async def activate(self, model: Path) -> None:
        """Switch the running Rasa server to `model` (RasaServerError, ModelNotFound)."""
        await self.rasa().activate(model)

    # --- Köprü's store (escalations and surveys for the review page) ----------------------

    def store(self) -> Store:
        """The live store, its tables created on first use (as the dashboard does);
        blocking: call it in a worker thread."""
        with self._store_lock:
            if self._store is None:
                store = Store(self.settings.database_url)
                try:
                    store.create_schema()
                except BaseException:
                    store.close()
                    raise
                self._store = store
            return self._store

    # --- notices -----------------------------------------------------------------------------

    def notify(self, session: Session, kind: NoticeKind, text: str) -> None:
        notices = self._notices.setdefault(session.id, [])
        notices.append(Notice(kind, text))
        del notices[:-MAX_NOTICES]
        self._notices.move_to_end(session.id)
        while len(self._notices) > MAX_NOTICE_SESSIONS:
            self._notices.popitem(last=False)

    def take_notices(self, session: Session | None) -> list[Notice]:
        if session is None:
            return []
        return self._notices.pop(session.id, [])

    # --- the end -----------------------------------------------------------------------------

    async def close(self) -> None:
        await self.trainer.cancel()
        if self._rasa is not None:
            await self._rasa.aclose()
            self._rasa = None
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None
        self.tracker.close()


def admin_of(request: Request) -> AdminContext:
    admin = request.app.ctx.admin
    assert isinstance(admin, AdminContext)
    return admin

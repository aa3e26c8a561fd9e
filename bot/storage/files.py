"""Files shared between processes: an exclusive lock on a path, and atomic replacement.

`file_lock` serialises read-modify-write cycles (the training data, a training run, the
accounts file) between processes and threads; `atomic_write` and `replace_file` make a
reader see either the old file or the new one, never a half-written one, and make the
new one survive a power cut once they return.
"""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from bot.errors import KopruError

__all__ = [
    "DEFAULT_MODE",
    "LockBusy",
    "atomic_write",
    "file_lock",
    "replace_file",
    "sync_directory",
]

# A new file's mode when there is no old one to keep (a trained model's, a data file's).
DEFAULT_MODE = 0o644


class LockBusy(KopruError):
    """`file_lock(..., blocking=False)`: another process or thread holds the lock."""


class _PathLock:
    """flock(2) on one path between processes, an RLock between threads.

    flock locks belong to open file descriptions: a second descriptor in the same thread
    would wait for the first forever, so a nested use only counts up instead.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextmanager
    def hold(self, blocking: bool) -> Iterator[None]:
        if not self._thread_lock.acquire(blocking=blocking):
            raise LockBusy(f"{self.path} is locked by another thread")
        try:
            if self._depth == 0:
                self._fd = self._lock_file(blocking)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None
        finally:
            self._thread_lock.release()

    def _lock_file(self, blocking: bool) -> int:
        if self.path.is_dir():  # a folder locks itself: no lock file is left behind
            fd = os.open(self.path, os.O_RDONLY)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockBusy(f"{self.path} is locked by another process") from None
        except BaseException:
            os.close(fd)
            raise
        return fd


# Keyed by process too: a child forked while a thread held a lock inherits that lock's
# state (held, by a thread it does not have), and must start from a lock of its own.
_LOCKS: dict[tuple[int, Path], _PathLock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on `path` (a lock file, created if missing, or a folder).

    Between processes it is flock(2) on the path; between threads of one process a lock
    per path; reentrant within a thread.  With `blocking=False`, LockBusy is raised at
    once when another process or thread holds it.  Blocking: call it from a worker
    thread, not on an event loop.
    """
    resolved = path.resolve()
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault((os.getpid(), resolved), _PathLock(resolved))
    with lock.hold(blocking):
        yield


def sync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (where the platform can open a folder)."""
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def replace_file(source: Path, target: Path, *, mode: int | None = None) -> None:
    """Move the finished file `source` over `target` (both in the same folder): its bytes
    are synced first, and the rename after.  `mode`: the permission bits to give it."""
    fd = os.open(source, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if mode is not None:
        os.chmod(source, mode)
    os.replace(source, target)
    sync_directory(target.parent)


def atomic_write(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
    """Replace `path` by a file holding `data` (text is written as UTF-8).

    Written to a temporary file in the same folder, synced, then renamed over `path`: a
    crash at any point leaves either the old file or the new one (and at worst a
    `.<name>.*.tmp` file beside it).  `mode`: the new file's permission bits; by default
    the old file's, or 0644 for a new file.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = DEFAULT_MODE
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    sync_directory(path.parent)

"""bot.storage.files: the lock between threads and processes, and atomic replacement."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import bot.storage.files as files
from bot.storage.files import LockBusy, atomic_write, file_lock

# A second process: takes the lock, says so on stdout, holds it until stdin closes.
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from bot.storage.files import file_lock
    with file_lock(Path(sys.argv[1])):
        print("held", flush=True)
        sys.stdin.read()
    """
)


def _holder(lock: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "held\n"
    return process


def test_two_threads_take_turns(tmp_path: Path) -> None:
    lock, inside, overlaps = tmp_path / "x.lock", [0], []

    def work() -> None:
        for _ in range(20):
            with file_lock(lock):
                inside[0] += 1
                overlaps.append(inside[0])
                time.sleep(0.001)
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert overlaps == [1] * 40


def test_a_thread_waits_and_a_non_blocking_one_is_refused(tmp_path: Path) -> None:
    lock, entered = tmp_path / "x.lock", threading.Event()
    refused: list[bool] = []

    def try_at_once() -> None:
        try:
            with file_lock(lock, blocking=False):
                refused.append(False)
        except LockBusy:
            refused.append(True)

    def wait() -> None:
        with file_lock(lock):
            entered.set()

    with file_lock(lock):
        with file_lock(lock):  # reentrant in the thread that holds it
            pass
        other = threading.Thread(target=try_at_once)
        other.start()
        other.join(timeout=10)
        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.2)
        assert not entered.is_set()
    waiter.join(timeout=10)
    assert entered.is_set()
    assert refused == [True]


def test_two_processes_take_turns(tmp_path: Path) -> None:
    lock, entered = tmp_path / "var" / "x.lock", threading.Event()
    process = _holder(lock)
    try:
        with pytest.raises(LockBusy), file_lock(lock, blocking=False):
            pass

        def wait() -> None:
            with file_lock(lock):
                entered.set()

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.3)
        assert not entered.is_set()
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)
    waiter.join(timeout=30)
    assert entered.is_set()


def test_a_folder_can_be_the_lock_and_no_file_is_left(tmp_path: Path) -> None:
    process = _holder(tmp_path)
    try:
        with pytest.raises(LockBusy), file_lock(tmp_path, blocking=False):
            pass
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)
    with file_lock(tmp_path, blocking=False):
        pass
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_keeps_the_mode_and_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "data.yml"
    path.write_text("old\n", encoding="utf-8")
    path.chmod(0o640)
    atomic_write(path, "yeni ğ\n")
    assert path.read_text(encoding="utf-8") == "yeni ğ\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    atomic_write(tmp_path / "secret", b"s", mode=0o600)
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.yml", "secret"]


def test_a_write_that_fails_midway_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.yml"
    path.write_text("old\n", encoding="utf-8")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write(path, "new\n")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["data.yml"]


def test_a_process_killed_midway_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "data.yml"
    path.write_text("old\n", encoding="utf-8")
    # The process dies (no clean-up runs) after the new bytes are written and synced,
    # just before the rename.
    crash = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        import bot.storage.files as files
        files.os.replace = lambda *args: os._exit(9)
        files.atomic_write(Path(sys.argv[1]), "new\\n" * 100_000)
        """
    )
    result = subprocess.run([sys.executable, "-c", crash, str(path)], check=False)
    assert result.returncode == 9
    assert path.read_text(encoding="utf-8") == "old\n"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "data.yml"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".data.yml.")
    atomic_write(path, "new\n")
    assert path.read_text(encoding="utf-8") == "new\n"
    assert os.path.getsize(path) == 4

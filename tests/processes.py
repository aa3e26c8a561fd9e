"""The machine's processes as Linux's /proc shows them, and stopping a child politely;
shared by the end-to-end tests and the benchmarks."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

__all__ = ["process_table", "process_tree", "stop_politely"]


def process_table() -> dict[int, tuple[int, list[str]]]:
    """Every process: process id -> (parent's id, argv)."""
    table: dict[int, tuple[int, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # exited meanwhile
            continue
        table[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), argv)
    return table


def process_tree(root: int) -> list[tuple[int, list[str]]]:
    """The process and all its descendants (process id, argv)."""
    table = process_table()
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, (parent, _) in table.items() if parent in frontier]
        tree += frontier
    return [(pid, table[pid][1] if pid in table else []) for pid in tree]


def stop_politely(process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    """SIGINT (Ctrl-C), then SIGKILL if it has not exited within `seconds`."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

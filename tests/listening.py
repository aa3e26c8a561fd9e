"""Where a local port listens: the machine's own non-loopback addresses, the addresses a
listening TCP socket is bound to (Linux /proc/net), and whether a connection gets through.
Nothing here leaves the machine: connections go to this machine's own addresses."""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import socket
import subprocess
from pathlib import Path

__all__ = ["can_connect", "listening_addresses", "non_loopback_ipv4"]

_LISTEN = "0A"


def non_loopback_ipv4() -> list[str]:
    """This machine's IPv4 addresses that are not loopback (empty when it has none)."""
    found: set[str] = set()
    ip = shutil.which("ip")
    if ip:
        done = subprocess.run(
            [ip, "-4", "-o", "addr", "show"], capture_output=True, text=True, timeout=10
        )
        for line in done.stdout.splitlines():
            parts = line.split()
            if "inet" in parts:
                found.add(parts[parts.index("inet") + 1].split("/")[0])
    with contextlib.suppress(OSError):
        found.update(socket.gethostbyname_ex(socket.gethostname())[2])
    return sorted(a for a in found if not ipaddress.ip_address(a).is_loopback)


def _decode(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc/net/tcp6: four 32-bit words, each in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))


def listening_addresses(port: int) -> set[str]:
    """The addresses of the TCP sockets listening on `port` (Linux; empty elsewhere)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != _LISTEN:
                continue
            address, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) == port:
                found.add(_decode(address))
    return found


def can_connect(host: str, port: int, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False

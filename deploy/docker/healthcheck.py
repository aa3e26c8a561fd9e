"""The image's health check: exit 0 when one of the given URLs answers 200, else 1.

One image runs any of Köprü's processes (Rasa server, action server, web app), so the
check is given each one's health URL and passes when the process in this container answers.
Standard library only: the slim image has no curl.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 3.0


def answers(url: str, timeout: float = TIMEOUT_SECONDS) -> bool:
    """Whether `url` answers 200 within `timeout` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - fixed URLs
            return int(response.status) == 200
    except (OSError, ValueError, urllib.error.URLError):
        return False


def main(urls: list[str]) -> int:
    return 0 if any(answers(url) for url in urls) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

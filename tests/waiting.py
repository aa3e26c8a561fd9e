"""Waiting for something to happen without fixed sleeps: poll a predicate until it holds
or a deadline passes. A test that then checks that something did *not* happen first waits
here for a positive sign that its input was processed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_until"]

_T = TypeVar("_T")


def wait_until(
    predicate: Callable[[], _T], timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> _T:
    """Call `predicate` until it returns something truthy and return that; AssertionError
    naming `what` (and the last value) once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {what or predicate!r} ({value!r})")
        time.sleep(interval)

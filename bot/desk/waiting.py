"""How long a customer in the agents' queue can expect to wait."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Final

__all__ = ["MIN_EXPECTED_WAIT", "expected_wait", "wait_minutes"]

# Never promise less than a minute: a claim is a human reading the chat first.
MIN_EXPECTED_WAIT: Final = 60.0


def expected_wait(recent_waits: Sequence[float], place: int, default: float) -> float:
    """Seconds a customer at ``place`` (1 = next) is likely to wait for an agent.

    ``recent_waits`` are the seconds from joining the queue to being claimed for the latest
    claims; their median (robust against the odd chat left waiting for an hour) times the
    place is the estimate.  Without usable recent waits, ``default`` per place.  Negative
    and non-finite waits (clock skew, broken rows) are ignored.  At least 60 s.
    """
    if place < 1:
        raise ValueError(f"place must be 1 or more, not {place}")
    usable = [w for w in recent_waits if math.isfinite(w) and w >= 0]
    per_place = statistics.median(usable) if usable else default
    return max(MIN_EXPECTED_WAIT, per_place * place)


def wait_minutes(seconds: float) -> int:
    """Whole minutes to tell the customer: rounded up, at least 1."""
    if not math.isfinite(seconds):
        raise ValueError(f"seconds must be finite, not {seconds!r}")
    return max(1, math.ceil(seconds / 60))

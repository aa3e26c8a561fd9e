"""The guided troubleshooting flow as a pure function of how far the customer got."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Step", "next_step"]


@dataclass(frozen=True)
class Step:
    """What to show next: a step's response, or None when every step has failed."""

    response: str | None
    shown: int


def next_step(steps: Sequence[str], shown: int, *, restart: bool) -> Step:
    """`shown` steps have been tried without success; `restart` begins a new problem."""
    done = 0 if restart else max(0, shown)
    if done >= len(steps):
        return Step(None, len(steps))
    return Step(steps[done], done + 1)

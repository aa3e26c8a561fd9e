"""The supervisor's health watch: when a running child that has stopped answering its health
check is to be restarted (a pure decision), and the check itself.

A process can hang without exiting (an event loop spinning on a request it cannot finish,
a deadlock), and the supervisor used to restart only children that exit. Each child with a
health URL is now polled; after `max_failures` failed checks in a row it is stopped and goes
through the supervisor's usual restart and back-off. A child that has not answered yet since
it (re)started is given `startup_grace` seconds first: Rasa loads its model before it
answers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

import httpx

__all__ = ["Action", "HealthPolicy", "HealthState", "judge", "probe"]


@dataclass(frozen=True)
class HealthPolicy:
    """How often a child is checked, how long an answer may take, and how many failed
    checks in a row mean it hangs."""

    interval: float = 5.0
    timeout: float = 3.0
    max_failures: int = 3
    startup_grace: float = 300.0

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.timeout <= 0 or self.max_failures < 1:
            raise ValueError(f"unusable health policy: {self}")


@dataclass(frozen=True)
class HealthState:
    """What the checks of one run of a child have found so far."""

    started: float  # monotonic time of the (re)start
    answered: bool = False  # has answered a check since then
    failures: int = 0  # failed checks in a row


class Action(enum.Enum):
    KEEP = "keep"
    RESTART = "restart"


def judge(
    state: HealthState, ok: bool, now: float, policy: HealthPolicy
) -> tuple[HealthState, Action]:
    """The state after one more check (`ok`: it answered 200 in time) and what to do."""
    if ok:
        return replace(state, answered=True, failures=0), Action.KEEP
    failed = replace(state, failures=state.failures + 1)
    if not state.answered and now - state.started < policy.startup_grace:
        return failed, Action.KEEP  # still starting
    if failed.failures >= policy.max_failures:
        return failed, Action.RESTART
    return failed, Action.KEEP


def probe(url: str, timeout: float) -> bool:
    """Whether `url` answers 200 within `timeout` seconds (never raises)."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False

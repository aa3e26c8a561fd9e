"""The retry schedule for Köprü's databases, written once for tenacity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy.exc import InterfaceError, OperationalError
from tenacity import RetryCallState, stop_after_attempt
from tenacity.retry import retry_base
from tenacity.stop import stop_base
from tenacity.wait import wait_base

__all__ = [
    "DATABASE_RETRY_DELAYS",
    "TRANSIENT_DATABASE_ERRORS",
    "is_transient_database_error",
    "retry_if_transient_cause",
    "stop_after_delays",
    "wait_delays",
]

# Seconds to wait before each retry; a PostgreSQL restart takes about two seconds, so the
# whole schedule waits about four.
DATABASE_RETRY_DELAYS: Final[tuple[float, ...]] = (0.2, 0.5, 1.0, 2.0)

# Errors of the connection or the server, worth another try. Integrity or programming
# errors are bugs and are raised at once.
TRANSIENT_DATABASE_ERRORS: Final = (OperationalError, InterfaceError)


def is_transient_database_error(exc: BaseException | None) -> bool:
    """True for an error of the connection or the server (another try may work)."""
    return isinstance(exc, TRANSIENT_DATABASE_ERRORS)


class wait_delays(wait_base):
    """Wait `delays[n - 1]` seconds after the n-th failed attempt."""

    def __init__(self, delays: Sequence[float]) -> None:
        self.delays = tuple(float(d) for d in delays)

    def __call__(self, retry_state: RetryCallState) -> float:
        if not self.delays:
            return 0.0
        index = min(retry_state.attempt_number, len(self.delays)) - 1
        return self.delays[index]


def stop_after_delays(delays: Sequence[float]) -> stop_base:
    """Stop once every delay was waited: the first try plus one per delay."""
    return stop_after_attempt(len(delays) + 1)


class retry_if_transient_cause(retry_base):
    """Retry an `error_type` (e.g. StoreError) raised from a transient database error."""

    def __init__(self, error_type: type[BaseException]) -> None:
        self.error_type = error_type

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return False
        exc = outcome.exception()
        return isinstance(exc, self.error_type) and is_transient_database_error(exc.__cause__)

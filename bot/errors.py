"""Köprü's exception tree: every error Köprü raises on purpose derives from KopruError."""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "ConfigError",
    "Conflict",
    "KopruError",
    "NotFound",
    "StoreError",
    "TrackerStoreUnavailable",
]


class KopruError(Exception):
    """Base of all Köprü errors."""


class ConfigError(KopruError):
    """The configuration (environment or kopru.yml) is missing or invalid."""


class StoreError(KopruError):
    """Köprü's own database could not be read or written."""


class BackendError(KopruError):
    """A shop backend (orders, returns, invoices) answered with an error."""


class BackendUnavailable(BackendError):
    """A shop backend could not be reached or timed out."""


class NotFound(BackendError):
    """The backend does not know the requested object (for example an order number)."""


class Conflict(BackendError):
    """The backend refused the request in the object's current state (e.g. a return
    for an order that has not been delivered yet)."""


class TrackerStoreUnavailable(BaseException):
    """The conversation (tracker) store cannot be read or written even after retries.

    A BaseException on purpose: Rasa's FailSafeTrackerStore and its message processor
    catch every ``Exception`` and carry on with an in-memory tracker, which would lose
    the conversation without a word. This one passes through them to Köprü's channels,
    which refuse the message (503) so the sender delivers it again later.
    """

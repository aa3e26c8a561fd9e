"""Pure views of a Rasa conversation's events: session, transcript, intents seen."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "IntentSeen",
    "Line",
    "current_session",
    "first_answer_seconds",
    "intents_seen",
    "session_started_at",
    "transcript",
    "user_intents",
]

Event = Mapping[str, Any]


@dataclass(frozen=True)
class Line:
    """One line of the transcript an agent reads."""

    speaker: str  # "customer", "bot" or "agent"
    text: str
    at: float


@dataclass(frozen=True)
class IntentSeen:
    name: str
    confidence: float


def current_session(events: Sequence[Event]) -> Sequence[Event]:
    """The events since the last `session_started` (all of them if there is none)."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            return events[index:]
    return events


def session_started_at(events: Sequence[Event]) -> float:
    """When the current session started; identifies the conversation with the sender."""
    session = current_session(events)
    for event in session:
        timestamp = event.get("timestamp")
        if isinstance(timestamp, int | float):
            return float(timestamp)
    return 0.0


def _is_external(event: Event) -> bool:
    """Messages Köprü triggers itself (`EXTERNAL_*` intents), not typed by the customer."""
    return bool((event.get("metadata") or {}).get("is_external"))


def _user_events(events: Iterable[Event]) -> Iterable[Event]:
    return (e for e in events if e.get("event") == "user" and not _is_external(e))


def user_intents(events: Sequence[Event]) -> list[str]:
    """Intent names of the customer's messages in the current session, oldest first."""
    names = []
    for event in _user_events(current_session(events)):
        intent = (event.get("parse_data") or {}).get("intent") or {}
        names.append(str(intent.get("name") or ""))
    return names


def intents_seen(events: Sequence[Event]) -> list[IntentSeen]:
    """Each intent of the session once, with the highest confidence it was seen with."""
    best: dict[str, float] = {}
    for event in _user_events(current_session(events)):
        intent = (event.get("parse_data") or {}).get("intent") or {}
        name = intent.get("name")
        if not name:
            continue
        confidence = float(intent.get("confidence") or 0.0)
        best[name] = max(best.get(name, 0.0), confidence)
    return [IntentSeen(name, round(conf, 3)) for name, conf in best.items()]


def first_answer_seconds(events: Sequence[Event]) -> float | None:
    """Seconds from the customer's first message of the session to the bot's first answer."""
    asked = None
    for event in current_session(events):
        kind = event.get("event")
        timestamp = event.get("timestamp")
        if not isinstance(timestamp, int | float):
            continue
        if kind == "user" and asked is None and not _is_external(event):
            asked = float(timestamp)
        elif kind == "bot" and asked is not None:
            return max(0.0, float(timestamp) - asked)
    return None


def transcript(events: Sequence[Event], limit: int = 20) -> list[Line]:
    """The last `limit` customer and bot messages of the session."""
    lines = []
    for event in current_session(events):
        kind = event.get("event")
        text = event.get("text")
        if kind not in ("user", "bot") or not text or _is_external(event):
            continue
        if kind == "user":
            speaker = "customer"
        elif (event.get("metadata") or {}).get("agent_id"):
            speaker = "agent"
        else:
            speaker = "bot"
        lines.append(
            Line(
                speaker=speaker,
                text=str(text),
                at=float(event.get("timestamp") or 0.0),
            )
        )
    return lines[-limit:]

"""Views of a conversation's events."""

from __future__ import annotations

from typing import Any

from bot.desk.transcript import (
    IntentSeen,
    Line,
    intents_seen,
    session_started_at,
    transcript,
    user_intents,
)


def user(text: str, intent: str, confidence: float, at: float) -> dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": at,
            "parse_data": {"intent": {"name": intent, "confidence": confidence}}}  # fmt: skip


EVENTS: list[dict[str, Any]] = [
    {"event": "action", "name": "action_session_start", "timestamp": 1.0},
    {"event": "session_started", "timestamp": 1.0},
    user("old", "greet", 0.9, 2.0),
    {"event": "session_started", "timestamp": 100.0},
    {"event": "action", "name": "action_listen", "timestamp": 100.0},
    user("where is my order", "order_status", 0.7, 101.0),
    {"event": "bot", "text": "What is your order number?", "timestamp": 101.5},
    user("204518", "inform", 0.6, 102.0),
    user("where is it??", "order_status", 0.95, 103.0),
    {"event": "bot", "text": None, "timestamp": 103.5},
]


def test_only_the_current_session_counts() -> None:
    assert session_started_at(EVENTS) == 100.0
    assert user_intents(EVENTS) == ["order_status", "inform", "order_status"]


def test_intents_seen_once_with_best_confidence() -> None:
    assert intents_seen(EVENTS) == [IntentSeen("order_status", 0.95), IntentSeen("inform", 0.6)]


def test_transcript_keeps_text_lines_and_limit() -> None:
    lines = transcript(EVENTS)
    assert lines[0] == Line("customer", "where is my order", 101.0)
    assert [line.speaker for line in lines] == ["customer", "bot", "customer", "customer"]
    assert transcript(EVENTS, limit=1) == [Line("customer", "where is it??", 103.0)]


def test_no_session_event_means_all_events() -> None:
    events = [user("hi", "greet", 0.99, 5.0)]
    assert session_started_at(events) == 5.0
    assert session_started_at([]) == 0.0


# --- handoffs: messages Köprü triggers itself, and what agents wrote --------------------------

HANDOFF_EVENTS: list[dict[str, Any]] = [
    {"event": "session_started", "timestamp": 200.0},
    user("I want a person", "request_human", 0.9, 201.0),
    {"event": "bot", "text": "Connecting you to our team.", "timestamp": 201.5},
    {**user("", "EXTERNAL_agent_joined", 1.0, 210.0), "metadata": {"is_external": True}},
    {"event": "bot", "text": "Ayşe has joined.", "timestamp": 210.5},
    {"event": "bot", "text": "Hi, I'm Ayşe. How can I help?", "timestamp": 220.0,
     "metadata": {"agent_id": "U1", "agent_name": "Ayşe"}},
    user("my parcel is lost", "order_status", 0.8, 230.0),
    {**user("agent left", "EXTERNAL_agent_left", 1.0, 240.0), "metadata": {"is_external": True}},
    {"event": "bot", "text": None, "timestamp": 240.5, "metadata": {"agent_id": "U1"}},
]  # fmt: skip


def test_external_messages_are_not_the_customers() -> None:
    assert user_intents(HANDOFF_EVENTS) == ["request_human", "order_status"]
    assert intents_seen(HANDOFF_EVENTS) == [
        IntentSeen("request_human", 0.9),
        IntentSeen("order_status", 0.8),
    ]


def test_agent_lines_in_the_transcript() -> None:
    assert transcript(HANDOFF_EVENTS) == [
        Line("customer", "I want a person", 201.0),
        Line("bot", "Connecting you to our team.", 201.5),
        Line("bot", "Ayşe has joined.", 210.5),
        Line("agent", "Hi, I'm Ayşe. How can I help?", 220.0),
        Line("customer", "my parcel is lost", 230.0),
    ]


def test_an_external_message_alone_leaves_no_intents() -> None:
    events = [
        {"event": "session_started", "timestamp": 1.0},
        {**user("", "EXTERNAL_handoff_ticket", 1.0, 2.0), "metadata": {"is_external": True}},
    ]
    assert user_intents(events) == []
    assert intents_seen(events) == []
    assert transcript(events) == []

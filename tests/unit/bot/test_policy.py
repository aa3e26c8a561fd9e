"""Köprü's policy: relay while a person has the conversation, take survey answers, listen."""

from __future__ import annotations

import pytest

from bot.dialogue.policy import LISTEN, RELAY_ACTION, next_action


@pytest.mark.parametrize(
    ("handoff", "previous", "external", "expected"),
    [
        # No handoff (or one that ended): the other policies decide.
        (None, "action_listen", False, None),
        # After relaying (or a survey answer) the bot always listens.
        (None, "action_relay_to_agent", False, "action_listen"),
        ("resolved", "action_listen", False, None),
        ("ticket", "action_listen", False, None),
        ("bot", "action_listen", False, None),
        # A customer message while queued or claimed goes to the agent.
        ("queued", "action_listen", False, "action_relay_to_agent"),
        ("claimed", "action_listen", False, "action_relay_to_agent"),
        # Messages Köprü triggers itself are left to the rules.
        ("queued", "action_listen", True, None),
        ("claimed", "action_listen", True, None),
        # After relaying, the bot listens and says nothing else.
        ("queued", "action_relay_to_agent", False, "action_listen"),
        ("claimed", "action_relay_to_agent", False, "action_listen"),
        ("claimed", "action_relay_to_agent", True, "action_listen"),
        # After any other action (a rule's notice, the session start): not this policy's turn.
        ("claimed", "action_handoff_notice", False, None),
        ("queued", "utter_escalated", False, None),
        ("queued", "action_escalate", False, None),
        ("queued", None, False, None),
    ],
)
def test_next_action(
    handoff: str | None, previous: str | None, external: bool, expected: str | None
) -> None:
    assert next_action(handoff, previous, external) == expected


@pytest.mark.parametrize(
    ("handoff", "survey", "previous", "external", "expected"),
    [
        (None, "nps", "action_listen", False, "action_survey_answer"),
        (None, "reason", "action_listen", False, "action_survey_answer"),
        (None, "csat", "action_listen", False, "action_survey_answer"),
        (None, "nps", "action_survey_answer", False, "action_listen"),
        (None, "nps", "action_listen", True, None),
        (None, "nps", "action_resolved_by_bot", False, None),
        (None, None, "action_listen", False, None),
        (None, "something", "action_listen", False, None),
        # A person has the conversation: relaying wins over a survey.
        ("claimed", "nps", "action_listen", False, "action_relay_to_agent"),
    ],
)
def test_survey_answers_go_to_the_survey(
    handoff: str | None, survey: str | None, previous: str, external: bool, expected: str | None
) -> None:
    assert next_action(handoff, previous, external, survey) == expected


def test_constants_are_rasa_names() -> None:
    assert (LISTEN, RELAY_ACTION) == ("action_listen", "action_relay_to_agent")

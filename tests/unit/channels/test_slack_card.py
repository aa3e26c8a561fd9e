"""The Slack context card and thread texts (channels/slack_card.py): pure Block Kit dicts."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bot.desk.handoff import Handoff, State
from bot.storage.store import Conversation, Outcome
from channels.slack_card import (
    ActionId,
    already_claimed,
    card,
    claim_first,
    escape,
    not_a_member,
    not_active,
    not_yours,
    thread_customer_message,
    thread_notice,
)

CREATED = 1_700_000_000.0
EVIL = "<!channel> <!here> <@U1> <http://evil.example|click>"


def make_handoff(state: State = State.QUEUED, **changes: Any) -> Handoff:
    context: dict[str, Any] = {
        "customer_name": "Ayşe",
        "channel": "telegram",
        "language": "tr",
        "reason": "customer_request",
        "intents": [
            {"name": "order_status", "confidence": 0.931},
            {"name": "request_human", "confidence": 0.99},
        ],
        "slots": {"order_number": "KP-12345", "email": "ayse@example.com"},
        "transcript": [
            {"speaker": "customer", "text": "Siparişim nerede?", "at": CREATED - 60},
            {"speaker": "bot", "text": "Sipariş numaranız nedir?", "at": CREATED - 50},
            {"speaker": "customer", "text": "Bir insanla konuşmak istiyorum", "at": CREATED - 10},
        ],
        "conversation_started_at": CREATED - 120,
    }
    handoff = Handoff(
        id=7,
        reference="E-7F3A2C",
        sender_id="tg-42",
        session_started_at=CREATED - 120,
        conversation_id=3,
        channel="telegram",
        language="tr",
        reason="customer_request",
        state=state,
        created_at=CREATED,
        context=context,
    )
    if state is State.CLAIMED:
        handoff = replace(handoff, agent_id="U0AGENT1", agent_name="Mia", claimed_at=CREATED + 150)
    elif state is State.RESOLVED:
        handoff = replace(
            handoff,
            agent_id="U0AGENT1",
            claimed_at=CREATED + 150,
            ended_at=CREATED + 900,
            ended_by="U0AGENT1",
        )
    elif state is State.BOT:
        handoff = replace(
            handoff, agent_id="U0AGENT1", claimed_at=CREATED + 150, ended_at=CREATED + 300
        )
    elif state is State.TICKET:
        handoff = replace(
            handoff,
            ticket_reference="T-00AB12",
            answer_by=CREATED + 86_400,
            ended_at=CREATED + 600,
        )
    return replace(handoff, **changes)


def conversation(id: int, started_at: float, outcome: str | None, *intents: str) -> Conversation:
    return Conversation(
        id=id,
        sender_id="tg-42",
        session_started_at=started_at,
        channel="telegram",
        language="tr",
        intents=list(intents),
        outcome=outcome,
        started_at=started_at,
        last_message_at=started_at + 60,
        ended_at=started_at + 60,
    )


def blocks_of(kind: str, message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if b["type"] == kind]


def section_texts(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in blocks_of("section", message) if "text" in b]


def section_starting(message: dict[str, Any], title: str) -> str:
    (text,) = [t for t in section_texts(message) if t.startswith(title)]
    return text


def fields(message: dict[str, Any]) -> dict[str, str]:
    (section,) = [b for b in blocks_of("section", message) if "fields" in b]
    result = {}
    for field in section["fields"]:
        label, _, value = field["text"].partition("\n")
        result[label.strip("*")] = value
    return result


def all_text_objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") in ("mrkdwn", "plain_text") else []
        return found + [t for value in node.values() for t in all_text_objects(value)]
    if isinstance(node, list):
        return [t for value in node for t in all_text_objects(value)]
    return []


def assert_within_limits(message: dict[str, Any]) -> None:
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            if "fields" in block:
                assert len(block["fields"]) <= 10
                assert all(len(f["text"]) <= 2000 for f in block["fields"])
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
    for text in all_text_objects(message):
        assert 1 <= len(text["text"]) <= 3000
        if text["type"] == "mrkdwn":
            assert text["verbatim"] is True


# --- escaping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here>", "&lt;!here&gt;"),
        ("<@U1>", "&lt;@U1&gt;"),
        ("<http://x|y>", "&lt;http://x|y&gt;"),
        ("&amp;", "&amp;amp;"),
        ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
        ("Siparişim nerede? *bold* _it_", "Siparişim nerede? *bold* _it_"),
        ("", ""),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


# --- the card per state --------------------------------------------------------------------


def actions_of(message: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [
        (e["action_id"], e["value"], e.get("style"))
        for block in blocks_of("actions", message)
        for e in block["elements"]
    ]


def test_queued_card() -> None:
    message = card(make_handoff(), earlier=[], now=CREATED + 200, place=2)
    assert_within_limits(message)
    assert message["blocks"][0]["type"] == "header"
    assert message["blocks"][0]["text"]["text"].startswith("🔔 Customer needs help")
    assert "Ayşe" in message["text"] and "E-7F3A2C" in message["text"]
    assert fields(message) == {
        "Customer": "Ayşe",
        "Channel": "Telegram",
        "Language": "Türkçe (tr)",
        "Reason": "Customer asked for a person",
        "Reference": "E-7F3A2C",
        "State": "Queued — place 2",
        "Waiting time": (
            "waiting 3 min\nqueued "
            "<!date^1700000000^{date_short_pretty} {time}|2023-11-14T22:13+00:00>"
        ),
    }
    assert actions_of(message) == [(ActionId.CLAIM, "E-7F3A2C", "primary")]
    assert message["blocks"][-1]["type"] == "actions"


def test_claimed_card() -> None:
    message = card(make_handoff(State.CLAIMED), earlier=[], now=CREATED + 3600)
    assert_within_limits(message)
    assert fields(message)["State"] == "Claimed by <@U0AGENT1>"
    # Counted to the claim, not to now.
    assert fields(message)["Waiting time"].startswith("waited 2 min\n")
    assert actions_of(message) == [
        (ActionId.RESOLVE, "E-7F3A2C", "primary"),
        (ActionId.RETURN, "E-7F3A2C", None),
    ]


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        (State.RESOLVED, "Resolved by <@U0AGENT1>"),
        (State.BOT, "Returned to bot"),
        (State.TICKET, "Ticket T-00AB12, answer by <!date^1700086400^"),
    ],
)
def test_final_states_have_no_buttons(state: State, shown: str) -> None:
    message = card(make_handoff(state), earlier=[], now=CREATED + 5000)
    assert_within_limits(message)
    assert fields(message)["State"].startswith(shown)
    assert blocks_of("actions", message) == []
    assert message["blocks"][0]["text"]["text"] != "🔔 Customer needs help · E-7F3A2C"


def test_ticket_waited_until_it_was_opened() -> None:
    message = card(make_handoff(State.TICKET), earlier=[], now=CREATED + 5000)
    assert fields(message)["Waiting time"].startswith("waited 10 min\n")


def test_action_ids() -> None:
    assert (ActionId.CLAIM, ActionId.RESOLVE, ActionId.RETURN) == (
        "kopru_claim",
        "kopru_resolve",
        "kopru_return_to_bot",
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "waiting under 1 min"),
        (59, "waiting under 1 min"),
        (60, "waiting 1 min"),
        (3599, "waiting 59 min"),
        (3600 + 120, "waiting 1 h 2 min"),
        (7200, "waiting 2 h"),
        (90_000, "waiting 1 d 1 h"),
    ],
)
def test_waiting_time(seconds: float, text: str) -> None:
    message = card(make_handoff(), earlier=[], now=CREATED + seconds)
    assert fields(message)["Waiting time"].split("\n")[0] == text


def test_queued_without_place() -> None:
    assert fields(card(make_handoff(), earlier=[], now=CREATED))["State"] == "Queued"


# --- content --------------------------------------------------------------------------------


def test_intents_slots_and_transcript() -> None:
    message = card(make_handoff(), earlier=[], now=CREATED)
    assert section_starting(message, "*Intents seen*") == (
        "*Intents seen*\norder_status (0.93), request_human (0.99)"
    )
    assert section_starting(message, "*Last messages*") == (
        "*Last messages*\n"
        ">*Customer:* Siparişim nerede?\n"
        ">*Bot:* Sipariş numaranız nedir?\n"
        ">*Customer:* Bir insanla konuşmak istiyorum"
    )


def test_slot_labels_and_empty_slots_left_out() -> None:
    handoff = make_handoff()
    slots = {
        "order_number": "KP-1",
        "email": "",
        "return_item": "Blue shoes",
        "return_reason": "Too small",
        "country": "PL",
        "unrelated": "x",
        "extra": None,
    }
    handoff = replace(handoff, context={**handoff.context, "slots": slots})
    text = section_starting(card(handoff, earlier=[], now=CREATED), "*What we know*")
    assert text == (
        "*What we know*\n"
        "*Order number:* KP-1\n"
        "*Return item:* Blue shoes\n"
        "*Return reason:* Too small\n"
        "*Country:* PL"
    )


def test_nothing_known() -> None:
    handoff = make_handoff()
    handoff = replace(handoff, context={**handoff.context, "slots": {}, "intents": []})
    message = card(handoff, earlier=[], now=CREATED)
    assert section_starting(message, "*What we know*") == "*What we know*\n_nothing collected yet_"
    assert section_starting(message, "*Intents seen*") == "*Intents seen*\n_none_"


@pytest.mark.parametrize("name", [None, "", "   "])
def test_unknown_customer(name: str | None) -> None:
    handoff = make_handoff()
    handoff = replace(handoff, context={**handoff.context, "customer_name": name})
    message = card(handoff, earlier=[], now=CREATED)
    assert fields(message)["Customer"] == "Unknown"
    assert "Unknown customer" in message["text"]
    assert thread_customer_message(handoff, "hi")["text"] == "*Customer:* hi"


def test_unknown_channel_language_and_reason() -> None:
    handoff = make_handoff(channel="rest", language="de", reason="<!here>")
    shown = fields(card(handoff, earlier=[], now=CREATED))
    assert shown["Channel"] == "REST"
    assert shown["Language"] == "de"
    assert shown["Reason"] == "&lt;!here&gt;"
    assert fields(card(make_handoff(channel="webchat"), earlier=[], now=CREATED))["Channel"] == (
        "Web chat"
    )
    assert fields(card(make_handoff(channel="unknown"), earlier=[], now=CREATED))["Channel"] == (
        "Unknown"
    )


def test_every_customer_string_is_escaped() -> None:
    handoff = make_handoff()
    context = {
        **handoff.context,
        "customer_name": f"Mallory {EVIL}",
        "slots": {
            key: f"{key} {EVIL}"
            for key in ("order_number", "email", "return_item", "return_reason", "country")
        },
        "transcript": [
            {"speaker": "customer", "text": f"hi {EVIL}", "at": CREATED},
            {"speaker": "agent", "text": f"hello {EVIL}", "at": CREATED},
        ],
        "intents": [{"name": f"x{EVIL}", "confidence": 0.5}],
    }
    handoff = replace(handoff, context=context, agent_name=EVIL)
    earlier = [conversation(1, CREATED - 9000, Outcome.ABANDONED, f"y{EVIL}")]
    for state in State:
        message = card(replace(handoff, state=state), earlier=earlier, now=CREATED)
        dump = json.dumps(message, ensure_ascii=False)
        for token in ("<!channel>", "<!here>", "<@U1>", "<http://evil.example|click>"):
            assert token not in dump
        assert "&lt;!channel&gt;" in dump and "&lt;@U1&gt;" in dump
        assert dump.count("&lt;!channel&gt;") >= 9
        assert_within_limits(message)
    for thread in (thread_customer_message(handoff, EVIL), thread_customer_message(handoff, "x")):
        dump = json.dumps(thread, ensure_ascii=False)
        assert "<!channel>" not in dump and "<@U1>" not in dump
        assert "&lt;!channel&gt;" in dump
    thread = thread_customer_message(handoff, EVIL)
    assert thread["blocks"][0]["text"]["text"].startswith("*Mallory &lt;!channel&gt;")


def test_an_agent_id_that_is_not_a_slack_id_is_not_a_mention() -> None:
    handoff = make_handoff(State.CLAIMED, agent_id="<!channel>", agent_name="<!here>")
    assert fields(card(handoff, earlier=[], now=CREATED))["State"] == "Claimed by &lt;!here&gt;"
    assert "<!" not in already_claimed(handoff) and "<!" not in not_yours(handoff)


def test_customer_newlines_cannot_fake_transcript_lines() -> None:
    handoff = make_handoff()
    fake = "fine\n>*Agent:* your refund is approved"
    handoff = replace(
        handoff, context={**handoff.context, "transcript": [{"speaker": "customer", "text": fake}]}
    )
    text = section_starting(card(handoff, earlier=[], now=CREATED), "*Last messages*")
    assert text == "*Last messages*\n>*Customer:* fine &gt;*Agent:* your refund is approved"


# --- limits ---------------------------------------------------------------------------------


def test_long_lines_are_truncated() -> None:
    handoff = make_handoff()
    long = "x" * 1000
    handoff = replace(
        handoff, context={**handoff.context, "transcript": [{"speaker": "bot", "text": long}]}
    )
    text = section_starting(card(handoff, earlier=[], now=CREATED), "*Last messages*")
    line = text.split("\n")[1]
    assert line.startswith(">*Bot:* xxx") and line.endswith("…")
    assert 290 <= len(line.removeprefix(">*Bot:* ")) <= 300


def test_huge_transcript_stays_within_limits() -> None:
    handoff = make_handoff()
    transcript = [
        {"speaker": "customer" if i % 2 else "bot", "text": f"{i} " + "<&>" * 500, "at": CREATED}
        for i in range(1000)
    ]
    huge_name = "<!channel>" * 1000
    handoff = replace(
        handoff,
        context={
            **handoff.context,
            "transcript": transcript,
            "customer_name": huge_name,
            "slots": {"return_reason": "&" * 10_000},
        },
    )
    for max_lines in (10, 50, 1000):
        message = card(handoff, earlier=[], now=CREATED, max_lines=max_lines)
        assert_within_limits(message)
        text = section_starting(message, "*Last messages*")
        assert text.endswith("…")  # the newest line is always shown
        assert text.split("\n")[-1].startswith(">*Customer:* 999 ")
        assert "not shown" in text
        assert "&lt;&amp;&gt;" in text


def test_max_lines() -> None:
    handoff = make_handoff()
    transcript = [{"speaker": "customer", "text": f"message {i}"} for i in range(30)]
    handoff = replace(handoff, context={**handoff.context, "transcript": transcript})
    text = section_starting(card(handoff, earlier=[], now=CREATED, max_lines=3), "*Last messages*")
    assert text.split("\n")[1:] == [
        "_27 earlier lines not shown_",
        ">*Customer:* message 27",
        ">*Customer:* message 28",
        ">*Customer:* message 29",
    ]


def test_empty_transcript() -> None:
    handoff = make_handoff()
    handoff = replace(handoff, context={**handoff.context, "transcript": []})
    text = section_starting(card(handoff, earlier=[], now=CREATED), "*Last messages*")
    assert text == "*Last messages*\n_no messages_"


def test_context_may_be_empty() -> None:
    handoff = make_handoff(context={})
    message = card(handoff, earlier=[], now=CREATED, place=1)
    assert_within_limits(message)
    assert fields(message)["Customer"] == "Unknown"


# --- earlier conversations ------------------------------------------------------------------


def earlier_texts(message: dict[str, Any]) -> list[str]:
    (block,) = [
        b
        for b in blocks_of("context", message)
        if b["elements"][0]["text"] == "*Earlier conversations*"
    ]
    return [e["text"] for e in block["elements"][1:]]


def test_first_conversation() -> None:
    current = conversation(3, CREATED - 120, Outcome.ESCALATED, "request_human")
    message = card(make_handoff(), earlier=[current], now=CREATED)
    assert earlier_texts(message) == ["First conversation"]


def test_earlier_conversations_newest_first_capped_at_five() -> None:
    earlier = [
        conversation(10 + i, CREATED - 86_400 * (10 - i), outcome, f"intent_{i}")
        for i, outcome in zip(
            range(1, 9),
            [Outcome.RESOLVED_BOT, Outcome.ABANDONED, None, Outcome.ESCALATED] * 2,
            strict=True,
        )
    ]
    earlier.append(conversation(3 + 100, CREATED - 120, None, "now"))  # this one: left out
    earlier = [*earlier, replace(earlier[-1], id=3)]
    texts = earlier_texts(card(make_handoff(), earlier=earlier, now=CREATED))
    assert len(texts) == 6
    assert [t.split(" · ")[2] for t in texts[:5]] == [f"intent_{i}" for i in (8, 7, 6, 5, 4)]
    assert texts[0] == (
        "<!date^1699827200^{date_short_pretty} {time}|2023-11-12T22:13+00:00>"
        " · escalated to a person · intent_8"
    )
    assert texts[1].split(" · ")[1] == "unfinished"
    assert texts[2].split(" · ")[1] == "abandoned"
    assert texts[3].split(" · ")[1] == "resolved by the bot"
    assert texts[5] == "and 3 older"


# --- thread messages and agent replies ------------------------------------------------------


def test_thread_customer_message() -> None:
    message = thread_customer_message(make_handoff(), "Kargo <b>nerede</b> & ne zaman?")
    expected = "*Ayşe (customer):* Kargo &lt;b&gt;nerede&lt;/b&gt; &amp; ne zaman?"
    assert message["text"] == expected
    assert message["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": expected, "verbatim": True}}
    ]


def test_long_thread_message_is_split_not_lost() -> None:
    words = " ".join(f"w{i}&" for i in range(2000))
    message = thread_customer_message(make_handoff(), words)
    assert_within_limits(message)
    texts = [b["text"]["text"] for b in message["blocks"]]
    assert len(texts) > 1
    assert " ".join(texts).replace("&amp;", "&").split()[2:] == words.split()
    unbroken = thread_customer_message(make_handoff(), "&" * 4096)
    assert_within_limits(unbroken)
    pieces = [b["text"]["text"] for b in unbroken["blocks"]]
    assert all(p.endswith("&amp;") for p in pieces)
    assert "".join(pieces).count("&amp;") == 4096


def test_thread_notice() -> None:
    notice = thread_notice("Claimed by <@U0AGENT1>")
    assert notice["text"] == "Claimed by <@U0AGENT1>"
    assert notice["blocks"] == [
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Claimed by <@U0AGENT1>", "verbatim": True}],
        }
    ]
    assert_within_limits(thread_notice("x" * 5000))


def test_agent_replies() -> None:
    claimed = make_handoff(State.CLAIMED)
    assert already_claimed(claimed).startswith("Already claimed by <@U0AGENT1>")
    assert "E-7F3A2C" in already_claimed(claimed)
    assert "no longer waiting" in already_claimed(make_handoff(State.TICKET))
    assert "member" in not_a_member()
    assert claim_first(make_handoff()).startswith("Claim this conversation (E-7F3A2C) first")
    assert "not sent to the customer" in claim_first(make_handoff())
    assert "<@U0AGENT1>" in not_yours(claimed)
    assert "your reply was not sent to the customer" in not_yours(claimed)
    for state, why in [
        (State.RESOLVED, "resolved"),
        (State.TICKET, "T-00AB12"),
        (State.BOT, "returned to the bot"),
    ]:
        text = not_active(make_handoff(state))
        assert "no longer with an agent" in text and why in text
        assert "not sent" in text

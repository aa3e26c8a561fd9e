"""What Köprü posts in Slack for a handoff, as Block Kit dicts: pure rendering, no I/O.

Every string a customer could have typed (name, messages, slot values) goes through
`escape` before it reaches mrkdwn, so it can never ping `<!channel>` or fake a link, and
every mrkdwn text object is `verbatim` so Slack does not auto-parse plain "@here" either.
Texts are clipped to Slack's limits (header 150, section text 3000, fields 10 x 2000,
50 blocks) without cutting an escape entity or a `<...>` token in half.

Personal data in what the customer told (the last messages, slot values such as the
e-mail) is masked by `bot.privacy.masking` before it is escaped: the kinds `card` is given (by
default all of them; kopru.yml's `privacy.mask_in_slack_card` decides in production) and
card numbers always, also in the customer's messages relayed to the thread. The
customer's name is shown as it is.

The dicts returned by `card`, `thread_customer_message` and `thread_notice` are the
`text` and `blocks` keyword arguments of `chat.postMessage` / `chat.update`; post them
without `link_names` or `parse="full"`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Final

from bot.desk.escalation import Reason
from bot.desk.handoff import Handoff, State
from bot.privacy.masking import ALL_KINDS, ALWAYS_MASKED, Kind, mask
from bot.storage.store import Conversation, Outcome

__all__ = [
    "MAX_BLOCKS",
    "MAX_FIELDS",
    "MAX_FIELD_TEXT",
    "MAX_HEADER_TEXT",
    "MAX_SECTION_TEXT",
    "ActionId",
    "already_claimed",
    "card",
    "claim_first",
    "escape",
    "not_a_member",
    "not_active",
    "not_yours",
    "thread_customer_message",
    "thread_notice",
]

# Slack's Block Kit limits.
MAX_HEADER_TEXT: Final = 150
MAX_SECTION_TEXT: Final = 3000
MAX_FIELDS: Final = 10
MAX_FIELD_TEXT: Final = 2000
MAX_BLOCKS: Final = 50
MAX_BUTTON_TEXT: Final = 75
MAX_CONTEXT_ELEMENTS: Final = 10

# How much of one customer-provided value a card shows (before escaping).
MAX_LINE_CHARS: Final = 300
MAX_NAME_CHARS: Final = 80
MAX_EARLIER: Final = 5
MAX_EARLIER_INTENTS: Final = 5

ELLIPSIS: Final = "…"


class ActionId:
    """`action_id`s of the card's buttons; each button's `value` is the handoff reference."""

    CLAIM: Final = "kopru_claim"
    RESOLVE: Final = "kopru_resolve"
    RETURN: Final = "kopru_return_to_bot"


CHANNEL_NAMES: Final[Mapping[str, str]] = {
    "telegram": "Telegram",
    "webchat": "Web chat",
    "rest": "REST",
    "socketio": "Socket.IO",
    "slack": "Slack",
    "cmdline": "Command line",
}

LANGUAGE_NAMES: Final[Mapping[str, str]] = {"en": "English", "tr": "Türkçe", "pl": "Polski"}

REASON_TEXTS: Final[Mapping[str, str]] = {
    Reason.CUSTOMER_REQUEST.value: "Customer asked for a person",
    Reason.COMPLAINT.value: "Complaint",
    Reason.REPEATED_FALLBACK.value: "Bot did not understand the customer twice",
    Reason.FAILED_GUIDED_FLOW.value: "Guided troubleshooting did not solve it",
    Reason.NOT_HELPED.value: "Bot's answer did not help",
    Reason.ACCOUNT_DELETION.value: "Account deletion request",
    Reason.BACKEND_UNAVAILABLE.value: "Order system unavailable to the bot",
}

SLOT_LABELS: Final[Mapping[str, str]] = {
    "order_number": "Order number",
    "email": "Email",
    "return_item": "Return item",
    "return_reason": "Return reason",
    "country": "Country",
}

SPEAKERS: Final[Mapping[str, str]] = {"customer": "Customer", "bot": "Bot", "agent": "Agent"}

OUTCOME_TEXTS: Final[Mapping[str, str]] = {
    Outcome.RESOLVED_BOT: "resolved by the bot",
    Outcome.ESCALATED: "escalated to a person",
    Outcome.ABANDONED: "abandoned",
}

HEADERS: Final[Mapping[State, str]] = {
    State.QUEUED: "🔔 Customer needs help",
    State.CLAIMED: "🙋 Customer is with an agent",
    State.RESOLVED: "✅ Resolved by an agent",
    State.TICKET: "🎫 Ticket opened",
    State.BOT: "🤖 Returned to the bot",
}

# A Slack user id such as U012AB3CD (W... on Enterprise Grid); anything else is not
# turned into a mention.
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_WHITESPACE = re.compile(r"\s+")


# --- text helpers ----------------------------------------------------------------------


def escape(text: str) -> str:
    """Slack's escaping of `&`, `<` and `>`: the text shows as typed and triggers nothing."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when cut (raw text)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def _clip(text: str, limit: int) -> str:
    """Escaped mrkdwn cut to at most `limit` characters without breaking an `&...;`
    entity or a `<...>` token."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:]:
        cut = cut[:lt]
    return cut + ELLIPSIS


def _safe(value: Any, limit: int = MAX_LINE_CHARS, *, one_line: bool = True) -> str:
    """A customer-provided value as escaped mrkdwn of at most `limit` visible characters."""
    text = str(value)
    if one_line:
        text = _WHITESPACE.sub(" ", text).strip()
    return escape(_shorten(text, limit))


def _mention(user_id: str | None, name: str | None = None) -> str:
    if user_id and _USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    if name:
        return _safe(name, MAX_NAME_CHARS)
    return "an agent"


def _date(ts: float) -> str:
    """A Slack date token shown in the reader's time zone, with an ISO (UTC) fallback."""
    fallback = datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="minutes")
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{fallback}>"


def _duration(seconds: float) -> str:
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 1:
        return "under 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _mrkdwn(text: str, limit: int = MAX_SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _clip(text, limit) or " ", "verbatim": True}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _shorten(text, limit) or " ", "emoji": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": _plain(text, MAX_BUTTON_TEXT),
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


# --- pieces of the card -----------------------------------------------------------------


def _context(handoff: Handoff) -> Mapping[str, Any]:
    return handoff.context if isinstance(handoff.context, Mapping) else {}


def _customer_name(handoff: Handoff) -> str | None:
    """The customer's name as escaped mrkdwn, or None when the bot never learnt it."""
    name = _context(handoff).get("customer_name")
    if name is None or not str(name).strip():
        return None
    return _safe(name, MAX_NAME_CHARS)


def _channel_name(channel: str) -> str:
    if channel in CHANNEL_NAMES:
        return CHANNEL_NAMES[channel]
    if not channel or channel == "unknown":
        return "Unknown"
    return _safe(channel, MAX_NAME_CHARS)


def _language_name(code: str) -> str:
    if code in LANGUAGE_NAMES:
        return f"{LANGUAGE_NAMES[code]} ({code})"
    return _safe(code, MAX_NAME_CHARS) if code else "Unknown"


def _reason_text(reason: str) -> str:
    return REASON_TEXTS.get(reason) or (_safe(reason, MAX_NAME_CHARS) if reason else "Unknown")


def _state_text(handoff: Handoff, place: int | None) -> str:
    state = handoff.state
    if state is State.QUEUED:
        return f"Queued — place {place}" if place is not None else "Queued"
    if state is State.CLAIMED:
        return f"Claimed by {_mention(handoff.agent_id, handoff.agent_name)}"
    if state is State.RESOLVED:
        by = handoff.ended_by if handoff.ended_by and _USER_ID.fullmatch(handoff.ended_by) else None
        return f"Resolved by {_mention(by or handoff.agent_id, handoff.agent_name)}"
    if state is State.BOT:
        if handoff.ended_by and _USER_ID.fullmatch(handoff.ended_by):
            return f"Returned to bot by <@{handoff.ended_by}>"
        return "Returned to bot"
    ticket = (
        f"Ticket {_safe(handoff.ticket_reference, 32)}" if handoff.ticket_reference else "Ticket"
    )
    if handoff.answer_by is not None:
        ticket += f", answer by {_date(handoff.answer_by)}"
    return ticket


def _waiting_text(handoff: Handoff, now: float) -> str:
    if handoff.state is State.QUEUED:
        wait = f"waiting {_duration(now - handoff.created_at)}"
    else:
        until = handoff.claimed_at
        if until is None:
            until = handoff.ended_at if handoff.ended_at is not None else now
        wait = f"waited {_duration(until - handoff.created_at)}"
    return f"{wait}\nqueued {_date(handoff.created_at)}"


def _fields(handoff: Handoff, *, now: float, place: int | None) -> list[dict[str, Any]]:
    pairs = [
        ("Customer", _customer_name(handoff) or "Unknown"),
        ("Channel", _channel_name(handoff.channel)),
        ("Language", _language_name(handoff.language)),
        ("Reason", _reason_text(handoff.reason)),
        ("Reference", _safe(handoff.reference, 32)),
        ("State", _state_text(handoff, place)),
        ("Waiting time", _waiting_text(handoff, now)),
    ]
    return [_mrkdwn(f"*{label}*\n{value}", MAX_FIELD_TEXT) for label, value in pairs][:MAX_FIELDS]


def _intents_text(context: Mapping[str, Any]) -> str:
    parts = []
    for intent in context.get("intents") or []:
        if not isinstance(intent, Mapping) or not intent.get("name"):
            continue
        name = _safe(intent["name"], MAX_NAME_CHARS)
        try:
            parts.append(f"{name} ({float(intent.get('confidence') or 0.0):.2f})")
        except (TypeError, ValueError):
            parts.append(name)
    return "*Intents seen*\n" + (", ".join(parts) if parts else "_none_")


def _slots_text(context: Mapping[str, Any], kinds: Collection[Kind]) -> str:
    slots = context.get("slots")
    lines = []
    if isinstance(slots, Mapping):
        for key, label in SLOT_LABELS.items():
            value = slots.get(key)
            if value is None or value == "" or value == [] or not str(value).strip():
                continue
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            lines.append(f"*{label}:* {_safe(mask(str(value), kinds))}")
    return "*What we know*\n" + ("\n".join(lines) if lines else "_nothing collected yet_")


def _transcript_line(line: Any, kinds: Collection[Kind]) -> str | None:
    if not isinstance(line, Mapping):
        return None
    text = line.get("text")
    if text is None or not str(text).strip():
        return None
    speaker = SPEAKERS.get(str(line.get("speaker")), "Customer")
    return f">*{speaker}:* {_safe(mask(str(text), kinds))}"


def _transcript_text(context: Mapping[str, Any], max_lines: int, kinds: Collection[Kind]) -> str:
    """The last `max_lines` lines, dropping the oldest further if they do not fit."""
    title = "*Last messages*"
    raw = context.get("transcript")
    lines = [
        rendered
        for rendered in (
            _transcript_line(line, kinds) for line in (raw if isinstance(raw, list) else [])
        )
        if rendered is not None
    ]
    if not lines:
        return f"{title}\n_no messages_"
    shown = lines[-max_lines:] if max_lines > 0 else []
    # Room for the title and the "earlier lines" note.
    budget = MAX_SECTION_TEXT - len(title) - 60
    kept: list[str] = []
    used = 0
    for rendered in reversed(shown):
        if used + len(rendered) + 1 > budget:
            break
        kept.append(rendered)
        used += len(rendered) + 1
    kept.reverse()
    hidden = len(lines) - len(kept)
    note = [f"_{hidden} earlier line{'s' if hidden != 1 else ''} not shown_"] if hidden else []
    return "\n".join([title, *note, *kept])


def _earlier_block(handoff: Handoff, earlier: Sequence[Conversation]) -> dict[str, Any]:
    others = [
        c
        for c in earlier
        if c.id != handoff.conversation_id
        and not (
            c.sender_id == handoff.sender_id and c.session_started_at == handoff.session_started_at
        )
    ]
    others.sort(key=lambda c: (c.started_at, c.id), reverse=True)
    elements = [_mrkdwn("*Earlier conversations*")]
    if not others:
        elements.append(_mrkdwn("First conversation"))
    for conversation in others[:MAX_EARLIER]:
        outcome = OUTCOME_TEXTS.get(conversation.outcome or "", "unfinished")
        if conversation.outcome and conversation.outcome not in OUTCOME_TEXTS:
            outcome = _safe(conversation.outcome, MAX_NAME_CHARS)
        names = [_safe(n, MAX_NAME_CHARS) for n in conversation.intents[:MAX_EARLIER_INTENTS]]
        if len(conversation.intents) > MAX_EARLIER_INTENTS:
            names.append(ELLIPSIS)
        intents = ", ".join(names) if names else "no intents"
        elements.append(_mrkdwn(f"{_date(conversation.started_at)} · {outcome} · {intents}"))
    if len(others) > MAX_EARLIER:
        elements.append(_mrkdwn(f"and {len(others) - MAX_EARLIER} older"))
    return {"type": "context", "elements": elements[:MAX_CONTEXT_ELEMENTS]}


def _actions(handoff: Handoff) -> dict[str, Any] | None:
    reference = handoff.reference
    if handoff.state is State.QUEUED:
        buttons = [_button("Claim", ActionId.CLAIM, reference, "primary")]
    elif handoff.state is State.CLAIMED:
        buttons = [
            _button("Resolve", ActionId.RESOLVE, reference, "primary"),
            _button("Return to bot", ActionId.RETURN, reference),
        ]
    else:
        return None
    return {"type": "actions", "elements": buttons}


def _fallback(handoff: Handoff) -> str:
    name = _customer_name(handoff) or "Unknown customer"
    headline = HEADERS.get(handoff.state, "Customer conversation")
    return _clip(
        f"{headline}: {name} — {_reason_text(handoff.reason)} ({_safe(handoff.reference, 32)})",
        MAX_SECTION_TEXT,
    )


# --- public -------------------------------------------------------------------------------


def card(
    handoff: Handoff,
    *,
    earlier: Sequence[Conversation],
    now: float,
    place: int | None = None,
    max_lines: int = 10,
    masked: Collection[Kind] = ALL_KINDS,
) -> dict[str, Any]:
    """The context card of a handoff: `{"text": ..., "blocks": [...]}`.

    `earlier` are the customer's conversations (the handoff's own one is left out),
    `now` is the time the waiting time is counted to while queued, `place` the place in
    the queue, `max_lines` how many transcript lines are shown at most, and `masked`
    the kinds of personal data shown masked in slot values and messages (card numbers
    always are).
    """
    kinds = frozenset(masked) | ALWAYS_MASKED
    context = _context(handoff)
    headline = f"{HEADERS.get(handoff.state, 'Customer conversation')} · {handoff.reference}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(headline, MAX_HEADER_TEXT)},
        {"type": "section", "fields": _fields(handoff, now=now, place=place)},
        _section(_intents_text(context)),
        _section(_slots_text(context, kinds)),
        _section(_transcript_text(context, max_lines, kinds)),
        _earlier_block(handoff, earlier),
    ]
    actions = _actions(handoff)
    if actions is not None:
        blocks.append(actions)
    return {"text": _fallback(handoff), "blocks": blocks[:MAX_BLOCKS]}


def thread_customer_message(handoff: Handoff, text: str) -> dict[str, Any]:
    """A customer message posted in the card's thread while a person has the conversation.

    Long messages are split over several sections so that nothing the customer wrote is
    lost (within Slack's 50 blocks). Card numbers are masked: the agent talks to the
    customer here, but a card number must not stay in Slack's history.
    """
    name = _customer_name(handoff)
    speaker = f"{name} (customer)" if name else "Customer"
    body = f"*{speaker}:* {escape(mask(text, ALWAYS_MASKED))}"
    chunks = _chunks(body, MAX_SECTION_TEXT)
    if len(chunks) > MAX_BLOCKS:
        chunks = [
            *chunks[: MAX_BLOCKS - 1],
            _clip("".join(chunks[MAX_BLOCKS - 1 :]), MAX_SECTION_TEXT),
        ]
    return {
        "text": _clip(body, MAX_SECTION_TEXT),
        "blocks": [_section(chunk) for chunk in chunks],
    }


def _chunks(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at a line break or space when
    possible and never inside an `&...;` entity."""
    pieces = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", limit // 2, limit)
        if cut == -1:
            cut = rest.rfind(" ", limit // 2, limit)
        if cut == -1:
            cut = limit
            amp = rest.rfind("&", cut - 5, cut)
            if amp != -1 and ";" not in rest[amp:cut]:
                cut = amp
        pieces.append(rest[:cut])
        rest = rest[cut:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def thread_notice(text: str) -> dict[str, Any]:
    """A system note in the card's thread ("Claimed by <@U1>").

    `text` is trusted mrkdwn (it may mention agents); escape any customer text in it.
    """
    return {
        "text": _clip(text, MAX_SECTION_TEXT),
        "blocks": [{"type": "context", "elements": [_mrkdwn(text)]}],
    }


# --- ephemeral replies to agents ----------------------------------------------------------


def _ref(handoff: Handoff) -> str:
    return _safe(handoff.reference, 32)


def already_claimed(handoff: Handoff) -> str:
    """An agent pressed Claim on a conversation someone else took first."""
    if handoff.agent_id or handoff.agent_name:
        who = _mention(handoff.agent_id, handoff.agent_name)
        return f"Already claimed by {who} ({_ref(handoff)})."
    return f"This conversation ({_ref(handoff)}) is no longer waiting for an agent."


def not_a_member() -> str:
    """The user is not in the agents' channel and may not handle customers."""
    return (
        "Only members of the support agents' channel can handle customer conversations. "
        "Ask a lead to add you."
    )


def claim_first(handoff: Handoff) -> str:
    """An agent replied in the thread of a conversation nobody has claimed yet."""
    return (
        f"Claim this conversation ({_ref(handoff)}) first: your reply was not sent to the customer."
    )


def not_yours(handoff: Handoff) -> str:
    """An agent replied in the thread of a conversation another agent claimed."""
    who = _mention(handoff.agent_id, handoff.agent_name)
    return (
        f"This conversation ({_ref(handoff)}) is handled by {who}: "
        "your reply was not sent to the customer."
    )


def not_active(handoff: Handoff) -> str:
    """An agent replied after the conversation left the agents (resolved, ticket, bot)."""
    state = {
        State.RESOLVED: "it was resolved",
        State.TICKET: f"it became ticket {_safe(handoff.ticket_reference or '', 32)}".rstrip(),
        State.BOT: "it was returned to the bot",
    }.get(handoff.state, "it is not claimed")
    return (
        f"This conversation ({_ref(handoff)}) is no longer with an agent ({state}): "
        "the message was not sent to the customer."
    )

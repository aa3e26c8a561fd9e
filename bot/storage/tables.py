"""Every table of Köprü's own, on one MetaData.

Each table is defined here and nowhere else, so creating the schema, the migrations
(bot/storage/migrations) and `kopru forget` see all of them without importing the modules
that use them. Rasa's own tables (the tracker store's `events`) are Rasa's, not here.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "conversations",
    "deletion_requests",
    "deliveries",
    "handoffs",
    "metadata",
    "outbox",
    "surveys",
    "web_sessions",
]

metadata = sa.MetaData()

conversations = sa.Table(
    "kopru_conversations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    # Start of the Rasa session this conversation is (a sender has one per session).
    sa.Column("session_started_at", sa.Float, nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("intents", sa.Text, nullable=False, default="[]"),
    sa.Column("outcome", sa.String(32), nullable=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("last_message_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float, nullable=True),
    # Seconds from the customer's first message to the bot's first answer.
    sa.Column("first_answer_seconds", sa.Float, nullable=True),
    sa.UniqueConstraint("sender_id", "session_started_at", name="uq_kopru_conv_session"),
)

deletion_requests = sa.Table(
    "kopru_deletion_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(16), nullable=False, unique=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)


# Deliveries from channels that may send the same thing twice (Telegram updates, Slack
# events): a row is claimed before processing and marked done after it.
deliveries = sa.Table(
    "kopru_deliveries",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("claimed_at", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    # The customer the delivery came from, when there is one (`kopru forget` erases their
    # rows); older rows have none.
    sa.Column("sender_id", sa.String(255), nullable=True),
)


# Messages for customers whose channel cannot be pushed to (web chat, REST): an agent's
# reply or a handoff notice waits here until the client fetches it.
outbox = sa.Table(
    "kopru_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)


handoffs = sa.Table(
    "kopru_handoffs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(16), nullable=False, unique=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("session_started_at", sa.Float, nullable=False),
    sa.Column("conversation_id", sa.Integer, nullable=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=True),
    sa.Column("agent_name", sa.String(255), nullable=True),
    sa.Column("claimed_at", sa.Float, nullable=True),
    sa.Column("ended_at", sa.Float, nullable=True),
    sa.Column("ended_by", sa.String(64), nullable=True),
    sa.Column("ticket_reference", sa.String(16), nullable=True),
    sa.Column("answer_by", sa.Float, nullable=True),
    # Where the context card is in Slack (channel id and message ts).
    sa.Column("card_channel", sa.String(64), nullable=True),
    sa.Column("card_ts", sa.String(32), nullable=True, index=True),
    # At most one active (queued or claimed) handoff per customer, even when two
    # processes escalate the same customer at once.
    sa.Index(
        "uq_kopru_handoffs_active_sender",
        "sender_id",
        unique=True,
        sqlite_where=sa.text("state IN ('queued', 'claimed')"),
        postgresql_where=sa.text("state IN ('queued', 'claimed')"),
    ),
)


surveys = sa.Table(
    "kopru_surveys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("conversation_id", sa.Integer, nullable=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("intents", sa.Text, nullable=False),
    # "bot", or the id of the agent who resolved the conversation.
    sa.Column("resolver", sa.String(64), nullable=False),
    sa.Column("asked_at", sa.Float, nullable=False),
    sa.Column("nps", sa.Integer, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("csat", sa.Integer, nullable=True),
    sa.Column("answered_at", sa.Float, nullable=True),
    # asked -> completed, or ended (not answered after a re-ask, or the customer moved on)
    sa.Column("status", sa.String(16), nullable=False),
)


# Sessions of the web app (bot.web.session). The signed cookie says whose session it is and
# until when; a row says whether it was signed out and when it was last used, for every
# replica and across restarts. A row is deleted once its session has expired.
web_sessions = sa.Table(
    "kopru_web_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(255), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_seen_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),
    sa.Column("revoked_at", sa.Float, nullable=True),  # signed out, or ended when idle
)

"""Baseline: Köprü's tables as the last Köprü before the migrations made them.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-08

A database made by that Köprü (its tables, no alembic_version) runs this revision too:
each table and index is created only where missing, and bot.storage.migrate adds the
nullable columns older versions lacked before it runs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

ACTIVE = sa.text("state IN ('queued', 'claimed')")


def upgrade() -> None:
    op.create_table(
        "kopru_conversations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("session_started_at", sa.Float(), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("intents", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("last_message_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("first_answer_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender_id", "session_started_at", name="uq_kopru_conv_session"),
        if_not_exists=True,
    )
    op.create_table(
        "kopru_deletion_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
        if_not_exists=True,
    )
    op.create_table(
        "kopru_deliveries",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("key"),
        if_not_exists=True,
    )
    op.create_table(
        "kopru_handoffs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("session_started_at", sa.Float(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("agent_name", sa.String(length=255), nullable=True),
        sa.Column("claimed_at", sa.Float(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.Column("ticket_reference", sa.String(length=16), nullable=True),
        sa.Column("answer_by", sa.Float(), nullable=True),
        sa.Column("card_channel", sa.String(length=64), nullable=True),
        sa.Column("card_ts", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
        if_not_exists=True,
    )
    op.create_index("ix_kopru_handoffs_card_ts", "kopru_handoffs", ["card_ts"], if_not_exists=True)
    op.create_index(
        "ix_kopru_handoffs_sender_id", "kopru_handoffs", ["sender_id"], if_not_exists=True
    )
    op.create_index("ix_kopru_handoffs_state", "kopru_handoffs", ["state"], if_not_exists=True)
    # At most one active (queued or claimed) handoff per customer.
    op.create_index(
        "uq_kopru_handoffs_active_sender",
        "kopru_handoffs",
        ["sender_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
        if_not_exists=True,
    )
    op.create_table(
        "kopru_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index("ix_kopru_outbox_sender_id", "kopru_outbox", ["sender_id"], if_not_exists=True)
    op.create_table(
        "kopru_surveys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("intents", sa.Text(), nullable=False),
        sa.Column("resolver", sa.String(length=64), nullable=False),
        sa.Column("asked_at", sa.Float(), nullable=False),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_kopru_surveys_sender_id", "kopru_surveys", ["sender_id"], if_not_exists=True
    )


def downgrade() -> None:
    # Dropping a table drops its indexes.
    for table in (
        "kopru_surveys",
        "kopru_outbox",
        "kopru_handoffs",
        "kopru_deliveries",
        "kopru_deletion_requests",
        "kopru_conversations",
    ):
        op.drop_table(table)

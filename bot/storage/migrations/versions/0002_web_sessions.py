"""The web app's sessions: sign-outs and last use, shared by replicas and kept over restarts.

Revision ID: 0002_web_sessions
Revises: 0001_baseline
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_web_sessions"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kopru_web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_seen_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_kopru_web_sessions_expires_at", "kopru_web_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("kopru_web_sessions")  # and its index

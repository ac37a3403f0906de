"""Event streams of a single-instance hub: heads, events, and publishers' event ids.

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-03

A hub without Redis keeps each company's stream in these tables, so a client that reconnects
after a hub restart still replays what it missed. No foreign keys: the platform may publish to
a company before anyone provisions it, and trimming must never wait on another table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)


def _at(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    """Create the three stream tables."""
    op.create_table(
        "stream_heads",
        sa.Column("company_id", ID, nullable=False),
        sa.Column("epoch", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_stream_heads")),
    )
    op.create_table(
        "stream_events",
        sa.Column("company_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("namespace", sa.String(32), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("branch_id", ID, nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("company_id", "seq", name=op.f("pk_stream_events")),
    )
    op.create_index(op.f("ix_stream_events_created_at"), "stream_events", ["created_at"])
    op.create_table(
        "stream_event_ids",
        sa.Column("company_id", ID, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("company_id", "event_id", name=op.f("pk_stream_event_ids")),
    )
    op.create_index(op.f("ix_stream_event_ids_created_at"), "stream_event_ids", ["created_at"])


def downgrade() -> None:
    """Drop the stream tables (their indexes go with them)."""
    for table in ("stream_event_ids", "stream_events", "stream_heads"):
        op.drop_table(table)

"""Printer settings: what managers set per printer (name, profile, paper width, channel, text mode).

Revision ID: 0009_printer_settings
Revises: 0008_sent_to_printer
Create Date: 2026-12-01

One nullable JSON column on ``printers`` (the PrinterSettings wire dict, null: none set);
nothing existing changes, so it runs the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_printer_settings"
down_revision: str | None = "0008_sent_to_printer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``printers.settings``."""
    with op.batch_alter_table("printers") as batch:
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop ``printers.settings``."""
    with op.batch_alter_table("printers") as batch:
        batch.drop_column("settings")

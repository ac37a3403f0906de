"""Agent updates: versions promoted per ring, rings per company and agent, update steps.

Revision ID: 0007_releases
Revises: 0006_enrollment
Create Date: 2026-12-01

New tables only, so it runs the same on SQLite and PostgreSQL and downgrades by dropping them.
The builds themselves and their TUF metadata are files (hub.releases), not rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007_releases"
down_revision: str | None = "0006_enrollment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
NAME = sa.String(200)
STATE = sa.String(32)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str) -> sa.Column[datetime]:
    """A timezone-aware timestamp column."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _fk(column: str, target: str, table: str) -> sa.ForeignKeyConstraint:
    """A named single-column foreign key ``table.column -> target``."""
    ref_table = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{ref_table}")
    )


def upgrade() -> None:
    """Create the update tables."""
    op.create_table(
        "update_ring_versions",
        sa.Column("ring", STATE, nullable=False),
        sa.Column("version", NAME, nullable=False),
        sa.Column("promoted_by", NAME, nullable=False),
        _at("promoted_at"),
        sa.PrimaryKeyConstraint("ring", name=op.f("pk_update_ring_versions")),
    )
    op.create_table(
        "company_update_rings",
        sa.Column("company_id", ID, nullable=False),
        sa.Column("ring", STATE, nullable=False),
        _fk("company_id", "companies.id", "company_update_rings"),
        sa.PrimaryKeyConstraint("company_id", name=op.f("pk_company_update_rings")),
    )
    op.create_table(
        "agent_update_rings",
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("ring", STATE, nullable=False),
        _fk("agent_id", "agents.id", "agent_update_rings"),
        _fk("company_id", "companies.id", "agent_update_rings"),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agent_update_rings")),
    )
    op.create_index(op.f("ix_agent_update_rings_company_id"), "agent_update_rings", ["company_id"])
    op.create_table(
        "agent_update_events",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("step", STATE, nullable=False),
        sa.Column("version", NAME, nullable=False),
        sa.Column("from_version", NAME, nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        _at("at"),
        _fk("agent_id", "agents.id", "agent_update_events"),
        _fk("company_id", "companies.id", "agent_update_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_update_events")),
    )
    op.create_index(
        op.f("ix_agent_update_events_agent_id_id"), "agent_update_events", ["agent_id", "id"]
    )


def downgrade() -> None:
    """Drop them (back to 0003_tickets)."""
    for table in (
        "agent_update_events",
        "agent_update_rings",
        "company_update_rings",
        "update_ring_versions",
    ):
        op.drop_table(table)

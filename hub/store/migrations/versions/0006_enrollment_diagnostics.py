"""Enrolment codes for mass roll-out, and diagnostics bundles agents upload (issue 13).

Revision ID: 0006_enrollment
Revises: 0003_tickets
Create Date: 2026-12-01

New tables only, the same on SQLite and PostgreSQL; downgrade drops them. Types are spelled
out, as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006_enrollment"
down_revision: str | None = "0003_tickets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
NAME = sa.String(200)


def _at(name: str, nullable: bool = False) -> sa.Column[datetime]:
    """A timezone-aware timestamp column."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, target: str, table: str) -> sa.ForeignKeyConstraint:
    """A named single-column foreign key ``table.column -> target``."""
    ref_table = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{ref_table}")
    )


def _index(table: str, *columns: str) -> None:
    """Create a named, non-unique index."""
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns))


def upgrade() -> None:
    """Create enrollment_codes and agent_diagnostics."""
    op.create_table(
        "enrollment_codes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("created_by", NAME, nullable=False),
        _at("created_at"),
        _at("expires_at"),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        _at("last_used_at", nullable=True),
        _at("revoked_at", nullable=True),
        sa.CheckConstraint("max_uses >= 1", name=op.f("ck_enrollment_codes_max_uses")),
        _fk("company_id", "companies.id", "enrollment_codes"),
        _fk("branch_id", "branches.id", "enrollment_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_enrollment_codes_code_hash")),
    )
    _index("enrollment_codes", "company_id", "created_at")
    op.create_table(
        "agent_diagnostics",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("requested_by", NAME, nullable=False),
        _at("requested_at"),
        _at("completed_at", nullable=True),
        _at("expires_at"),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("bundle", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "state IN ('requested', 'ready', 'failed')", name=op.f("ck_agent_diagnostics_state")
        ),
        _fk("company_id", "companies.id", "agent_diagnostics"),
        _fk("agent_id", "agents.id", "agent_diagnostics"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_diagnostics")),
    )
    _index("agent_diagnostics", "company_id", "agent_id", "requested_at")
    _index("agent_diagnostics", "expires_at")


def downgrade() -> None:
    """Drop them (back to 0003_tickets)."""
    op.drop_table("agent_diagnostics")
    op.drop_table("enrollment_codes")

"""Initial schema: tenants, users, agents, printers, tests, print jobs, pairing, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Written to run unchanged on SQLite and PostgreSQL. Types are spelled out here rather than
imported from hub.store.models, so this revision keeps meaning what it meant when it shipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
PRINTER_ID = sa.String(200)
NAME = sa.String(200)
STATE = sa.String(32)
CODE = sa.String(64)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JOB_STATES = "'queued', 'sent', 'printing', 'printed', 'failed', 'expired'"


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


def _tenants() -> None:
    op.create_table(
        "companies",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
    )
    op.create_table(
        "branches",
        sa.Column("id", ID, nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        _at("created_at"),
        _fk("company_id", "companies.id", "branches"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branches")),
    )
    _index("branches", "company_id")


def _users() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("branch_id", ID, nullable=True),
        sa.Column("username", NAME, nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _at("created_at"),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'manager', 'staff')", name=op.f("ck_users_role")),
        _fk("company_id", "companies.id", "users"),
        _fk("branch_id", "branches.id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    _index("users", "company_id")


def _agents() -> None:
    op.create_table(
        "agents",
        sa.Column("id", ID, nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("hostname", NAME, nullable=True),
        sa.Column("os", NAME, nullable=True),
        sa.Column("version", NAME, nullable=True),
        _at("created_at"),
        _at("last_seen", nullable=True),
        _at("revoked_at", nullable=True),
        sa.Column("credential_id", ID, nullable=False),
        _fk("company_id", "companies.id", "agents"),
        _fk("branch_id", "branches.id", "agents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_agents_credential_id")),
    )
    _index("agents", "company_id", "branch_id")


def _printers() -> None:
    op.create_table(
        "printers",
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("printer_id", PRINTER_ID, nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("connection", sa.String(16), nullable=False),
        sa.Column("info", sa.JSON(), nullable=False),
        sa.Column("last_state", STATE, nullable=True),
        sa.Column("last_status", sa.JSON(), nullable=True),
        _at("last_seen", nullable=True),
        _at("removed_at", nullable=True),
        _fk("agent_id", "agents.id", "printers"),
        _fk("company_id", "companies.id", "printers"),
        _fk("branch_id", "branches.id", "printers"),
        sa.PrimaryKeyConstraint("agent_id", "printer_id", name=op.f("pk_printers")),
    )
    _index("printers", "company_id", "branch_id")
    _index("printers", "company_id", "printer_id")
    op.create_table(
        "printer_status_history",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("agent_id", ID, nullable=False),
        sa.Column("printer_id", PRINTER_ID, nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("status", sa.JSON(), nullable=False),
        _at("at"),
        sa.ForeignKeyConstraint(
            ["agent_id", "printer_id"],
            ["printers.agent_id", "printers.printer_id"],
            name=op.f("fk_printer_status_history_agent_id_printer_id_printers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_printer_status_history")),
    )
    _index("printer_status_history", "company_id", "printer_id", "id")


def _test_results() -> None:
    op.create_table(
        "test_results",
        sa.Column("company_id", ID, nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=False),
        sa.Column("printer_id", PRINTER_ID, nullable=False),
        sa.Column("agent_id", ID, nullable=True),
        sa.Column("success", sa.Boolean(), nullable=True),
        sa.Column("status", sa.JSON(), nullable=True),
        sa.Column("error_code", CODE, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("requested_by", NAME, nullable=True),
        _at("requested_at", nullable=True),
        _at("completed_at", nullable=True),
        _fk("company_id", "companies.id", "test_results"),
        sa.PrimaryKeyConstraint("company_id", "correlation_id", name=op.f("pk_test_results")),
    )


def _print_jobs() -> None:
    op.create_table(
        "print_jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("printer_id", PRINTER_ID, nullable=False),
        sa.Column("agent_id", ID, nullable=True),
        sa.Column("correlation_id", sa.String(100), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("error_code", CODE, nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("expires_at"),
        sa.Column("submitted_by", NAME, nullable=True),
        sa.CheckConstraint("kind IN ('raw', 'document')", name=op.f("ck_print_jobs_kind")),
        sa.CheckConstraint(f"state IN ({JOB_STATES})", name=op.f("ck_print_jobs_state")),
        sa.CheckConstraint("copies >= 1", name=op.f("ck_print_jobs_copies")),
        _fk("company_id", "companies.id", "print_jobs"),
        _fk("branch_id", "branches.id", "print_jobs"),
        _fk("agent_id", "agents.id", "print_jobs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_jobs")),
        sa.UniqueConstraint(
            "company_id",
            "idempotency_key",
            name=op.f("uq_print_jobs_company_id_idempotency_key"),
        ),
    )
    _index("print_jobs", "company_id", "created_at")
    _index("print_jobs", "agent_id", "state")
    _index("print_jobs", "company_id", "printer_id", "state")
    _index("print_jobs", "state", "expires_at")
    op.create_table(
        "print_job_events",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("state", STATE, nullable=False),
        _at("at"),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["print_jobs.id"],
            name=op.f("fk_print_job_events_job_id_print_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_print_job_events")),
    )
    _index("print_job_events", "job_id")


def _pairing_and_audit() -> None:
    op.create_table(
        "pairing_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("created_by", NAME, nullable=False),
        _at("created_at"),
        _at("expires_at"),
        _at("used_at", nullable=True),
        sa.Column("agent_id", ID, nullable=True),
        _fk("company_id", "companies.id", "pairing_codes"),
        _fk("branch_id", "branches.id", "pairing_codes"),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_pairing_codes")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("company_id", ID, nullable=True),
        sa.Column("actor", NAME, nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", NAME, nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        _at("at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    _index("audit_log", "company_id", "id")


def upgrade() -> None:
    """Create every table, parents before children."""
    _tenants()
    _users()
    _agents()
    _printers()
    _test_results()
    _print_jobs()
    _pairing_and_audit()


TABLES = (
    "audit_log",
    "pairing_codes",
    "print_job_events",
    "print_jobs",
    "test_results",
    "printer_status_history",
    "printers",
    "agents",
    "users",
    "branches",
    "companies",
)


def downgrade() -> None:
    """Drop every table, children before parents (their indexes go with them)."""
    for table in TABLES:
        op.drop_table(table)

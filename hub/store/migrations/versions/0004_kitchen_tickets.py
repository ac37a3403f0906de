"""Kitchen tickets: stations, routing rules, orders as the kitchen knows them, the ticket log.

Revision ID: 0003_tickets
Revises: 0002
Create Date: 2026-12-05

New tables only; nothing existing changes, so it runs the same on SQLite and PostgreSQL and
downgrades by dropping them. Types are spelled out, as in 0001.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003_tickets"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(128)
PRINTER_ID = sa.String(200)
NAME = sa.String(200)
CODE = sa.String(64)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


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


def _stations() -> None:
    op.create_table(
        "stations",
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("station_id", ID, nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("primary_printer_id", PRINTER_ID, nullable=False),
        sa.Column("backup_printer_id", PRINTER_ID, nullable=True),
        sa.Column("layout", sa.JSON(), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _fk("branch_id", "branches.id", "stations"),
        _fk("company_id", "companies.id", "stations"),
        sa.PrimaryKeyConstraint("branch_id", "station_id", name=op.f("pk_stations")),
    )
    _index("stations", "company_id", "branch_id")
    op.create_table(
        "station_rules",
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("match", sa.String(16), nullable=False),
        sa.Column("value", NAME, nullable=True),
        sa.Column("station_ids", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "match IN ('category', 'tag', 'all')", name=op.f("ck_station_rules_match")
        ),
        _fk("branch_id", "branches.id", "station_rules"),
        _fk("company_id", "companies.id", "station_rules"),
        sa.PrimaryKeyConstraint("branch_id", "position", name=op.f("pk_station_rules")),
    )


def _orders() -> None:
    op.create_table(
        "kitchen_orders",
        sa.Column("company_id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("header", sa.JSON(), nullable=False),
        sa.Column("sent", sa.JSON(), nullable=False),
        _at("cancelled_at", nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _fk("company_id", "companies.id", "kitchen_orders"),
        _fk("branch_id", "branches.id", "kitchen_orders"),
        sa.PrimaryKeyConstraint("company_id", "order_id", name=op.f("pk_kitchen_orders")),
    )
    op.create_table(
        "order_tickets",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("branch_id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("order_version", sa.Integer(), nullable=True),
        sa.Column("station_id", ID, nullable=False),
        sa.Column("station_name", NAME, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("printer_id", PRINTER_ID, nullable=False),
        sa.Column("rerouted_from", PRINTER_ID, nullable=True),
        sa.Column("copy_of", sa.String(36), nullable=True),
        _at("published_at"),
        sa.CheckConstraint(
            "kind IN ('order', 'update', 'void', 'copy')", name=op.f("ck_order_tickets_kind")
        ),
        _fk("job_id", "print_jobs.id", "order_tickets"),
        _fk("company_id", "companies.id", "order_tickets"),
        _fk("branch_id", "branches.id", "order_tickets"),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_order_tickets")),
    )
    _index("order_tickets", "company_id", "order_id")
    _index("order_tickets", "branch_id", "station_id", "published_at")
    op.create_table(
        "order_ticket_notes",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("company_id", ID, nullable=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("order_version", sa.Integer(), nullable=True),
        sa.Column("code", CODE, nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _at("at"),
        _fk("company_id", "companies.id", "order_ticket_notes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_ticket_notes")),
    )
    _index("order_ticket_notes", "company_id", "order_id", "id")


def upgrade() -> None:
    """Create the kitchen ticket tables."""
    _stations()
    _orders()


def downgrade() -> None:
    """Drop them (back to 0002)."""
    for table in ("order_ticket_notes", "order_tickets", "kitchen_orders"):
        op.drop_table(table)
    op.drop_table("station_rules")
    op.drop_table("stations")

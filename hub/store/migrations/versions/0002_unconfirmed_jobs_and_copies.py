"""Print jobs: the ``unconfirmed`` state, and ``copy_of`` linking a reprint to its original.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

On PostgreSQL these are plain ALTERs. SQLite cannot alter a CHECK constraint, so batch mode
rebuilds ``print_jobs``; dropping the old table would cascade-delete every
``print_job_events`` row (foreign keys are on, and PRAGMA foreign_keys cannot change inside
the migration's transaction), so the events are copied aside first and put back after.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "'queued', 'sent', 'printing', 'printed', 'failed', 'expired'"
NEW_STATES = OLD_STATES + ", 'unconfirmed'"
STATE_CHECK = "ck_print_jobs_state"


def _keeping_events(change: Callable[[], None]) -> None:
    """Run ``change`` (which rebuilds print_jobs on SQLite) without losing job events."""
    if op.get_bind().dialect.name != "sqlite":
        change()
        return
    op.execute("CREATE TEMP TABLE _kept_job_events AS SELECT * FROM print_job_events")
    change()
    op.execute("INSERT OR IGNORE INTO print_job_events SELECT * FROM _kept_job_events")
    op.execute("DROP TABLE _kept_job_events")


def _upgrade_jobs() -> None:
    with op.batch_alter_table("print_jobs") as batch:
        batch.add_column(sa.Column("copy_of", sa.String(36), nullable=True))
        batch.create_foreign_key(
            op.f("fk_print_jobs_copy_of_print_jobs"), "print_jobs", ["copy_of"], ["id"]
        )
        batch.create_index(op.f("ix_print_jobs_copy_of"), ["copy_of"])
        batch.drop_constraint(op.f(STATE_CHECK), type_="check")
        batch.create_check_constraint(op.f(STATE_CHECK), sa.text(f"state IN ({NEW_STATES})"))


def _downgrade_jobs() -> None:
    op.execute("UPDATE print_jobs SET state = 'failed' WHERE state = 'unconfirmed'")
    with op.batch_alter_table("print_jobs") as batch:
        batch.drop_constraint(op.f(STATE_CHECK), type_="check")
        batch.create_check_constraint(op.f(STATE_CHECK), sa.text(f"state IN ({OLD_STATES})"))
        batch.drop_index(op.f("ix_print_jobs_copy_of"))
        batch.drop_constraint(op.f("fk_print_jobs_copy_of_print_jobs"), type_="foreignkey")
        batch.drop_column("copy_of")


def upgrade() -> None:
    """Allow ``unconfirmed`` and add ``copy_of``."""
    _keeping_events(_upgrade_jobs)


def downgrade() -> None:
    """Back to revision 0001 (unconfirmed jobs become failed)."""
    _keeping_events(_downgrade_jobs)

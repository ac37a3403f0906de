"""Print jobs: the ``sent_to_printer`` state (a printer without a status channel took the job).

Revision ID: 0008_sent_to_printer
Revises: 0007_releases
Create Date: 2026-12-01

Only the CHECK constraint on ``print_jobs.state`` changes. On SQLite batch mode rebuilds
``print_jobs``, so the job events are copied aside first and put back after, as in 0002.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_sent_to_printer"
down_revision: str | None = "0007_releases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "'queued', 'sent', 'printing', 'printed', 'failed', 'expired', 'unconfirmed'"
NEW_STATES = OLD_STATES + ", 'sent_to_printer'"
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


def _check(states: str) -> Callable[[], None]:
    def change() -> None:
        with op.batch_alter_table("print_jobs") as batch:
            batch.drop_constraint(op.f(STATE_CHECK), type_="check")
            batch.create_check_constraint(op.f(STATE_CHECK), sa.text(f"state IN ({states})"))

    return change


def upgrade() -> None:
    """Allow ``sent_to_printer``."""
    _keeping_events(_check(NEW_STATES))


def downgrade() -> None:
    """Back to 0007_releases: such jobs become ``unconfirmed`` (not known to have printed)."""
    op.execute("UPDATE print_jobs SET state = 'unconfirmed' WHERE state = 'sent_to_printer'")
    _keeping_events(_check(OLD_STATES))

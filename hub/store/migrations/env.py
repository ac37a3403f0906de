"""Alembic environment: migrate on the connection that hub.store.migrate hands over.

The hub never runs Alembic's CLI; see hub.store.migrate. Offline (``--sql``) mode is not
supported: the same migrations run on SQLite and PostgreSQL from code.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from hub.store.models import Base


def run_migrations(connection: Connection) -> None:
    """Configure Alembic on ``connection`` and run the pending revisions."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Entry point Alembic calls when it loads this file."""
    connection = context.config.attributes.get("connection")
    if context.is_offline_mode() or not isinstance(connection, Connection):
        raise RuntimeError("run migrations through hub.store.migrate, with a connection")
    run_migrations(connection)


main()

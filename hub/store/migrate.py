"""Alembic, driven from code: the hub upgrades its database to the newest revision at start.

There is no ``alembic.ini``: :func:`alembic_config` points Alembic at the ``migrations``
directory shipped inside this package, and the (sync) Alembic commands run on an async
connection through ``run_sync``; ``migrations/env.py`` only picks that connection up.
On PostgreSQL a transaction-scoped advisory lock serialises hubs that start together, so
only one of them migrates and the others find the schema already at head.

To write a new revision against a scratch database::

    python -m hub.store.migrate "add a column" sqlite:////tmp/scratch.db
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
#: pg_advisory_xact_lock key: "CHIT" in ASCII.
MIGRATION_LOCK = 0x43484954


def alembic_config() -> Config:
    """An Alembic config for the packaged migrations (``%`` escaped for configparser)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def _upgrade(connection: Connection, revision: str) -> None:
    """Run the Alembic upgrade on ``connection`` (sync; called through run_sync)."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _current(connection: Connection) -> str | None:
    """The revision the database is at, or None before the first migration."""
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` in one transaction (locked on PostgreSQL)."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
        await connection.run_sync(_upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def _autogenerate(connection: Connection, message: str) -> None:
    """Write a new revision file from the difference between the models and the database."""
    config = alembic_config()
    config.attributes["connection"] = connection
    command.revision(config, message, autogenerate=True)


async def make_revision(url: str, message: str) -> None:
    """Upgrade a scratch database at ``url`` to head, then autogenerate a revision against it."""
    from hub.store.db import Database  # the db module imports this one

    db = await Database.connect(url, Path.cwd())
    try:
        async with db.engine.connect() as connection:
            await connection.run_sync(_autogenerate, message)
    finally:
        await db.close()


if __name__ == "__main__":  # pragma: no cover - a developer tool
    asyncio.run(make_revision(sys.argv[2], sys.argv[1]))

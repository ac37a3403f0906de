"""A PostgreSQL database of a test's own (when CHIT_TEST_DATABASE_URL is set), dropped after.

Tests that start hub processes or hubs on a URL must never migrate into the shared test
database's ``public`` schema: what one run leaves there, the next run (or CI) trips over.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("CHIT_TEST_DATABASE_URL")


@asynccontextmanager
async def fresh_database(prefix: str = "chit_test") -> AsyncIterator[str]:
    """The URL of a new, empty database on the test server; dropped when the block ends."""
    assert POSTGRES_URL is not None, "CHIT_TEST_DATABASE_URL is not set"
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_url(POSTGRES_URL).set(drivername="postgresql")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=10)
    await connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()

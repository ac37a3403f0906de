"""Hubs on each database: SQLite always, PostgreSQL too when CHIT_TEST_DATABASE_URL is set.

A PostgreSQL hub gets a login role of its own and a schema named after it, and the role's
``search_path`` is that schema alone (not ``public``, where another run may have left tables),
so the hub's tables and Alembic's version table land there without the hub knowing, and the
test drops both after.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from tests.support import HubHarness

POSTGRES_URL = os.environ.get("CHIT_TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


async def _admin(url: str) -> asyncpg.Connection:
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database,
        timeout=10,
    )


@asynccontextmanager
async def postgres_url() -> AsyncIterator[str]:
    """A database URL whose role sees only a fresh, empty schema of its own."""
    assert POSTGRES_URL is not None
    role = f"t_{secrets.token_hex(6)}"
    admin = await _admin(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN')
        await admin.execute(f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}"')
        await admin.execute(f'ALTER ROLE "{role}" SET search_path = "{role}"')
        yield make_url(POSTGRES_URL).set(username=role, password=None).render_as_string(False)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{role}" CASCADE')
        await admin.execute(f'DROP OWNED BY "{role}"')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


@asynccontextmanager
async def hub_on(backend: str, data_dir: Path, **overrides: Any) -> AsyncIterator[HubHarness]:
    """A running hub whose store is ``backend`` (``"sqlite"`` or ``"postgresql"``)."""
    if backend == "sqlite":
        harness = await HubHarness.start(data_dir, **overrides)
        try:
            yield harness
        finally:
            await harness.stop()
        return
    async with postgres_url() as url:
        harness = await HubHarness.start(data_dir, database_url=url, **overrides)
        try:
            yield harness
        finally:
            await harness.stop()

"""A migrated database per test: SQLite always, PostgreSQL when CHIT_TEST_DATABASE_URL is set.

Each PostgreSQL test gets its own schema (tables and Alembic's version table live in it) and
drops it afterwards, so parallel or repeated runs never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.store import Database
from hub.store.agents import upsert_agent
from hub.store.tenants import ensure_branch

POSTGRES_URL = os.environ.get("CHIT_TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        database = await Database.connect(None, tmp_path)
        yield database
        await database.close()
        return
    schema = f"t_{secrets.token_hex(6)}"
    database = await Database.connect(POSTGRES_URL, tmp_path, schema=schema)
    try:
        yield database
    finally:
        async with database.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await database.close()


@dataclass(frozen=True)
class Tenants:
    """Two companies, a branch each, an agent each."""

    company: str = "acme"
    branch: str = "b1"
    agent: str = "agent-1"
    other_company: str = "globex"
    other_branch: str = "g1"
    other_agent: str = "agent-9"


@pytest.fixture
async def tenants(db: Database) -> Tenants:
    """Seed two tenants with one branch and one agent each."""
    t = Tenants()
    async with db.session() as s:
        await ensure_branch(s, t.branch, t.company, "Main street")
        await ensure_branch(s, t.other_branch, t.other_company)
        await upsert_agent(s, t.agent, t.company, t.branch, "cred-1", hostname="till", now=T0)
        await upsert_agent(s, t.other_agent, t.other_company, t.other_branch, "cred-9", now=T0)
    return t

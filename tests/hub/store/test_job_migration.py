"""Revision 0002 (unconfirmed jobs, reprint links) keeps existing jobs and their history."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.store import async_url, url_for
from hub.store.db import _create_engine, _create_schema
from hub.store.migrate import current_revision, head_revision, upgrade
from tests.hub.store.conftest import BACKENDS, POSTGRES_URL, T0

SEED = [
    "INSERT INTO companies (id, name, created_at) VALUES ('acme', 'Acme', :at)",
    "INSERT INTO branches (id, company_id, name, created_at) VALUES ('b1', 'acme', 'B', :at)",
    "INSERT INTO print_jobs (id, company_id, branch_id, printer_id, correlation_id, kind, body,"
    " copies, state, attempts, created_at, updated_at, expires_at) VALUES ('job-1', 'acme',"
    " 'b1', 'p1', 'c1', 'raw', '{\"raw\": \"AA==\"}', 1, 'printing', 1, :at, :at, :at)",
    "INSERT INTO print_job_events (job_id, state, at) VALUES ('job-1', 'queued', :at)",
    "INSERT INTO print_job_events (job_id, state, at) VALUES ('job-1', 'sent', :at)",
    "INSERT INTO print_job_events (job_id, state, at) VALUES ('job-1', 'printing', :at)",
]


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database of each backend (nothing migrated yet)."""
    if request.param == "sqlite":
        made = _create_engine(async_url(url_for(tmp_path)), None)
        yield made
        await made.dispose()
        return
    assert POSTGRES_URL is not None
    schema = f"m_{secrets.token_hex(6)}"
    made = _create_engine(async_url(POSTGRES_URL), schema)
    await _create_schema(made, schema)
    try:
        yield made
    finally:
        async with made.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await made.dispose()


async def test_0002_keeps_jobs_and_events_and_allows_unconfirmed(engine: AsyncEngine) -> None:
    await upgrade(engine, "0001")
    async with engine.begin() as connection:
        for statement in SEED:
            await connection.execute(text(statement), {"at": T0})
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()
    async with engine.begin() as connection:
        events = await connection.execute(text("SELECT state FROM print_job_events ORDER BY id"))
        assert [row[0] for row in events] == ["queued", "sent", "printing"]
        await connection.execute(text("UPDATE print_jobs SET state = 'unconfirmed'"))
        copy = SEED[2].replace("'job-1'", "'job-2'").replace("'printing'", "'queued'")
        await connection.execute(text(copy), {"at": T0})
        await connection.execute(text("UPDATE print_jobs SET copy_of = 'job-1' WHERE id = 'job-2'"))
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE print_jobs SET state = 'lost'"))
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE print_jobs SET copy_of = 'nope'"))

"""The database handle: URLs, migrations at start, per-connection settings, sessions."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import create_async_engine

from hub.store import Database, async_url, url_for
from hub.store.audit import list_audit, record
from hub.store.migrate import current_revision, head_revision
from hub.store.models import Base
from hub.store.tenants import ensure_company, get_company

POSTGRES_URL = os.environ.get("CHIT_TEST_DATABASE_URL")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/chit", "postgresql+asyncpg://u:***@db:5432/chit"),
        ("postgres://u@db/chit", "postgresql+asyncpg://u@db/chit"),
        ("postgresql+asyncpg://u@db/chit", "postgresql+asyncpg://u@db/chit"),
        ("sqlite:////var/lib/chit/hub.db", "sqlite+aiosqlite:////var/lib/chit/hub.db"),
        ("sqlite+aiosqlite:///hub.db", "sqlite+aiosqlite:///hub.db"),
    ],
)
def test_urls_get_their_async_driver(given: str, expected: str) -> None:
    assert async_url(given).render_as_string(hide_password=True) == expected


@pytest.mark.parametrize("url", ["mysql://u@db/chit", "postgresql+psycopg2://u:secret@db/x"])
def test_other_urls_are_refused_without_leaking_passwords(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported database URL") as caught:
        async_url(url)
    assert "secret" not in str(caught.value)


def test_default_url_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    assert url_for(tmp_path) == f"sqlite+aiosqlite:///{tmp_path}/chit-hub.db"


async def test_connect_creates_the_data_dir_and_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "dir"
    db = await Database.connect(None, data_dir)
    try:
        assert (data_dir / "chit-hub.db").exists()
        assert db.dialect == "sqlite"
    finally:
        await db.close()


async def test_migrations_reach_head_and_restart_is_a_no_op(db: Database, tmp_path: Path) -> None:
    assert await current_revision(db.engine) == head_revision()
    async with db.session() as s:
        await ensure_company(s, "acme", "Acme")
    # A second hub start on the same database: migrations find nothing to do, data survives.
    url = db.engine.url.render_as_string(hide_password=False)
    again = await Database.connect(url, tmp_path, schema=db.schema)
    try:
        assert await current_revision(again.engine) == head_revision()
        async with again.session() as s:
            company = await get_company(s, "acme")
        assert company is not None and company.name == "Acme"
    finally:
        await again.close()


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_match_the_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []


async def test_sqlite_enforces_foreign_keys_and_uses_wal(tmp_path: Path) -> None:
    db = await Database.connect(None, tmp_path)
    try:
        async with db.engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
    finally:
        await db.close()


async def test_a_schema_is_refused_on_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="schema"):
        await Database.connect(None, tmp_path, schema="x")


async def _raise() -> None:
    raise RuntimeError("boom")


async def _write_then(db: Database, company_id: str, then: Callable[[], Awaitable[None]]) -> None:
    """Create a company, then run ``then`` inside the same session."""
    async with db.session() as s:
        await ensure_company(s, company_id)
        await then()


async def test_session_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError):
        await _write_then(db, "lost", _raise)
    async with db.session() as s:
        await ensure_company(s, "kept")
    async with db.session() as s:
        assert await get_company(s, "lost") is None
        assert await get_company(s, "kept") is not None


async def test_a_session_is_bounded_in_time(db: Database) -> None:
    db.session_timeout = 0.05
    with pytest.raises(TimeoutError):
        await _write_then(db, "slow", lambda: asyncio.sleep(1))
    db.session_timeout = 30
    async with db.session() as s:
        assert await get_company(s, "slow") is None


async def test_timestamps_come_back_aware_and_in_utc(db: Database) -> None:
    local = datetime(2025, 6, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with db.session() as s:
        await record(s, "acme", "alice", "login", now=local)
    async with db.session() as s:
        (entry,) = await list_audit(s, "acme")
    assert entry.at == local
    assert entry.at.utcoffset() == timedelta(0)


async def test_naive_timestamps_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with db.session() as s:
            await record(s, "acme", "alice", "login", now=datetime(2025, 1, 1))


@pytest.mark.skipif(POSTGRES_URL is None, reason="needs CHIT_TEST_DATABASE_URL (PostgreSQL)")
async def test_a_pooled_connection_killed_while_idle_is_replaced_unseen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server drops an idle pooled connection (a restart, an idle timeout): the next
    session gets a fresh one, pinged at checkout, and never sees the error. A connection in
    steady use is not pinged at all."""
    schema = f"t_{secrets.token_hex(6)}"
    database = await Database.connect(POSTGRES_URL, tmp_path, schema=schema)
    pings = 0
    real_ping = database.engine.sync_engine.dialect.do_ping

    def counting_ping(dbapi: object) -> bool:
        nonlocal pings
        pings += 1
        return bool(real_ping(dbapi))

    monkeypatch.setattr(database.engine.sync_engine.dialect, "do_ping", counting_ping)
    try:
        for _ in range(5):  # steady use: no ping
            async with database.session() as s:
                pid = (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert pings == 0
        killer = create_async_engine(async_url(POSTGRES_URL))  # the server side, as it were
        async with killer.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await killer.dispose()
        monkeypatch.setattr("hub.store.db.PING_AFTER_IDLE", 0.0)  # as if it sat idle
        async with database.session() as s:
            fresh = (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert fresh != pid and pings >= 1
    finally:
        async with database.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await database.close()


async def test_sqlite_writers_of_one_process_take_turns(tmp_path: Path) -> None:
    db = await Database.connect(None, tmp_path / "turns")
    try:
        held, order = asyncio.Event(), []

        def sent(*args: object) -> None:
            if "BEGIN IMMEDIATE" in str(args[2]):
                order.append("BEGIN IMMEDIATE")

        event.listen(db.engine.sync_engine, "before_cursor_execute", sent)

        async def first() -> None:
            async with db.write_session() as s:
                await ensure_company(s, "turn-a")
                held.set()
                await asyncio.sleep(0.3)  # another writer arrives meanwhile
                order.append("first done")

        async def second() -> None:
            await held.wait()
            async with db.write_session() as s:
                order.append("second in")
                await ensure_company(s, "turn-b")

        await asyncio.wait_for(asyncio.gather(first(), second()), 10)
        # The second writer waited for its turn in the event loop: its BEGIN IMMEDIATE went
        # out only once the first was done (not into SQLite's sleeping busy handler).
        assert order == ["BEGIN IMMEDIATE", "first done", "BEGIN IMMEDIATE", "second in"]
        async with db.session() as s:
            assert await get_company(s, "turn-a") is not None
            assert await get_company(s, "turn-b") is not None
        holding, release = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with db.write_session():
                holding.set()
                await release.wait()

        task = asyncio.create_task(holder())
        await holding.wait()
        db.session_timeout = 0.2
        with pytest.raises(TimeoutError):  # waiting for a turn is bounded like any session
            async with db.write_session():
                pass
        release.set()
        await task
    finally:
        await db.close()

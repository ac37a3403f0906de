"""The database handle: one async SQLAlchemy engine for SQLite and PostgreSQL alike.

SQLite (aiosqlite) lives in the hub's data directory unless a URL is configured; PostgreSQL is
reached through asyncpg. Plain ``sqlite:///`` and ``postgresql://`` URLs are accepted and given
their async driver here, so configuration never names a driver.

Every database call is bounded: connecting, waiting for a pooled connection, each statement
(asyncpg ``command_timeout`` plus the server's ``statement_timeout``; SQLite's busy timeout for
locks) and, as a last resort, each whole session (:meth:`Database.session`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from hub.store.migrate import upgrade

DB_FILE = "chit-hub.db"

#: Seconds. Precedents: libpq's connect_timeout is commonly 10, asyncpg's default is 60.
CONNECT_TIMEOUT = 10.0
#: Seconds to wait for a free pooled connection (SQLAlchemy's default is 30).
POOL_TIMEOUT = 10.0
#: Seconds one statement may run; the hub's queries are all indexed point reads or small writes.
STATEMENT_TIMEOUT = 15.0
#: Seconds SQLite waits on a lock held by another connection before giving up.
SQLITE_BUSY_TIMEOUT = 5.0
#: Seconds a whole session (one unit of work) may take before it is cancelled and rolled back.
SESSION_TIMEOUT = 30.0
#: Seconds a pooled PostgreSQL connection may sit unused before it is pinged at checkout.
PING_AFTER_IDLE = 10.0
#: Seconds to connect and migrate at start (a first migration on a slow disk takes a while).
STARTUP_TIMEOUT = 60.0

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def url_for(data_dir: Path) -> str:
    """The default database URL: a SQLite file in the hub's data directory."""
    return f"sqlite+aiosqlite:///{data_dir / DB_FILE}"


def async_url(url: str) -> URL:
    """``url`` with its async driver (``postgresql://`` -> ``postgresql+asyncpg://`` etc.)."""
    parsed = make_url(url)
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
            "use sqlite:///PATH or postgresql://USER@HOST/DB"
        )
    return parsed.set(drivername=driver)


def _ensure_sqlite_dir(url: URL) -> None:
    """Create the directory of a SQLite file (owner-only, like the rest of the data dir)."""
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Per-connection SQLite settings: enforce foreign keys, WAL, bounded lock waits."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough under WAL, much faster
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
    cursor.close()


def _postgres_connect_args(schema: str | None) -> dict[str, Any]:
    """asyncpg connection arguments: client and server side timeouts, optional search_path."""
    settings = {
        "application_name": "chit-hub",
        "statement_timeout": str(int(STATEMENT_TIMEOUT * 1000)),
        "idle_in_transaction_session_timeout": str(int(SESSION_TIMEOUT * 2 * 1000)),
    }
    if schema is not None:
        settings["search_path"] = schema
    return {
        "timeout": CONNECT_TIMEOUT,
        "command_timeout": STATEMENT_TIMEOUT,
        "server_settings": settings,
    }


@dataclass(frozen=True)
class PoolSettings:
    """How many pooled connections an instance keeps, may add under load, and waits for.

    Settings (``db_pool_size``, ``db_max_overflow``, ``db_pool_timeout``): size them to the
    instance's concurrency; SQLAlchemy's defaults (5 + 10) ran dry in a reconnect storm.
    """

    size: int = 10
    max_overflow: int = 20
    timeout: float = POOL_TIMEOUT


def _create_engine(url: URL, schema: str | None, pool: PoolSettings | None = None) -> AsyncEngine:
    """An engine for ``url`` with the timeouts and per-connection settings of its backend."""
    pool = pool or PoolSettings()
    sizes = {"pool_size": pool.size, "max_overflow": pool.max_overflow}
    if url.get_backend_name() == "sqlite":
        if schema is not None:
            raise ValueError("a schema is only supported on PostgreSQL")
        _ensure_sqlite_dir(url)
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT},
            pool_timeout=pool.timeout,
            **sizes,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    engine = create_async_engine(
        url, connect_args=_postgres_connect_args(schema), pool_timeout=pool.timeout, **sizes
    )
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Ping a pooled connection at checkout only when it sat unused for :data:`PING_AFTER_IDLE`.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout, and asyncpg's ping is three round
    trips (begin, ``;``, rollback): in a reconnect storm most of the hub's database traffic.
    A connection in steady use has just proved itself; one that sat idle is where a server
    restart or an idle timeout leaves a dead one. A failed ping raises ``DisconnectionError``,
    on which the pool discards the connection and checks out another (SQLAlchemy's documented
    custom pessimistic disconnect handling); a connection that dies while in use is invalidated
    by SQLAlchemy when its statement fails, as with pre-ping.
    """
    pool_events = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool_events, "checkin")
    def _returned(_dbapi: Any, record: Any) -> None:
        record.info["chit_idle_since"] = time.monotonic()

    @event.listens_for(pool_events, "checkout")
    def _checked_out(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("chit_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return  # just connected, or in steady use
        try:
            alive = dialect.do_ping(dbapi)
        except Exception as error:  # whatever the driver raises for a dead connection
            raise exc.DisconnectionError(str(error)) from error
        if not alive:
            raise exc.DisconnectionError("the pooled connection did not answer a ping")


try:  # POSIX only: on Windows hubs sharing one SQLite file are not supported anyway
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def _lock_file(data_dir: Path) -> Any:
    """Open the migration lock file and take its exclusive lock (blocking)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / ".migrate.lock").open("a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


@asynccontextmanager
async def _migration_lock(engine: AsyncEngine, data_dir: Path) -> AsyncIterator[None]:
    """Serialise migrations of hubs sharing one SQLite file (PostgreSQL locks in migrate)."""
    if engine.dialect.name != "sqlite" or fcntl is None:
        yield
        return
    handle = await asyncio.to_thread(_lock_file, data_dir)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


class Database:
    """The hub's database: an engine, its session factory and a bound on every session."""

    def __init__(
        self,
        engine: AsyncEngine,
        schema: str | None = None,
        session_timeout: float = SESSION_TIMEOUT,
    ) -> None:
        self.engine = engine
        #: The PostgreSQL schema the hub's tables live in (None: the default search_path).
        self.schema = schema
        self.session_timeout = session_timeout
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        #: SQLite's writers of this process take turns here (see write_session).
        self._write_turn = asyncio.Lock()

    @classmethod
    async def connect(
        cls,
        url: str | None,
        data_dir: Path,
        *,
        schema: str | None = None,
        pool: PoolSettings | None = None,
    ) -> Database:
        """Open the database (SQLite in ``data_dir`` when ``url`` is None) and migrate it."""
        engine = _create_engine(async_url(url or url_for(data_dir)), schema, pool)
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                if schema is not None:
                    await _create_schema(engine, schema)
                async with _migration_lock(engine, data_dir):
                    await upgrade(engine)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, schema)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commits when the block succeeds, rolls back when it raises."""
        async with asyncio.timeout(self.session_timeout), self._sessions() as s, s.begin():
            yield s

    @asynccontextmanager
    async def write_session(self) -> AsyncIterator[AsyncSession]:
        """A transaction that reads and then writes, holding SQLite's write lock from the start.

        Python's sqlite3 opens a *deferred* transaction at a SAVEPOINT or the first write, so a
        unit of work that reads first holds a read snapshot; when another connection commits in
        between, its first write fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT:
        the busy timeout does not apply). ``BEGIN IMMEDIATE`` takes the write lock first, waiting
        for it within the busy timeout. On PostgreSQL this is :meth:`session`.

        On SQLite the writers of this process also take turns on an asyncio lock first: two
        connections that both want the write lock otherwise meet in SQLite's busy handler,
        which sleeps 1 ms, then 2, 5, ... between tries. Measured on printer tests (issue 14:
        the round trip), the next test's request and the last one's stream append met that
        way on nearly every test: 1.4 ms lost in each. The turn is FIFO and bounded by the
        session timeout; a write_session must not open another one inside it.
        """
        if self.dialect != "sqlite":
            async with self.session() as s:
                yield s
            return
        async with asyncio.timeout(self.session_timeout):
            await self._write_turn.acquire()
        try:
            async with self.session() as s:
                await s.execute(text("BEGIN IMMEDIATE"))
                yield s
        finally:
            self._write_turn.release()

    async def close(self) -> None:
        """Close every pooled connection."""
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await self.engine.dispose()


async def _create_schema(engine: AsyncEngine, schema: str) -> None:
    """Create a PostgreSQL schema if missing (the name is validated by _create_engine)."""
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

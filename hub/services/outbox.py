"""The outbox: streamed events kept on this machine's disk while Redis is unreachable.

The publish API answers ``202`` only for an event that is durable: appended to its company's
stream, or written here (a SQLite file in the data directory, ``synchronous=FULL``, so a
commit is on disk). :class:`OutboxedStream` wraps the Redis backend: an append that cannot
reach Redis is written here instead, and while anything is waiting here every later append of
this instance waits here too, behind it, so the instance's events keep their order. A flusher
appends the rows to the stream, oldest first, when Redis is back; each row carries its draft's
nonce (or the publisher's eventId), so a flush retried after a lost reply never appends twice.

Hub processes that share a data directory (``--workers``) share the file; an exclusive file
lock makes one of them flush at a time. When neither Redis nor this file can take an event,
the append raises StreamUnavailable and the API answers ``503`` with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from hub.services.stream_types import Appended, Draft, StreamBackend, StreamUnavailable

try:  # POSIX; elsewhere one process flushes its own file and nobody shares it
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("chit.hub.outbox")

T = TypeVar("T")
OUTBOX_FILE = "outbox.db"
#: Seconds one outbox operation may take (SQLite waits this long on another process's lock).
TIMEOUT = 5.0
BATCH = 100
COUNT = "SELECT count(*) FROM outbox"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " company_id TEXT NOT NULL, event_id TEXT, draft TEXT NOT NULL, created_at REAL NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS outbox_event_id ON outbox (company_id, event_id)"
    " WHERE event_id IS NOT NULL",
)


class OutboxError(Exception):
    """The outbox file cannot be written or read."""


class Outbox:
    """A durable FIFO of drafts in one SQLite file; every call runs on one worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="chit-outbox")
        self._db: sqlite3.Connection | None = None
        self._lock_file: Any = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._with_db, work)
        try:
            return await asyncio.wait_for(future, TIMEOUT)
        except (sqlite3.Error, OSError, TimeoutError) as exc:
            raise OutboxError(f"outbox {self.path}: {exc or type(exc).__name__}") from exc

    def _with_db(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            db = sqlite3.connect(self.path, timeout=TIMEOUT, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a committed row survives a power cut
            for statement in SCHEMA:
                db.execute(statement)
            self._db = db
        try:
            return work(self._db)
        except sqlite3.Error:
            self._db.close()  # open afresh next time (the file may have been repaired)
            self._db = None
            raise

    async def put(self, draft: Draft) -> dict[str, Any] | None:
        """Keep a draft; for an eventId already waiting here, its first answer instead."""

        def put(db: sqlite3.Connection) -> dict[str, Any] | None:
            cursor = db.execute(
                "INSERT OR IGNORE INTO outbox (company_id, event_id, draft, created_at)"
                " VALUES (?, ?, ?, ?)",
                (draft.company_id, draft.event_id, draft.to_json(), time.time()),
            )
            if cursor.rowcount == 1:
                return None
            row = db.execute(
                "SELECT draft FROM outbox WHERE company_id = ? AND event_id = ?",
                (draft.company_id, draft.event_id),
            ).fetchone()
            return queued_answer(Draft.from_json(row[0]))

        return await self._run(put)

    async def count(self) -> int:
        """How many drafts wait."""
        return await self._run(lambda db: int(db.execute(COUNT).fetchone()[0]))

    async def oldest(self, limit: int = BATCH) -> list[tuple[int, Draft]]:
        """The oldest waiting drafts with their row ids."""

        def oldest(db: sqlite3.Connection) -> list[tuple[int, Draft]]:
            rows = db.execute("SELECT id, draft FROM outbox ORDER BY id LIMIT ?", (limit,))
            return [(int(i), Draft.from_json(text)) for i, text in rows.fetchall()]

        return await self._run(oldest)

    async def remove(self, row_id: int) -> None:
        """Forget a draft that is in the stream now."""
        await self._run(lambda db: db.execute("DELETE FROM outbox WHERE id = ?", (row_id,)))

    async def try_lock(self) -> bool:
        """Take the flush lock unless another process holds it."""
        if fcntl is None:
            return True
        return await self._run(lambda _db: self._flock(fcntl.LOCK_EX | fcntl.LOCK_NB))

    async def unlock(self) -> None:
        """Give the flush lock back."""
        if fcntl is not None:
            await self._run(lambda _db: self._flock(fcntl.LOCK_UN))

    def _flock(self, operation: int) -> bool:
        if self._lock_file is None:
            self._lock_file = self.path.with_suffix(".lock").open("a")
        try:
            fcntl.flock(self._lock_file, operation)
        except BlockingIOError:
            return False
        return True

    async def close(self) -> None:
        """Close the file (pending drafts stay on disk for the next start)."""

        def close(db: sqlite3.Connection) -> None:
            db.close()
            self._db = None
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

        with contextlib.suppress(OutboxError):
            await self._run(close)
        self._executor.shutdown(wait=False)


def queued_answer(draft: Draft) -> dict[str, Any]:
    """The answer of a draft that waits in the outbox: no offset yet."""
    return {**draft.answer, "offset": None, "queued": True}


class OutboxedStream:
    """A stream backend whose appends wait in the outbox while the backend is unreachable."""

    def __init__(self, backend: StreamBackend, outbox: Outbox, retry: float = 0.25) -> None:
        self.backend = backend
        self.outbox = outbox
        self.retry = retry
        #: True while drafts of this instance wait: later appends queue behind them.
        self.backlog = False
        self._wake = asyncio.Event()

    async def resume(self) -> None:
        """At start: drafts left by a previous run go first (later appends queue behind them)."""
        try:
            self.backlog = await self.outbox.count() > 0
        except OutboxError as exc:
            log.error("outbox unreadable at start", extra={"error": str(exc)})
        if self.backlog:
            log.warning("events left in the outbox; flushing them first")
            self._wake.set()

    async def append(self, draft: Draft) -> Appended:
        """Append to the stream, or keep the draft in the outbox; StreamUnavailable if neither."""
        self.backend.validate(draft)  # what the stream would refuse is never queued
        if not self.backlog:
            try:
                return await self.backend.append(draft)
            except StreamUnavailable as exc:
                log.warning("stream unreachable; to the outbox", extra={"error": str(exc)})
        try:
            first = await self.outbox.put(draft)
        except OutboxError as exc:
            log.error("outbox unwritable; refusing the event", extra={"error": str(exc)})
            raise StreamUnavailable(f"no stream and no outbox: {exc}") from exc
        self.backlog = True
        self._wake.set()
        return Appended(first_answer=first) if first is not None else Appended(queued=True)

    async def flush(self) -> int:
        """Append waiting drafts in order until none is left; how many went. StreamUnavailable."""
        try:
            if not await self.outbox.try_lock():
                return 0
        except OutboxError as exc:
            raise StreamUnavailable(str(exc)) from exc
        flushed = 0
        try:
            while rows := await self.outbox.oldest():
                for row_id, draft in rows:
                    await self.backend.append(draft)
                    await self.outbox.remove(row_id)
                    flushed += 1
            self.backlog = False
        except OutboxError as exc:
            raise StreamUnavailable(str(exc)) from exc
        finally:
            with contextlib.suppress(OutboxError):
                await self.outbox.unlock()
        if flushed:
            log.info("outbox flushed to the stream", extra={"count": flushed})
        return flushed

    async def flush_forever(self, poll: float = 1.0) -> None:
        """Flush when woken (or every ``poll`` seconds, for rows left by a restart or a peer)."""
        delay = self.retry
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll if not self.backlog else delay)
            self._wake.clear()
            try:
                await self.flush()
                delay = self.retry
            except StreamUnavailable as exc:
                log.debug("outbox flush postponed", extra={"error": str(exc)})
                delay = min(2.0, delay * 2)

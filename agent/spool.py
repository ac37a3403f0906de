"""The agent's durable job queue and test results: SQLite in the agent's data directory.

A job is stored the moment it arrives, before it is acknowledged, and its job id is the
primary key: a redelivered job is recognised and never printed twice; its known outcome is
reported again instead. A job moves ``received -> printing -> printed | failed | expired |
unconfirmed``. ``printing`` is committed right before the bytes go to the printer, so a job
found in ``printing`` after a restart may have printed: it becomes ``unconfirmed`` and is
never printed again by itself (agent.jobs). A job found in ``received`` is resumed.

The outcome stays unreported (``reported = 0``) until the hub acknowledges it, so a result
produced while the hub was unreachable is sent after the next connect. Printer test results
are kept the same way, by correlation id: a test the hub asks for again is answered from here
(never printed twice, even across restarts), and an unreported result is re-sent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from shared.events import PrinterTestResult, PrintJobDispatch

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    printer_id TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_open ON jobs (state, received_at);
CREATE TABLE IF NOT EXISTS test_results (
    correlation_id TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    completed_at REAL NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0
);
"""

OPEN_STATES = ("received", "printing")
DB_TIMEOUT = 10.0


@dataclass(frozen=True)
class SpooledJob:
    """A job as the spool knows it."""

    job: PrintJobDispatch
    state: str
    attempts: int
    error_code: str | None
    error_message: str | None
    reported: bool

    @property
    def job_id(self) -> str:
        """The job's id (the dedupe key)."""
        return self.job.job_id

    @property
    def done(self) -> bool:
        """Whether the job reached an outcome."""
        return self.state not in OPEN_STATES


class Spool:
    """Durable jobs by id."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: Path) -> Spool:
        """Open (creating if needed) the spool database."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = await aiosqlite.connect(path, timeout=DB_TIMEOUT)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.executescript(SCHEMA)
        await db.commit()
        return cls(db)

    async def close(self) -> None:
        """Close the database."""
        await self._db.close()

    async def accept(self, job: PrintJobDispatch) -> tuple[bool, SpooledJob]:
        """Store a job unless its id is known; (is_new, the stored job)."""
        now = time.time()
        cursor = await self._db.execute(
            "INSERT OR IGNORE INTO jobs (job_id, printer_id, correlation_id, payload, state,"
            " received_at, updated_at) VALUES (?, ?, ?, ?, 'received', ?, ?)",
            (job.job_id, job.printer_id, job.correlation_id, json.dumps(job.to_wire()), now, now),
        )
        await self._db.commit()
        stored = await self.get(job.job_id)
        assert stored is not None
        return cursor.rowcount == 1, stored

    async def get(self, job_id: str) -> SpooledJob | None:
        """One job by id."""
        async with self._db.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return _row(row) if row else None

    async def open_jobs(self) -> list[SpooledJob]:
        """Jobs without an outcome, oldest first (resumed after a restart)."""
        return await self._select("state IN ('received', 'printing') ORDER BY received_at")

    async def unreported(self) -> list[SpooledJob]:
        """Finished jobs whose outcome the hub has not acknowledged."""
        return await self._select(
            "reported = 0 AND state NOT IN ('received', 'printing') ORDER BY updated_at"
        )

    async def mark(self, job_id: str, state: str, error: tuple[str, str] | None = None) -> None:
        """Record a state (and the error of a failure); a new outcome is unreported."""
        code, message = error if error else (None, None)
        bump = 1 if state == "printing" else 0
        await self._db.execute(
            "UPDATE jobs SET state = ?, error_code = ?, error_message = ?, updated_at = ?,"
            " attempts = attempts + ?, reported = 0 WHERE job_id = ?",
            (state, code, message, time.time(), bump, job_id),
        )
        await self._db.commit()

    async def mark_reported(self, job_id: str) -> None:
        """The hub acknowledged the job's outcome."""
        await self._db.execute("UPDATE jobs SET reported = 1 WHERE job_id = ?", (job_id,))
        await self._db.commit()

    async def prune(self, older_than_seconds: float = 7 * 86400) -> int:
        """Forget reported outcomes older than a week (ids are kept long enough to dedupe)."""
        cutoff = time.time() - older_than_seconds
        cursor = await self._db.execute(
            "DELETE FROM jobs WHERE reported = 1 AND state NOT IN ('received', 'printing')"
            " AND updated_at < ?",
            (cutoff,),
        )
        tests = await self._db.execute(
            "DELETE FROM test_results WHERE reported = 1 AND completed_at < ?", (cutoff,)
        )
        await self._db.commit()
        return cursor.rowcount + tests.rowcount

    # --- printer test results -------------------------------------------------------------

    async def save_test_result(self, result: PrinterTestResult) -> PrinterTestResult:
        """Keep a test's result (unreported); the first result of a correlation id stands."""
        await self._db.execute(
            "INSERT OR IGNORE INTO test_results (correlation_id, payload, completed_at)"
            " VALUES (?, ?, ?)",
            (result.correlation_id, json.dumps(result.to_wire()), time.time()),
        )
        await self._db.commit()
        stored = await self.test_result(result.correlation_id)
        assert stored is not None
        return stored

    async def test_result(self, correlation_id: str) -> PrinterTestResult | None:
        """The kept result of a test, by correlation id."""
        async with self._db.execute(
            "SELECT payload FROM test_results WHERE correlation_id = ?", (correlation_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return PrinterTestResult.model_validate(json.loads(row[0])) if row else None

    async def unreported_tests(self) -> list[PrinterTestResult]:
        """Test results the hub has not acknowledged, oldest first."""
        async with self._db.execute(
            "SELECT payload FROM test_results WHERE reported = 0 ORDER BY completed_at"
        ) as cursor:
            rows = await cursor.fetchall()
        return [PrinterTestResult.model_validate(json.loads(row[0])) for row in rows]

    async def mark_test_reported(self, correlation_id: str) -> None:
        """The hub acknowledged a test's result."""
        await self._db.execute(
            "UPDATE test_results SET reported = 1 WHERE correlation_id = ?", (correlation_id,)
        )
        await self._db.commit()

    async def _select(self, where: str) -> list[SpooledJob]:
        async with self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE {where}") as cursor:
            rows = await cursor.fetchall()
        return [_row(r) for r in rows]


_COLUMNS = "payload, state, attempts, error_code, error_message, reported"


def _row(row: Any) -> SpooledJob:
    payload, state, attempts, code, message, reported = row
    return SpooledJob(
        PrintJobDispatch.model_validate(json.loads(payload)),
        state,
        attempts,
        code,
        message,
        bool(reported),
    )

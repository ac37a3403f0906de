"""Printer tests: the request when it is made, the result when the agent reports it.

A (company_id, correlation_id) pair is one test. Recording it twice, or saving its result
twice (an agent retrying after a lost ack), changes nothing: the first result stands. The one
exception is :func:`save_late_result`: the agent's own result, arriving after the hub gave up
waiting, replaces the verdict the hub wrote itself (:data:`HUB_VERDICTS`), because the agent
knows what the printer did and the hub only knew it stopped hearing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store._sql import insert_ignore
from hub.store.columns import utcnow
from hub.store.models import Printer, TestResult
from shared.events import PrinterTestResult

_KEY = ["company_id", "correlation_id"]
#: What a request writes; the result's columns stay empty until it comes.
_REQUEST_COLUMNS = (
    "company_id", "correlation_id", "printer_id", "agent_id", "requested_by", "requested_at",
)  # fmt: skip
#: Error codes of results the hub writes when the agent's answer does not come in time.
HUB_VERDICTS: Final = ("timeout", "instance_lost", "agent_disconnected")
LateOutcome = Literal["filled", "corrected", "kept"]


@dataclass(frozen=True)
class PrinterTestRow:
    """A printer test; ``success`` is None while the result is pending."""

    company_id: str
    correlation_id: str
    printer_id: str
    agent_id: str | None
    success: bool | None
    status: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    duration_ms: int | None
    requested_by: str | None
    requested_at: datetime | None
    completed_at: datetime | None


def _row(row: TestResult) -> PrinterTestRow:
    return PrinterTestRow(
        company_id=row.company_id,
        correlation_id=row.correlation_id,
        printer_id=row.printer_id,
        agent_id=row.agent_id,
        success=row.success,
        status=None if row.status is None else dict(row.status),
        error_code=row.error_code,
        error_message=row.error_message,
        duration_ms=row.duration_ms,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        completed_at=row.completed_at,
    )


async def record_test_request(
    session: AsyncSession,
    company_id: str,
    correlation_id: str,
    printer_id: str,
    agent_id: str | None = None,
    requested_by: str | None = None,
    now: datetime | None = None,
) -> PrinterTestRow:
    """Record that a test was requested (idempotent); returns the test as stored."""
    pending = PrinterTestRow(
        company_id=company_id,
        correlation_id=correlation_id,
        printer_id=printer_id,
        agent_id=agent_id,
        success=None,
        status=None,
        error_code=None,
        error_message=None,
        duration_ms=None,
        requested_by=requested_by,
        requested_at=now or utcnow(),
        completed_at=None,
    )
    values = {k: getattr(pending, k) for k in _REQUEST_COLUMNS}
    if await insert_ignore(session, TestResult, values, _KEY):
        return pending  # new: the row is what was just written
    return _row(await session.get_one(TestResult, (company_id, correlation_id)))


def _result_values(result: PrinterTestResult, now: datetime) -> dict[str, Any]:
    return {
        "printer_id": result.printer_id,
        "agent_id": result.agent_id,
        "success": result.success,
        "status": None if result.status is None else result.status.to_wire(),
        "error_code": None if result.error is None else result.error.code,
        "error_message": None if result.error is None else result.error.message,
        "duration_ms": result.duration_ms,
        "completed_at": result.completed_at or now,
    }


async def save_test_result(
    session: AsyncSession,
    company_id: str,
    result: PrinterTestResult,
    now: datetime | None = None,
) -> PrinterTestRow:
    """Store a test's result once: fills in the pending request, or creates the test."""
    values = _result_values(result, now or utcnow())
    key = (company_id, result.correlation_id)
    filled = await session.execute(
        update(TestResult)
        .where(TestResult.company_id == company_id)
        .where(TestResult.correlation_id == result.correlation_id, TestResult.success.is_(None))
        .values({k: v for k, v in values.items() if k != "printer_id"})  # the request's stands
        .returning(TestResult)  # the usual case, a pending request filled in: one statement
    )
    row = filled.scalars().first()
    if row is not None:
        return _row(row)
    fresh = {"company_id": company_id, "correlation_id": result.correlation_id, **values}
    await insert_ignore(session, TestResult, fresh, _KEY)
    return _row(await session.get_one(TestResult, key, populate_existing=True))


async def get_test_result(
    session: AsyncSession, company_id: str, correlation_id: str
) -> PrinterTestRow | None:
    """The company's test, or None (also for another company's correlation id)."""
    row = await session.get(TestResult, (company_id, correlation_id))
    return None if row is None else _row(row)


async def _update_if(
    session: AsyncSession, company_id: str, agent_id: str, result: PrinterTestResult, when: Any
) -> bool:
    """Write ``result`` over the agent's test when ``when`` holds; True if it did."""
    values = _result_values(result, utcnow())
    outcome = await session.execute(
        update(TestResult)
        .where(TestResult.company_id == company_id)
        .where(TestResult.correlation_id == result.correlation_id)
        .where(TestResult.agent_id == agent_id, when)
        .values({k: v for k, v in values.items() if k != "printer_id"})
    )
    return bool(outcome.rowcount)  # type: ignore[attr-defined]


def _hub_verdict() -> ColumnElement[bool]:
    return and_(TestResult.success.is_(False), TestResult.error_code.in_(HUB_VERDICTS))


async def save_late_result(
    session: AsyncSession, company_id: str, agent_id: str, result: PrinterTestResult
) -> LateOutcome | None:
    """Record an agent's result for its test after the hub stopped waiting.

    ``filled``: the test had no result yet. ``corrected``: it replaced the hub's own verdict.
    ``kept``: a real result already stood. None: the agent has no test with this id.
    """
    if await _update_if(session, company_id, agent_id, result, TestResult.success.is_(None)):
        return "filled"
    if await _update_if(session, company_id, agent_id, result, _hub_verdict()):
        return "corrected"
    row = await session.get(TestResult, (company_id, result.correlation_id))
    return "kept" if row is not None and row.agent_id == agent_id else None


async def recent_tests(
    session: AsyncSession, company_id: str, branch_id: str | None = None, limit: int = 20
) -> list[PrinterTestRow]:
    """The company's (or one branch's) latest tests, newest first, pending ones included."""
    query = select(TestResult).where(TestResult.company_id == company_id)
    if branch_id is not None:
        printers = select(Printer.printer_id).where(
            Printer.company_id == company_id, Printer.branch_id == branch_id
        )
        query = query.where(TestResult.printer_id.in_(printers))
    newest = func.coalesce(TestResult.requested_at, TestResult.completed_at)
    query = query.order_by(newest.desc(), TestResult.correlation_id).limit(limit)
    return [_row(row) for row in (await session.scalars(query)).all()]

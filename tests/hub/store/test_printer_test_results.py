"""Printer test results: idempotent per (company, correlation id), scoped by company."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.store import Database
from hub.store.printer_tests import get_test_result, record_test_request, save_test_result
from shared.events import PrinterTestResult
from shared.printers import PrinterState, PrinterStatus
from shared.wire import ErrorInfo
from tests.hub.store.conftest import T0, Tenants

CID = "c0ffee00-0000-4000-8000-000000000001"
PID = "usb:04b8:0e15:SN1"


def _result(success: bool = True, **extra: Any) -> PrinterTestResult:
    return PrinterTestResult(
        correlation_id=CID,
        printer_id=PID,
        agent_id="agent-1",
        success=success,
        duration_ms=840,
        **extra,
    )


async def test_request_then_result(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        pending = await record_test_request(
            s, tenants.company, CID, PID, requested_by="alice", now=T0
        )
    assert pending.success is None and pending.requested_at == T0
    done_at = T0 + timedelta(seconds=2)
    status = PrinterStatus(state=PrinterState.ONLINE, online=True)
    async with db.session() as s:
        done = await save_test_result(s, tenants.company, _result(status=status), now=done_at)
    assert done.success is True and done.completed_at == done_at
    assert done.requested_by == "alice" and done.duration_ms == 840
    assert done.status == status.to_wire()


async def test_the_first_result_stands(db: Database, tenants: Tenants) -> None:
    error = ErrorInfo(code="printer_offline", message="no reply")
    async with db.session() as s:
        first = await save_test_result(s, tenants.company, _result(False, error=error), now=T0)
        again = await save_test_result(s, tenants.company, _result(True), now=T0)
        await record_test_request(s, tenants.company, CID, PID)  # a late duplicate request
    assert again == first
    assert (first.success, first.error_code, first.error_message) == (
        False,
        *("printer_offline", "no reply"),
    )
    async with db.session() as s:
        assert await get_test_result(s, tenants.company, CID) == first


async def test_results_are_scoped_by_company(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        await save_test_result(s, tenants.company, _result())
    async with db.session() as s:
        assert await get_test_result(s, tenants.other_company, CID) is None
        # The same correlation id in another company is another test.
        other = await save_test_result(s, tenants.other_company, _result(False))
        mine = await get_test_result(s, tenants.company, CID)
    assert other.success is False
    assert mine is not None and mine.success is True

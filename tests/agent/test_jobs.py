"""The agent's job runner on a real spool and a simulated printer: crashes, copies, reports."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.coordinator import PrinterCoordinator
from agent.jobs import JobRunner, delivered
from agent.simulators.network import SimulatedNetworkPrinter
from agent.spool import Spool
from agent.transports import Transport, open_transport
from shared.events import PrinterTestResult, PrintJobDispatch, PrintJobUpdate
from shared.printers import PrinterInfo


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter() as printer:
        yield printer


@pytest.fixture
async def spool(tmp_path: Path) -> AsyncIterator[Spool]:
    opened = await Spool.open(tmp_path / "spool.db")
    yield opened
    await opened.close()


async def _open(info: PrinterInfo, timeout: float) -> Transport:
    return await open_transport(info, timeout=timeout)


class Reports:
    """A reporter that records every update and answers like a hub (or a missing one)."""

    def __init__(self) -> None:
        self.updates: list[PrintJobUpdate] = []
        self.hub_up = True

    async def __call__(self, update: PrintJobUpdate) -> bool:
        self.updates.append(update)
        return self.hub_up

    def states(self, job_id: str) -> list[str]:
        return [u.state for u in self.updates if u.job_id == job_id]


def _runner(spool: Spool, sim: SimulatedNetworkPrinter, reports: Reports) -> JobRunner:
    coordinator = PrinterCoordinator(sim.printer_info(), _open, io_timeout=1.0)
    return JobRunner(spool, {sim.printer_id: coordinator}.get, reports)


def _raw(text: str) -> str:
    return base64.b64encode(b"\x1b@" + text.encode() + b"\n\x1dV\x00").decode()


def _job(sim: SimulatedNetworkPrinter, job_id: str, **body: Any) -> PrintJobDispatch:
    content = body or {"raw": _raw(job_id)}
    wire = {"jobId": job_id, "correlationId": job_id, "printerId": sim.printer_id, **content}
    return PrintJobDispatch.model_validate(wire)


async def _until(check: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_a_job_found_printing_at_start_is_unconfirmed_never_printed_again(
    spool: Spool, sim: SimulatedNetworkPrinter
) -> None:
    job = _job(sim, "job-crashed")
    await spool.accept(job)
    await spool.mark(job.job_id, "printing")  # the agent died after this commit
    reports = Reports()
    runner = _runner(spool, sim, reports)
    await runner.resume()
    assert reports.states("job-crashed") == ["unconfirmed"]
    assert reports.updates[0].error is not None
    assert reports.updates[0].error.code == "agent_interrupted"
    await runner.accept(job)  # the hub redelivers it: the outcome is re-sent, nothing printed
    await asyncio.sleep(0.3)
    await runner.stop()
    assert reports.states("job-crashed") == ["unconfirmed", "unconfirmed"]
    assert sim.count_jobs_containing("job-crashed") == 0
    stored = await spool.get(job.job_id)
    assert stored is not None and (stored.state, stored.reported) == ("unconfirmed", True)


async def test_a_received_job_is_resumed_at_start(
    spool: Spool, sim: SimulatedNetworkPrinter
) -> None:
    await spool.accept(_job(sim, "job-waiting"))
    reports = Reports()
    runner = _runner(spool, sim, reports)
    await runner.resume()
    await _until(lambda: "printed" in reports.states("job-waiting"))
    await runner.stop()
    assert sim.count_jobs_containing("job-waiting") == 1


@pytest.mark.parametrize(
    "body",
    [
        {"raw": _raw("ORDER-7")},
        {"document": {"lines": [{"type": "text", "text": "ORDER-7"}], "cut": True}},
    ],
)
async def test_a_copy_prints_copy_at_its_top(
    spool: Spool, sim: SimulatedNetworkPrinter, body: dict[str, Any]
) -> None:
    reports = Reports()
    runner = _runner(spool, sim, reports)
    await runner.accept(_job(sim, "job-copy", copyOf="job-original", **body))
    await runner.accept(_job(sim, "job-plain", **body))
    await _until(lambda: "printed" in reports.states("job-plain"))
    await runner.stop()
    copy, plain = sim.brain.jobs
    assert b"COPY" in copy and copy.index(b"COPY") < copy.index(b"ORDER-7")
    assert b"COPY" not in plain and b"ORDER-7" in plain


async def test_an_outcome_is_kept_until_the_hub_takes_it(
    spool: Spool, sim: SimulatedNetworkPrinter
) -> None:
    reports = Reports()
    reports.hub_up = False
    runner = _runner(spool, sim, reports)
    await runner.accept(_job(sim, "job-offline"))
    await _until(lambda: "printed" in reports.states("job-offline"))
    assert [s.job_id for s in await spool.unreported()] == ["job-offline"]
    reports.hub_up = True
    await runner.resend_outcomes()
    await runner.stop()
    assert await spool.unreported() == []
    assert sim.count_jobs_containing("job-offline") == 1


async def test_test_results_are_kept_until_reported(spool: Spool) -> None:
    result = PrinterTestResult(
        correlation_id="corr-test-1", printer_id="net:127.0.0.1:9100", success=True, duration_ms=5
    )
    await spool.save_test_result(result)
    later = result.model_copy(update={"success": False})
    assert (await spool.save_test_result(later)).success is True  # the first result stands
    assert [r.correlation_id for r in await spool.unreported_tests()] == ["corr-test-1"]
    await spool.mark_test_reported("corr-test-1")
    assert await spool.unreported_tests() == []
    assert await spool.test_result("corr-test-1") == result


@pytest.mark.parametrize(
    ("ack", "settled"),
    [
        ({"ok": True}, True),
        ({"ok": False, "error": {"code": "job_final"}}, True),
        ({"ok": False, "error": {"code": "unknown_test"}}, True),
        ({"ok": False, "error": {"code": "not_registered"}}, False),
        ({"ok": False}, False),
        (None, False),
        ("ok", False),
    ],
)
def test_which_acks_settle_a_report(ack: Any, settled: bool) -> None:
    assert delivered(ack) is settled

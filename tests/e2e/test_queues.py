"""End to end through OS print queues: a real hub, the real agent, a real cupsd (its own), the
fake Windows spooler, and simulated printers behind them. A test page and a job reach the
printer exactly once; a stopped queue and a cancelled job come back as clear errors."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agent.discovery.queues import queue_printer_id
from agent.simulators import fake_win32print
from agent.simulators.brain import PrinterBrain
from agent.simulators.fake_win32print import FakeSpooler
from agent.simulators.network import SimulatedNetworkPrinter
from shared.tokens import Role
from tests.cupsd import CupsDaemon
from tests.e2e.support import device_token, eventually, fast_settings, hub_agent, running_agent
from tests.support import HubHarness, free_port


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    printer = SimulatedNetworkPrinter(name="Kitchen")
    await printer.start()
    yield printer
    await printer.stop()


@pytest.fixture
def spooler() -> Iterator[FakeSpooler]:
    fake = fake_win32print.install()
    yield fake
    fake_win32print.uninstall()


def _raw(marker: str) -> str:
    return base64.b64encode(b"\x1b@" + marker.encode() + b"\n\x1dV\x00").decode()


async def _test_page(hub: HubHarness, printer_id: str, correlation: str) -> dict[str, Any]:
    status, body = await hub.post(
        f"/api/v1/printers/{printer_id}/test?correlationId={correlation}",
        {},
        token=hub.token(Role.MANAGER, "acme"),
    )
    assert status == 200, body
    result: dict[str, Any] = body["result"]
    return result


async def _job(hub: HubHarness, printer_id: str, marker: str, until: str) -> dict[str, Any]:
    token = hub.token(Role.MANAGER, "acme")
    status, job = await hub.post(
        "/api/v1/jobs", {"printerId": printer_id, "raw": _raw(marker)}, token=token
    )
    assert status == 201, job
    async with asyncio.timeout(30):
        while True:
            status, body = await hub.get(f"/api/v1/jobs/{job['jobId']}", token)
            if body["state"] == until:
                return dict(body)
            await asyncio.sleep(0.1)


async def _agent_has(hub: HubHarness, printer_id: str) -> None:
    record = await eventually(lambda: hub_agent(hub))
    await eventually(lambda: printer_id in record.printers, timeout=15)


async def test_a_test_page_and_a_job_print_once_through_cups(
    hub: HubHarness,
    cupsd: CupsDaemon,
    sim: SimulatedNetworkPrinter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = f"socket://127.0.0.1:{sim.port}"
    await cupsd.add_raw_queue("kitchen", uri, "-D", "Kitchen receipts")
    monkeypatch.setenv("CUPS_SERVER", cupsd.address)
    printer_id = queue_printer_id("cups", "kitchen", uri)
    settings = fast_settings(hub_url=hub.url, queues=True)
    async with running_agent(settings, device_token(hub)) as agent:
        await _agent_has(hub, printer_id)
        snapshot = agent.coordinators[printer_id].snapshot()
        assert snapshot.path == "cups" and snapshot.name == "Kitchen receipts"
        assert snapshot.status is not None and snapshot.status.state == "queue_ready"
        assert snapshot.status.source == "queue" and snapshot.status.online is None
        result = await _test_page(hub, printer_id, "corr-cups-00001")
        assert result["success"] is True, result
        assert result["status"]["source"] == "queue"
        assert sim.count_jobs_containing("corr-cups-00001") == 1
        await _job(hub, printer_id, "CUPS-JOB-1", "printed")
        await asyncio.sleep(0.5)
        assert sim.count_jobs_containing("CUPS-JOB-1") == 1


async def test_a_stopped_queue_is_a_clear_error_and_prints_nothing(
    hub: HubHarness,
    cupsd: CupsDaemon,
    sim: SimulatedNetworkPrinter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = f"socket://127.0.0.1:{sim.port}"
    await cupsd.add_raw_queue("kitchen", uri)
    monkeypatch.setenv("CUPS_SERVER", cupsd.address)
    printer_id = queue_printer_id("cups", "kitchen", uri)
    async with running_agent(fast_settings(hub_url=hub.url, queues=True), device_token(hub)):
        await _agent_has(hub, printer_id)
        await cupsd.tool("cupsdisable", "kitchen")
        result = await _test_page(hub, printer_id, "corr-cups-00002")
        assert result["success"] is False
        assert result["error"]["code"] == "printer_offline"
        assert result["error"]["message"].startswith("the print queue 'kitchen' is stopped")
        assert "cupsenable kitchen" in result["error"]["message"]
        assert result["status"]["source"] == "queue"
        await asyncio.sleep(0.5)
        assert sim.printed == b""


async def test_a_job_cancelled_in_the_queue_fails_with_a_clear_error(
    hub: HubHarness, cupsd: CupsDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"socket://127.0.0.1:{free_port()}"  # nobody listens: the job stays processing
    await cupsd.add_raw_queue("nowhere", uri)
    monkeypatch.setenv("CUPS_SERVER", cupsd.address)
    printer_id = queue_printer_id("cups", "nowhere", uri)
    async with running_agent(fast_settings(hub_url=hub.url, queues=True), device_token(hub)):
        await _agent_has(hub, printer_id)
        token = hub.token(Role.MANAGER, "acme")
        status, job = await hub.post(
            "/api/v1/jobs", {"printerId": printer_id, "raw": _raw("CANCELLED")}, token=token
        )
        assert status == 201
        jobs_text = ""
        async with asyncio.timeout(20):
            while "nowhere-" not in (jobs_text := await cupsd.tool("lpstat", "-o", "nowhere")):
                await asyncio.sleep(0.1)
        await cupsd.tool("cancel", jobs_text.split()[0])
        async with asyncio.timeout(30):
            while True:
                _, body = await hub.get(f"/api/v1/jobs/{job['jobId']}", token)
                if body["state"] == "failed":
                    break
                await asyncio.sleep(0.1)
        assert body["error"]["code"] == "job_cancelled"
        assert "was cancelled in the print queue 'nowhere'" in body["error"]["message"]


async def test_a_test_page_and_a_job_print_once_through_the_windows_spooler(
    hub: HubHarness, spooler: FakeSpooler
) -> None:
    brain = PrinterBrain()
    spooler.add_printer("Bar Receipt", "nul", driver="Generic / Text Only", brain=brain)
    printer_id = queue_printer_id("windows", "Bar Receipt", "nul")
    async with running_agent(fast_settings(hub_url=hub.url, queues=True), device_token(hub)):
        await _agent_has(hub, printer_id)
        result = await _test_page(hub, printer_id, "corr-win-000001")
        assert result["success"] is True, result
        assert result["status"]["state"] == "queue_ready"
        assert brain.count_jobs_containing("corr-win-000001") == 1
        await _job(hub, printer_id, "WIN-JOB-1", "printed")
        assert brain.count_jobs_containing("WIN-JOB-1") == 1
        spooler.pause("Bar Receipt")
        paused = await _test_page(hub, printer_id, "corr-win-000002")
        assert paused["success"] is False and "paused" in paused["error"]["message"]
        assert brain.count_jobs_containing("corr-win-000002") == 0

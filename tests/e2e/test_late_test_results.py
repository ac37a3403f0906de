"""A test page printed while the hub was not listening is recorded as printed, not failed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent.service import Agent
from agent.simulators.network import SimulatedNetworkPrinter
from shared.events import PrinterTestRequest, PrinterTestResult
from shared.tokens import Role, mint
from tests.e2e.support import (
    device_token,
    eventually,
    fast_settings,
    hub_agent,
    manual,
    running_agent,
)
from tests.e2e.test_jobs_durability import HubProcess
from tests.support import SECRET, HubHarness, free_port

NS = "/printing-ws"


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter(name="Bar") as printer:
        yield printer


def _hook(agent: Agent, before: Any) -> None:
    """Run ``before(request)`` when the agent starts a test the hub asked for."""
    run = agent._run_test

    async def hooked(request: PrinterTestRequest) -> PrinterTestResult:
        await before(request)
        return await run(request)

    agent._run_test = hooked  # type: ignore[method-assign]


async def test_a_result_lost_with_the_link_is_recorded_after_the_reconnect(
    hub: HubHarness, tmp_path: Path, sim: SimulatedNetworkPrinter
) -> None:
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(sim),))
    manager = hub.token(Role.MANAGER, "acme")
    watcher = await hub.connect(manager, [NS])
    async with running_agent(settings, device_token(hub), spool_path=tmp_path / "s.db") as agent:
        record = await eventually(lambda: hub_agent(hub), timeout=20)
        await eventually(lambda: sim.printer_id in record.printers)

        async def drop_the_link(request: PrinterTestRequest) -> None:
            online = hub_agent(hub)
            assert online is not None and online.sid is not None
            await hub.ctx.sio.disconnect(online.sid, namespace=NS)
            assert agent.link is not None
            await eventually(lambda: not agent.link.connected)  # type: ignore[union-attr]

        _hook(agent, drop_the_link)
        corr = "corr-link-dropped-1"
        status, body = await hub.post(
            f"/api/v1/printers/{sim.printer_id}/test?correlationId={corr}", {}, token=manager
        )
        assert status == 200 and body["result"]["error"]["code"] == "agent_disconnected"
        results = await watcher.wait_for(NS, "printer:test:result", count=2, timeout=15)
        assert [r["success"] for r in results] == [False, True]
        status, stored = await hub.get(f"/api/v1/tests/{corr}", manager)
        assert (status, stored["success"]) == (200, True)
    assert sim.count_jobs_containing(corr) == 1


async def test_a_test_in_flight_when_the_hub_dies_is_recorded_after_its_restart(
    tmp_path: Path, sim: SimulatedNetworkPrinter
) -> None:
    hub = HubProcess(tmp_path / "hub", free_port())
    await hub.start()
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(sim),))
    token = mint(SECRET, sub="agent-e2e", role=Role.DESKTOP_APP, company_id="acme", branch_id="b1")
    corr = "corr-hub-killed-1"
    try:
        async with running_agent(settings, token, spool_path=tmp_path / "s.db") as agent:
            async with asyncio.timeout(20):
                while (await hub.request("GET", "/api/v1/printers"))[1]["printers"] == []:
                    await asyncio.sleep(0.1)
            entered, release = asyncio.Event(), asyncio.Event()

            async def hold(request: PrinterTestRequest) -> None:
                entered.set()
                await release.wait()

            _hook(agent, hold)
            path = f"/api/v1/printers/{sim.printer_id}/test?correlationId={corr}"
            requester = asyncio.create_task(hub.request("POST", path, {}))
            await asyncio.wait_for(entered.wait(), 10)
            await hub.kill()
            with contextlib.suppress(aiohttp.ClientError):
                await requester
            release.set()  # the page prints while no hub listens
            await eventually(lambda: sim.count_jobs_containing(corr) == 1)
            await hub.start()
            async with asyncio.timeout(20):
                while (await hub.request("GET", f"/api/v1/tests/{corr}"))[0] != 200:
                    await asyncio.sleep(0.2)
            _, stored = await hub.request("GET", f"/api/v1/tests/{corr}")
            assert stored["success"] is True
        assert sim.count_jobs_containing(corr) == 1
    finally:
        if hub.proc and hub.proc.returncode is None:
            await hub.kill()


async def test_a_test_asked_for_again_after_an_agent_restart_prints_once(
    tmp_path: Path, sim: SimulatedNetworkPrinter
) -> None:
    settings = fast_settings(manual_printers=(manual(sim),))  # no hub: the spool alone decides
    spool = tmp_path / "spool.db"
    request = {"correlationId": "corr-asked-twice", "printerId": sim.printer_id}
    for _ in range(2):
        async with running_agent(settings, lambda: None, spool_path=spool) as agent:
            await eventually(lambda: sim.printer_id in agent.coordinators)
            await agent._on_printer_test(request)
    assert sim.count_jobs_containing("corr-asked-twice") == 1

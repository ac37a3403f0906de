"""The instance holding the agent dies with a test in flight: the requester hears
``instance_lost``, the agent prints anyway, and its re-sent result is what every instance shows."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.simulators.network import SimulatedNetworkPrinter
from shared.events import PrinterTestRequest, PrinterTestResult
from shared.tokens import Role
from tests.cluster.support import Cluster
from tests.e2e.support import eventually, fast_settings, manual, running_agent

CORR = "corr-cluster-late-1"


async def test_a_result_after_instance_lost_is_recorded_on_every_instance(
    cluster: Cluster, tmp_path: Path
) -> None:
    manager = cluster.token(Role.MANAGER, "acme")
    async with SimulatedNetworkPrinter() as sim:
        token = cluster.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-late")
        urls = ",".join(h.url for h in (cluster.hubs[1], cluster.hubs[2]))
        settings = fast_settings(
            hub_url=urls, manual_printers=(manual(sim),), agent_id="agent-late"
        )
        async with running_agent(settings, token, spool_path=tmp_path / "spool.db") as agent:

            async def listed() -> bool:
                _, body = await cluster.request(cluster.hubs[0], "GET", "/api/v1/printers", manager)
                return any(p["agentOnline"] for p in body["printers"])

            async with asyncio.timeout(15):
                while not await listed():
                    await asyncio.sleep(0.1)
            entered, release = asyncio.Event(), asyncio.Event()
            run = agent._run_test

            async def held(request: PrinterTestRequest) -> PrinterTestResult:
                entered.set()
                await release.wait()
                return await run(request)

            agent._run_test = held  # type: ignore[method-assign]
            path = f"/api/v1/printers/{sim.printer_id}/test?correlationId={CORR}"
            pending = asyncio.ensure_future(cluster.request(cluster.hubs[0], "POST", path, manager))
            await asyncio.wait_for(entered.wait(), 10)
            cluster.hubs[1].kill()
            status, body = await pending
            assert status == 200
            assert body["result"]["error"]["code"] in ("instance_lost", "timeout")
            release.set()  # the page prints; its result has nowhere to go until the reconnect
            await eventually(lambda: sim.count_jobs_containing(CORR) == 1)

            async def recorded(index: int) -> bool:
                hub = cluster.hubs[index]
                status, body = await cluster.request(hub, "GET", f"/api/v1/tests/{CORR}", manager)
                return status == 200 and body["success"] is True

            async with asyncio.timeout(20):
                while not (await recorded(0) and await recorded(2)):
                    await asyncio.sleep(0.2)
        assert sim.count_jobs_containing(CORR) == 1

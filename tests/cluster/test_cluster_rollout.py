"""Enrolment and diagnostics across hub instances: any instance answers for every agent."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent.simulators.network import SimulatedNetworkPrinter
from shared.tokens import Role
from tests.cluster.support import Cluster
from tests.e2e.support import fast_settings, manual, running_agent


async def test_diagnostics_asked_on_one_instance_come_from_an_agent_on_another(
    cluster: Cluster, tmp_path: Path
) -> None:
    cluster.provision("acme", "b1")
    manager = cluster.token(Role.MANAGER, "acme")
    # Enrol on instance 2; the code is in the shared database, so any instance honours it.
    body = {"branchId": "b1", "maxUses": 1, "expiresIn": 600}
    status, issued = await cluster.request(
        cluster.hubs[0], "POST", "/api/v1/enrollment-codes", manager, body
    )
    assert status == 201, issued
    redeem = {"code": issued["code"], "agentId": "agent-r"}
    status, enrolled = await cluster.request(
        cluster.hubs[2], "POST", "/api/v1/enrollment/redeem", None, redeem
    )
    assert status == 200, enrolled
    async with SimulatedNetworkPrinter() as sim:
        settings = fast_settings(
            hub_url=cluster.hubs[1].url, manual_printers=(manual(sim),), agent_id="agent-r"
        )
        async with running_agent(settings, enrolled["token"], spool_path=tmp_path / "s.db"):

            async def ask() -> Any:
                return await cluster.request(
                    cluster.hubs[0], "POST", "/api/v1/agents/agent-r/diagnostics", manager
                )

            async with asyncio.timeout(20):
                while (answer := await ask())[0] != 202:
                    await asyncio.sleep(0.2)
            diagnostics_id = answer[1]["diagnosticsId"]
            async with asyncio.timeout(30):
                while True:
                    _, found = await cluster.request(
                        cluster.hubs[2], "GET", f"/api/v1/diagnostics/{diagnostics_id}", manager
                    )
                    if found["state"] != "requested":
                        break
                    await asyncio.sleep(0.2)
    assert found["state"] == "ready", found
    status, download = await cluster.request(
        cluster.hubs[2], "GET", f"/api/v1/diagnostics/{diagnostics_id}/bundle", manager
    )
    assert status == 200 and download["bundle"]["agentId"] == "agent-r"
    assert enrolled["token"].rsplit(".", 1)[1] not in str(download)

"""Kitchen tickets through crashes: an agent SIGKILLed mid-ticket, a hub SIGKILLed with tickets.

Real processes are killed (so nothing gets to clean up), and what every simulated printer
actually printed is counted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shared.tokens import Role, mint
from tests.e2e.kitchen import (
    FULL_ORDER,
    Kitchen,
    all_printed,
    kitchen_printers,
    line,
    manual_printers,
    order,
    publish,
    set_up_stations,
    wait_printers,
)
from tests.e2e.support import device_token, fast_settings, running_agent
from tests.e2e.test_jobs_durability import ROOT, HubProcess
from tests.support import SECRET, HubHarness, free_port

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
async def kitchen() -> AsyncIterator[Kitchen]:
    async with kitchen_printers() as printers:
        yield printers


def _agent_env(hub_url: str, token: str, kitchen: Kitchen, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CHIT_AGENT_CONFIG_DIR": str(data / "cfg"),
        "CHIT_AGENT_DATA_DIR": str(data / "data"),
        "CHIT_AGENT_HUB_URL": hub_url,
        "CHIT_AGENT_TOKEN": token,
        "CHIT_AGENT_MANUAL_PRINTERS": ",".join(manual_printers(kitchen)),
        "CHIT_AGENT_MDNS": "false",
        "CHIT_AGENT_USB": "false",
        "CHIT_AGENT_STATUS_INTERVAL": "0.3",
        "CHIT_AGENT_SCAN_INTERVAL": "2",
    }


async def _agent(module: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "run",
        "--headless",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGKILL)
        await process.wait()


async def test_an_agent_killed_between_write_and_commit_leaves_the_ticket_unconfirmed_and_a_reprint_prints_copy(
    hub: HubHarness, kitchen: Kitchen, tmp_path: Path
) -> None:
    env = _agent_env(hub.url, device_token(hub), kitchen, tmp_path)
    agent = await _agent("tests.e2e.crashing_agent", env)
    try:
        await wait_printers(hub, kitchen)
        await set_up_stations(hub, kitchen)
        await publish(hub, "newOrder", order("o-601", 1, [line("l1", "Smash Burger", "burgers")]))
        async with asyncio.timeout(20):
            assert await agent.wait() == -signal.SIGKILL
        assert kitchen["grill"].count_jobs_containing("Smash Burger") == 1  # printed, then killed
        agent = await _agent("agent.cli", env)
        async with asyncio.timeout(20):
            while (await _log(hub, "o-601"))["tickets"][0]["state"] != "unconfirmed":
                await asyncio.sleep(0.1)
        [ticket] = (await _log(hub, "o-601"))["tickets"]
        assert ticket["error"]["code"] == "agent_interrupted"
        await asyncio.sleep(1.0)  # never printed again by itself
        assert kitchen["grill"].count_jobs_containing("Smash Burger") == 1
        staff = hub.token(Role.STAFF, "acme", "b1")
        status, copy = await hub.post(
            f"/api/v1/orders/o-601/tickets/{ticket['ticketId']}/reprint", None, token=staff
        )
        assert status == 201, copy
        assert copy["copyOf"] == ticket["ticketId"]
        await all_printed_copy(hub, "o-601")
        await asyncio.sleep(0.5)
        first, second = [j for j in kitchen.tickets("grill") if b"Smash Burger" in j]
        assert b"COPY" not in first
        assert b"COPY" in second and second.index(b"COPY") < second.index(b"Smash Burger")
        log = await _log(hub, "o-601")
        assert [t["kind"] for t in log["tickets"]] == ["order", "copy"]
        assert log["tickets"][0]["state"] == "unconfirmed"
        assert log["tickets"][0]["reprints"] == [copy["jobId"]]
        assert kitchen.counts() == {"grill": 2, "cold": 0, "bar": 0, "backup": 0}
    finally:
        await _kill(agent)


async def all_printed_copy(hub: HubHarness, order_id: str) -> None:
    async with asyncio.timeout(20):
        while (await _log(hub, order_id))["tickets"][-1]["state"] != "printed":
            await asyncio.sleep(0.1)


async def _log(hub: HubHarness, order_id: str) -> dict[str, Any]:
    status, body = await hub.get(f"/api/v1/orders/{order_id}/tickets", hub.token())
    assert status == 200, body
    return dict(body)


class RemoteHub:
    """What the kitchen helpers need of a hub, for a hub running as its own process."""

    def __init__(self, process: HubProcess) -> None:
        self.process, self.url = process, process.url

    def token(
        self,
        role: Role | str = Role.MANAGER,
        company: str | None = "acme",
        branch: str | None = None,
        sub: str | None = None,
    ) -> str:
        role = Role(role)
        return mint(
            SECRET, sub=sub or f"{role.value}-user", role=role, company_id=company, branch_id=branch
        )

    async def _call(self, method: str, path: str, body: Any, token: str | None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
            http.request(method, self.url + path, json=body, headers=headers) as resp,
        ):
            return resp.status, await resp.json()

    async def post(self, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        return await self._call("POST", path, body, token)

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        return await self._call("GET", path, None, token)

    async def publish(
        self,
        event: str,
        payload: dict[str, Any],
        company: str = "acme",
        branch: str | None = None,
        namespace: str = "/orders",
    ) -> tuple[int, Any]:
        body = {
            "namespace": namespace,
            "event": event,
            "companyId": company,
            "branchId": branch,
            "payload": payload,
        }
        return await self.post("/api/v1/events", body, self.token(Role.SERVICE, None))


async def _printers_ready(hub: RemoteHub, kitchen: Kitchen) -> None:
    wanted = {p.printer_id for p in kitchen.printers.values()}
    async with asyncio.timeout(20):
        while True:
            _, body = await hub.get("/api/v1/printers", hub.token())
            ready = {
                p["printerId"]
                for p in body["printers"]
                if p["agentOnline"] and p.get("status", {}).get("state") == "online"
            }
            if wanted <= ready:
                return
            await asyncio.sleep(0.1)


ORDERS = ("o-701", "o-702", "o-703")


async def test_a_hub_killed_with_tickets_queued_prints_each_once_after_restart(
    kitchen: Kitchen, tmp_path: Path
) -> None:
    process = HubProcess(tmp_path / "hub", free_port())
    hub = RemoteHub(process)
    await process.start()
    token = hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-e2e")
    settings = fast_settings(hub_url=hub.url, manual_printers=manual_printers(kitchen))
    spool = tmp_path / "spool.db"
    try:
        async with running_agent(settings, token, spool_path=spool):
            await _printers_ready(hub, kitchen)
            await set_up_stations(hub, kitchen)  # type: ignore[arg-type]
            for order_id in ORDERS[:2]:
                await publish(hub, "newOrder", order(order_id, 1, FULL_ORDER))  # type: ignore[arg-type]
            await process.kill()  # right after the 202s: tickets queued, held, in flight
        await process.start()
        # The agent is away: this order's tickets wait at the hub, which is killed again.
        await publish(hub, "newOrder", order(ORDERS[2], 1, FULL_ORDER))  # type: ignore[arg-type]
        await process.kill()
        await process.start()
        async with running_agent(settings, token, spool_path=spool):
            for order_id in ORDERS:
                await all_printed(hub, order_id, 3, timeout=40)  # type: ignore[arg-type]
            await asyncio.sleep(1.0)  # a second print of anything would land now
        assert kitchen.counts() == {"grill": 3, "cold": 3, "bar": 3, "backup": 0}
        for name in ORDERS:
            number = f"#N{name[-3:]}".encode()
            assert [
                sum(number in t for t in kitchen.tickets(p)) for p in ("grill", "cold", "bar")
            ] == [1, 1, 1]
    finally:
        if process.proc and process.proc.returncode is None:
            await process.kill()

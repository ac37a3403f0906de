"""Print jobs are never lost and never printed twice: hub SIGKILL, agent SIGKILL, printer faults."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent.simulators.brain import SimState
from agent.simulators.network import SimulatedNetworkPrinter
from shared.tokens import Role, mint
from tests.e2e.support import (
    device_token,
    eventually,
    fast_settings,
    hub_agent,
    manual,
    running_agent,
)
from tests.support import SECRET, HubHarness, free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]


def _raw(marker: str) -> str:
    return base64.b64encode(b"\x1b@" + marker.encode() + b"\n\x1dV\x00").decode()


class HubProcess:
    """A real chit-hub process (so it can be SIGKILLed) on a fixed port and data dir."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {
            **os.environ,
            "CHIT_HUB_DATA_DIR": str(self.data_dir),
            "CHIT_HUB_PORT": str(self.port),
            "CHIT_HUB_JWT_SECRET": SECRET,
            "CHIT_HUB_PRINTER_TEST_TIMEOUT": "3",
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub.cli",
            "serve",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await wait_healthy(self.url)
        await self.provision("acme", "b1")

    async def provision(self, company: str, branch: str) -> None:
        """``chit-hub branch add``, as an operator provisions a branch."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub.cli",
            "branch",
            "add",
            "--data-dir",
            str(self.data_dir),
            "--company",
            company,
            "--branch",
            branch,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
        )
        assert await proc.wait() == 0

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        token = mint(SECRET, sub="mgr", role=Role.MANAGER, company_id="acme")
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
            http.request(
                method, self.url + path, json=body, headers={"Authorization": f"Bearer {token}"}
            ) as resp,
        ):
            return resp.status, await resp.json()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    # Ignores GS I: some tests start it out of paper (no commands processed), keeping one id.
    printer = SimulatedNetworkPrinter(name="Kitchen", identity=None)
    await printer.start()
    yield printer
    await printer.stop()


async def _job_state(get: Any, job_id: str) -> str:
    status, body = await get("GET", f"/api/v1/jobs/{job_id}")
    assert status == 200, body
    return str(body["state"])


async def _wait_state(get: Any, job_id: str, state: str, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while await _job_state(get, job_id) != state:
            await asyncio.sleep(0.1)


async def test_hub_sigkill_with_queued_jobs_loses_nothing(
    tmp_path: Path, sim: SimulatedNetworkPrinter
) -> None:
    hub = HubProcess(tmp_path / "hub", free_port())
    await hub.start()
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(sim),))
    token = mint(SECRET, sub="agent-e2e", role=Role.DESKTOP_APP, company_id="acme", branch_id="b1")
    spool = tmp_path / "spool.db"
    try:
        async with running_agent(settings, token, spool_path=spool):
            async with asyncio.timeout(20):
                while (await hub.request("GET", "/api/v1/printers"))[1]["printers"] == []:
                    await asyncio.sleep(0.1)
        jobs = []
        for n in range(3):
            status, job = await hub.request(
                "POST", "/api/v1/jobs", {"printerId": sim.printer_id, "raw": _raw(f"JOB-{n}")}
            )
            assert status == 201, job
            assert job["state"] == "queued"
            jobs.append(job["jobId"])
        await hub.kill()
        await hub.start()
        async with running_agent(settings, token, spool_path=spool):
            for job_id in jobs:
                await _wait_state(hub.request, job_id, "printed")
        assert [sim.count_jobs_containing(f"JOB-{n}") for n in range(3)] == [1, 1, 1]
    finally:
        if hub.proc and hub.proc.returncode is None:
            await hub.kill()


def _agent_env(hub: HubHarness, sim: SimulatedNetworkPrinter, data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CHIT_AGENT_CONFIG_DIR": str(data / "cfg"),
        "CHIT_AGENT_DATA_DIR": str(data / "data"),
        "CHIT_AGENT_HUB_URL": hub.url,
        "CHIT_AGENT_TOKEN": device_token(hub),
        "CHIT_AGENT_MANUAL_PRINTERS": manual(sim),
        "CHIT_AGENT_MDNS": "false",
        "CHIT_AGENT_USB": "false",
        "CHIT_AGENT_STATUS_INTERVAL": "0.3",
        "CHIT_AGENT_SCAN_INTERVAL": "2",
    }


async def _agent_process(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent.cli",
        "run",
        "--headless",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def test_agent_sigkill_mid_job_prints_once(
    hub: HubHarness, tmp_path: Path, sim: SimulatedNetworkPrinter
) -> None:
    sim.set_state(SimState.PAPER_OUT)
    env = _agent_env(hub, sim, tmp_path)
    agent = await _agent_process(env)
    try:
        record = await eventually(lambda: hub_agent(hub), timeout=20)
        await eventually(lambda: sim.printer_id in record.printers)
        token = hub.token(Role.MANAGER, "acme")
        status, job = await hub.post(
            "/api/v1/jobs", {"printerId": sim.printer_id, "raw": _raw("KILLED-AGENT")}, token=token
        )
        assert status == 201

        async def get(method: str, path: str) -> tuple[int, Any]:
            return await hub.get(path, token)

        await _wait_state(get, job["jobId"], "sent")
        await asyncio.sleep(0.5)  # the agent holds it, waiting for paper
        agent.send_signal(signal.SIGKILL)
        await agent.wait()
        assert sim.count_jobs_containing("KILLED-AGENT") == 0
        sim.set_state(SimState.OK)
        agent = await _agent_process(env)
        await _wait_state(get, job["jobId"], "printed")
        await asyncio.sleep(1.0)  # a second print would land now
        assert sim.count_jobs_containing("KILLED-AGENT") == 1
    finally:
        if agent.returncode is None:
            agent.send_signal(signal.SIGKILL)
            await agent.wait()


@pytest.mark.parametrize("fault", [SimState.PAPER_OUT, SimState.COVER_OPEN, SimState.POWERED_OFF])
async def test_printer_fault_mid_job_prints_once_when_back(
    hub: HubHarness, tmp_path: Path, sim: SimulatedNetworkPrinter, fault: SimState
) -> None:
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(sim),))
    token = hub.token(Role.MANAGER, "acme")

    async def get(method: str, path: str) -> tuple[int, Any]:
        return await hub.get(path, token)

    async with running_agent(settings, device_token(hub), spool_path=tmp_path / "s.db"):
        record = await eventually(lambda: hub_agent(hub))
        await eventually(lambda: sim.printer_id in record.printers)
        sim.set_state(fault)
        status, job = await hub.post(
            "/api/v1/jobs", {"printerId": sim.printer_id, "raw": _raw("FAULTY")}, token=token
        )
        assert status == 201
        await _wait_state(get, job["jobId"], "sent")
        await asyncio.sleep(1.0)
        assert sim.count_jobs_containing("FAULTY") == 0
        sim.set_state(SimState.OK)
        await _wait_state(get, job["jobId"], "printed")
        await asyncio.sleep(0.5)
        assert sim.count_jobs_containing("FAULTY") == 1

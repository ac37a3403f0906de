"""Print jobs exactly once, never stuck: a real hub, a real agent core, simulated printers.

What each simulated printer actually printed is the measure: backlogs larger than a page,
deliveries lost on the way, an agent killed between the write and the spool's commit, and a
printer that fails between the readiness check and the write.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.jobs import JobRunner
from agent.simulators.brain import SimState
from agent.simulators.network import SimulatedNetworkPrinter
from hub.store.jobs import PAGE_SIZE
from shared.events import EventSpec
from shared.tokens import Role
from shared.wire import WireModel
from tests.e2e.support import (
    device_token,
    eventually,
    fast_settings,
    hub_agent,
    manual,
    running_agent,
)
from tests.e2e.test_jobs_durability import ROOT, _agent_env, _raw, _wait_state
from tests.support import HubHarness

BACKLOG = 2 * PAGE_SIZE + 50


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter(name="Pass") as printer:
        yield printer


def _getter(hub: HubHarness) -> Any:
    token = hub.token(Role.MANAGER, "acme")

    async def get(method: str, path: str) -> tuple[int, Any]:
        return await hub.get(path, token)

    return get


async def _submit(hub: HubHarness, printer_id: str, marker: str) -> str:
    status, job = await hub.post(
        "/api/v1/jobs", {"printerId": printer_id, "raw": _raw(marker)}, token=hub.token()
    )
    assert status == 201, job
    return str(job["jobId"])


async def _meet(hub: HubHarness, sim: SimulatedNetworkPrinter) -> None:
    """Until the hub knows the agent online with the printer."""
    record = await eventually(lambda: hub_agent(hub), timeout=20)
    await eventually(lambda: sim.printer_id in record.printers)


async def _printed(hub: HubHarness) -> int:
    _, body = await hub.get("/api/v1/jobs?state=printed&limit=500", hub.token())
    return len(body["jobs"])


async def test_a_backlog_larger_than_a_page_prints_every_job_once(
    tmp_path: Path, sim: SimulatedNetworkPrinter
) -> None:
    # The schedule is out of the way: only delivery on the agent's return can print these.
    hub = await HubHarness.start(tmp_path / "hub", job_redelivery_interval=3600.0)
    try:
        settings = fast_settings(hub_url=hub.url, manual_printers=(manual(sim),))
        spool = tmp_path / "spool.db"
        async with running_agent(settings, device_token(hub), spool_path=spool):
            await _meet(hub, sim)
        await eventually(lambda: hub_agent(hub) is None)
        ids = [await _submit(hub, sim.printer_id, f"BACKLOG-{n:03d}") for n in range(BACKLOG)]
        async with running_agent(settings, device_token(hub), spool_path=spool):
            async with asyncio.timeout(180):
                while await _printed(hub) < len(ids):
                    await asyncio.sleep(0.5)
            await asyncio.sleep(0.5)  # a second print of anything would land now
        counts = [sim.count_jobs_containing(f"BACKLOG-{n:03d}\n") for n in range(BACKLOG)]
        assert counts == [1] * BACKLOG
        assert len(sim.brain.jobs) == BACKLOG
    finally:
        await hub.stop()


async def test_a_lost_delivery_is_sent_again_by_the_schedule(
    tmp_path: Path, sim: SimulatedNetworkPrinter, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = await HubHarness.start(tmp_path / "hub", job_redelivery_interval=0.5)
    try:
        settings = fast_settings(hub_url=hub.url, manual_printers=(manual(sim),))
        async with running_agent(settings, device_token(hub), spool_path=tmp_path / "s.db"):
            await _meet(hub, sim)
            dropped: list[str] = []
            emit = hub.ctx.publisher.to_sid

            async def lossy(spec: EventSpec, payload: WireModel, sid: str) -> None:
                if spec.name == "print:job" and not dropped:
                    dropped.append(getattr(payload, "job_id", ""))
                    return  # lost on the way: the hub believes the job was sent
                await emit(spec, payload, sid)

            monkeypatch.setattr(hub.ctx.publisher, "to_sid", lossy)
            job_id = await _submit(hub, sim.printer_id, "LOST-ONCE")
            await _wait_state(_getter(hub), job_id, "printed", timeout=15)
            await asyncio.sleep(1.5)  # several more schedule ticks: nothing prints again
        assert dropped == [job_id]
        assert sim.count_jobs_containing("LOST-ONCE") == 1
    finally:
        await hub.stop()


async def _agent_process(module: str, env: dict[str, str]) -> asyncio.subprocess.Process:
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


async def test_an_agent_killed_between_write_and_commit_leaves_it_unconfirmed_and_a_reprint_copies(
    hub: HubHarness, tmp_path: Path, sim: SimulatedNetworkPrinter
) -> None:
    env = _agent_env(hub, sim, tmp_path)
    agent = await _agent_process("tests.e2e.crashing_agent", env)
    get = _getter(hub)
    try:
        await _meet(hub, sim)
        job_id = await _submit(hub, sim.printer_id, "CRASH-ME")
        async with asyncio.timeout(20):
            assert await agent.wait() == -signal.SIGKILL
        assert sim.count_jobs_containing("CRASH-ME") == 1  # the printer took it, then the kill
        agent = await _agent_process("agent.cli", env)
        await _wait_state(get, job_id, "unconfirmed")
        _, body = await get("GET", f"/api/v1/jobs/{job_id}")
        assert body["error"]["code"] == "agent_interrupted"
        _, listed = await get("GET", "/api/v1/jobs?state=unconfirmed")
        assert [j["jobId"] for j in listed["jobs"]] == [job_id]
        await asyncio.sleep(1.0)  # a second print would land now
        assert sim.count_jobs_containing("CRASH-ME") == 1
        staff = hub.token(Role.STAFF, "acme", "b1")
        status, copy = await hub.post(f"/api/v1/jobs/{job_id}/reprint", None, token=staff)
        assert status == 201, copy
        await _wait_state(get, copy["jobId"], "printed")
        await asyncio.sleep(0.5)
        first, second = [job for job in sim.brain.jobs if b"CRASH-ME" in job]
        assert b"COPY" not in first
        assert b"COPY" in second and second.index(b"COPY") < second.index(b"CRASH-ME")
        _, original = await get("GET", f"/api/v1/jobs/{job_id}")
        assert (original["state"], original["reprints"]) == ("unconfirmed", [copy["jobId"]])
    finally:
        if agent.returncode is None:
            agent.send_signal(signal.SIGKILL)
            await agent.wait()


@pytest.mark.parametrize(
    ("fault", "code"), [("paper_out", "paper_out"), ("cover_open", "cover_open")]
)
async def test_a_printer_failing_between_check_and_write_leaves_the_job_unconfirmed(
    hub: HubHarness,
    tmp_path: Path,
    sim: SimulatedNetworkPrinter,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
    code: str,
) -> None:
    recorded = JobRunner._printing

    async def then_fault(self: JobRunner, job: Any) -> None:
        await recorded(self, job)
        sim.set_state(SimState(fault))  # after the check said ready, before the bytes arrive

    monkeypatch.setattr(JobRunner, "_printing", then_fault)
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(sim),))
    get = _getter(hub)
    async with running_agent(settings, device_token(hub), spool_path=tmp_path / "s.db"):
        await _meet(hub, sim)
        job_id = await _submit(hub, sim.printer_id, "NOT-READY")
        await _wait_state(get, job_id, "unconfirmed")
        _, body = await get("GET", f"/api/v1/jobs/{job_id}")
        assert body["error"]["code"] == code
        assert "may" in body["error"]["message"]
        sim.set_state(SimState.OK)
        await asyncio.sleep(1.5)  # the printer is fine again: the job is not retried by itself
        assert (await get("GET", f"/api/v1/jobs/{job_id}"))[1]["state"] == "unconfirmed"
    assert sim.count_jobs_containing("NOT-READY") == 0
    assert b"NOT-READY" in sim.brain.rejected

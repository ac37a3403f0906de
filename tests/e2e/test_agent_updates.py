"""Agent updates end to end: a real hub and TUF repository, real agents, on loopback.

1. In process: an update offered while a job prints waits for that print, then switches.
2. As a service would run it: the supervisor starts each version (a new process per start,
   restarted on exit code 75 as systemd's Restart=always does); a good version is applied and
   confirmed, one that never connects is rolled back by itself, and both are reported.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent import __version__
from agent.simulators.network import SimulatedNetworkPrinter
from agent.updates.client import this_platform
from agent.updates.layout import Layout
from hub.releases.repository import Repository
from shared.tokens import Role
from tests.e2e.support import device_token, eventually, fast_settings, running_agent
from tests.support import HubHarness
from tests.updates_support import ROOT, make_build, make_layout, make_repository, release

PLATFORM = this_platform()


class HeldAnswers:
    """A loopback relay before a simulated printer that holds its answers after a marked job.

    The agent's print of that job is under way (written, its status not yet read back) for
    ``hold`` seconds: the window an update must not cut.
    """

    def __init__(self, sim: SimulatedNetworkPrinter, marker: bytes, hold: float) -> None:
        self.sim, self.marker, self.hold = sim, marker, hold
        self.held_until = 0.0
        self.seen = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def manual(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> HeldAnswers:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.wait_for(
            asyncio.open_connection(self.sim.host, self.sim.port), 5
        )
        for pump in (self._up(reader, up_writer), self._down(up_reader, writer)):
            task = asyncio.create_task(pump)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while chunk := await reader.read(4096):
                if self.marker in chunk and not self.seen.is_set():
                    self.held_until = time.monotonic() + self.hold
                    self.seen.set()
                writer.write(chunk)
                await writer.drain()
        writer.close()

    async def _down(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while chunk := await reader.read(4096):
                await asyncio.sleep(max(0.0, self.held_until - time.monotonic()))
                writer.write(chunk)
                await writer.drain()
        writer.close()


async def _promote(hub: HubHarness, ring: str, version: str) -> None:
    status, body = await _put(hub, f"/api/v1/agent-releases/rings/{ring}", {"version": version})
    assert status == 200, body


async def _put(hub: HubHarness, path: str, body: Any) -> tuple[int, Any]:
    import aiohttp

    headers = {"Authorization": f"Bearer {hub.token(Role.OPERATOR, None)}"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.put(hub.url + path, json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def _steps(hub: HubHarness, agent_id: str) -> list[dict[str, Any]]:
    status, body = await hub.get(f"/api/v1/agents/{agent_id}/updates", hub.token(Role.MANAGER))
    if status == 404:
        return []  # not connected yet
    assert status == 200, body
    return list(reversed(body["steps"]))


async def test_an_update_waits_for_the_print_under_way_then_switches(
    hub: HubHarness, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    repo = make_repository(hub.data_dir, keys)
    current = make_build(tmp_path / "dist", __version__)
    newer = "99.0.0"
    release(repo, keys, make_build(tmp_path / "dist", newer), PLATFORM, newer)
    layout = make_layout(tmp_path / "opt", repo, current, __version__)
    # identity=None: the printer keeps its address id (net:HOST:PORT), which the test names.
    async with (
        SimulatedNetworkPrinter(identity=None) as sim,
        HeldAnswers(sim, b"SLOW-JOB", 2.5) as relay,
    ):
        settings = fast_settings(
            hub_url=hub.url,
            manual_printers=(relay.manual,),
            install_root=str(layout.root),
            io_timeout=6.0,
            status_interval=5.0,
        )
        async with running_agent(
            settings, device_token(hub), spool_path=tmp_path / "s.db"
        ) as agent:
            assert agent.updater is not None
            printer_id = f"net:{relay.manual}"
            await eventually(lambda: agent.link and agent.link.registered, timeout=20)
            await eventually(lambda: printer_id in agent.coordinators, timeout=20)
            raw = base64.b64encode(b"\x1b@SLOW-JOB\n").decode()
            status, job = await hub.post(
                "/api/v1/jobs", {"printerId": printer_id, "raw": raw}, token=hub.token()
            )
            assert status == 201, job
            await asyncio.wait_for(relay.seen.wait(), 15)
            await eventually(lambda: agent.jobs is not None and agent.jobs.printing == 1)
            await _promote(hub, "stable", newer)
            await eventually(lambda: agent.exit_code == 75, timeout=20)
        status, detail = await hub.get(f"/api/v1/jobs/{job['jobId']}", hub.token())
        assert detail["state"] == "printed", detail
        assert sim.printed.count(b"SLOW-JOB") == 1  # printed once, never cut off or repeated
    steps = await _steps(hub, "agent-e2e")
    names = [s["step"] for s in steps]
    assert names == ["downloading", "verified", "waiting_for_jobs", "installed"], names
    printed_at = next(e["at"] for e in detail["history"] if e["state"] == "printed")
    installed_at = steps[-1]["at"]
    assert installed_at >= printed_at  # switched only after the print's outcome
    assert layout.current_version() == newer


class ServiceManager:
    """Runs the supervisor like systemd with Restart=always: again after every exit."""

    def __init__(self, layout: Layout, env: dict[str, str]) -> None:
        self.layout, self.env = layout, env
        self.exits: list[int] = []
        self.process: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stopping and len(self.exits) < 10:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "agent.updates.supervisor",
                "--install-root",
                str(self.layout.root),
                "--",
                "run",
                "--headless",
                cwd=ROOT,
                env=self.env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            self.exits.append(await self.process.wait())
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        self._stopping = True
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 40)
            except TimeoutError:
                if self.process is not None and self.process.returncode is None:
                    self.process.kill()
                raise


@pytest.mark.slow
async def test_a_good_update_is_confirmed_and_one_that_never_connects_is_rolled_back(
    hub: HubHarness, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    repo: Repository = make_repository(hub.data_dir, keys)
    builds = {
        "1.0.0": make_build(tmp_path / "dist", "1.0.0"),
        "1.1.0": make_build(tmp_path / "dist", "1.1.0"),
        "1.2.0": make_build(tmp_path / "dist", "1.2.0", "sleeper"),
    }
    for version, archive in builds.items():
        release(repo, keys, archive, PLATFORM, version)
    layout = make_layout(tmp_path / "opt", repo, builds["1.0.0"], "1.0.0")
    await _promote(hub, "stable", "1.1.0")
    env = {
        **os.environ,
        "CHIT_AGENT_CONFIG_DIR": str(tmp_path / "cfg"),
        "CHIT_AGENT_DATA_DIR": str(tmp_path / "data"),
        "CHIT_AGENT_HUB_URL": hub.url,
        "CHIT_AGENT_TOKEN": device_token(hub, "till-7"),
        "CHIT_AGENT_MDNS": "false",
        "CHIT_AGENT_USB": "false",
        "CHIT_AGENT_QUEUES": "false",
        "CHIT_AGENT_UPDATE_CHECK_INTERVAL": "1",
        "CHIT_AGENT_UPDATE_CONFIRM_SECONDS": "10",
    }
    manager = ServiceManager(layout, env)
    manager.start()
    try:

        async def has(step: str, version: str) -> bool:
            return any(
                (s["step"], s["version"]) == (step, version) for s in await _steps(hub, "till-7")
            )

        async def until(step: str, version: str, timeout: float = 60) -> None:
            async with asyncio.timeout(timeout):
                while not await has(step, version):
                    await asyncio.sleep(0.2)

        await until("confirmed", "1.1.0")
        assert layout.current_version() == "1.1.0" and layout.pending() is None
        names = [s["step"] for s in await _steps(hub, "till-7")]
        assert names == ["downloading", "verified", "installed", "confirmed"], names
        status, agents = await hub.get("/api/v1/agents", hub.token())
        assert status == 200
        assert [a["version"] for a in agents["agents"] if a["agentId"] == "till-7"] == ["1.1.0"]

        await _promote(hub, "stable", "1.2.0")  # the agent is told; 1.2.0 never connects
        await until("rolled_back", "1.2.0", timeout=90)
        assert layout.current_version() == "1.1.0"
        assert layout.bad_versions() == {"1.2.0"}
        rolled = [s for s in await _steps(hub, "till-7") if s["step"] == "rolled_back"]
        assert "did not connect" in rolled[0]["detail"]
        await asyncio.sleep(2.5)  # two more scheduled checks: 1.2.0 is not tried again
        assert sum(s["step"] == "installed" for s in await _steps(hub, "till-7")) == 2
        assert manager.exits.count(75) == 3  # 1.0.0 -> 1.1.0, 1.1.0 -> 1.2.0, the rollback
    finally:
        await manager.stop()


async def test_a_hold_that_times_out_lets_prints_go_on(hub: HubHarness, tmp_path: Path) -> None:
    # identity=None: the printer keeps its address id (net:HOST:PORT), which the test names.
    async with (
        SimulatedNetworkPrinter(identity=None) as sim,
        HeldAnswers(sim, b"SLOW-JOB", 2.0) as relay,
    ):
        settings = fast_settings(
            hub_url=hub.url, manual_printers=(relay.manual,), io_timeout=6.0, status_interval=5.0
        )
        async with running_agent(
            settings, device_token(hub), spool_path=tmp_path / "s.db"
        ) as agent:
            printer_id = f"net:{relay.manual}"
            await eventually(lambda: printer_id in agent.coordinators, timeout=20)
            await eventually(lambda: agent.link and agent.link.registered, timeout=20)
            for marker in (b"SLOW-JOB", b"NEXT-JOB"):
                raw = base64.b64encode(b"\x1b@" + marker + b"\n").decode()
                status, _ = await hub.post(
                    "/api/v1/jobs", {"printerId": printer_id, "raw": raw}, token=hub.token()
                )
                assert status == 201
                if marker == b"SLOW-JOB":
                    await asyncio.wait_for(relay.seen.wait(), 15)
                    await eventually(lambda: agent.jobs is not None and agent.jobs.printing == 1)
            assert agent.jobs is not None
            assert await agent.jobs.hold(0.3) is False  # the print under way outlasts it
            await eventually(lambda: b"NEXT-JOB" in sim.printed, timeout=15)
    assert sim.printed.count(b"SLOW-JOB") == 1 and sim.printed.count(b"NEXT-JOB") == 1

"""``chit-agent status``, ``test-print``, ``discover``, ``logs`` through a running agent service.

The service is a real ``chit-agent run --headless`` process on the test's control socket, with
a real hub and a simulated printer on loopback; each command is a separate process too.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent import cli_control
from agent import settings as store
from agent.control.peers import Peer
from agent.control.service import run_service
from agent.service import Agent
from agent.simulators.network import SimulatedNetworkPrinter
from tests.e2e.support import device_token, eventually, fast_settings, hub_agent, manual
from tests.support import HubHarness

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Unix sockets")

AGENT_ID = "agent-cli-ctl"


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A command's environment: its own dirs, the test's control socket, no desktop."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHIT_AGENT_")}
    base.pop("DISPLAY", None)
    base.pop("WAYLAND_DISPLAY", None)
    return {
        **base,
        "CHIT_AGENT_CONFIG_DIR": str(tmp_path / "cli-config"),
        "CHIT_AGENT_DATA_DIR": str(tmp_path / "cli-data"),
        "CHIT_AGENT_LOG_DIR": str(tmp_path / "cli-logs"),
        "CHIT_AGENT_CONTROL_SOCKET": os.environ["CHIT_AGENT_CONTROL_SOCKET"],
        **extra,
    }


async def chit_agent(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """Run ``chit-agent ARGS`` to the end (without blocking the hub's loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agent.cli", *args, env=env(tmp_path),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter(name="Kitchen") as printer:
        yield printer


@pytest.fixture
async def service(
    hub: HubHarness, sim: SimulatedNetworkPrinter, tmp_path: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``chit-agent run --headless`` as the service, paired, knowing the simulator."""
    service_env = env(
        tmp_path,
        CHIT_AGENT_CONFIG_DIR=str(tmp_path / "svc-config"),
        CHIT_AGENT_DATA_DIR=str(tmp_path / "svc-data"),
        CHIT_AGENT_LOG_DIR=str(tmp_path / "svc-logs"),
        CHIT_AGENT_AGENT_ID=AGENT_ID,
        CHIT_AGENT_HUB_URL=hub.url,
        CHIT_AGENT_TOKEN=device_token(hub, AGENT_ID),
        CHIT_AGENT_MANUAL_PRINTERS=f"Kitchen={manual(sim)}",
        CHIT_AGENT_MDNS="false",
        CHIT_AGENT_USB="false",
        CHIT_AGENT_QUEUES="false",
        CHIT_AGENT_CONTROL_GROUP=str(os.getgid()),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agent.cli", "run", "--headless", env=service_env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await hub.provision_pending()
        await eventually(lambda: hub_agent(hub, AGENT_ID), timeout=30)
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            _, err = await asyncio.wait_for(proc.communicate(), 20)
            assert proc.returncode == 0, err.decode()


async def test_status_and_test_print_go_through_the_service(
    service: asyncio.subprocess.Process, sim: SimulatedNetworkPrinter, tmp_path: Path
) -> None:
    code, out, err = await chit_agent(tmp_path, "status")
    assert code == 0, err
    assert "agent service: running" in out and f"agent id: {AGENT_ID}" in out
    assert "connected" in out and "Kitchen" in out and sim.printer_id in out
    code, out, err = await chit_agent(tmp_path, "status", "--json")
    assert code == 0 and json.loads(out)["pid"] == service.pid

    code, out, err = await chit_agent(tmp_path, "test-print", "Kitchen", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["success"] and result["agentId"] == AGENT_ID
    assert sim.count_jobs_containing(result["correlationId"]) == 1
    code, out, _ = await chit_agent(tmp_path, "test-print", "Kitchen")
    assert code == 0 and out.startswith("printed a test page on Kitchen")
    assert sim.count_jobs_containing("Kitchen") >= 2

    code, _, err = await chit_agent(tmp_path, "test-print", "Bar")
    assert code == 2 and "no printer 'Bar'" in err and sim.printer_id in err

    code, out, _ = await chit_agent(tmp_path, "discover")
    assert code == 0 and sim.printer_id in out and "1 printer(s)" in out
    code, out, _ = await chit_agent(tmp_path, "logs", "-n", "50")
    assert code == 0 and "test page printed" in out
    # The commands never made a config of their own: the service's core did the work.
    assert not (tmp_path / "cli-data" / "spool.db").exists()


async def test_status_without_a_service(tmp_path: Path) -> None:
    code, out, _ = await chit_agent(tmp_path, "status")
    assert code == cli_control.NOT_RUNNING
    assert "agent service: not running" in out and os.environ["CHIT_AGENT_CONTROL_SOCKET"] in out


async def test_a_refused_user_gets_a_hint_and_no_second_core(
    capsys: pytest.CaptureFixture[str],
) -> None:
    store.save(fast_settings(agent_id=AGENT_ID, control_group="chit-agent-test-group"))

    def build() -> tuple[Agent, bool]:
        return Agent(store.load()), False

    stop = asyncio.Event()
    outsider = Peer(uid=4242, gids=frozenset({4242}))
    task = asyncio.create_task(run_service(build, store.load(), stop, peer=lambda s: outsider))
    try:
        await eventually(lambda: Path(os.environ["CHIT_AGENT_CONTROL_SOCKET"]).exists())
        assert await cli_control.status(store.load(), False) == cli_control.REFUSED
        assert await cli_control.test_print(store.load(), "Kitchen", False) == cli_control.REFUSED
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    err = capsys.readouterr().err
    assert "will not serve this user" in err and "'chit-agent-test-group'" in err


async def test_a_status_channel_set_through_the_service_applies_at_once(
    service: asyncio.subprocess.Process, sim: SimulatedNetworkPrinter, tmp_path: Path
) -> None:
    code, out, err = await chit_agent(tmp_path, "printers", "channel", sim.printer_id, "none")
    assert code == 0, err
    assert "status channel none; prints; the printer does not report status" in out
    code, out, _ = await chit_agent(tmp_path, "status")
    assert code == 0 and "prints; the printer does not report status" in out
    stored = json.loads((tmp_path / "svc-config" / "agent.json").read_text())
    assert stored["printer_channels"] == [f"{sim.printer_id}=none"]  # the service's own file
    cli_file = tmp_path / "cli-config" / "agent.json"
    cli_stored = json.loads(cli_file.read_text()) if cli_file.exists() else {}
    assert cli_stored.get("printer_channels", []) == []  # not the CLI user's file
    code, _, err = await chit_agent(tmp_path, "printers", "channel", sim.printer_id, "dle-eot")
    assert code == 2 and "not a status channel" in err
    code, out, err = await chit_agent(tmp_path, "printers", "channel", "Kitchen", "auto")
    assert code == 0 and "status channel escpos; online" in out, out + err

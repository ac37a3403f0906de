"""The frozen agent (PyInstaller, scripts/build-agent.sh) behaves as the installed package.

Each command runs the frozen executable as a subprocess, with no Python of ours involved:
``--version``, ``simulate`` + ``discover`` (zeroconf on loopback), ``test-print`` (the page's
Arabic and Chinese lines drawn with the shipped fonts and python-escpos' capability data,
byte for byte as in this process), ``pair`` and ``run --headless`` against a real hub, and the
tray under Xvfb connecting to that hub.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import escpos
import pytest

from agent import __version__
from agent.simulators.network import SimulatedNetworkPrinter
from shared.tokens import Role
from tests.e2e.support import eventually
from tests.installers.conftest import agent_env
from tests.installers.raster import drew_scripts_as_installed
from tests.support import HubHarness

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
TRACEBACK = "Traceback (most recent call last)"


def frozen(folder: Path, home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run the frozen ``chit-agent ARGS`` to the end."""
    return subprocess.run(
        [str(folder / "chit-agent"), *args],
        env=agent_env(home, extra),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=90,
    )


async def start_frozen(
    folder: Path, home: Path, *args: str, **extra: str
) -> asyncio.subprocess.Process:
    """Start the frozen ``chit-agent ARGS`` in the background."""
    return await asyncio.create_subprocess_exec(
        str(folder / "chit-agent"),
        *args,
        env=agent_env(home, extra),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def stop(proc: asyncio.subprocess.Process) -> str:
    """SIGTERM, a clean exit (0) within 20 s, and what it wrote to stderr."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(proc.wait(), 20)
    assert proc.stderr is not None
    err = (await proc.stderr.read()).decode()
    assert code == 0, err[-3000:]
    assert TRACEBACK not in err, err[-3000:]
    return err


@pytest.fixture
async def kitchen() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter(name="Kitchen") as printer:
        yield printer


async def pairing_code(hub: HubHarness) -> str:
    status, body = await hub.post(
        "/api/v1/pairing-codes", {"branchId": "b1"}, hub.token(Role.MANAGER, "acme")
    )
    assert status == 201, body
    code: str = body["code"]
    return code


def agent_online(hub: HubHarness) -> str | None:
    """The id of an agent of acme that is online at the hub, if any."""
    for record in hub.ctx.printing.registry.agents("acme"):
        if record.online:
            return str(record.agent_id)
    return None


def test_version_is_the_package_version(frozen_agent: Path, tmp_path: Path) -> None:
    done = frozen(frozen_agent, tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"chit-agent {__version__}"


def test_the_folder_carries_what_the_agent_loads_at_run_time(frozen_agent: Path) -> None:
    bundle = frozen_agent / "_internal"
    installed = Path(escpos.__file__).parent / "capabilities.json"
    assert (bundle / "escpos" / "capabilities.json").read_bytes() == installed.read_bytes()
    fonts = {p.name for p in (bundle / "agent" / "fonts").iterdir()}
    assert {"ChitSans-Regular.ttf", "ChitSansCJK-Regular.otf", "ChitEmoji-Regular.ttf"} <= fonts
    assert list(bundle.glob("libusb-1.0.so*")), "libusb is not bundled"
    assert not list(bundle.glob("hypothesis")) and not list(bundle.glob("mypy"))


def test_the_supervisor_is_a_small_folder_of_its_own_that_runs_current(
    frozen_agent: Path, tmp_path: Path
) -> None:
    """dist/chit-agent-supervisor/: what a package installs in bin/, outside versions/."""
    supervisor = frozen_agent.parent / "chit-agent-supervisor" / "chit-agent-supervisor"
    size = sum(p.stat().st_size for p in supervisor.parent.rglob("*") if p.is_file())
    assert size < 40 * 2**20, f"the supervisor folder is {size / 2**20:.0f} MiB"
    assert not list(supervisor.parent.rglob("PySide6")) and not list(supervisor.parent.rglob("tuf"))
    install_root = tmp_path / "opt"
    shutil.copytree(frozen_agent, install_root / "versions" / __version__, symlinks=True)
    adopted = subprocess.run(
        [str(supervisor), "--install-root", str(install_root), "--adopt", __version__],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert adopted.returncode == 0, adopted.stderr
    assert (install_root / "current").readlink() == Path("versions") / __version__
    ran = subprocess.run(
        [str(supervisor), "--install-root", str(install_root), "--", "--version"],
        env=agent_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == f"chit-agent {__version__}"


async def test_test_print_draws_scripts_as_the_package_does(
    frozen_agent: Path, tmp_path: Path, kitchen: SimulatedNetworkPrinter
) -> None:
    done = await asyncio.to_thread(
        frozen, frozen_agent, tmp_path, "test-print", f"127.0.0.1:{kitchen.port}"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("printed a test page on"), done.stdout
    assert kitchen.brain.cuts == 1
    assert drew_scripts_as_installed(kitchen.printed, kitchen.printer_info())


async def test_simulate_then_discover_over_mdns(frozen_agent: Path, tmp_path: Path) -> None:
    proc = await start_frozen(frozen_agent, tmp_path, "simulate", "--count", "1")
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        # The name may come back as "Kitchen-2" when another "Kitchen" is announced on loopback.
        found = re.match(r"Kitchen\S*: 127\.0\.0\.1:(\d+) \((net:\S+)\)$", line)
        assert found, line
        # mDNS is best effort: other simulators announced on loopback (other test runs) can
        # crowd one browse window, so up to three scans.
        for _ in range(3):
            done = await asyncio.to_thread(
                frozen, frozen_agent, tmp_path, "discover", "--json", CHIT_AGENT_USB="false"
            )
            assert done.returncode == 0, done.stderr
            assert TRACEBACK not in done.stderr
            if f'"{found.group(2)}"' in done.stdout:
                break
        assert f'"{found.group(2)}"' in done.stdout and '"mdns"' in done.stdout, done.stdout
    finally:
        await stop(proc)


async def test_pair_then_run_headless_prints_for_the_hub(
    frozen_agent: Path, tmp_path: Path, hub: HubHarness, kitchen: SimulatedNetworkPrinter
) -> None:
    code = await pairing_code(hub)
    done = await asyncio.to_thread(frozen, frozen_agent, tmp_path, "pair", code, "--hub", hub.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("paired agent "), done.stdout
    add = f"Kitchen=127.0.0.1:{kitchen.port}"
    assert (
        await asyncio.to_thread(frozen, frozen_agent, tmp_path, "config", "--add-printer", add)
    ).returncode == 0
    proc = await start_frozen(
        frozen_agent, tmp_path, "run", "--headless", CHIT_AGENT_MDNS="false", CHIT_AGENT_USB="false"
    )
    try:
        agent_id = await eventually(lambda: agent_online(hub), timeout=30)
        record = hub.ctx.printing.registry.agent("acme", agent_id)
        await eventually(lambda: kitchen.printer_id in record.printers, timeout=30)
        status, body = await hub.post(
            f"/api/v1/printers/{kitchen.printer_id}/test?correlationId=corr-frozen-0001",
            {},
            token=hub.token(Role.MANAGER, "acme"),
        )
        assert status == 200, body
        assert body["result"]["success"] is True, body
        assert kitchen.count_jobs_containing("corr-frozen-0001") == 1
        assert drew_scripts_as_installed(kitchen.printed, kitchen.printer_info())
    finally:
        err = await stop(proc)
    log = (tmp_path / "logs" / "chit-agent.log").read_text()
    assert "test page printed" in log, log[-2000:]
    assert "test page printed" in err, "the console (the journal, under systemd) shows the log"


def _xvfb(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("no Xvfb (scripts/setup-system.sh installs it)")
    display = f":{200 + int(time.monotonic() * 1000) % 300}"
    proc = subprocess.Popen(
        [binary, display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.skip("Xvfb did not start")
        time.sleep(0.05)
    return proc, display


async def test_the_tray_starts_and_its_core_reaches_the_hub(
    frozen_agent: Path, tmp_path: Path, hub: HubHarness
) -> None:
    code = await pairing_code(hub)
    done = await asyncio.to_thread(frozen, frozen_agent, tmp_path, "pair", code, "--hub", hub.url)
    assert done.returncode == 0, done.stderr
    xvfb, display = _xvfb(tmp_path)
    try:
        proc = await start_frozen(
            frozen_agent, tmp_path, DISPLAY=display, QT_QPA_PLATFORM="xcb",
            CHIT_AGENT_MDNS="false", CHIT_AGENT_USB="false", CHIT_AGENT_QUEUES="false",
        )  # fmt: skip
        try:
            await eventually(lambda: agent_online(hub), timeout=30)
            log = tmp_path / "logs" / "chit-agent.log"
            await eventually(lambda: log.exists() and "tray agent started" in log.read_text(), 30)
        finally:
            await stop(proc)
    finally:
        xvfb.kill()
        xvfb.wait(10)


async def test_enroll_from_a_terminal(frozen_agent: Path, tmp_path: Path, hub: HubHarness) -> None:
    if frozen(frozen_agent, tmp_path, "enroll", "--help").returncode != 0:
        pytest.skip("this build has no chit-agent enroll (enrolment codes)")
    body = {"branchId": "b1", "maxUses": 2, "expiresIn": 3600}
    status, answer = await hub.post(
        "/api/v1/enrollment-codes", body, hub.token(Role.MANAGER, "acme")
    )
    assert status == 201, answer
    done = await asyncio.to_thread(
        frozen, frozen_agent, tmp_path, "enroll", "--hub", hub.url, "--code", answer["code"]
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("enrolled agent "), done.stdout
    assert (tmp_path / "config" / "token").exists()

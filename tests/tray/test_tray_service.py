"""The tray (Qt offscreen) over a running agent service: it shows the service's core, prints
through it, and never builds a core of its own."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtWidgets", reason="PySide6 is not installed (pip install '.[tray]')")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed (pip install '.[dev]')")

from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from agent import settings as store
from agent.control.service import run_service
from agent.service import Agent
from agent.simulators.network import SimulatedNetworkPrinter
from agent.tray.app import TrayApp, find_service
from agent.tray.remote import RemoteCore
from agent.tray.snapshot import TrayState
from tests.e2e.support import device_token, fast_settings, manual
from tests.support import HubHarness
from tests.tray.conftest import SideLoop

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Unix sockets")

AGENT_ID = "agent-tray-svc"
WAIT_MS = 15_000


def service_build() -> tuple[Agent, bool]:
    """The service's agents: from the stored settings and token, reconnecting fast."""
    agent = Agent(store.load(), store.read_token)
    if agent.link is not None:
        agent.link._base, agent.link._cap = 0.2, 0.5
    return agent, store.read_token() is not None


def no_core() -> tuple[Agent, bool]:
    raise AssertionError("the tray must not build a core while the service runs")


class Service:
    """run_service on the side loop, stoppable from the test thread."""

    def __init__(self, side_loop: SideLoop) -> None:
        self.side_loop = side_loop
        self.stop_event: asyncio.Event = side_loop.run(_event())
        self.done: concurrent.futures.Future[int] = asyncio.run_coroutine_threadsafe(
            run_service(service_build, store.load(), self.stop_event), side_loop.loop
        )

    def stop(self) -> int:
        self.side_loop.loop.call_soon_threadsafe(self.stop_event.set)
        return self.done.result(20)


async def _event() -> asyncio.Event:
    return asyncio.Event()


@pytest.fixture
def hub(side_loop: SideLoop, tmp_path: Path) -> Iterator[HubHarness]:
    harness = side_loop.run(HubHarness.start(tmp_path / "hub-data"))
    yield harness
    side_loop.run(harness.stop())


@pytest.fixture
def sims(side_loop: SideLoop) -> Iterator[list[SimulatedNetworkPrinter]]:
    printers = [SimulatedNetworkPrinter(name=f"Kitchen {n}") for n in (1, 2)]
    for printer in printers:
        side_loop.run(printer.start())
    yield printers
    for printer in printers:
        side_loop.run(printer.stop())


@pytest.fixture
def service(
    side_loop: SideLoop, hub: HubHarness, sims: list[SimulatedNetworkPrinter]
) -> Iterator[Service]:
    store.save(
        fast_settings(
            agent_id=AGENT_ID,
            hub_url=hub.url,
            manual_printers=tuple(manual(s) for s in sims),
            control_group=str(os.getgid()),
        )
    )
    store.write_token(device_token(hub, AGENT_ID))
    side_loop.run(hub.provision_pending())
    running = Service(side_loop)
    address = os.environ["CHIT_AGENT_CONTROL_SOCKET"]
    assert find_service(address, wait=10) == address
    yield running
    if not running.done.done():
        assert running.stop() == 0


def test_the_tray_uses_the_service_and_starts_no_core(
    qtbot: QtBot,
    service: Service,
    sims: list[SimulatedNetworkPrinter],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    app = TrayApp(no_core, service=os.environ["CHIT_AGENT_CONTROL_SOCKET"])
    assert isinstance(app.core, RemoteCore)
    app.start()
    qtbot.addWidget(app.menu)
    try:
        qtbot.waitUntil(
            lambda: (
                app.state is TrayState.OK
                and len(app.menu.test_actions) == 2
                and "registering" not in app.tray.toolTip()
            ),
            timeout=WAIT_MS,
        )
        assert app.tray.toolTip() == "Chit: connected — 2 printers OK"
        assert app.snapshot.agent_id == AGENT_ID and app.snapshot.service is not None
        about = app.open_about()
        assert "the agent service" in about.text()

        sim = sims[1]
        app.menu.test_actions[sim.printer_id].trigger()
        qtbot.waitUntil(lambda: app.last_test is not None, timeout=WAIT_MS)
        result = app.last_test
        assert result is not None and result.success and result.agent_id == AGENT_ID
        assert sim.count_jobs_containing(result.correlation_id) == 1
        app.open_logs()  # the service's recent lines, through the control API
        qtbot.waitUntil(lambda: "logs" in app.windows, timeout=WAIT_MS)
        logs = app.windows["logs"]
        assert isinstance(logs, QMessageBox) and "test page printed" in logs.detailedText()

        sims[0].set_state("paper_out")
        qtbot.waitUntil(lambda: app.state is TrayState.ATTENTION, timeout=WAIT_MS)
        sims[0].set_state("ok")
        qtbot.waitUntil(lambda: app.state is TrayState.OK, timeout=WAIT_MS)

        assert service.stop() == 0
        qtbot.waitUntil(lambda: app.state is TrayState.DISCONNECTED, timeout=WAIT_MS)
        assert "agent service is unavailable" in app.tray.toolTip()
        qtbot.waitUntil(lambda: "it is not running" in app.tray.toolTip(), timeout=WAIT_MS)
    finally:
        app.shutdown()


def test_settings_from_the_tray_go_to_the_service(
    qtbot: QtBot, service: Service, sims: list[SimulatedNetworkPrinter]
) -> None:
    app = TrayApp(no_core, service=os.environ["CHIT_AGENT_CONTROL_SOCKET"])
    app.start()
    qtbot.addWidget(app.menu)
    try:
        qtbot.waitUntil(lambda: len(app.menu.test_actions) == 2, timeout=WAIT_MS)
        core = app.core
        keep = (manual(sims[0]),)
        restarted = core.submit(core.apply({"manual_printers": keep, "subnets": ()})).result(20)
        assert restarted is True
        qtbot.waitUntil(lambda: len(app.menu.test_actions) == 1, timeout=WAIT_MS)
        assert store.load_stored().manual_printers == keep
        moved = core.submit(core.apply({"hub_url": "http://elsewhere.example:3001"}))
        with pytest.raises(RuntimeError, match="only by pairing"):
            moved.result(20)
    finally:
        app.shutdown()


def test_no_service_means_the_tray_runs_its_own_core(tmp_path: Path) -> None:
    absent = str(tmp_path / "nothing-here" / "control.sock")
    assert find_service(absent, wait=5) is None

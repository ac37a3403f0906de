"""The real tray widgets against a real hub (on a side loop) and simulated network printers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtWidgets", reason="PySide6 is not installed (pip install '.[tray]')")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed (pip install '.[dev]')")

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from agent import settings as store
from agent.service import Agent
from agent.simulators.network import SimulatedNetworkPrinter
from agent.tray.app import TrayApp
from agent.tray.icons import COLORS
from agent.tray.snapshot import TrayState
from tests.e2e.support import device_token, hub_agent, manual
from tests.support import HubHarness
from tests.tray.conftest import SideLoop

AGENT_ID = "agent-tray"
WAIT_MS = 15_000


def fast_build() -> tuple[Agent, bool]:
    """Agents from the stored settings, with test-speed intervals and no LAN discovery."""
    settings = store.load().with_changes(
        mdns=False,
        usb=False,
        scan_interval=1.0,
        status_interval=0.3,
        heartbeat_interval=1.0,
        io_timeout=2.0,
    )
    agent = Agent(settings, store.read_token)
    if agent.link is not None:
        agent.link._base, agent.link._cap = 0.2, 0.5
    return agent, store.read_token() is not None


@pytest.fixture
def hub(side_loop: SideLoop, tmp_path: Path) -> Iterator[HubHarness]:
    """A real hub serving from the side loop (overrides the asyncio fixture of the same name)."""
    harness = side_loop.run(HubHarness.start(tmp_path / "hub-data"))
    yield harness
    if not getattr(harness, "stopped", False):
        side_loop.run(harness.stop())


@pytest.fixture
def sims(side_loop: SideLoop) -> Iterator[list[SimulatedNetworkPrinter]]:
    """Two simulated network printers on loopback."""
    printers = [SimulatedNetworkPrinter(name=f"Kitchen {n}") for n in (1, 2)]
    for printer in printers:
        side_loop.run(printer.start())
    yield printers
    for printer in printers:
        side_loop.run(printer.stop())


def start_tray(qtbot: QtBot) -> TrayApp:
    app = TrayApp(fast_build)
    app.start()
    qtbot.addWidget(app.menu)
    return app


@pytest.fixture
def paired_tray(
    qtbot: QtBot, hub: HubHarness, sims: list[SimulatedNetworkPrinter]
) -> Iterator[TrayApp]:
    """A tray whose agent is paired (token stored) and knows both printers."""
    store.save(
        store.AgentSettings(
            agent_id=AGENT_ID, hub_url=hub.url, manual_printers=tuple(manual(s) for s in sims)
        )
    )
    store.write_token(device_token(hub, AGENT_ID))
    app = start_tray(qtbot)
    qtbot.waitUntil(
        lambda: (
            app.state is TrayState.OK
            and len(app.menu.test_actions) == 2
            and "registering" not in app.tray.toolTip()
        ),
        timeout=WAIT_MS,
    )
    yield app
    app.shutdown()


def icon_color(app: TrayApp) -> QColor:
    image = app.tray.icon().pixmap(64, 64).toImage()
    return image.pixelColor(10, 32)


def test_pairing_through_the_dialog(
    qtbot: QtBot,
    hub: HubHarness,
    side_loop: SideLoop,
    sims: list[SimulatedNetworkPrinter],
    screenshots: Path,
) -> None:
    store.save(store.AgentSettings(agent_id=AGENT_ID, manual_printers=(manual(sims[0]),)))
    app = start_tray(qtbot)
    try:
        qtbot.waitUntil(lambda: app.snapshot.agent_id == AGENT_ID, timeout=WAIT_MS)
        assert app.state is TrayState.UNPAIRED
        assert "not paired" in app.tray.toolTip()
        status, body = side_loop.run(
            hub.post("/api/v1/pairing-codes", {"branchId": "b1"}, hub.token("manager", "acme"))
        )
        assert status == 201, body
        dialog = app.open_pair()
        qtbot.addWidget(dialog)
        dialog.hub_url.setText(hub.url)
        dialog.code.setText("WRONG-CODE")
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "Pairing failed" in dialog.error.text(), timeout=WAIT_MS)
        dialog.code.setText(body["code"])
        dialog.grab().save(str(screenshots / "tray-pair-dialog.png"))
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: app.state is TrayState.OK, timeout=WAIT_MS)
        assert not dialog.isVisible()
        assert store.read_token() is not None and store.load().hub_url == hub.url
        assert hub_agent(hub, AGENT_ID) is not None
        assert any(n.title == "Paired with the hub" for n in app.notifications)
        assert icon_color(app) == COLORS[TrayState.OK]
    finally:
        app.shutdown()


def test_menu_follows_printer_status_and_notifies_once(
    qtbot: QtBot, paired_tray: TrayApp, sims: list[SimulatedNetworkPrinter], screenshots: Path
) -> None:
    app, sim = paired_tray, sims[0]
    assert app.tray.toolTip() == "Chit: connected — 2 printers OK"
    sim.set_state("paper_out")
    qtbot.waitUntil(
        lambda: "out of paper" in app.menu.printer_menus[sim.printer_id].title(), timeout=WAIT_MS
    )
    assert app.state is TrayState.ATTENTION
    assert icon_color(app) == COLORS[TrayState.ATTENTION]
    assert "1 of 2 printers needs attention" in app.tray.toolTip()
    qtbot.wait(1000)  # several more polls: still one notice for this incident
    paper = [n for n in app.notifications if n.title == "Printer out of paper"]
    # Named by its model and place (GS I), not "Network printer ...".
    assert len(paper) == 1 and paper[0].message.startswith("TM-T20III at 127.0.0.1")
    app.menu.popup(app.menu.pos())
    qtbot.waitExposed(app.menu)
    app.menu.grab().save(str(screenshots / "tray-menu.png"))
    app.menu.printer_menus[sim.printer_id].popup(app.menu.pos())
    app.menu.printer_menus[sim.printer_id].grab().save(
        str(screenshots / "tray-printer-submenu.png")
    )
    app.menu.hide()
    sim.set_state("ok")
    qtbot.waitUntil(lambda: app.state is TrayState.OK, timeout=WAIT_MS)


def test_print_test_page_from_the_menu(
    qtbot: QtBot, paired_tray: TrayApp, sims: list[SimulatedNetworkPrinter]
) -> None:
    app, sim = paired_tray, sims[1]
    app.menu.test_actions[sim.printer_id].trigger()
    qtbot.waitUntil(lambda: app.last_test is not None, timeout=WAIT_MS)
    result = app.last_test
    assert result is not None and result.success, result
    assert sim.count_jobs_containing(result.correlation_id) == 1
    assert sims[0].count_jobs_containing(result.correlation_id) == 0
    printed = [n for n in app.notifications if n.title == "Test page printed"]
    assert len(printed) == 1 and f"127.0.0.1:{sim.port}" in printed[0].message


def test_open_the_cash_drawer_from_the_menu_while_paper_is_out(
    qtbot: QtBot, paired_tray: TrayApp, sims: list[SimulatedNetworkPrinter]
) -> None:
    app, sim = paired_tray, sims[0]
    sim.set_state("paper_out")
    app.menu.drawer_actions[sim.printer_id].trigger()
    qtbot.waitUntil(lambda: bool(sim.brain.pulses), timeout=WAIT_MS)
    assert sim.brain.pulses[0].pin == 2
    qtbot.waitUntil(
        lambda: any(n.title == "Cash drawer: done" for n in app.notifications), timeout=WAIT_MS
    )
    # The simulator says (GS I) it is a TM-T20III, a model Epson lists for ESC ( A: it beeps.
    app.menu.buzz_actions[sim.printer_id].trigger()
    qtbot.waitUntil(
        lambda: any(n.title == "Buzzer: done" for n in app.notifications), timeout=WAIT_MS
    )
    sim.set_state("ok")


def test_icon_follows_the_hub_connection(
    qtbot: QtBot, paired_tray: TrayApp, hub: HubHarness, side_loop: SideLoop
) -> None:
    app = paired_tray
    side_loop.run(hub.stop())
    hub.stopped = True  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: app.state is TrayState.DISCONNECTED, timeout=WAIT_MS)
    assert app.tray.toolTip().startswith("Chit: not connected to the hub")
    assert icon_color(app) == COLORS[TrayState.DISCONNECTED]


def test_settings_dialog_saves_and_restarts_the_core(
    qtbot: QtBot, paired_tray: TrayApp, side_loop: SideLoop, tmp_path: Path, screenshots: Path
) -> None:
    app = paired_tray
    extra = SimulatedNetworkPrinter(name="Bar")
    side_loop.run(extra.start())
    try:
        dialog = app.open_settings()
        qtbot.addWidget(dialog)
        dialog.printer_entry.setText(manual(extra))
        qtbot.mouseClick(dialog.add_printer, Qt.MouseButton.LeftButton)
        dialog.subnets.setPlainText("not-a-subnet")
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
        assert "not a subnet" in dialog.error.text()
        dialog.subnets.setPlainText("127.0.0.1/32")
        dialog.start_at_login.setChecked(True)
        dialog.grab().save(str(screenshots / "tray-settings-dialog.png"))
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: extra.printer_id in app.menu.test_actions, timeout=WAIT_MS)
        saved = store.load()
        assert manual(extra) in saved.manual_printers and saved.subnets == ("127.0.0.1/32",)
        desktop = tmp_path / "xdg-config" / "autostart" / "chit-agent.desktop"
        assert "Exec=" in desktop.read_text()
        qtbot.waitUntil(lambda: app.state is TrayState.OK, timeout=WAIT_MS)
        about = app.open_about()
        qtbot.addWidget(about)
        assert AGENT_ID in about.text()
        about.grab().save(str(screenshots / "tray-about.png"))
    finally:
        side_loop.run(extra.stop())


def test_a_printer_without_status_says_so_and_its_test_page_is_sent(
    qtbot: QtBot, hub: HubHarness, sims: list[SimulatedNetworkPrinter]
) -> None:
    silent = sims[1]
    store.save(
        store.AgentSettings(
            agent_id=AGENT_ID,
            hub_url=hub.url,
            manual_printers=tuple(manual(s) for s in sims),
            printer_channels=(f"{silent.printer_id}=none",),  # set by hand
        )
    )
    store.write_token(device_token(hub, AGENT_ID))
    app = start_tray(qtbot)
    try:
        qtbot.waitUntil(lambda: silent.printer_id in app.menu.printer_menus, timeout=WAIT_MS)
        qtbot.waitUntil(
            lambda: "does not report status" in app.menu.printer_menus[silent.printer_id].title(),
            timeout=WAIT_MS,
        )
        qtbot.waitUntil(lambda: "not reporting status" in app.tray.toolTip(), timeout=WAIT_MS)
        app.menu.test_actions[silent.printer_id].trigger()
        qtbot.waitUntil(lambda: app.last_test is not None, timeout=WAIT_MS)
        sent = [n for n in app.notifications if n.title == "Test page sent"]
        assert len(sent) == 1 and "does not report status" in sent[0].message
        assert silent.brain.queries == 0
    finally:
        app.shutdown()

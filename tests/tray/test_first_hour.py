"""Tray points of issue 17: printers by name in the menu and notices, a log folder that opens
or says where it is."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtWidgets", reason="PySide6 is not installed (pip install '.[tray]')")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed (pip install '.[dev]')")

from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from agent import settings as store
from agent.simulators.fleet import SimulatorFleet
from agent.tray.app import TrayApp
from tests.tray.conftest import SideLoop
from tests.tray.test_tray_app import WAIT_MS, start_tray


@pytest.fixture
def fleet(side_loop: SideLoop) -> Iterator[SimulatorFleet]:
    """Kitchen, Bar and Front counter on loopback (not announced)."""
    printers = SimulatorFleet(3, announce=False)
    side_loop.run(printers.start())
    yield printers
    side_loop.run(printers.stop())


@pytest.fixture
def tray(qtbot: QtBot) -> Iterator[TrayApp]:
    """An unpaired tray with no printers."""
    app = start_tray(qtbot)
    yield app
    app.shutdown()


def _fake_xdg_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exit_code: int) -> Path:
    """An xdg-open on PATH that records what it was asked to open and exits with ``exit_code``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "xdg-open-calls"
    script = bin_dir / "xdg-open"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit {exit_code}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    return calls


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xdg-open is Linux's")
def test_log_folder_opens_with_xdg_open(
    qtbot: QtBot, tray: TrayApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_xdg_open(tmp_path, monkeypatch, 0)
    tray.menu.logs.trigger()
    qtbot.waitUntil(lambda: calls.exists(), timeout=WAIT_MS)
    assert calls.read_text().split() == [str(store.log_dir())]
    qtbot.wait(300)
    assert "logs" not in tray.windows


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xdg-open is Linux's")
@pytest.mark.parametrize("exit_code", [3, 4])
def test_a_failing_xdg_open_shows_the_log_path(
    qtbot: QtBot, tray: TrayApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exit_code: int
) -> None:
    _fake_xdg_open(tmp_path, monkeypatch, exit_code)
    tray.menu.logs.trigger()
    qtbot.waitUntil(lambda: "logs" in tray.windows, timeout=WAIT_MS)
    box = tray.windows["logs"]
    assert isinstance(box, QMessageBox)
    assert str(store.log_dir()) in box.text()
    assert f"exit code {exit_code}" in box.text()
    assert QApplication.clipboard().text() == str(store.log_dir())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xdg-open is Linux's")
def test_no_xdg_open_shows_the_log_path(
    qtbot: QtBot, tray: TrayApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    tray.menu.logs.trigger()
    qtbot.waitUntil(lambda: "logs" in tray.windows, timeout=WAIT_MS)
    text = tray.windows["logs"].text()  # type: ignore[attr-defined]
    assert "xdg-open is not installed" in text and str(store.log_dir()) in text


def test_named_printers_show_by_name_in_the_menu_and_notices(
    qtbot: QtBot, fleet: SimulatorFleet
) -> None:
    entries = tuple(f"{p.name}={p.host}:{p.port}" for p in fleet.printers)
    store.save(store.AgentSettings(agent_id="agent-names", manual_printers=entries))
    app = start_tray(qtbot)
    try:
        qtbot.waitUntil(lambda: len(app.menu.test_actions) == 3, timeout=WAIT_MS)
        titles = sorted(menu.title().split(" — ")[0] for menu in app.menu.printer_menus.values())
        assert titles == ["Bar", "Front counter", "Kitchen"]
        kitchen = fleet.printers[0]
        app.menu.test_actions[kitchen.printer_id].trigger()
        qtbot.waitUntil(lambda: app.last_test is not None, timeout=WAIT_MS)
        printed = [n for n in app.notifications if n.title == "Test page printed"]
        assert len(printed) == 1 and printed[0].message.startswith("Kitchen in ")
        assert "Network printer" not in " ".join(n.message for n in app.notifications)
    finally:
        app.shutdown()

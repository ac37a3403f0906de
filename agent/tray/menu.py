"""The tray menu: a summary line, one submenu per printer, then the fixed actions.

The menu only shows a snapshot and emits what was asked for; the app decides what happens.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from agent.tray.snapshot import CoreSnapshot, printer_line, printer_state, state_label, tooltip


class TrayMenu(QMenu):
    """The context menu of the tray icon."""

    test_requested = Signal(str)
    drawer_requested = Signal(str)
    buzz_requested = Signal(str)
    scan_requested = Signal()
    pair_requested = Signal()
    settings_requested = Signal()
    logs_requested = Signal()
    about_requested = Signal()
    quit_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.summary = self.addAction("Chit")
        self.summary.setEnabled(False)
        self.addSeparator()
        self._first_fixed = self.addSeparator()
        self.scan = self._fixed("Scan for printers", self.scan_requested)
        self.addSeparator()
        self.pair = self._fixed("Pair with hub…", self.pair_requested)
        self.settings = self._fixed("Settings…", self.settings_requested)
        self.logs = self._fixed("Open log folder", self.logs_requested)
        self.about = self._fixed("About", self.about_requested)
        self.addSeparator()
        self.quit = self._fixed("Quit", self.quit_requested)
        self.printer_menus: dict[str, QMenu] = {}
        self.test_actions: dict[str, QAction] = {}
        self.drawer_actions: dict[str, QAction] = {}
        self.buzz_actions: dict[str, QAction] = {}
        self._printer_actions: list[QAction] = []

    def _fixed(self, text: str, signal: SignalInstance) -> QAction:
        action = self.addAction(text)
        action.triggered.connect(lambda: signal.emit())
        return action

    def show_snapshot(self, snapshot: CoreSnapshot) -> None:
        """Rebuild the summary and the printer section from a snapshot."""
        self.summary.setText(tooltip(snapshot))
        for action in self._printer_actions:
            self.removeAction(action)
        for submenu in self.printer_menus.values():
            submenu.deleteLater()
        self.printer_menus, self.test_actions, self._printer_actions = {}, {}, []
        self.drawer_actions, self.buzz_actions = {}, {}
        if not snapshot.printers:
            empty = QAction("No printers found", self)
            empty.setEnabled(False)
            self._insert(empty)
        names = Counter(p.name for p in snapshot.printers)
        for printer in sorted(snapshot.printers, key=lambda p: (p.name, p.printer_id)):
            submenu = QMenu(printer_line(printer, names[printer.name] > 1), self)
            detail = printer.status.detail if printer.status and printer.status.detail else ""
            status = submenu.addAction(f"Status: {state_label(printer_state(printer))} {detail}")
            status.setEnabled(False)
            where = submenu.addAction(printer.printer_id)
            where.setEnabled(False)
            test = submenu.addAction("Print test page")
            test.triggered.connect(lambda _=False, pid=printer.printer_id: self._test(pid))
            drawer = submenu.addAction("Open cash drawer")
            drawer.triggered.connect(
                lambda _=False, pid=printer.printer_id: self.drawer_requested.emit(pid)
            )
            buzz = submenu.addAction("Sound buzzer")
            buzz.triggered.connect(
                lambda _=False, pid=printer.printer_id: self.buzz_requested.emit(pid)
            )
            self.printer_menus[printer.printer_id] = submenu
            self.test_actions[printer.printer_id] = test
            self.drawer_actions[printer.printer_id] = drawer
            self.buzz_actions[printer.printer_id] = buzz
            self._insert(submenu.menuAction())

    def _insert(self, action: QAction) -> None:
        self.insertAction(self._first_fixed, action)
        self._printer_actions.append(action)

    def _test(self, printer_id: str) -> None:
        self.test_requested.emit(printer_id)

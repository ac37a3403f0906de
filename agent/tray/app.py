"""The tray app: icon, tooltip, menu, dialogs and notifications over one AgentCore.

Everything here runs on the Qt (UI) thread and never waits for I/O: requests go to the core
with ``AgentCore.submit`` and answers come back through :class:`Bridge` (queued signals).
See :mod:`agent.tray.core` for the threading model.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon, QWidget

from agent import __version__, autostart, control, logs
from agent import settings as store
from agent.control.client import ControlClient, ServiceNotRunning, ServiceRefused
from agent.service import Agent
from agent.settings import AgentSettings
from agent.tray.bridge import Bridge
from agent.tray.core import AgentCore
from agent.tray.dialogs import PairDialog, SettingsDialog, SettingsForm
from agent.tray.folders import FolderOpener
from agent.tray.icons import icon_for
from agent.tray.incidents import IncidentNotifier, Notice
from agent.tray.menu import TrayMenu
from agent.tray.remote import RemoteCore
from agent.tray.single_instance import SingleInstance
from agent.tray.snapshot import CoreSnapshot, TrayState, tooltip, tray_state
from shared.events import PrinterActionResult, PrinterTestResult

log = logging.getLogger("chit.agent.tray")
T = TypeVar("T")
Build = Callable[[], tuple[Agent, bool]]
#: How often the incident notifier looks at the clock (the hub-outage minute).
TICK_MS = 5000
NOTICE_MS = 8000
#: Seconds to wait for an agent service that is starting (see find_service).
SERVICE_WAIT = 10.0


def default_build(hub_url: str | None = None) -> Build:
    """Build agents from the stored settings and token (``hub_url`` overrides the stored one)."""

    def build() -> tuple[Agent, bool]:
        settings = store.load()
        if hub_url:
            settings = settings.with_changes(hub_url=hub_url)
        return Agent(settings, store.read_token), store.read_token() is not None

    return build


class TrayApp(QObject):
    """The tray icon and everything behind its menu."""

    def __init__(
        self, build: Build, notifier: IncidentNotifier | None = None, *, service: str | None = None
    ) -> None:
        """``service``: the agent service's control address to use instead of an own core."""
        super().__init__()
        self.bridge = Bridge()
        self.bridge.snapshot.connect(self._show)
        self.core: AgentCore | RemoteCore = (
            RemoteCore(service, self.bridge.snapshot.emit)
            if service
            else AgentCore(build, self.bridge.snapshot.emit)
        )
        self.notifier = notifier or IncidentNotifier()
        self.snapshot = CoreSnapshot(agent_id="", hub_url=None, paired=False)
        self.state = TrayState.UNPAIRED
        self.notifications: list[Notice] = []
        self.last_test: PrinterTestResult | None = None
        self.windows: dict[str, QWidget] = {}
        self.folders = FolderOpener(self)
        self.menu = TrayMenu()
        self.tray = QSystemTrayIcon(icon_for(self.state))
        self.tray.setContextMenu(self.menu)
        self.tray.setToolTip(tooltip(self.snapshot))
        self._connect_menu()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def _connect_menu(self) -> None:
        self.menu.test_requested.connect(self.test_print)
        self.menu.drawer_requested.connect(self.open_drawer)
        self.menu.buzz_requested.connect(self.buzz)
        self.menu.scan_requested.connect(self.scan)
        self.menu.pair_requested.connect(self.open_pair)
        self.menu.settings_requested.connect(self.open_settings)
        self.menu.logs_requested.connect(self.open_logs)
        self.menu.about_requested.connect(self.open_about)
        self.menu.quit_requested.connect(self.quit)
        self.tray.activated.connect(self._activated)

    def start(self) -> None:
        """Start the core and show the icon."""
        self.core.start()
        self.tray.show()
        self._timer.start()
        if not QSystemTrayIcon.isSystemTrayAvailable():
            log.warning("no system tray on this desktop; the agent keeps running without an icon")

    def shutdown(self) -> None:
        """Stop the core (bounded) and hide the icon."""
        self._timer.stop()
        self.core.shutdown()
        self.tray.hide()
        for window in self.windows.values():
            window.close()

    def quit(self) -> None:
        """Menu → Quit."""
        self.shutdown()
        QApplication.quit()

    # --- state ------------------------------------------------------------------------------

    def _show(self, snapshot: CoreSnapshot) -> None:
        self.snapshot = snapshot
        state = tray_state(snapshot)
        if state is not self.state:
            self.state = state
            self.tray.setIcon(icon_for(state))
        self.tray.setToolTip(tooltip(snapshot))
        self.menu.show_snapshot(snapshot)
        for notice in self.notifier.observe(snapshot):
            self.notify(notice)

    def _tick(self) -> None:
        for notice in self.notifier.tick():
            self.notify(notice)

    def notify(self, notice: Notice) -> None:
        """Show a balloon/notification (and keep it for tests and the log)."""
        self.notifications.append(notice)
        log.info("notification", extra={"title": notice.title, "text": notice.message})
        kind = QSystemTrayIcon.MessageIcon
        icon = kind.Warning if notice.warning else kind.Information
        self.tray.showMessage(notice.title, notice.message, icon, NOTICE_MS)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is QSystemTrayIcon.ActivationReason.Trigger and sys.platform != "darwin":
            self.menu.popup(self.tray.geometry().center())

    def bring_forward(self) -> None:
        """Another launch knocked: show who we are instead of starting twice."""
        self.open_about()
        self.notify(Notice("Chit agent is already running", tooltip(self.snapshot), False))

    # --- requests to the core ---------------------------------------------------------------

    def _later(
        self,
        future: concurrent.futures.Future[T],
        done: Callable[[T | None, Exception | None], None],
    ) -> None:
        """Call ``done(result, error)`` on the UI thread when the core finishes."""

        def finished(f: concurrent.futures.Future[T]) -> None:
            error = f.exception()
            result = None if error is not None else f.result()
            exc = error if isinstance(error, Exception) or error is None else RuntimeError(error)
            self.bridge.on_ui(lambda: done(result, exc))

        future.add_done_callback(finished)

    def test_print(self, printer_id: str) -> None:
        """Menu → printer → Print test page."""
        self._later(self.core.submit(self.core.test_print(printer_id)), self._tested)

    def _tested(self, result: PrinterTestResult | None, error: Exception | None) -> None:
        if result is None:
            self.notify(Notice("Test page not printed", str(error)))
            return
        self.last_test = result
        name = self._printer_name(result.printer_id)
        if result.success and not (result.status is None or result.status.confirmed):
            text = f"{name} in {result.duration_ms} ms; the printer does not report status"
            self.notify(Notice("Test page sent", text, False))  # nobody can say it printed
        elif result.success:
            text = f"{name} in {result.duration_ms} ms"
            self.notify(Notice("Test page printed", text, False))
        else:
            message = result.error.message if result.error else "unknown error"
            self.notify(Notice("Test page not printed", f"{name}: {message}"))

    def _printer_name(self, printer_id: str) -> str:
        """What people call the printer (its name), else its id."""
        known = {p.printer_id: p.name for p in self.snapshot.printers}
        return known.get(printer_id, printer_id)

    def open_drawer(self, printer_id: str) -> None:
        """Menu → printer → Open cash drawer."""
        self._later(self.core.submit(self.core.open_drawer(printer_id)), self._acted)

    def buzz(self, printer_id: str) -> None:
        """Menu → printer → Sound buzzer."""
        self._later(self.core.submit(self.core.buzz(printer_id)), self._acted)

    def _acted(self, result: PrinterActionResult | None, error: Exception | None) -> None:
        what = "Cash drawer" if result is None or result.action == "drawer" else "Buzzer"
        if result is None:
            self.notify(Notice(f"{what} failed", str(error)))
        elif result.success:
            self.notify(Notice(f"{what}: done", result.printer_id, False))
        else:
            message = result.error.message if result.error else "unknown error"
            self.notify(Notice(f"{what} failed", f"{result.printer_id}: {message}"))

    def scan(self) -> None:
        """Menu → Scan for printers."""
        self._later(self.core.submit(self.core.scan()), self._scanned)

    def _scanned(self, count: int | None, error: Exception | None) -> None:
        if count is None:
            self.notify(Notice("Scan failed", str(error)))
        else:
            self.notify(Notice("Scan finished", f"{count} printer(s) found", False))

    # --- windows ----------------------------------------------------------------------------

    def _window(self, key: str, window: QWidget) -> QWidget:
        old = self.windows.pop(key, None)
        if old is not None:
            old.close()
        self.windows[key] = window
        window.show()
        window.raise_()
        window.activateWindow()
        return window

    def open_pair(self) -> PairDialog:
        """Menu → Pair with hub…"""
        dialog = PairDialog(self.snapshot.hub_url)
        dialog.submitted.connect(lambda url, code: self._pair(dialog, url, code))
        self._window("pair", dialog)
        return dialog

    def _pair(self, dialog: PairDialog | SettingsDialog, url: str, code: str) -> None:
        def done(paired: Any, error: Exception | None) -> None:
            if paired is None:
                dialog.show_error(f"Pairing failed: {error}")
                return
            dialog.accept()
            text = f"company {paired.company_id}, branch {paired.branch_id}"
            self.notify(Notice("Paired with the hub", text, False))

        self._later(self.core.submit(self.core.pair(url, code)), done)

    def open_settings(self) -> SettingsDialog:
        """Menu → Settings…"""
        settings = self.snapshot.settings or AgentSettings()
        dialog = SettingsDialog(settings, settings.start_at_login)
        dialog.submitted.connect(lambda form: self._save(dialog, form))
        self._window("settings", dialog)
        return dialog

    def _save(self, dialog: SettingsDialog, form: SettingsForm) -> None:
        changes = {
            "manual_printers": form.manual_printers,
            "subnets": form.subnets,
            "start_at_login": form.start_at_login,
        }
        if form.hub_url:
            changes["hub_url"] = form.hub_url

        def done(_: bool | None, error: Exception | None) -> None:
            if error is not None:
                dialog.show_error(f"Saving failed: {error}")
            elif form.pairing_code and form.hub_url:
                self._pair(dialog, form.hub_url, form.pairing_code)
            else:
                dialog.accept()

        self._later(self.core.submit(self.core.apply(changes)), done)

    def open_logs(self) -> None:
        """Menu → Open log folder: the file manager opens it, or a window shows its path.

        With the agent service, its logs are not this user's to open: a window shows the
        service's recent lines instead (the control API's ``logs``).
        """
        if isinstance(self.core, RemoteCore):
            self._later(self.core.submit(self.core.recent_logs()), self._show_service_logs)
            return
        folder = store.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        self.folders.open(folder, self.show_log_path)

    def _show_service_logs(self, lines: list[str] | None, error: Exception | None) -> None:
        if lines is None:
            self.notify(Notice("Agent service logs", f"not available: {error}"))
            return
        box = QMessageBox()
        box.setWindowTitle("Chit agent service logs")
        box.setIcon(QMessageBox.Icon.Information)
        box.setText(f"The agent service's last {len(lines)} log lines:")
        box.setDetailedText("\n".join(lines))
        self._window("logs", box)

    def show_log_path(self, reason: str) -> QMessageBox:
        """The log folder could not be opened: show where it is (selectable, and copied)."""
        folder = str(store.log_dir())
        log.warning("could not open the log folder", extra={"path": folder, "reason": reason})
        QApplication.clipboard().setText(folder)
        box = QMessageBox()
        box.setWindowTitle("Chit agent logs")
        box.setIcon(QMessageBox.Icon.Information)
        box.setText(
            f"The log folder could not be opened here ({reason}).\n\n"
            f"The logs are in:\n{folder}\n\nThe path is copied to the clipboard."
        )
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._window("logs", box)
        return box

    def open_about(self) -> QMessageBox:
        """Menu → About."""
        box = QMessageBox()
        box.setWindowTitle("About Chit agent")
        box.setIconPixmap(icon_for(self.state).pixmap(48, 48))
        box.setText(
            f"<b>Chit agent {__version__}</b><br>"
            f"Agent id: {self.snapshot.agent_id or '—'}<br>"
            f"Hub: {self.snapshot.hub_url or 'not set'}<br>"
            f"Core: {self._core_text()}<br>"
            f"{tooltip(self.snapshot)}<br>"
            f"Logs: {store.log_dir()}"
        )
        self._window("about", box)
        return box

    def _core_text(self) -> str:
        if isinstance(self.core, RemoteCore):
            return f"the agent service ({self.core.address})"
        return "in this tray (no agent service on this PC)"


def find_service(address: str, wait: float = SERVICE_WAIT) -> str | None:
    """The control address when an agent service runs there (or refuses us), else None.

    At login the tray may start before the service has its socket up: while the socket's
    directory exists (systemd's RuntimeDirectory, so a service is installed and starting),
    keep looking for up to ``wait`` seconds rather than starting a second core.
    """
    return asyncio.run(_probe(address, wait))


async def _probe(address: str, wait: float) -> str | None:
    deadline = time.monotonic() + wait
    while True:
        try:
            await (await ControlClient(address).connect()).close()
            return address
        except ServiceRefused:
            return address  # it runs: show why we cannot use it, never a second core
        except ServiceNotRunning:
            starting = not control.is_pipe(address) and Path(address).parent.is_dir()
            if not starting or time.monotonic() > deadline:
                return None
        await asyncio.sleep(0.5)


def main(hub_url: str | None = None, verbose: bool = False) -> int:
    """Run the tray app until Quit; a second launch hands over to the first and exits."""
    logs.setup(verbose, console=False)  # the CLI already logs to stderr
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    app.setApplicationName("Chit agent")
    app.setWindowIcon(QIcon(icon_for(TrayState.OK)))
    instance = SingleInstance()
    if not instance.claim():
        print("chit-agent is already running; brought it forward", file=sys.stderr)
        return 0
    service = find_service(control.address(store.load()))
    if service is not None:
        log.info("using the agent service", extra={"address": service})
    tray = TrayApp(default_build(hub_url), service=service)
    instance.activated.connect(tray.bring_forward)
    app.aboutToQuit.connect(tray.shutdown)
    app.aboutToQuit.connect(instance.release)
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    # Python signal handlers only run when the interpreter gets control: wake it regularly.
    wake = QTimer()
    wake.start(500)
    wake.timeout.connect(lambda: None)
    tray.start()
    log.info("tray agent started", extra={"autostart": autostart.is_enabled()})
    return app.exec()

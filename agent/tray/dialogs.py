"""The pairing and settings dialogs: forms that validate input and hand it to the app.

Dialogs never talk to the core themselves: they emit what the user asked for and the app
reports back with :meth:`show_error` or closes them, so they stay testable widgets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agent.settings import AgentSettings


@dataclass(frozen=True)
class SettingsForm:
    """What the settings dialog collected."""

    hub_url: str | None
    pairing_code: str
    manual_printers: tuple[str, ...]
    subnets: tuple[str, ...]
    start_at_login: bool


def check_hub_url(url: str) -> str | None:
    """An error message for a hub URL, or None when it is usable."""
    if not url.startswith(("http://", "https://")):
        return "The hub URL must start with http:// or https://"
    return None


def check_printer(entry: str) -> str | None:
    """An error message for a manual printer entry (host or host:port), or None."""
    host, _, port = entry.partition(":")
    if not host or " " in entry:
        return f"“{entry}” is not a host or host:port"
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return f"“{port}” is not a port number"
    return None


def check_subnet(cidr: str) -> str | None:
    """An error message for a subnet to sweep, or None."""
    try:
        ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return f"“{cidr}” is not a subnet like 192.168.1.0/24"
    return None


class _Form(QDialog):
    """A dialog with an error line and OK/Cancel buttons."""

    def __init__(self, title: str, ok_text: str) -> None:
        super().__init__()
        self.setWindowTitle(title)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(ok_text)
        self.buttons.accepted.connect(self._submit)
        self.buttons.rejected.connect(self.reject)

    def _submit(self) -> None:
        raise NotImplementedError

    def show_error(self, message: str) -> None:
        """Show why it did not work and let the user try again."""
        self.error.setText(message)
        self.ok.setEnabled(True)

    def busy(self, message: str) -> None:
        """Show progress while the app works on the request."""
        self.error.setText(message)
        self.ok.setEnabled(False)


class PairDialog(_Form):
    """Hub URL + one-time code from the manager UI."""

    submitted = Signal(str, str)

    def __init__(self, hub_url: str | None) -> None:
        super().__init__("Pair with hub", "Pair")
        self.hub_url = QLineEdit(hub_url or "")
        self.hub_url.setPlaceholderText("https://hub.example:3001")
        self.code = QLineEdit()
        self.code.setPlaceholderText("ABCD-EFGH")
        form = QFormLayout()
        form.addRow("Hub URL", self.hub_url)
        form.addRow("Pairing code", self.code)
        layout = QVBoxLayout(self)
        self.code.textChanged.connect(self.error.clear)
        layout.addWidget(QLabel("Ask a manager for a pairing code for this branch."))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _submit(self) -> None:
        url, code = self.hub_url.text().strip(), self.code.text().strip()
        problem = check_hub_url(url) or (None if code else "Enter the pairing code")
        if problem:
            self.show_error(problem)
            return
        self.busy("Pairing…")
        self.submitted.emit(url, code)


class SettingsDialog(_Form):
    """Hub, pairing code, manual printers, subnets, start at login."""

    submitted = Signal(object)

    def __init__(self, settings: AgentSettings, start_at_login: bool) -> None:
        super().__init__("Chit agent settings", "Save")
        self.hub_url = QLineEdit(settings.hub_url or "")
        self.hub_url.setPlaceholderText("https://hub.example:3001")
        self.code = QLineEdit()
        self.code.setPlaceholderText("only to pair again, e.g. ABCD-EFGH")
        self.printers = QListWidget()
        self.printers.addItems(list(settings.manual_printers))
        self.printer_entry = QLineEdit()
        self.printer_entry.setPlaceholderText("192.168.1.50 or host:9100")
        self.subnets = QPlainTextEdit("\n".join(settings.subnets))
        self.subnets.setPlaceholderText("one per line, e.g. 192.168.1.0/24")
        self.subnets.setFixedHeight(60)
        self.subnets.textChanged.connect(self.error.clear)
        self.start_at_login = QCheckBox("Start the agent when I log in")
        self.start_at_login.setChecked(start_at_login)
        form = QFormLayout()
        form.addRow("Hub URL", self.hub_url)
        form.addRow("Pairing code", self.code)
        form.addRow("Network printers", self._printers_box())
        form.addRow("Subnets to scan", self.subnets)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.start_at_login)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _printers_box(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        self.printers.setFixedHeight(70)
        layout.addWidget(self.printers)
        row = QHBoxLayout()
        self.add_printer = QPushButton("Add")
        self.remove_printer = QPushButton("Remove")
        self.add_printer.clicked.connect(self._add_printer)
        self.remove_printer.clicked.connect(self._remove_printer)
        self.printer_entry.returnPressed.connect(self._add_printer)
        row.addWidget(self.printer_entry)
        row.addWidget(self.add_printer)
        row.addWidget(self.remove_printer)
        layout.addLayout(row)
        return box

    def _add_printer(self) -> None:
        entry = self.printer_entry.text().strip()
        problem = check_printer(entry)
        if problem:
            self.show_error(problem)
            return
        if entry not in self.manual_printers():
            self.printers.addItem(entry)
        self.printer_entry.clear()
        self.error.clear()

    def _remove_printer(self) -> None:
        for item in self.printers.selectedItems():
            self.printers.takeItem(self.printers.row(item))

    def manual_printers(self) -> tuple[str, ...]:
        """The printers entered by hand, in order."""
        return tuple(self.printers.item(i).text() for i in range(self.printers.count()))

    def form(self) -> SettingsForm:
        """The values as entered."""
        subnets = (s.strip() for s in self.subnets.toPlainText().splitlines())
        return SettingsForm(
            hub_url=self.hub_url.text().strip() or None,
            pairing_code=self.code.text().strip(),
            manual_printers=self.manual_printers(),
            subnets=tuple(s for s in subnets if s),
            start_at_login=self.start_at_login.isChecked(),
        )

    def _submit(self) -> None:
        form = self.form()
        problems = [check_subnet(s) for s in form.subnets]
        if form.hub_url:
            problems.insert(0, check_hub_url(form.hub_url))
        if form.pairing_code and not form.hub_url:
            problems.insert(0, "Pairing needs the hub URL")
        problem = next((p for p in problems if p), None)
        if problem:
            self.show_error(problem)
            return
        self.busy("Saving…")
        self.submitted.emit(form)

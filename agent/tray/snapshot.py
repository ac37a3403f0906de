"""What the tray shows, computed from the core: one frozen value per change (no Qt).

The core thread builds a :class:`CoreSnapshot` whenever printers or the hub link change and
hands it to the UI thread; everything the icon, tooltip and menu show is a pure function of it,
so the look of every state is tested without a display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from agent.settings import AgentSettings
from shared.printers import PrinterInfo, PrinterState

#: Printer states that need someone to walk over to the printer.
ATTENTION_STATES = frozenset(
    {
        PrinterState.OFFLINE,
        PrinterState.COVER_OPEN,
        PrinterState.PAPER_OUT,
        PrinterState.PAPER_NEAR_END,
        PrinterState.ERROR,
        PrinterState.UNKNOWN,
    }
)

_LABELS = {
    PrinterState.ONLINE: "OK",
    PrinterState.PAPER_NEAR_END: "paper low",
    PrinterState.OFFLINE: "offline",
    PrinterState.COVER_OPEN: "cover open",
    PrinterState.PAPER_OUT: "out of paper",
    PrinterState.ERROR: "error",
    PrinterState.UNKNOWN: "not answering",
    PrinterState.QUEUE_READY: "ready (print queue)",
    #: Not an attention state: it prints; it only cannot say how it is.
    PrinterState.NO_STATUS: "prints; the printer does not report status",
}


class TrayState(StrEnum):
    """The four looks of the tray icon, worst first."""

    UNPAIRED = "unpaired"
    DISCONNECTED = "disconnected"
    ATTENTION = "attention"
    OK = "ok"


@dataclass(frozen=True)
class CoreSnapshot:
    """The agent core as the tray sees it at one moment."""

    agent_id: str
    hub_url: str | None
    paired: bool
    link_state: str | None = None
    link_detail: str | None = None
    printers: tuple[PrinterInfo, ...] = field(default_factory=tuple)
    settings: AgentSettings | None = None
    #: The control address of the agent service whose core this is (None: in this tray).
    service: str | None = None
    #: Why the agent service cannot be used right now (not running, not allowed).
    service_error: str | None = None

    @property
    def connected(self) -> bool:
        """Whether the hub link is up (registered, or still registering)."""
        return self.link_state in ("connected", "registering")

    @property
    def registering(self) -> bool:
        """Connected, but the hub has not acknowledged hello and inventory yet."""
        return self.link_state == "registering"


def printer_state(printer: PrinterInfo) -> PrinterState:
    """A printer's state; a printer never checked counts as not answering."""
    return printer.status.state if printer.status is not None else PrinterState.UNKNOWN


def state_label(state: PrinterState) -> str:
    """Words for a printer state that staff understand."""
    return _LABELS.get(state, str(state))


def tray_state(snapshot: CoreSnapshot) -> TrayState:
    """Which icon to show: not paired, not connected, a printer needs attention, or fine."""
    if snapshot.service_error:
        return TrayState.DISCONNECTED
    if not snapshot.paired or not snapshot.hub_url:
        return TrayState.UNPAIRED
    if not snapshot.connected:
        return TrayState.DISCONNECTED
    if any(printer_state(p) in ATTENTION_STATES for p in snapshot.printers):
        return TrayState.ATTENTION
    return TrayState.OK


def tooltip(snapshot: CoreSnapshot) -> str:
    """The one-line summary shown on hover."""
    state = tray_state(snapshot)
    if snapshot.service_error:
        return f"Chit: the agent service is unavailable — {snapshot.service_error}"[:200]
    if state is TrayState.UNPAIRED:
        return "Chit: not paired — use “Pair with hub…”"
    if state is TrayState.DISCONNECTED:
        reason = f" ({snapshot.link_detail})" if snapshot.link_detail else ""
        return f"Chit: not connected to the hub{reason}"[:200]
    if snapshot.registering:
        return f"Chit: connected, registering — {printers_summary(snapshot.printers)}"
    return f"Chit: connected — {printers_summary(snapshot.printers)}"


def printers_summary(printers: tuple[PrinterInfo, ...]) -> str:
    """'3 printers OK', '1 of 3 printers needs attention', 'no printers found'."""
    total = len(printers)
    if total == 0:
        return "no printers found"
    bad = sum(1 for p in printers if printer_state(p) in ATTENTION_STATES)
    noun = "printer" if total == 1 else "printers"
    silent = sum(1 for p in printers if printer_state(p) is PrinterState.NO_STATUS)
    if bad == 0 and silent:  # never "OK" for a printer that cannot say so
        return f"{total} {noun}: {total - silent} OK, {silent} not reporting status"
    if bad == 0:
        return f"{total} {noun} OK"
    verb = "needs" if bad == 1 else "need"
    return f"{bad} of {total} {noun} {verb} attention"


def printer_line(printer: PrinterInfo, ambiguous: bool = False) -> str:
    """A printer's menu entry: its name (with its address when names clash) and its state."""
    name = printer.name
    if ambiguous:
        where = f"{printer.host}:{printer.port}" if printer.host else printer.printer_id
        name = f"{name} ({where})" if where not in name else f"{name} ({printer.printer_id})"
    return f"{name} — {state_label(printer_state(printer))}"

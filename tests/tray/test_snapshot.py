"""Icon state and tooltip as pure functions of the core snapshot."""

from __future__ import annotations

from agent.tray.snapshot import CoreSnapshot, TrayState, printer_line, tooltip, tray_state
from shared.printers import PrinterState
from tests.tray.test_incidents import printer, snap


def test_unpaired_wins_over_everything() -> None:
    unpaired = CoreSnapshot("a", "http://hub", False, "refused", "not paired")
    assert tray_state(unpaired) is TrayState.UNPAIRED
    assert tray_state(CoreSnapshot("a", None, True)) is TrayState.UNPAIRED
    assert tooltip(unpaired).startswith("Chit: not paired")


def test_disconnected_says_why() -> None:
    down = CoreSnapshot("a", "http://hub", True, "disconnected", "cannot reach hub")
    assert tray_state(down) is TrayState.DISCONNECTED
    assert tooltip(down) == "Chit: not connected to the hub (cannot reach hub)"


def test_connected_summaries() -> None:
    ok = printer(PrinterState.ONLINE, "net:a:9100")
    bad = printer(PrinterState.COVER_OPEN, "net:b:9100")
    assert tooltip(snap(ok, ok, ok)) == "Chit: connected — 3 printers OK"
    assert tray_state(snap(ok)) is TrayState.OK
    assert tray_state(snap(ok, bad)) is TrayState.ATTENTION
    assert tooltip(snap(ok, bad)) == "Chit: connected — 1 of 2 printers needs attention"
    assert tooltip(snap()) == "Chit: connected — no printers found"


def test_printer_lines_name_the_state_and_disambiguate() -> None:
    assert printer_line(printer(PrinterState.PAPER_OUT)) == "Kitchen — out of paper"
    assert (
        printer_line(printer(PrinterState.ONLINE), ambiguous=True) == "Kitchen (10.0.0.5:9100) — OK"
    )


def test_a_printer_without_status_is_its_own_state_and_never_ok() -> None:
    silent = printer(PrinterState.NO_STATUS, "usb:0416:5011:path-1-1.4")
    ok = printer(PrinterState.ONLINE, "net:a:9100")
    assert printer_line(silent) == "Kitchen — prints; the printer does not report status"
    assert tray_state(snap(silent)) is TrayState.OK  # it prints: nobody needs to walk over
    assert tooltip(snap(ok, silent)) == "Chit: connected — 2 printers: 1 OK, 1 not reporting status"
    assert printer_line(printer(PrinterState.QUEUE_READY)) == "Kitchen — ready (print queue)"

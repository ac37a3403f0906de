"""What a printer's status means for a print: can it print now, and if not, what to do."""

from __future__ import annotations

from shared.printers import PrinterState, PrinterStatus, StatusSource
from shared.wire import ErrorInfo

#: Code and advice per state that stops printing. Advice says what a person should do.
_BLOCKING: dict[PrinterState, tuple[str, str]] = {
    PrinterState.UNKNOWN: (
        "printer_not_responding",
        "printer did not answer: check that it is switched on and connected",
    ),
    PrinterState.OFFLINE: (
        "printer_offline",
        "printer is offline: check power, cable and the error light",
    ),
    PrinterState.PAPER_OUT: ("paper_out", "paper out: load paper"),
    PrinterState.COVER_OPEN: ("cover_open", "cover open: close the printer cover"),
    PrinterState.ERROR: (
        "printer_error",
        "printer reports an error: clear the jam or cutter, then power-cycle it",
    ),
}


def blocking_error(status: PrinterStatus) -> ErrorInfo | None:
    """The error that prevents printing in this status, or None when the printer is ready."""
    if status.ready:
        return None
    code, advice = _BLOCKING.get(status.state, ("printer_not_ready", "printer is not ready"))
    if status.source is StatusSource.QUEUE and status.detail:
        return ErrorInfo(code=code, message=status.detail)  # the queue's own words say what to do
    detail = f" ({status.detail})" if status.detail else ""
    return ErrorInfo(code=code, message=advice + detail)

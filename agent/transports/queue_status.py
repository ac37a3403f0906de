"""Status through an OS print queue: what a queue's own state means, never "online".

A queue path is one-way unless proven otherwise: the queue tells whether it is paused,
rejecting jobs, or has seen the printer report a fault, and how each job ended; it cannot say
the printer has paper. So a queue with no fault is :attr:`PrinterState.QUEUE_READY` (prints,
status from the print queue), ``online`` stays None, and ``source`` is ``queue``. Faults map
to the same states as the hardware's (paused -> offline, media-empty -> paper out, ...), so
jobs wait and retry on them as they do for a printer that reports them itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.printers import PrinterState, PrinterStatus, StatusSource

_FLAGS = {
    PrinterState.PAPER_OUT: "paper_out",
    PrinterState.COVER_OPEN: "cover_open",
    PrinterState.PAPER_NEAR_END: "paper_near_end",
}


def queue_status(state: PrinterState, detail: str) -> PrinterStatus:
    """A status the queue gave (``source=queue``, ``online`` unknown)."""
    flags = {_FLAGS[state]: True} if state in _FLAGS else {}
    return PrinterStatus(
        state=state,
        online=None,
        detail=detail[:200],
        checked_at=datetime.now(UTC),
        source=StatusSource.QUEUE,
        unrecoverable_error=state is PrinterState.ERROR,
        **flags,
    )


def ready_detail(queue: str, doing: str) -> str:
    """The detail of a queue that reports no fault."""
    return f"status from the print queue {queue!r} ({doing}); the printer itself reports none"

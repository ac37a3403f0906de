"""Decide which conditions deserve a notification: once per incident, never per poll (no Qt).

A printer incident starts when the printer enters a state staff must act on (offline, out of
paper, cover open, not answering) and ends when it leaves it; a change from one bad state to
another is a new incident. A hub incident starts when the link goes down and is announced only
once it has lasted ``hub_grace`` seconds (a hub restart is not worth a balloon), then once
more when the link is back. The clock is injected so the minute is tested in microseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.tray.snapshot import CoreSnapshot, printer_state, state_label
from shared.printers import PrinterState

#: States that start a printer incident (paper low and errors show in the icon only).
NOTIFY_STATES = frozenset(
    {PrinterState.OFFLINE, PrinterState.PAPER_OUT, PrinterState.COVER_OPEN, PrinterState.UNKNOWN}
)
HUB_GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class Notice:
    """One notification to show."""

    title: str
    message: str
    warning: bool = True


class IncidentNotifier:
    """Feed it every snapshot (and a periodic tick); it returns the notices to show now."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, hub_grace: float = HUB_GRACE_SECONDS
    ) -> None:
        self._clock = clock
        self._grace = hub_grace
        self._printer_incidents: dict[str, PrinterState] = {}
        self._hub_down_since: float | None = None
        self._hub_announced = False
        self._last: CoreSnapshot | None = None

    def observe(self, snapshot: CoreSnapshot) -> list[Notice]:
        """Notices caused by this snapshot (printer incidents, a hub outage past its grace)."""
        self._last = snapshot
        return self._printers(snapshot) + self._hub(snapshot)

    def tick(self) -> list[Notice]:
        """Notices due by the clock alone (the hub outage reaching a minute)."""
        return self._hub(self._last) if self._last is not None else []

    def _printers(self, snapshot: CoreSnapshot) -> list[Notice]:
        notices: list[Notice] = []
        seen: set[str] = set()
        for printer in snapshot.printers:
            seen.add(printer.printer_id)
            state = printer_state(printer)
            previous = self._printer_incidents.get(printer.printer_id)
            if state not in NOTIFY_STATES:
                self._printer_incidents.pop(printer.printer_id, None)
            elif state is not previous:
                self._printer_incidents[printer.printer_id] = state
                notices.append(Notice(f"Printer {state_label(state)}", printer.name))
        for gone in set(self._printer_incidents) - seen:
            del self._printer_incidents[gone]
        return notices

    def _hub(self, snapshot: CoreSnapshot | None) -> list[Notice]:
        if snapshot is None or not snapshot.paired or not snapshot.hub_url:
            self._hub_down_since, self._hub_announced = None, False
            return []
        if snapshot.connected:
            back = self._hub_announced
            self._hub_down_since, self._hub_announced = None, False
            return [Notice("Hub connection restored", snapshot.hub_url, False)] if back else []
        now = self._clock()
        if self._hub_down_since is None:
            self._hub_down_since = now
        if self._hub_announced or now - self._hub_down_since < self._grace:
            return []
        self._hub_announced = True
        detail = snapshot.link_detail or "no connection"
        return [Notice("Hub connection lost", f"{snapshot.hub_url}: {detail}"[:200])]

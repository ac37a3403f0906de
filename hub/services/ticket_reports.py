"""What managers see of kitchen tickets: an order's ticket log, order-to-ticket times, alerts.

The log of an order lists each ticket with its station, lines, state and full job history
(so every reroute and redelivery is there), its copies, and the notes that say why something
did not print. Order-to-ticket time is from the order event's arrival to the job's
``printed``; copies are not counted. Two alerts come from here: ``station_printer_down``
(a station's primary printer down past the reroute delay with tickets waiting, from the
dispatcher) and ``ticket_late`` (tickets not printed ``late_after`` seconds after their order
arrived, from the database, so every instance sees the same).
"""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

from hub.services.locator import Requester
from hub.services.monitoring import Condition
from hub.services.ticket_dispatch import Outage, TicketDispatcher
from hub.store import Database
from hub.store import jobs as job_store
from hub.store import tickets as ticket_store
from hub.store.columns import utcnow
from hub.store.jobs import JobEventRow, JobRow
from hub.store.tickets import NoteRow, TicketRow

#: Most points per station in a latency answer.
MAX_POINTS = 200


def _printed_at(events: list[JobEventRow]) -> str | None:
    return next((e.at.isoformat() for e in events if e.state == "printed"), None)


def ticket_view(
    ticket: TicketRow, job: JobRow | None, events: list[JobEventRow], copies: list[str]
) -> dict[str, Any]:
    """One ticket of an order's log."""
    printed = next((e.at for e in events if e.state == "printed"), None)
    seconds = (printed - ticket.published_at).total_seconds() if printed else None
    return {
        "ticketId": ticket.job_id,
        "jobId": ticket.job_id,
        "stationId": ticket.station_id,
        "stationName": ticket.station_name,
        "kind": ticket.kind,
        "orderVersion": ticket.order_version,
        "lines": ticket.lines,
        "state": job.state if job else None,
        "error": {"code": job.error_code, "message": job.error_message}
        if job and job.error_code
        else None,
        "printerId": job.printer_id if job else ticket.printer_id,
        "primaryPrinterId": ticket.printer_id,
        "reroutedFrom": ticket.rerouted_from,
        "copyOf": ticket.copy_of,
        "reprints": copies,
        "publishedAt": ticket.published_at.isoformat(),
        "printedAt": _printed_at(events),
        "secondsToPrint": None if seconds is None else round(seconds, 3),
        "history": [{"state": e.state, "at": e.at.isoformat(), "detail": e.detail} for e in events],
    }


def note_view(note: NoteRow) -> dict[str, Any]:
    """One note of an order's log."""
    return {
        "orderVersion": note.order_version,
        "code": note.code,
        "message": note.message,
        "at": note.at.isoformat(),
    }


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


class TicketReports:
    """The ticket log, the latency figures and the ticket alerts."""

    def __init__(self, db: Database, dispatcher: TicketDispatcher, late_after: float) -> None:
        if late_after <= 0:
            raise ValueError("ticket_late_seconds must be a positive number of seconds")
        self._db, self._dispatcher, self.late_after = db, dispatcher, late_after

    async def order_log(self, who: Requester, order_id: str) -> dict[str, Any] | None:
        """An order's tickets and notes (None when unknown or outside the caller's scope)."""
        async with self._db.session() as s:
            order = await ticket_store.get_order(s, who.company_id, order_id)
            tickets, notes = await ticket_store.order_log(s, who.company_id, order_id)
            if order is None and not tickets and not notes:
                return None
            branch = order.branch_id if order else (tickets[0].branch_id if tickets else None)
            if who.branch_id and branch != who.branch_id:
                return None
            copies: dict[str, list[str]] = {}
            for t in tickets:
                if t.copy_of:
                    copies.setdefault(t.copy_of, []).append(t.job_id)
            views = []
            for t in tickets:
                job = await job_store.get_job(s, who.company_id, t.job_id)
                events = await job_store.job_events(s, t.job_id)
                views.append(ticket_view(t, job, events, copies.get(t.job_id, [])))
        return {
            "orderId": order_id,
            "branchId": branch,
            "orderVersion": order.version if order else None,
            "cancelled": bool(order and order.cancelled_at),
            "tickets": views,
            "notes": [note_view(n) for n in notes],
        }

    async def latency(self, branch_id: str, minutes: int) -> dict[str, Any]:
        """Order-to-ticket seconds per station over the last ``minutes``, with points."""
        since = utcnow() - timedelta(minutes=minutes)
        async with self._db.session() as s:
            rows = await ticket_store.printed_times(s, branch_id, since)
        per: dict[str, dict[str, Any]] = {}
        for station_id, name, published, printed in rows:
            entry = per.setdefault(
                station_id, {"stationId": station_id, "name": name, "points": []}
            )
            seconds = round(max(0.0, (printed - published).total_seconds()), 3)
            entry["points"].append({"at": printed.isoformat(), "seconds": seconds})
        for entry in per.values():
            values = sorted(p["seconds"] for p in entry["points"])
            entry.update(
                count=len(values),
                p50=_quantile(values, 0.5),
                p95=_quantile(values, 0.95),
                max=values[-1],
            )
            entry["points"] = entry["points"][-MAX_POINTS:]
        return {
            "minutes": minutes,
            "lateAfterSeconds": self.late_after,
            "stations": sorted(per.values(), key=lambda e: str(e["name"]).casefold()),
        }

    async def conditions(self) -> list[Condition]:
        """The ticket alerts that hold now (for the alert engine)."""
        found = [self._down(outage) for outage in self._dispatcher.outages.values()]
        before = utcnow() - timedelta(seconds=self.late_after)
        async with self._db.session() as s:
            late = await ticket_store.late_tickets(s, before)
        for company, branch, station_id, name, count in late:
            many = f"{count} tickets" if count != 1 else "a ticket"
            found.append(
                Condition(
                    "ticket_late",
                    f"{branch}/{station_id}",
                    count,
                    self.late_after,
                    f"{name}: {many} not printed {self.late_after:g} s after the order",
                    company,
                    branch_id=branch,
                )
            )
        return found

    def _down(self, outage: Outage) -> Condition:
        down_for = max(0.0, self._dispatcher.clock() - outage.since)
        where = (
            f"{outage.rerouted} sent to the backup {outage.backup_id}"
            if outage.backup_id
            else "no backup printer"
        )
        return Condition(
            "station_printer_down",
            f"{outage.branch_id}/{outage.station_id}",
            round(down_for),
            self._dispatcher.reroute_after,
            f"{outage.station_name} printer {outage.printer_id} {outage.reason} for "
            f"{down_for:.0f} s with tickets waiting ({where})",
            outage.company_id,
            severity="critical",
            branch_id=outage.branch_id,
        )

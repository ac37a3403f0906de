"""Hands kitchen tickets to printers: the station's primary, or its backup when it is down.

A ticket's print job is created *held*: queued, with no agent. The dispatcher, and only it,
gives a held ticket to a printer, one ticket at a time per printer (the next goes once the
one before it has finished). A ticket the agent holds cannot be taken back without risking a
second print (a printer that went out of paper prints what it kept once the paper is in), so
keeping the others at the hub is what lets them move: while a station's primary printer
reports paper out, cover open or an error, or does not answer, for longer than
``reroute_after`` seconds, its waiting tickets go to the backup printer, each marked
"REROUTED from <station>", with the reroute in the job's history. New tickets go back to the
primary as soon as it reports ready again. An outage with tickets waiting is kept for the
alerts (``station_printer_down``).

In a cluster only the alert leader dispatches (one lease), so two instances never hand out
the same ticket; the hand-over itself is a compare-and-set on the job (hub.store.jobs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from hub.cluster import Cluster
from hub.services.jobs import JobService
from hub.services.locator import AgentLocator, PrintingError, Requester
from hub.services.monitoring import LEADER_LEASE
from hub.services.registry import AgentRecord
from hub.store import Database
from hub.store import jobs as job_store
from hub.store import printers as printer_store
from hub.store import tickets as ticket_store
from hub.store.jobs import JobRow
from hub.store.tickets import TicketRow
from shared.documents import ReceiptDocument
from shared.printers import PrinterState, PrinterStatus
from shared.ticket_documents import rerouted
from shared.tickets import Station

log = logging.getLogger("chit.hub.tickets")

#: Tickets one printer holds at a time; the rest wait at the hub, where they can still move.
MAX_IN_FLIGHT = 1
#: Seconds between dispatch rounds when nothing wakes the dispatcher earlier.
DISPATCH_INTERVAL = 0.5
_REASONS = {
    PrinterState.PAPER_OUT: "paper out",
    PrinterState.COVER_OPEN: "cover open",
    PrinterState.OFFLINE: "offline",
    PrinterState.ERROR: "in error",
    PrinterState.UNKNOWN: "not answering",
}

StationKey = tuple[str, str, str]


@dataclass(frozen=True)
class Health:
    """Whether a printer can take a ticket now; when not, why and since when (epoch s)."""

    ready: bool
    reason: str
    since: float = 0.0
    agent: AgentRecord | None = None


@dataclass
class Outage:
    """A station whose primary printer is down while tickets wait for it."""

    company_id: str
    branch_id: str
    station_id: str
    station_name: str
    printer_id: str
    reason: str
    since: float
    backup_id: str | None = None
    rerouted: int = 0
    waiting: int = 0


class TicketDispatcher:
    """Releases held tickets to ready printers; reroutes to backups after ``reroute_after``."""

    def __init__(
        self,
        db: Database,
        jobs: JobService,
        locator: AgentLocator,
        reroute_after: float,
        cluster: Cluster | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if reroute_after <= 0:
            raise ValueError("ticket_reroute_seconds must be a positive number of seconds")
        self.reroute_after = reroute_after
        self._db, self._jobs, self._locator = db, jobs, locator
        self._cluster, self.clock = cluster, clock
        self._wake = asyncio.Event()
        #: (company, printer) -> when the dispatcher learned it stopped being ready.
        self._down: dict[tuple[str, str], float] = {}
        #: Printers looked at in the current round; the others' down times are forgotten,
        #: so a printer that recovered and failed again unseen is timed from its new status.
        self._observed: set[tuple[str, str]] = set()
        self.outages: dict[StationKey, Outage] = {}

    def kick(self) -> None:
        """Dispatch soon (a ticket was made, a job finished)."""
        self._wake.set()

    async def run(self) -> None:
        """Dispatch forever (a background task of the app)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), DISPATCH_INTERVAL)
            self._wake.clear()
            try:
                if await self._leading():
                    await self.dispatch_once()
            except Exception:
                log.exception("dispatching tickets failed")

    async def _leading(self) -> bool:
        if self._cluster is None:
            return True
        # The alert leader's lease: the station_printer_down alerts come from this instance.
        return bool(await self._cluster.state.lead("alerts", LEADER_LEASE))

    async def dispatch_once(self) -> int:
        """One round over every held ticket; how many were handed to a printer."""
        self._observed = set()
        async with self._db.session() as s:
            held = await ticket_store.held_tickets(s)
        groups: dict[StationKey, list[tuple[TicketRow, JobRow]]] = {}
        for ticket, job in held:
            key = (ticket.company_id, ticket.branch_id, ticket.station_id)
            groups.setdefault(key, []).append((ticket, job))
        released = 0
        for key, waiting in groups.items():
            released += await self._station(key, waiting)
        for key in set(self.outages) - set(groups):
            await self._check_recovered(key)
        for printer in set(self._down) - self._observed:
            del self._down[printer]
        return released

    async def _station(self, key: StationKey, waiting: list[tuple[TicketRow, JobRow]]) -> int:
        company, branch, station_id = key
        async with self._db.session() as s:
            row = await ticket_store.get_station(s, branch, station_id)
        station = row.station if row is not None else None
        primary_id = station.primary_printer_id if station else waiting[0][1].printer_id
        primary = await self.health(company, branch, primary_id)
        if primary.ready:
            self._recovered(key)
            return await self._release(waiting, primary_id, primary)
        down_for = self.clock() - primary.since
        if down_for < self.reroute_after or station is None:
            return 0
        outage = self._outage(key, station, primary, waiting)
        if station.backup_printer_id is None:
            return 0
        backup = await self.health(company, branch, station.backup_printer_id)
        if not backup.ready:
            return 0
        detail = (
            f"rerouted from {station.name} ({primary_id}): {primary.reason} for "
            f"{down_for:.0f} s; printing on the backup {station.backup_printer_id}"
        )
        sent = await self._release(
            waiting, station.backup_printer_id, backup, detail, (station.name, primary_id)
        )
        outage.rerouted += sent
        return sent

    async def _release(
        self,
        waiting: list[tuple[TicketRow, JobRow]],
        printer_id: str,
        health: Health,
        detail: str | None = None,
        reroute: tuple[str, str] | None = None,
    ) -> int:
        """Hand the oldest waiting tickets to a ready printer, as many as it has room for."""
        agent = health.agent
        assert agent is not None
        company = waiting[0][0].company_id
        async with self._db.session() as s:
            room = MAX_IN_FLIGHT - await ticket_store.in_flight(s, company, printer_id)
        handed = 0
        for ticket, job in waiting[: max(0, room)]:
            assigned = await self._assign(ticket, job, printer_id, agent, detail, reroute)
            if assigned is not None:
                await self._jobs.deliver(assigned, agent)
                handed += 1
        return handed

    async def _assign(
        self,
        ticket: TicketRow,
        job: JobRow,
        printer_id: str,
        agent: AgentRecord,
        detail: str | None,
        reroute: tuple[str, str] | None,
    ) -> JobRow | None:
        body = None
        if reroute is not None:
            document = ReceiptDocument.model_validate(ticket.document)
            body = rerouted(document, reroute[0]).to_wire()
        note = detail or f"to printer {printer_id} (agent {agent.agent_id})"
        async with self._db.session() as s:
            assigned = await job_store.assign_job(s, job.id, printer_id, agent.agent_id, note, body)
            if assigned is not None and reroute is not None:
                await ticket_store.set_rerouted(s, job.id, reroute[1])
        if assigned is not None:
            log.info(
                "ticket handed to a printer",
                extra={
                    "job_id": job.id,
                    "printer_id": printer_id,
                    "station_id": ticket.station_id,
                    "rerouted": reroute is not None,
                },
            )
        return assigned

    # --- printer health --------------------------------------------------------------------

    async def health(self, company_id: str, branch_id: str, printer_id: str) -> Health:
        """Whether a printer can take a ticket now (its agent online, its status ready)."""
        try:
            owner = await self._locator.find_owner(Requester(company_id, branch_id), printer_id)
        except PrintingError:
            return await self._not_ready(company_id, printer_id, "unknown to the hub")
        if not owner.online:
            since = owner.offline_since or self.clock()
            return await self._not_ready(company_id, printer_id, "agent offline", since)
        status = await self._status(company_id, branch_id, printer_id, owner)
        if status is not None and status.ready:
            self._observed.add((company_id, printer_id))
            self._down.pop((company_id, printer_id), None)
            return Health(True, "ready", agent=owner)
        if status is None:
            return await self._not_ready(company_id, printer_id, "not answering")
        reason = _REASONS.get(status.state, str(status.state))
        return await self._not_ready(company_id, printer_id, reason, from_history=True)

    async def _status(
        self, company_id: str, branch_id: str, printer_id: str, owner: AgentRecord
    ) -> PrinterStatus | None:
        info = owner.printers.get(printer_id)
        if info is not None and info.status is not None:
            return info.status
        row = await self._locator.records.printer_owner(company_id, branch_id, printer_id)
        if row is None or row.last_status is None:
            return None
        return PrinterStatus.model_validate(row.last_status)

    async def _not_ready(
        self,
        company_id: str,
        printer_id: str,
        reason: str,
        since: float | None = None,
        *,
        from_history: bool = False,
    ) -> Health:
        """Down since when the hub first knew: the status it recorded, or ``since``, or now."""
        key = (company_id, printer_id)
        self._observed.add(key)
        if key not in self._down:
            if from_history:
                since = await self._status_since(company_id, printer_id)
            self._down[key] = since or self.clock()
        return Health(False, reason, self._down[key])

    async def _status_since(self, company_id: str, printer_id: str) -> float:
        async with self._db.session() as s:
            latest = await printer_store.status_history(s, company_id, printer_id, limit=1)
        return latest[0].at.timestamp() if latest else self.clock()

    # --- outages ----------------------------------------------------------------------------

    def _outage(
        self,
        key: StationKey,
        station: Station,
        primary: Health,
        waiting: list[tuple[TicketRow, JobRow]],
    ) -> Outage:
        outage = self.outages.get(key)
        if outage is None:
            outage = Outage(
                key[0],
                key[1],
                key[2],
                station.name,
                station.primary_printer_id,
                primary.reason,
                primary.since,
                station.backup_printer_id,
            )
            self.outages[key] = outage
            log.warning(
                "station printer down with tickets waiting",
                extra={"station_id": key[2], "printer_id": outage.printer_id},
            )
        outage.reason, outage.waiting = primary.reason, len(waiting)
        return outage

    async def _check_recovered(self, key: StationKey) -> None:
        outage = self.outages[key]
        health = await self.health(outage.company_id, outage.branch_id, outage.printer_id)
        if health.ready:
            self._recovered(key)
        else:
            outage.waiting = 0

    def _recovered(self, key: StationKey) -> None:
        if self.outages.pop(key, None) is not None:
            log.info("station printer ready again", extra={"station_id": key[2]})

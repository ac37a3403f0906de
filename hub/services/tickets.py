"""Orders become kitchen tickets: one print job per station and order version, VOIDs on cancel.

:meth:`TicketService.published` runs after the publish API emitted an order event. For an
order version with lines it routes the lines to the branch's stations, works out per station
what changed since what that station was sent (shared.tickets), and, in one transaction,
writes each station's ticket as a held print job whose id is derived from (company, order,
version, station), the ticket log, and the order's new state. The same event published
twice, or handled again after a crash, finds its version handled (or its jobs made) and
prints nothing more. The dispatcher (hub.services.ticket_dispatch) then hands the tickets
to printers.

Outcomes that print nothing are said in the order's ticket log and in the publish answer:
a version already handled (``duplicate_version``) or older than one handled
(``stale_version``), an order already cancelled, no station in the branch, lines that route
nowhere, or a version that changes nothing any station has.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.metrics import HubMetrics
from hub.services.jobs import DEFAULT_LIFETIME, JobService
from hub.services.locator import PrintingError, Requester
from hub.services.ticket_dispatch import TicketDispatcher
from hub.store import Database
from hub.store import audit as audit_store
from hub.store import jobs as job_store
from hub.store import tickets as ticket_store
from hub.store.columns import utcnow
from hub.store.jobs import JobRow, NewJob
from hub.store.tickets import OrderRow, TicketRow
from shared.events import EventSpec, OrderCancelled, OrderEvent
from shared.jobs import is_terminal
from shared.namespaces import Namespace
from shared.publish import PublishRequest
from shared.ticket_documents import ticket_document
from shared.tickets import (
    LineRoute,
    RoutingRules,
    Station,
    TicketHeader,
    TicketItem,
    TicketKind,
    TicketLine,
    keep_routes,
    route_order,
    station_delta,
    ticket_job_id,
    ticket_kind,
    voids,
    wanted_items,
)
from shared.wire import WireModel

log = logging.getLogger("chit.hub.tickets")

Items = dict[str, dict[str, TicketItem]]


@dataclass(frozen=True)
class Planned:
    """A ticket to make: its station, what kind, its lines."""

    station: Station
    kind: TicketKind
    lines: list[TicketLine]


@dataclass(frozen=True)
class Handling:
    """One order event being handled: who, which order, which version."""

    company_id: str
    branch_id: str
    event: OrderEvent
    version: int | None
    #: The ticket jobs made, to announce once they are committed.
    jobs: list[JobRow] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        """The order's id."""
        return self.event.order_id


def _items(sent: Mapping[str, Mapping[str, Any]]) -> Items:
    return {
        station: {line: TicketItem.model_validate(item) for line, item in items.items()}
        for station, items in sent.items()
    }


def _wire(items: Items) -> dict[str, dict[str, Any]]:
    return {s: {k: v.to_wire() for k, v in lines.items()} for s, lines in items.items() if lines}


def plan(sent: Items, wanted: Items, stations: Mapping[str, Station]) -> list[Planned]:
    """Every station's ticket for going from ``sent`` to ``wanted`` (stations that changed)."""
    out = []
    for station in sorted(stations.values(), key=lambda s: (s.name.casefold(), s.station_id)):
        before = sent.get(station.station_id, {})
        lines = station_delta(before, wanted.get(station.station_id, {}))
        if lines:
            out.append(Planned(station, ticket_kind(before, cancelled=False), lines))
    return out


def _summary(
    outcome: str, version: int | None, tickets: Sequence[TicketRow] = ()
) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "orderVersion": version,
        "tickets": [
            {"ticketId": t.job_id, "stationId": t.station_id, "kind": t.kind, "lines": len(t.lines)}
            for t in tickets
        ],
    }


class TicketService:
    """Order events to tickets; ticket reprints; the order's ticket log."""

    def __init__(
        self,
        db: Database,
        jobs: JobService,
        dispatcher: TicketDispatcher,
        metrics: HubMetrics,
        lifetime: timedelta = DEFAULT_LIFETIME,
    ) -> None:
        self._db, self._jobs, self._dispatcher = db, jobs, dispatcher
        self._metrics, self._lifetime = metrics, lifetime
        #: One order is handled by one task at a time on this instance (the database row lock
        #: orders instances; SQLite has none).
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        jobs.listeners.append(self.job_changed)

    @property
    def dispatcher(self) -> TicketDispatcher:
        """The dispatcher that hands tickets to printers."""
        return self._dispatcher

    async def published(
        self, spec: EventSpec, event: WireModel, envelope: PublishRequest
    ) -> dict[str, Any] | None:
        """Make the tickets a published order event asks for (None for other events)."""
        company_id, branch_id = envelope.company_id, envelope.branch_id
        if spec.namespace is not Namespace.ORDERS or not isinstance(event, OrderEvent):
            return None
        cancel = isinstance(event, OrderCancelled)
        if event.lines is None and not cancel:
            return None  # a status change without the order's content: nothing to print
        if branch_id is None:
            return _summary("no_branch", event.order_version)
        handling = Handling(company_id, branch_id, event, event.order_version)
        key = (company_id, event.order_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            result = await (self._cancel(handling) if cancel else self._version(handling))
        for job in handling.jobs:
            await self._jobs.announce(job)
        self._dispatcher.kick()
        return result

    async def _version(self, h: Handling) -> dict[str, Any]:
        assert h.version is not None and h.event.lines is not None
        async with self._db.session() as s:
            stations = {
                r.station.station_id: r.station
                for r in await ticket_store.list_stations(s, h.branch_id)
            }
            rules = await ticket_store.get_rules(s, h.branch_id)
            order = await ticket_store.lock_order(s, h.company_id, h.order_id, h.branch_id)
            refusal = self._refuse_version(order, h)
            if refusal is not None:
                await ticket_store.add_note(s, h.company_id, h.order_id, h.version, *refusal)
                return _summary(refusal[0], h.version)
            sent = _items(order.sent)
            routes = keep_routes(route_order(h.event.lines, stations, rules), sent, stations)
            await self._note_routes(s, h, routes, stations, rules)
            wanted = wanted_items(routes)
            header = TicketHeader.of(h.event, TicketHeader.model_validate(order.header))
            made = [
                await self._make(s, h, p, header, h.version) for p in plan(sent, wanted, stations)
            ]
            if not made:
                await self._note_nothing(s, h, routes, stations)
            await ticket_store.save_order(
                s,
                h.company_id,
                h.order_id,
                version=h.version,
                header=header.to_wire(),
                sent=_wire(wanted),
            )
        return _summary("queued" if made else "nothing_to_print", h.version, made)

    def _refuse_version(self, order: OrderRow, h: Handling) -> tuple[str, str] | None:
        """Why this version prints nothing before routing (cancelled, seen, older)."""
        assert h.version is not None
        if order.cancelled_at is not None:
            return "order_cancelled", f"version {h.version} arrived after the order was cancelled"
        if h.version == order.version:
            return "duplicate_version", f"version {h.version} was handled already"
        if h.version < order.version:
            return (
                "stale_version",
                f"version {h.version} arrived after version {order.version}; ignored",
            )
        return None

    async def _note_routes(
        self,
        s: AsyncSession,
        h: Handling,
        routes: list[LineRoute],
        stations: Mapping[str, Station],
        rules: RoutingRules,
    ) -> None:
        if not stations:
            await ticket_store.add_note(
                s,
                h.company_id,
                h.order_id,
                h.version,
                "no_stations",
                f"branch {h.branch_id} has no stations",
            )
            return
        for route in routes:
            if not route.routed or route.line.station not in (None, *route.station_ids):
                reason = route.reasons[0]
                code = "unrouted" if not route.routed else "unknown_station"
                await ticket_store.add_note(
                    s,
                    h.company_id,
                    h.order_id,
                    h.version,
                    code,
                    f"line {route.line.line_id} ({route.line.name}): {reason}",
                )

    async def _note_nothing(
        self, s: AsyncSession, h: Handling, routes: list[LineRoute], stations: Mapping[str, Station]
    ) -> None:
        routed = any(r.routed for r in routes)
        code, message = (
            ("no_changes", f"version {h.version} changes nothing any station has")
            if routed or not stations
            else ("nothing_routed", "no line goes to any station: nothing printed")
        )
        await ticket_store.add_note(s, h.company_id, h.order_id, h.version, code, message)

    async def _cancel(self, h: Handling) -> dict[str, Any]:
        async with self._db.session() as s:
            stations = {
                r.station.station_id: r.station
                for r in await ticket_store.list_stations(s, h.branch_id)
            }
            order = await ticket_store.lock_order(s, h.company_id, h.order_id, h.branch_id)
            if order.cancelled_at is not None:
                await ticket_store.add_note(
                    s,
                    h.company_id,
                    h.order_id,
                    h.version,
                    "duplicate_cancel",
                    "the order was cancelled already",
                )
                return _summary("duplicate_cancel", h.version)
            header = TicketHeader.of(h.event, TicketHeader.model_validate(order.header))
            made = []
            for station_id, items in _items(order.sent).items():
                station = stations.get(station_id)
                if station is None:
                    await ticket_store.add_note(
                        s,
                        h.company_id,
                        h.order_id,
                        h.version,
                        "station_gone",
                        f"station {station_id} was deleted; its lines cannot be voided there",
                    )
                    continue
                made.append(
                    await self._make(s, h, Planned(station, "void", voids(items)), header, "cancel")
                )
            if not made:
                await ticket_store.add_note(
                    s,
                    h.company_id,
                    h.order_id,
                    h.version,
                    "nothing_to_void",
                    "no station had lines of this order: nothing to void",
                )
            await ticket_store.save_order(
                s,
                h.company_id,
                h.order_id,
                version=order.version,
                header=header.to_wire(),
                sent={},
                cancelled=True,
            )
        return _summary("queued" if made else "nothing_to_void", h.version, made)

    async def _make(
        self,
        s: AsyncSession,
        h: Handling,
        planned: Planned,
        header: TicketHeader,
        version: int | str,
    ) -> TicketRow:
        """Store one ticket: its held print job and its log row (announced after commit)."""
        station = planned.station
        job_id = ticket_job_id(h.company_id, h.order_id, version, station.station_id)
        document = ticket_document(
            station.name, station.layout, header, planned.lines, planned.kind
        )
        now = utcnow()
        job, _ = await job_store.create_job(
            s,
            NewJob(
                company_id=h.company_id,
                branch_id=h.branch_id,
                printer_id=station.primary_printer_id,
                kind="document",
                body=document.to_wire(),
                expires_at=now + self._lifetime,
                copies=station.layout.copies,
                correlation_id=h.event.correlation_id,
                idempotency_key=f"ticket:{job_id}",
                submitted_by="tickets",
                job_id=job_id,
            ),
        )
        ticket = TicketRow(
            job_id=job.id,
            company_id=h.company_id,
            branch_id=h.branch_id,
            order_id=h.order_id,
            order_version=h.version,
            station_id=station.station_id,
            station_name=station.name,
            kind=planned.kind,
            lines=[line.to_wire() for line in planned.lines],
            document=document.to_wire(),
            printer_id=station.primary_printer_id,
            rerouted_from=None,
            copy_of=None,
            published_at=now,
        )
        await ticket_store.add_ticket(s, ticket)
        h.jobs.append(job)
        log.info(
            "ticket queued",
            extra={
                "job_id": job.id,
                "station_id": station.station_id,
                "correlation_id": h.event.correlation_id,
            },
        )
        return ticket

    # --- reprints -------------------------------------------------------------------------

    async def reprint(
        self,
        who: Requester,
        job_id: str,
        idempotency_key: str | None = None,
        order_id: str | None = None,
    ) -> tuple[JobRow, bool]:
        """A finished ticket (of ``order_id``) printed again, marked COPY; audited."""
        async with self._db.session() as s:
            ticket = await ticket_store.get_ticket(s, who.company_id, job_id)
            if (
                ticket is None
                or (who.branch_id and ticket.branch_id != who.branch_id)
                or (order_id is not None and ticket.order_id != order_id)
            ):
                raise PrintingError("not_found", "no such ticket")
            return await self._copy(s, who, ticket, idempotency_key)

    async def reprint_last(
        self, who: Requester, branch_id: str, station_id: str
    ) -> tuple[JobRow, bool]:
        """The station's newest ticket printed again as a copy."""
        async with self._db.session() as s:
            ticket = await ticket_store.last_ticket(s, branch_id, station_id)
            if ticket is None:
                raise PrintingError("not_found", f"station {station_id!r} has printed no ticket")
            return await self._copy(s, who, ticket, None)

    async def _copy(
        self, s: AsyncSession, who: Requester, ticket: TicketRow, key: str | None
    ) -> tuple[JobRow, bool]:
        job = await job_store.get_job(s, who.company_id, ticket.job_id)
        assert job is not None, "a ticket always has its job"
        if not is_terminal(job.state):
            raise PrintingError(
                "job_not_final", f"ticket {job.id} is still {job.state}; wait for it"
            )
        row = await ticket_store.get_station(s, ticket.branch_id, ticket.station_id)
        printer = row.station.primary_printer_id if row else ticket.printer_id
        now = utcnow()
        new = NewJob(
            company_id=who.company_id,
            branch_id=ticket.branch_id,
            printer_id=printer,
            kind="document",
            body=ticket.document,
            expires_at=now + self._lifetime,
            copies=job.copies,
            idempotency_key=key,
            submitted_by=who.name,
            copy_of=job.id,
        )
        copy, created = await job_store.create_job(s, new)
        if created:
            await ticket_store.add_ticket(s, _copy_row(ticket, copy.id, printer))
            await audit_store.record(
                s,
                who.company_id,
                who.name or "unknown",
                "ticket.reprint",
                job.id,
                {"jobId": copy.id, "originalState": job.state},
            )
        self._dispatcher.kick()
        return copy, created

    # --- what happens to the jobs -----------------------------------------------------------

    async def job_changed(self, job: JobRow) -> None:
        """A job moved: a finished one frees its printer; a printed ticket is timed."""
        if not is_terminal(job.state):
            return
        self._dispatcher.kick()
        if job.state != "printed":
            return
        async with self._db.session() as s:
            ticket = await ticket_store.ticket_of_job(s, job.id)
        if ticket is not None and ticket.copy_of is None:
            seconds = (job.updated_at - ticket.published_at).total_seconds()
            self._metrics.ticket_printed(ticket.branch_id, ticket.station_id, max(0.0, seconds))


def _copy_row(ticket: TicketRow, copy_id: str, printer_id: str) -> TicketRow:
    """The log row of a reprint: the ticket's lines and document, marked as its copy."""
    return replace(
        ticket,
        job_id=copy_id,
        kind="copy",
        copy_of=ticket.job_id,
        rerouted_from=None,
        printer_id=printer_id,
        published_at=utcnow(),
    )

"""Kitchen stations, routing rules, orders as the kitchen knows them, and the ticket log.

Stations and rules are per branch; the rules are kept as ordered rows and replaced as a
whole. An order's row holds the highest version handled and what each station was sent, so
the next version's delta is computed against it; it is read ``FOR UPDATE`` (PostgreSQL), so
two hubs handling the same order one after the other see each other's result. A ticket's row
points at its print job: the job's state is the ticket's state (one truth), the row adds
what the log shows (station, lines, the document before any mark, reroutes, copies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store._sql import clamp, insert_ignore
from hub.store.columns import utcnow
from hub.store.jobs import JobRow, _job
from hub.store.models import (
    KitchenOrder,
    KitchenStation,
    OrderTicket,
    OrderTicketNote,
    PrintJob,
    PrintJobEvent,
    StationRule,
)
from shared.tickets import RoutingRule, RoutingRules, Station, TicketLayout

#: Ticket job states that still occupy a printer (the job is, or may be, with its agent).
IN_FLIGHT = ("queued", "sent", "printing")


@dataclass(frozen=True)
class StationRow:
    """A station as stored."""

    company_id: str
    branch_id: str
    station: Station
    is_default: bool
    updated_at: datetime


@dataclass(frozen=True)
class OrderRow:
    """An order as the kitchen knows it."""

    company_id: str
    order_id: str
    branch_id: str
    version: int
    header: dict[str, Any]
    sent: dict[str, dict[str, Any]]
    cancelled_at: datetime | None


@dataclass(frozen=True)
class TicketRow:
    """One ticket of the log."""

    job_id: str
    company_id: str
    branch_id: str
    order_id: str
    order_version: int | None
    station_id: str
    station_name: str
    kind: str
    lines: list[dict[str, Any]]
    document: dict[str, Any]
    printer_id: str
    rerouted_from: str | None
    copy_of: str | None
    published_at: datetime


@dataclass(frozen=True)
class NoteRow:
    """Something the log says about an order besides its tickets."""

    order_version: int | None
    code: str
    message: str
    at: datetime


def _station(row: KitchenStation) -> StationRow:
    station = Station(
        station_id=row.station_id,
        name=row.name,
        primary_printer_id=row.primary_printer_id,
        backup_printer_id=row.backup_printer_id,
        layout=TicketLayout.model_validate(row.layout),
    )
    return StationRow(row.company_id, row.branch_id, station, row.is_default, row.updated_at)


def _ticket(row: OrderTicket) -> TicketRow:
    fields = {name: getattr(row, name) for name in TicketRow.__dataclass_fields__}
    return TicketRow(**{**fields, "lines": list(row.lines), "document": dict(row.document)})


def _order(row: KitchenOrder) -> OrderRow:
    return OrderRow(
        row.company_id,
        row.order_id,
        row.branch_id,
        row.version,
        dict(row.header),
        {k: dict(v) for k, v in row.sent.items()},
        row.cancelled_at,
    )


# --- stations and rules ----------------------------------------------------------------------


async def list_stations(session: AsyncSession, branch_id: str) -> list[StationRow]:
    """The branch's stations, by name."""
    statement = select(KitchenStation).where(KitchenStation.branch_id == branch_id)
    rows = await session.scalars(statement.order_by(KitchenStation.name, KitchenStation.station_id))
    return [_station(row) for row in rows]


async def get_station(session: AsyncSession, branch_id: str, station_id: str) -> StationRow | None:
    """One station of a branch."""
    row = await session.get(KitchenStation, (branch_id, station_id))
    return None if row is None else _station(row)


async def put_station(
    session: AsyncSession, company_id: str, branch_id: str, station: Station
) -> tuple[StationRow, bool]:
    """Create or replace a station; (the station, whether it is new)."""
    now = utcnow()
    row = await session.get(KitchenStation, (branch_id, station.station_id))
    created = row is None
    if row is None:
        row = KitchenStation(
            branch_id=branch_id, station_id=station.station_id, company_id=company_id
        )
        row.created_at, row.is_default = now, False
        session.add(row)
    row.name, row.primary_printer_id = station.name, station.primary_printer_id
    row.backup_printer_id, row.layout = station.backup_printer_id, station.layout.to_wire()
    row.updated_at = now
    await session.flush()
    return _station(row), created


async def delete_station(session: AsyncSession, branch_id: str, station_id: str) -> bool:
    """Remove a station; False when there was none."""
    result = await session.execute(
        delete(KitchenStation).where(
            KitchenStation.branch_id == branch_id, KitchenStation.station_id == station_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get_rules(session: AsyncSession, branch_id: str) -> RoutingRules:
    """The branch's rules, in order, with its default station."""
    rows = await session.scalars(
        select(StationRule).where(StationRule.branch_id == branch_id).order_by(StationRule.position)
    )
    rules = [
        RoutingRule(match=r.match, value=r.value, station_ids=list(r.station_ids)) for r in rows
    ]
    default = await session.scalar(
        select(KitchenStation.station_id).where(
            KitchenStation.branch_id == branch_id, KitchenStation.is_default.is_(True)
        )
    )
    return RoutingRules(default_station_id=default, rules=rules)


async def put_rules(
    session: AsyncSession, company_id: str, branch_id: str, rules: RoutingRules
) -> None:
    """Replace the branch's rules and default station (checked against its stations first)."""
    await session.execute(delete(StationRule).where(StationRule.branch_id == branch_id))
    session.add_all(
        StationRule(
            branch_id=branch_id,
            position=n,
            company_id=company_id,
            match=rule.match,
            value=rule.value,
            station_ids=list(rule.station_ids),
        )
        for n, rule in enumerate(rules.rules)
    )
    await session.execute(
        update(KitchenStation)
        .where(KitchenStation.branch_id == branch_id)
        .values(is_default=KitchenStation.station_id == (rules.default_station_id or ""))
    )
    await session.flush()


# --- orders ---------------------------------------------------------------------------------


async def lock_order(
    session: AsyncSession, company_id: str, order_id: str, branch_id: str
) -> OrderRow:
    """The order's kitchen row, created at version 0 if new, locked until the session ends."""
    now = utcnow()
    values = {
        "company_id": company_id,
        "order_id": order_id,
        "branch_id": branch_id,
        "version": 0,
        "header": {"orderId": order_id},
        "sent": {},
        "created_at": now,
        "updated_at": now,
    }
    await insert_ignore(session, KitchenOrder, values, ["company_id", "order_id"])
    statement = (
        select(KitchenOrder)
        .where(KitchenOrder.company_id == company_id, KitchenOrder.order_id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return _order((await session.scalars(statement)).one())


async def save_order(
    session: AsyncSession,
    company_id: str,
    order_id: str,
    *,
    version: int,
    header: Mapping[str, Any],
    sent: Mapping[str, Mapping[str, Any]],
    cancelled: bool = False,
) -> None:
    """Record the version handled and what each station has now."""
    now = utcnow()
    values: dict[str, Any] = {
        "version": version,
        "header": dict(header),
        "sent": {k: dict(v) for k, v in sent.items() if v},
        "updated_at": now,
    }
    if cancelled:
        values["cancelled_at"] = now
    await session.execute(
        update(KitchenOrder)
        .where(KitchenOrder.company_id == company_id, KitchenOrder.order_id == order_id)
        .values(values)
    )


async def get_order(session: AsyncSession, company_id: str, order_id: str) -> OrderRow | None:
    """The order's kitchen row, if the kitchen ever heard of it."""
    row = await session.get(KitchenOrder, (company_id, order_id))
    return None if row is None else _order(row)


# --- the ticket log -------------------------------------------------------------------------


async def add_ticket(session: AsyncSession, ticket: TicketRow) -> bool:
    """Log a ticket (its job exists already); False when it was logged before."""
    values = {name: getattr(ticket, name) for name in TicketRow.__dataclass_fields__}
    return await insert_ignore(session, OrderTicket, values, ["job_id"])


async def add_note(
    session: AsyncSession,
    company_id: str,
    order_id: str,
    version: int | None,
    code: str,
    message: str,
) -> None:
    """Say something about an order in its log."""
    session.add(
        OrderTicketNote(
            company_id=company_id,
            order_id=order_id,
            order_version=version,
            code=code,
            message=message[:2000],
            at=utcnow(),
        )
    )
    await session.flush()


async def order_log(
    session: AsyncSession, company_id: str, order_id: str
) -> tuple[list[TicketRow], list[NoteRow]]:
    """An order's tickets (oldest first) and notes."""
    tickets = await session.scalars(
        select(OrderTicket)
        .where(OrderTicket.company_id == company_id, OrderTicket.order_id == order_id)
        .order_by(OrderTicket.published_at, OrderTicket.job_id)
    )
    notes = await session.scalars(
        select(OrderTicketNote)
        .where(OrderTicketNote.company_id == company_id, OrderTicketNote.order_id == order_id)
        .order_by(OrderTicketNote.id)
    )
    return [_ticket(t) for t in tickets], [
        NoteRow(n.order_version, n.code, n.message, n.at) for n in notes
    ]


async def get_ticket(session: AsyncSession, company_id: str, job_id: str) -> TicketRow | None:
    """One ticket of a company, by its job id."""
    row = await session.get(OrderTicket, job_id)
    return None if row is None or row.company_id != company_id else _ticket(row)


async def ticket_of_job(session: AsyncSession, job_id: str) -> TicketRow | None:
    """The ticket a job prints, if it is one (the hub's own bookkeeping)."""
    row = await session.get(OrderTicket, job_id)
    return None if row is None else _ticket(row)


async def last_ticket(session: AsyncSession, branch_id: str, station_id: str) -> TicketRow | None:
    """The newest ticket of a station (copies included)."""
    statement = (
        select(OrderTicket)
        .where(OrderTicket.branch_id == branch_id, OrderTicket.station_id == station_id)
        .order_by(OrderTicket.published_at.desc(), OrderTicket.job_id.desc())
        .limit(1)
    )
    row = await session.scalar(statement)
    return None if row is None else _ticket(row)


async def set_rerouted(session: AsyncSession, job_id: str, from_printer: str) -> None:
    """Note on the ticket that it left its station's primary printer."""
    await session.execute(
        update(OrderTicket).where(OrderTicket.job_id == job_id).values(rerouted_from=from_printer)
    )


# --- what the dispatcher and the alerts read ---------------------------------------------------


async def held_tickets(session: AsyncSession, limit: int = 500) -> list[tuple[TicketRow, JobRow]]:
    """Tickets whose job waits for the hub to pick a printer, oldest first."""
    statement = (
        select(OrderTicket, PrintJob)
        .join(PrintJob, PrintJob.id == OrderTicket.job_id)
        .where(PrintJob.state == "queued", PrintJob.agent_id.is_(None))
        .where(PrintJob.expires_at > utcnow())
        .order_by(PrintJob.created_at, PrintJob.id)
        .limit(clamp(limit, 1000))
    )
    return [(_ticket(t), _job(j)) for t, j in (await session.execute(statement)).all()]


async def in_flight(session: AsyncSession, company_id: str, printer_id: str) -> int:
    """Ticket jobs handed to a printer's agent and not finished."""
    statement = (
        select(func.count())
        .select_from(OrderTicket)
        .join(PrintJob, PrintJob.id == OrderTicket.job_id)
        .where(PrintJob.company_id == company_id, PrintJob.printer_id == printer_id)
        .where(PrintJob.state.in_(IN_FLIGHT), PrintJob.agent_id.is_not(None))
    )
    return int(await session.scalar(statement) or 0)


async def late_tickets(
    session: AsyncSession, published_before: datetime
) -> list[tuple[str, str, str, str, int]]:
    """(company, branch, station id, station name, how many) of tickets not printed in time."""
    statement = (
        select(
            OrderTicket.company_id,
            OrderTicket.branch_id,
            OrderTicket.station_id,
            func.max(OrderTicket.station_name),
            func.count(),
        )
        .join(PrintJob, PrintJob.id == OrderTicket.job_id)
        .where(PrintJob.state.in_(IN_FLIGHT), OrderTicket.published_at < published_before)
        .where(PrintJob.expires_at > utcnow())
        .group_by(OrderTicket.company_id, OrderTicket.branch_id, OrderTicket.station_id)
    )
    rows = (await session.execute(statement)).all()
    return [(c, b, s, n, int(k)) for c, b, s, n, k in rows]


async def printed_times(
    session: AsyncSession, branch_id: str, since: datetime, limit: int = 1000
) -> list[tuple[str, str, datetime, datetime]]:
    """(station id, station name, published at, printed at) of a branch's printed tickets."""
    statement = (
        select(
            OrderTicket.station_id,
            OrderTicket.station_name,
            OrderTicket.published_at,
            func.min(PrintJobEvent.at),
        )
        .join(PrintJobEvent, PrintJobEvent.job_id == OrderTicket.job_id)
        .where(OrderTicket.branch_id == branch_id, OrderTicket.published_at >= since)
        .where(PrintJobEvent.state == "printed", OrderTicket.copy_of.is_(None))
        .group_by(
            OrderTicket.job_id,
            OrderTicket.station_id,
            OrderTicket.station_name,
            OrderTicket.published_at,
        )
        .order_by(OrderTicket.published_at.desc())
        .limit(clamp(limit, 5000))
    )
    rows = (await session.execute(statement)).all()
    return [(s, n, p, at) for s, n, p, at in reversed(rows)]


def station_views(rows: Sequence[StationRow]) -> list[Station]:
    """The stations of rows, as the routing sees them."""
    return [row.station for row in rows]

"""Printers reported by agents, their latest status and the history of every status.

A printer row is keyed by (agent_id, printer_id): the id is stable for one agent, and two
agents may see the same network printer. ``info`` keeps the PrinterInfo wire dict exactly as
the agent sent it. A printer that leaves an agent's inventory is marked removed, never deleted,
so its history and jobs keep pointing at something.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store._sql import clamp
from hub.store.columns import utcnow
from hub.store.errors import NotFound
from hub.store.models import Agent, Printer, PrinterStatusHistory
from hub.store.tenants import check_branch
from shared.printers import PrinterInfo, PrinterStatus

#: A PrinterInfo or PrinterStatus, as a model or as its wire dict.
InfoLike = PrinterInfo | Mapping[str, Any]
StatusLike = PrinterStatus | Mapping[str, Any]


@dataclass(frozen=True)
class PrinterRow:
    """A printer of one agent, with its latest known status."""

    agent_id: str
    printer_id: str
    company_id: str
    branch_id: str
    name: str
    connection: str
    info: dict[str, Any]
    last_state: str | None
    last_status: dict[str, Any] | None
    last_seen: datetime | None
    removed_at: datetime | None
    #: What a manager set (PrinterSettings wire dict), None when nothing.
    settings: dict[str, Any] | None = None


@dataclass(frozen=True)
class StatusRow:
    """One status a printer reported."""

    agent_id: str
    printer_id: str
    state: str
    status: dict[str, Any]
    at: datetime


def _printer(row: Printer) -> PrinterRow:
    return PrinterRow(
        agent_id=row.agent_id,
        printer_id=row.printer_id,
        company_id=row.company_id,
        branch_id=row.branch_id,
        name=row.name,
        connection=row.connection,
        info=dict(row.info),
        last_state=row.last_state,
        last_status=None if row.last_status is None else dict(row.last_status),
        last_seen=row.last_seen,
        removed_at=row.removed_at,
        settings=None if row.settings is None else dict(row.settings),
    )


def _status_row(row: PrinterStatusHistory) -> StatusRow:
    return StatusRow(row.agent_id, row.printer_id, row.state, dict(row.status), row.at)


def _info(info: InfoLike) -> PrinterInfo:
    return info if isinstance(info, PrinterInfo) else PrinterInfo.model_validate(info)


def _status(status: StatusLike) -> PrinterStatus:
    return status if isinstance(status, PrinterStatus) else PrinterStatus.model_validate(status)


async def _check_owner(
    session: AsyncSession, company_id: str, agent_id: str, branch_id: str
) -> None:
    """NotFound unless the company has this agent; TenantConflict for another's branch."""
    row = await session.get(Agent, agent_id)
    if row is None or row.company_id != company_id:
        raise NotFound(f"agent {agent_id!r} does not exist")
    await check_branch(session, company_id, branch_id)


def _record_status(
    session: AsyncSession, row: Printer, status: PrinterStatus, at: datetime
) -> None:
    """Make ``status`` the printer's latest and append it to the history."""
    wire = status.to_wire()
    row.last_state, row.last_status, row.last_seen = status.state.value, wire, at
    session.add(
        PrinterStatusHistory(
            company_id=row.company_id,
            agent_id=row.agent_id,
            printer_id=row.printer_id,
            state=status.state.value,
            status=wire,
            at=at,
        )
    )


async def upsert_printer(
    session: AsyncSession,
    agent_id: str,
    company_id: str,
    branch_id: str,
    info: InfoLike,
    now: datetime | None = None,
) -> PrinterRow:
    """Record one printer an agent reports (clearing a removal); its status too, if given."""
    await _check_owner(session, company_id, agent_id, branch_id)
    return await _upsert(session, agent_id, company_id, branch_id, _info(info), now or utcnow())


async def _upsert(
    session: AsyncSession,
    agent_id: str,
    company_id: str,
    branch_id: str,
    printer: PrinterInfo,
    at: datetime,
) -> PrinterRow:
    row = await session.get(Printer, (agent_id, printer.printer_id))
    if row is None:
        row = Printer(agent_id=agent_id, printer_id=printer.printer_id, company_id=company_id)
        session.add(row)
    row.branch_id, row.name, row.connection = branch_id, printer.name, printer.connection.value
    row.info, row.last_seen, row.removed_at = printer.to_wire(), at, None
    if printer.status is not None and printer.status.to_wire() != row.last_status:
        _record_status(session, row, printer.status, at)
    await session.flush()
    return _printer(row)


async def upsert_printers(
    session: AsyncSession,
    agent_id: str,
    company_id: str,
    branch_id: str,
    infos: Sequence[InfoLike],
    now: datetime | None = None,
) -> list[PrinterRow]:
    """Replace an agent's inventory: upsert each printer, mark the missing ones removed."""
    at, printers = now or utcnow(), [_info(info) for info in infos]
    await _check_owner(session, company_id, agent_id, branch_id)
    rows = [await _upsert(session, agent_id, company_id, branch_id, p, at) for p in printers]
    present = [row.printer_id for row in rows]
    await session.execute(
        update(Printer)
        .where(Printer.agent_id == agent_id, Printer.removed_at.is_(None))
        .where(Printer.printer_id.not_in(present))
        .values(removed_at=at)
    )
    return rows


async def mark_removed(
    session: AsyncSession,
    company_id: str,
    agent_id: str,
    printer_id: str,
    now: datetime | None = None,
) -> bool:
    """Mark one printer removed; False when the company has no such printer."""
    result = await session.execute(
        update(Printer)
        .where(Printer.agent_id == agent_id, Printer.printer_id == printer_id)
        .where(Printer.company_id == company_id, Printer.removed_at.is_(None))
        .values(removed_at=now or utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_status(
    session: AsyncSession,
    company_id: str,
    agent_id: str,
    printer_id: str,
    status: StatusLike,
    at: datetime | None = None,
) -> bool:
    """Record a printer's new status and append it to the history; False for an unknown printer."""
    row = await session.get(Printer, (agent_id, printer_id))
    if row is None or row.company_id != company_id:
        return False
    _record_status(session, row, _status(status), at or utcnow())
    await session.flush()
    return True


async def list_printers(
    session: AsyncSession,
    company_id: str,
    branch_id: str | None = None,
    include_removed: bool = False,
) -> list[PrinterRow]:
    """The company's printers (optionally of one branch), by name then id."""
    statement = select(Printer).where(Printer.company_id == company_id)
    if branch_id is not None:
        statement = statement.where(Printer.branch_id == branch_id)
    if not include_removed:
        statement = statement.where(Printer.removed_at.is_(None))
    statement = statement.order_by(Printer.name, Printer.printer_id, Printer.agent_id)
    return [_printer(row) for row in await session.scalars(statement)]


async def get_printer(
    session: AsyncSession, company_id: str, printer_id: str, agent_id: str | None = None
) -> PrinterRow | None:
    """The company's printer; without ``agent_id``, the present, most recently seen one."""
    statement = select(Printer).where(
        Printer.company_id == company_id, Printer.printer_id == printer_id
    )
    if agent_id is not None:
        statement = statement.where(Printer.agent_id == agent_id)
    statement = statement.order_by(
        Printer.removed_at.is_not(None), Printer.last_seen.desc().nulls_last(), Printer.agent_id
    )
    row = await session.scalar(statement.limit(1))
    return None if row is None else _printer(row)


async def status_history(
    session: AsyncSession,
    company_id: str,
    printer_id: str,
    limit: int = 50,
    agent_id: str | None = None,
) -> list[StatusRow]:
    """The printer's latest statuses, newest first."""
    statement = select(PrinterStatusHistory).where(
        PrinterStatusHistory.company_id == company_id,
        PrinterStatusHistory.printer_id == printer_id,
    )
    if agent_id is not None:
        statement = statement.where(PrinterStatusHistory.agent_id == agent_id)
    statement = statement.order_by(PrinterStatusHistory.id.desc()).limit(clamp(limit))
    return [_status_row(row) for row in await session.scalars(statement)]


async def prune_status_history(session: AsyncSession, before: datetime) -> int:
    """Delete history older than ``before`` (the latest status stays on the printer row)."""
    result = await session.execute(
        delete(PrinterStatusHistory)
        .where(PrinterStatusHistory.at < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def set_settings(
    session: AsyncSession,
    company_id: str,
    agent_id: str,
    printer_id: str,
    settings: Mapping[str, Any] | None,
) -> PrinterRow | None:
    """Store what a manager set for one agent's printer; None when the company has no such one."""
    row = await session.get(Printer, (agent_id, printer_id))
    if row is None or row.company_id != company_id:
        return None
    row.settings = dict(settings) if settings else None
    await session.flush()
    return _printer(row)


async def agent_settings(session: AsyncSession, agent_id: str) -> dict[str, dict[str, Any]]:
    """Every stored setting of one agent's printers, by printer id (present or removed)."""
    return (await settings_of_agents(session, [agent_id])).get(agent_id, {})


async def settings_of_agents(
    session: AsyncSession, agent_ids: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`agent_settings` for many agents in one query: {agent id: {printer id: settings}}
    (agents without any stored setting are left out)."""
    statement = select(Printer.agent_id, Printer.printer_id, Printer.settings).where(
        Printer.agent_id.in_(list(agent_ids)), Printer.settings.is_not(None)
    )
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for agent_id, printer_id, settings in await session.execute(statement):
        found.setdefault(agent_id, {})[printer_id] = dict(settings or {})
    return found

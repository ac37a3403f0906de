"""Many agents' first sight and inventories in a handful of statements (reconnect storms).

:mod:`hub.store.agents` and :mod:`hub.store.printers` write one agent at a time through the
ORM: five or more statements per agent. In a storm each statement waits for a turn of an event
loop that is busy with thousands of sockets, and 500 agents' worth took longer than a session
may last. Here a whole batch costs a fixed number of statements: one read of the agents, one
of their printers, and one executemany per kind of change. The rules are those of the
per-agent functions: an agent of another company or a branch that is not its company's fails
that agent alone; a printer missing from an inventory is marked removed, never deleted; a
status that changed is appended to the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store.errors import NotFound, TenantConflict
from hub.store.models import Agent, Printer, PrinterStatusHistory
from hub.store.tenants import branch_company
from shared.printers import PrinterInfo

_AGENTS: Table = Agent.__table__  # type: ignore[assignment]
_PRINTERS: Table = Printer.__table__  # type: ignore[assignment]
_HISTORY: Table = PrinterStatusHistory.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class NewAgent:
    """An agent seen for the first time (not paired: its credential is its token's)."""

    company_id: str
    branch_id: str
    credential_id: str
    at: datetime


@dataclass(frozen=True)
class Inventory:
    """One agent's full printer list at ``at``."""

    company_id: str
    branch_id: str
    printers: list[PrinterInfo]
    at: datetime


async def create_agents(session: AsyncSession, new: Mapping[str, NewAgent]) -> dict[str, Exception]:
    """Insert the agents that do not exist yet; returns the failures per agent id.

    An agent that exists by now (another connect created it) is left as it is: creating
    never lifts a revocation or replaces a credential (pairing does that).
    """
    failed = await _branch_failures(
        session, {a: (n.company_id, n.branch_id) for a, n in new.items()}
    )
    owners = await _owners(session, [a for a in new if a not in failed])
    rows = []
    for agent_id, agent in new.items():
        if agent_id in failed:
            continue
        owner = owners.get(agent_id)
        if owner is not None:
            if owner != agent.company_id:
                failed[agent_id] = TenantConflict(f"agent {agent_id!r} belongs to another company")
            continue
        rows.append(
            {
                "id": agent_id,
                "company_id": agent.company_id,
                "branch_id": agent.branch_id,
                "credential_id": agent.credential_id,
                "created_at": agent.at,
            }
        )
    if rows:
        await session.execute(insert(_AGENTS), rows)
    return failed


async def store_inventories(
    session: AsyncSession, inventories: Mapping[str, Inventory]
) -> dict[str, Exception]:
    """Replace each agent's inventory; returns the failures per agent id."""
    failed = await _branch_failures(
        session, {a: (i.company_id, i.branch_id) for a, i in inventories.items()}
    )
    owners = await _owners(session, [a for a in inventories if a not in failed])
    for agent_id, inventory in inventories.items():
        if agent_id not in failed and owners.get(agent_id) != inventory.company_id:
            failed[agent_id] = NotFound(f"agent {agent_id!r} does not exist")
    ok = {a: i for a, i in inventories.items() if a not in failed}
    if ok:
        await _write_printers(session, ok, await _existing_printers(session, list(ok)))
    return failed


async def _branch_failures(
    session: AsyncSession, branches: Mapping[str, tuple[str, str]]
) -> dict[str, Exception]:
    """Agents whose branch is unknown or another company's (one query per distinct branch)."""
    owner_of: dict[str, str | None] = {}
    for branch_id in {branch for _company, branch in branches.values()}:
        owner_of[branch_id] = await branch_company(session, branch_id)
    failed: dict[str, Exception] = {}
    for agent_id, (company_id, branch_id) in branches.items():
        owner = owner_of[branch_id]
        if owner is None:
            failed[agent_id] = NotFound(f"branch {branch_id!r} does not exist")
        elif owner != company_id:
            failed[agent_id] = TenantConflict(f"branch {branch_id!r} belongs to another company")
    return failed


async def _owners(session: AsyncSession, agent_ids: list[str]) -> dict[str, str]:
    if not agent_ids:
        return {}
    statement = select(_AGENTS.c.id, _AGENTS.c.company_id).where(_AGENTS.c.id.in_(agent_ids))
    return {row.id: row.company_id for row in await session.execute(statement)}


async def _existing_printers(
    session: AsyncSession, agent_ids: list[str]
) -> dict[tuple[str, str], Any]:
    columns = (
        _PRINTERS.c.agent_id,
        _PRINTERS.c.printer_id,
        _PRINTERS.c.last_status,
        _PRINTERS.c.removed_at,
    )
    statement = select(*columns).where(_PRINTERS.c.agent_id.in_(agent_ids))
    return {(row.agent_id, row.printer_id): row for row in await session.execute(statement)}


_UPDATE_FIELDS = ("branch_id", "name", "connection", "info", "last_seen")
_UPDATE = (
    update(_PRINTERS)
    .where(_PRINTERS.c.agent_id == bindparam("k_agent"))
    .where(_PRINTERS.c.printer_id == bindparam("k_printer"))
    .values({**{name: bindparam("v_" + name) for name in _UPDATE_FIELDS}, "removed_at": None})
)
_UPDATE_STATUS = _UPDATE.values(
    last_state=bindparam("v_last_state"), last_status=bindparam("v_last_status")
)
_REMOVE = (
    update(_PRINTERS)
    .where(_PRINTERS.c.agent_id == bindparam("k_agent"))
    .where(_PRINTERS.c.printer_id == bindparam("k_printer"))
    .values(removed_at=bindparam("at"))
)


async def _write_printers(
    session: AsyncSession,
    inventories: Mapping[str, Inventory],
    existing: dict[tuple[str, str], Any],
) -> None:
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    status_updates: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    removals: list[dict[str, Any]] = []
    for agent_id, inventory in inventories.items():
        present = set()
        for printer in inventory.printers:
            present.add(printer.printer_id)
            known = existing.get((agent_id, printer.printer_id))
            row = _printer_row(agent_id, inventory, printer)
            status = printer.status.to_wire() if printer.status is not None else None
            changed = status is not None and (known is None or known.last_status != status)
            if status is not None and changed:
                row["last_state"], row["last_status"] = status["state"], status
                history.append(_history_row(agent_id, inventory, printer.printer_id, status))
            if known is None:
                inserts.append(
                    {"last_state": None, "last_status": None, **row, "agent_id": agent_id,
                     "printer_id": printer.printer_id, "company_id": inventory.company_id}
                )  # fmt: skip
            else:
                keyed = {"v_" + k: v for k, v in row.items()}
                keyed.update(k_agent=agent_id, k_printer=printer.printer_id)
                (status_updates if changed else updates).append(keyed)
        for (owner, printer_id), known in existing.items():
            if owner == agent_id and printer_id not in present and known.removed_at is None:
                removals.append({"k_agent": agent_id, "k_printer": printer_id, "at": inventory.at})
    if inserts:
        await session.execute(insert(_PRINTERS), inserts)
    if updates:
        await session.execute(_UPDATE, updates)
    if status_updates:
        await session.execute(_UPDATE_STATUS, status_updates)
    if removals:
        await session.execute(_REMOVE, removals)
    if history:
        await session.execute(insert(_HISTORY), history)


def _printer_row(agent_id: str, inventory: Inventory, printer: PrinterInfo) -> dict[str, Any]:
    return {
        "branch_id": inventory.branch_id,
        "name": printer.name,
        "connection": printer.connection.value,
        "info": printer.to_wire(),
        "last_seen": inventory.at,
    }


def _history_row(
    agent_id: str, inventory: Inventory, printer_id: str, status: dict[str, Any]
) -> dict[str, Any]:
    return {
        "company_id": inventory.company_id,
        "agent_id": agent_id,
        "printer_id": printer_id,
        "state": status["state"],
        "status": status,
        "at": inventory.at,
    }

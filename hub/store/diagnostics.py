"""Diagnostics bundles asked of agents: a row per request, its bundle once the agent sends it.

Rows are scoped by company on every read (another company's id reads as None). A bundle is
kept until ``expires_at`` and then deleted by :func:`purge_expired`, which the service runs
whenever a new bundle is asked for; reads never return an expired row in the meantime.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store.columns import utcnow
from hub.store.models import AgentDiagnostics


@dataclass(frozen=True)
class DiagnosticsRow:
    """One diagnostics request and, once ready, its bundle."""

    id: str
    company_id: str
    agent_id: str
    branch_id: str
    state: str
    requested_by: str
    requested_at: datetime
    completed_at: datetime | None
    expires_at: datetime
    size_bytes: int | None
    error: str | None
    bundle: dict[str, Any] | None


def _row(row: AgentDiagnostics, with_bundle: bool) -> DiagnosticsRow:
    return DiagnosticsRow(
        id=row.id,
        company_id=row.company_id,
        agent_id=row.agent_id,
        branch_id=row.branch_id,
        state=row.state,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        completed_at=row.completed_at,
        expires_at=row.expires_at,
        size_bytes=row.size_bytes,
        error=row.error,
        bundle=row.bundle if with_bundle else None,
    )


async def create(
    session: AsyncSession,
    company_id: str,
    agent_id: str,
    branch_id: str,
    requested_by: str,
    keep: timedelta,
    now: datetime | None = None,
) -> DiagnosticsRow:
    """Record a new request (state ``requested``), kept for ``keep``."""
    at = now or utcnow()
    row = AgentDiagnostics(
        id=str(uuid.uuid4()),
        company_id=company_id,
        agent_id=agent_id,
        branch_id=branch_id,
        state="requested",
        requested_by=requested_by,
        requested_at=at,
        expires_at=at + keep,
    )
    session.add(row)
    await session.flush()
    return _row(row, with_bundle=False)


async def complete(
    session: AsyncSession,
    company_id: str,
    agent_id: str,
    diagnostics_id: str,
    *,
    bundle: dict[str, Any] | None,
    size_bytes: int | None,
    error: str | None,
    now: datetime | None = None,
) -> bool:
    """Store the agent's answer to its own pending request; False when there is none."""
    values: dict[str, Any] = {
        "state": "ready" if bundle is not None else "failed",
        "bundle": bundle,
        "size_bytes": size_bytes,
        "error": error,
        "completed_at": now or utcnow(),
    }
    result = await session.execute(
        update(AgentDiagnostics)
        .where(AgentDiagnostics.id == diagnostics_id, AgentDiagnostics.company_id == company_id)
        .where(AgentDiagnostics.agent_id == agent_id, AgentDiagnostics.state == "requested")
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get(
    session: AsyncSession,
    company_id: str,
    diagnostics_id: str,
    with_bundle: bool = False,
    now: datetime | None = None,
) -> DiagnosticsRow | None:
    """The company's unexpired request by id, or None."""
    row = await session.get(AgentDiagnostics, diagnostics_id)
    if row is None or row.company_id != company_id or row.expires_at <= (now or utcnow()):
        return None
    return _row(row, with_bundle)


async def list_for_agent(
    session: AsyncSession, company_id: str, agent_id: str, now: datetime | None = None
) -> list[DiagnosticsRow]:
    """The agent's unexpired requests, newest first (without their bundles)."""
    statement = (
        select(AgentDiagnostics)
        .where(AgentDiagnostics.company_id == company_id, AgentDiagnostics.agent_id == agent_id)
        .where(AgentDiagnostics.expires_at > (now or utcnow()))
        .order_by(AgentDiagnostics.requested_at.desc(), AgentDiagnostics.id)
        .limit(50)
    )
    return [_row(row, with_bundle=False) for row in await session.scalars(statement)]


async def purge_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete every expired request and bundle; how many."""
    result = await session.execute(
        delete(AgentDiagnostics).where(AgentDiagnostics.expires_at <= (now or utcnow()))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

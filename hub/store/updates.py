"""Update rings and agents' update steps, in the database.

Which version a ring runs is hub-wide (an operator promotes it); which ring an agent is on is
its company's business: the company's default, or the agent's own override. Every read of a
company's data is scoped by its id, so another company's agent reads as no agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store.models import AgentRing, AgentUpdateEvent, CompanyRing, RingVersion

#: Steps kept per agent when listed (newest first).
HISTORY_LIMIT = 50


@dataclass(frozen=True)
class Promotion:
    """The version a ring runs, who promoted it and when."""

    ring: str
    version: str
    promoted_by: str
    promoted_at: datetime


@dataclass(frozen=True)
class UpdateEventRow:
    """One reported step of an agent's update."""

    agent_id: str
    step: str
    version: str
    from_version: str | None
    detail: str | None
    at: datetime


async def promotions(session: AsyncSession) -> dict[str, Promotion]:
    """Every ring's promoted version, by ring."""
    rows = await session.scalars(select(RingVersion))
    return {r.ring: Promotion(r.ring, r.version, r.promoted_by, r.promoted_at) for r in rows}


async def promote(
    session: AsyncSession, ring: str, version: str, by: str, at: datetime
) -> Promotion:
    """Set the version a ring runs."""
    row = await session.get(RingVersion, ring, with_for_update=True)
    if row is None:
        row = RingVersion(ring=ring)
        session.add(row)
    row.version, row.promoted_by, row.promoted_at = version, by, at
    await session.flush()
    return Promotion(ring, version, by, at)


async def company_ring(session: AsyncSession, company_id: str) -> str | None:
    """The company's default ring, None when it chose none."""
    row = await session.get(CompanyRing, company_id)
    return None if row is None else row.ring


async def set_company_ring(session: AsyncSession, company_id: str, ring: str) -> None:
    """Set the company's default ring."""
    row = await session.get(CompanyRing, company_id, with_for_update=True)
    if row is None:
        session.add(CompanyRing(company_id=company_id, ring=ring))
    else:
        row.ring = ring
    await session.flush()


async def agent_rings(session: AsyncSession, company_id: str) -> dict[str, str]:
    """The company's agents that have their own ring, by agent id."""
    statement = select(AgentRing).where(AgentRing.company_id == company_id)
    return {row.agent_id: row.ring for row in await session.scalars(statement)}


async def set_agent_ring(
    session: AsyncSession, company_id: str, agent_id: str, ring: str | None
) -> None:
    """Give an agent of the company its own ring, or (None) let it follow the company's."""
    await session.execute(
        delete(AgentRing).where(AgentRing.agent_id == agent_id, AgentRing.company_id == company_id)
    )
    if ring is not None:
        session.add(AgentRing(agent_id=agent_id, company_id=company_id, ring=ring))
    await session.flush()


async def add_event(session: AsyncSession, company_id: str, event: UpdateEventRow) -> None:
    """Keep one reported step."""
    session.add(
        AgentUpdateEvent(
            agent_id=event.agent_id,
            company_id=company_id,
            step=event.step,
            version=event.version,
            from_version=event.from_version,
            detail=event.detail,
            at=event.at,
        )
    )
    await session.flush()


async def events(
    session: AsyncSession, company_id: str, agent_id: str, limit: int = HISTORY_LIMIT
) -> list[UpdateEventRow]:
    """The agent's latest update steps, newest first."""
    statement = (
        select(AgentUpdateEvent)
        .where(AgentUpdateEvent.company_id == company_id, AgentUpdateEvent.agent_id == agent_id)
        .order_by(AgentUpdateEvent.id.desc())
        .limit(limit)
    )
    return [
        UpdateEventRow(r.agent_id, r.step, r.version, r.from_version, r.detail, r.at)
        for r in await session.scalars(statement)
    ]

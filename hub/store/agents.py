"""Paired desktop agents and the credential each currently holds.

An agent id is global, but every read is scoped by company: asking for another company's
agent gives None, exactly as for an agent that does not exist. Each pairing issues a new
device token; its ``jti`` becomes ``credential_id`` and every older token stops working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store.columns import utcnow
from hub.store.errors import TenantConflict
from hub.store.models import Agent
from hub.store.tenants import check_branch


@dataclass(frozen=True)
class AgentRow:
    """An agent as the hub knows it."""

    id: str
    company_id: str
    branch_id: str
    hostname: str | None
    os: str | None
    version: str | None
    created_at: datetime
    last_seen: datetime | None
    revoked_at: datetime | None
    credential_id: str

    @property
    def revoked(self) -> bool:
        """True once the agent's access was withdrawn."""
        return self.revoked_at is not None


def _agent(row: Agent) -> AgentRow:
    return AgentRow(
        id=row.id,
        company_id=row.company_id,
        branch_id=row.branch_id,
        hostname=row.hostname,
        os=row.os,
        version=row.version,
        created_at=row.created_at,
        last_seen=row.last_seen,
        revoked_at=row.revoked_at,
        credential_id=row.credential_id,
    )


async def upsert_agent(
    session: AsyncSession,
    agent_id: str,
    company_id: str,
    branch_id: str,
    credential_id: str,
    *,
    hostname: str | None = None,
    os: str | None = None,
    version: str | None = None,
    now: datetime | None = None,
) -> AgentRow:
    """Record a (re-)paired agent with its new credential; a re-pairing lifts a revocation.

    TenantConflict when the agent id or the branch belongs to another company.
    """
    await check_branch(session, company_id, branch_id)
    row = await session.get(Agent, agent_id, with_for_update=True)
    if row is not None and row.company_id != company_id:
        raise TenantConflict(f"agent {agent_id!r} belongs to another company")
    if row is None:
        row = Agent(id=agent_id, company_id=company_id, created_at=now or utcnow())
        session.add(row)
    row.branch_id, row.credential_id, row.revoked_at = branch_id, credential_id, None
    row.hostname = hostname or row.hostname
    row.os = os or row.os
    row.version = version or row.version
    await session.flush()
    return _agent(row)


async def get_agent(session: AsyncSession, company_id: str, agent_id: str) -> AgentRow | None:
    """The company's agent, or None (also for another company's agent)."""
    row = await session.get(Agent, agent_id)
    return None if row is None or row.company_id != company_id else _agent(row)


async def agents_by_id(session: AsyncSession, agent_ids: list[str]) -> dict[str, AgentRow]:
    """The agents of ``agent_ids`` that exist, of any company (callers check the company)."""
    statement = select(Agent).where(Agent.id.in_(agent_ids))
    return {row.id: _agent(row) for row in await session.scalars(statement)}


async def list_agents(
    session: AsyncSession, company_id: str, branch_id: str | None = None
) -> list[AgentRow]:
    """The company's agents (optionally of one branch), by id."""
    statement = select(Agent).where(Agent.company_id == company_id).order_by(Agent.id)
    if branch_id is not None:
        statement = statement.where(Agent.branch_id == branch_id)
    return [_agent(row) for row in await session.scalars(statement)]


async def active_agents(session: AsyncSession) -> list[AgentRow]:
    """Every agent that is not revoked, of every company: for the hub's own monitoring."""
    statement = select(Agent).where(Agent.revoked_at.is_(None)).order_by(Agent.id)
    return [_agent(row) for row in await session.scalars(statement)]


async def touch(
    session: AsyncSession,
    agent_id: str,
    last_seen: datetime,
    *,
    hostname: str | None = None,
    os: str | None = None,
    version: str | None = None,
) -> bool:
    """Record that the agent was seen (and what it said about itself); False if unknown."""
    values: dict[str, object] = {"last_seen": last_seen}
    extra = {"hostname": hostname, "os": os, "version": version}
    values.update({name: value for name, value in extra.items() if value is not None})
    result = await session.execute(update(Agent).where(Agent.id == agent_id).values(values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke(
    session: AsyncSession, company_id: str, agent_id: str, now: datetime | None = None
) -> bool:
    """Withdraw the agent's access (idempotent); False when the company has no such agent."""
    row = await session.get(Agent, agent_id)
    if row is None or row.company_id != company_id:
        return False
    if row.revoked_at is None:
        row.revoked_at = now or utcnow()
        await session.flush()
    return True


async def is_revoked(session: AsyncSession, agent_id: str, credential_id: str | None) -> bool:
    """True unless the agent exists, is not revoked and ``credential_id`` is its current one."""
    statement = select(Agent.revoked_at, Agent.credential_id).where(Agent.id == agent_id)
    found = (await session.execute(statement)).first()
    if found is None or credential_id is None:
        return True
    revoked_at, current = found
    return revoked_at is not None or current != credential_id


async def exists(session: AsyncSession, agent_id: str) -> bool:
    """Whether any company has an agent with this id (enrolment never takes one over)."""
    return await session.get(Agent, agent_id) is not None

"""Agents: scoped by company, one current credential, revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.store import Database, NotFound, TenantConflict
from hub.store.agents import get_agent, is_revoked, list_agents, revoke, touch, upsert_agent
from hub.store.tenants import ensure_branch
from tests.hub.store.conftest import T0, Tenants


async def test_upsert_and_read_back(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        agent = await get_agent(s, tenants.company, tenants.agent)
    assert agent is not None
    assert (agent.branch_id, agent.hostname, agent.credential_id) == ("b1", "till", "cred-1")
    assert agent.created_at == T0 and agent.last_seen is None and not agent.revoked


async def test_another_companys_agent_is_invisible(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        assert await get_agent(s, tenants.company, tenants.other_agent) is None
        assert await get_agent(s, tenants.other_company, tenants.agent) is None
        assert await get_agent(s, tenants.company, "agent-404") is None
        assert not await revoke(s, tenants.company, tenants.other_agent)
        assert [a.id for a in await list_agents(s, tenants.company)] == [tenants.agent]
    async with db.session() as s:
        assert not await is_revoked(s, tenants.other_agent, "cred-9")


async def test_an_agent_id_cannot_move_to_another_company(db: Database, tenants: Tenants) -> None:
    with pytest.raises(TenantConflict):
        async with db.session() as s:
            await upsert_agent(s, tenants.agent, tenants.other_company, tenants.other_branch, "c")
    with pytest.raises(TenantConflict):
        async with db.session() as s:
            await upsert_agent(s, "agent-new", tenants.company, tenants.other_branch, "c")
    with pytest.raises(NotFound):
        async with db.session() as s:
            await upsert_agent(s, "agent-new", tenants.company, "b404", "c")


async def test_list_agents_by_branch(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        await ensure_branch(s, "b2", tenants.company)
        await upsert_agent(s, "agent-2", tenants.company, "b2", "cred-2")
    async with db.session() as s:
        assert [a.id for a in await list_agents(s, tenants.company)] == ["agent-1", "agent-2"]
        assert [a.id for a in await list_agents(s, tenants.company, "b2")] == ["agent-2"]


async def test_touch_records_last_seen_and_identity(db: Database, tenants: Tenants) -> None:
    seen = T0 + timedelta(minutes=5)
    async with db.session() as s:
        assert await touch(s, tenants.agent, seen, os="Windows 11", version="1.2.0")
        assert not await touch(s, "agent-404", seen)
    async with db.session() as s:
        agent = await get_agent(s, tenants.company, tenants.agent)
    assert agent is not None
    assert (agent.last_seen, agent.os, agent.version, agent.hostname) == (
        seen,
        "Windows 11",
        "1.2.0",
        "till",
    )


async def test_revocation_and_credential_rotation(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        assert not await is_revoked(s, tenants.agent, "cred-1")
        assert await is_revoked(s, tenants.agent, "cred-old")
        assert await is_revoked(s, tenants.agent, None)
        assert await is_revoked(s, "agent-404", "cred-1")
        assert await revoke(s, tenants.company, tenants.agent, now=T0)
        assert await revoke(s, tenants.company, tenants.agent)  # idempotent
    async with db.session() as s:
        assert await is_revoked(s, tenants.agent, "cred-1")
        agent = await get_agent(s, tenants.company, tenants.agent)
        assert agent is not None and agent.revoked_at == T0
    # Pairing again issues a new credential and lifts the revocation; the old token stays dead.
    async with db.session() as s:
        agent = await upsert_agent(s, tenants.agent, tenants.company, tenants.branch, "cred-2")
    assert not agent.revoked and agent.hostname == "till"
    async with db.session() as s:
        assert not await is_revoked(s, tenants.agent, "cred-2")
        assert await is_revoked(s, tenants.agent, "cred-1")

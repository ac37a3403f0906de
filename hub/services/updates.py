"""Agent updates on the hub: rings, promotions, offers to agents, and the steps they report.

The builds and their signatures are the TUF repository's (hub.releases); the database holds
only policy and history: which version each ring runs (an operator's promotion), which ring a
company and an agent are on, and every step an agent reported. An agent learns its version
by asking (``agent:update:check``, on a schedule and after each connect) or by being told
(``agent:update`` to the connected agents of a ring, on any instance, when the ring is
promoted or an agent's ring changes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hub.cluster import Cluster
from hub.releases.repository import Build, Repository
from hub.services.publisher import Publisher
from hub.services.registry import AgentRecord, Registry
from hub.store import Database, audit
from hub.store import agents as agent_store
from hub.store import updates as store
from hub.store.updates import Promotion, UpdateEventRow
from shared.events import AgentUpdateOffer, AgentUpdateStatus, lookup
from shared.namespaces import Namespace
from shared.updates import DEFAULT_RING, Ring

log = logging.getLogger("chit.hub.updates")
OFFER = lookup(Namespace.PRINTING, "agent:update")


class UpdateError(Exception):
    """A refused update request: an HTTP status, a code and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class AgentUpdates:
    """An agent's ring (and where it comes from), its target version and its latest steps."""

    agent_id: str
    ring: Ring
    ring_source: str
    target_version: str | None
    version: str | None
    steps: list[UpdateEventRow]


class UpdateService:
    """Rings, promotions and update history."""

    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        registry: Registry,
        data_dir: Path,
        cluster: Cluster | None = None,
    ) -> None:
        self._db, self._publisher, self._registry = db, publisher, registry
        self._cluster = cluster
        self.repository = Repository(data_dir / "agent-releases")

    def builds(self) -> list[Build]:
        """Every signed build (none before ``chit-hub agent-release init``)."""
        return self.repository.builds() if self.repository.exists else []

    async def promotions(self) -> dict[str, Promotion]:
        """The version each ring runs."""
        async with self._db.session() as s:
            return await store.promotions(s)

    async def promote(self, ring: Ring, version: str, by: str) -> Promotion:
        """Move a ring to a signed version and tell that ring's connected agents."""
        if version not in {b.version for b in self.builds()}:
            raise UpdateError(
                404, "unknown_version", f"no signed build of {version} (chit-hub agent-release add)"
            )
        async with self._db.session() as s:
            promotion = await store.promote(s, str(ring), version, by, datetime.now(UTC))
            await audit.record(
                s, None, by, "agent_release.promote", str(ring), {"version": version}
            )
        await self._offer_where(lambda ring_of: ring_of == ring)
        return promotion

    async def company_ring(self, company_id: str) -> Ring:
        """A company's default ring."""
        async with self._db.session() as s:
            return Ring(await store.company_ring(s, company_id) or DEFAULT_RING)

    async def set_company_ring(self, company_id: str, ring: Ring, by: str) -> None:
        """Set a company's default ring; its agents that follow it are told."""
        async with self._db.session() as s:
            await store.set_company_ring(s, company_id, str(ring))
            await audit.record(s, company_id, by, "update_ring.set", company_id, {"ring": ring})
        await self._offer_where(lambda _ring: True, company_id)

    async def set_agent_ring(
        self, company_id: str, agent_id: str, ring: Ring | None, by: str
    ) -> None:
        """Give one of the company's agents its own ring (None: follow the company's)."""
        async with self._db.session() as s:
            if await agent_store.get_agent(s, company_id, agent_id) is None:
                raise UpdateError(404, "unknown_agent", f"no agent {agent_id}")
            await store.set_agent_ring(s, company_id, agent_id, None if ring is None else str(ring))
            detail = {"ring": None if ring is None else str(ring)}
            await audit.record(s, company_id, by, "update_ring.set", agent_id, detail)
        await self._offer_where(lambda _ring: True, company_id, agent_id)

    async def ring_of(self, company_id: str, agent_id: str) -> tuple[Ring, str]:
        """An agent's ring and its source: ``agent`` (its own), ``company`` or ``default``."""
        async with self._db.session() as s:
            own = (await store.agent_rings(s, company_id)).get(agent_id)
            company = await store.company_ring(s, company_id)
        if own is not None:
            return Ring(own), "agent"
        return (Ring(company), "company") if company else (DEFAULT_RING, "default")

    async def rings(self, company_id: str) -> tuple[dict[str, str], str]:
        """Every agent's own ring of the company, and the ring of those that follow it."""
        async with self._db.session() as s:
            own = await store.agent_rings(s, company_id)
            company = await store.company_ring(s, company_id)
        return dict(own), str(company or DEFAULT_RING)

    async def target(self, company_id: str, agent_id: str) -> tuple[Ring, str | None]:
        """The agent's ring and the version promoted to it (None: nothing promoted yet)."""
        ring, _ = await self.ring_of(company_id, agent_id)
        promotion = (await self.promotions()).get(str(ring))
        return ring, None if promotion is None else promotion.version

    async def record(self, agent: AgentRecord, status: AgentUpdateStatus) -> None:
        """Keep a step an agent reported."""
        row = UpdateEventRow(
            agent.agent_id,
            str(status.step),
            status.version,
            status.from_version,
            status.detail,
            status.at,
        )
        async with self._db.session() as s:
            await store.add_event(s, agent.company_id, row)
        log.info(
            "agent update step",
            extra={"agent_id": agent.agent_id, "step": str(status.step), "version": status.version},
        )

    async def agent_updates(self, company_id: str, agent_id: str) -> AgentUpdates:
        """What the UI shows for one agent (UpdateError 404 for another company's)."""
        async with self._db.session() as s:
            row = await agent_store.get_agent(s, company_id, agent_id)
            if row is None:
                raise UpdateError(404, "unknown_agent", f"no agent {agent_id}")
            steps = await store.events(s, company_id, agent_id)
        ring, source = await self.ring_of(company_id, agent_id)
        promotion = (await self.promotions()).get(str(ring))
        target = None if promotion is None else promotion.version
        return AgentUpdates(agent_id, ring, source, target, row.version, steps)

    async def _offer_where(
        self,
        wanted: Callable[[Ring], bool],
        company_id: str | None = None,
        agent_id: str | None = None,
    ) -> None:
        """Send ``agent:update`` to the matching connected agents (of every instance)."""
        for agent, company, sid in await self._connected(company_id, agent_id):
            ring, version = await self.target(company, agent)
            if version is not None and wanted(ring):
                offer = AgentUpdateOffer(ring=ring, version=version)
                await self._publisher.to_sid(OFFER, offer, sid)

    async def _connected(
        self, company_id: str | None, agent_id: str | None
    ) -> list[tuple[str, str, str]]:
        """(agent, company, sid) of each matching agent with a socket here or, in a cluster,
        on another instance (its sid then reaches it over the Redis manager)."""
        found = {
            r.agent_id: (r.agent_id, r.company_id, r.sid)
            for r in self._registry.all_agents()
            if r.sid is not None
        }
        if self._cluster is not None:
            async with self._db.session() as s:
                rows = await agent_store.active_agents(s)
            for row in rows:
                if row.id in found or (agent_id and row.id != agent_id):
                    continue
                where = await self._cluster.state.agent_location(row.id)
                if where and where.get("company") == row.company_id and where.get("sid"):
                    found[row.id] = (row.id, row.company_id, where["sid"])
        return [
            entry
            for entry in found.values()
            if (not company_id or entry[1] == company_id) and (not agent_id or entry[0] == agent_id)
        ]

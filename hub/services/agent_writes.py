"""Agents' presence, hellos and inventories written to the database in bulk (group commit).

In a reconnect storm every agent sends a hello, an inventory and then heartbeats; as one
transaction each, a few hundred agents exhausted the pool (PostgreSQL) or the write lock
(SQLite) and their acks never came. Here the live registry takes each event at once and the
writer gathers what arrived during ``interval`` into ONE transaction: the latest "seen" per
agent (last seen, hostname, OS, version) as one executemany UPDATE, and each agent's latest
inventory. A hello or inventory is acknowledged only once the transaction that holds it has
committed, so an ack still means "stored"; when a flush fails, every event in it fails with
it (the agent retries), and one agent's bad inventory (another company's agent or branch) fails
only that agent. The writes themselves are a few statements per batch (hub.store.agent_bulk).
Heartbeats are not waited for: the next one carries the same news.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Table, bindparam, func, update

from hub.store import Database, agent_bulk
from hub.store.agent_bulk import Inventory, NewAgent
from hub.store.models import Agent
from shared.printers import PrinterInfo

log = logging.getLogger("chit.hub.agent_writes")


@dataclass
class _Seen:
    at: datetime
    hostname: str | None = None
    os: str | None = None
    version: str | None = None

    def merge(self, newer: _Seen) -> None:
        self.at = max(self.at, newer.at)
        self.hostname = newer.hostname or self.hostname
        self.os = newer.os or self.os
        self.version = newer.version or self.version


@dataclass
class _Batch:
    created: dict[str, NewAgent] = field(default_factory=dict)
    seen: dict[str, _Seen] = field(default_factory=dict)
    inventories: dict[str, Inventory] = field(default_factory=dict)
    #: Waiters per agent id; each is resolved when the batch commits (or fails).
    waiters: dict[str, list[asyncio.Future[None]]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.created or self.seen or self.inventories)

    def __len__(self) -> int:
        return len(self.created) + len(self.seen) + len(self.inventories)

    def take(self, limit: int) -> _Batch:
        """Remove and return the news of at most ``limit`` agents (with their waiters)."""
        taken = _Batch()
        agents = list(dict.fromkeys([*self.created, *self.inventories, *self.seen]))[:limit]
        for agent_id in agents:
            _move(self.created, taken.created, agent_id)
            _move(self.seen, taken.seen, agent_id)
            _move(self.inventories, taken.inventories, agent_id)
            _move(self.waiters, taken.waiters, agent_id)
        return taken


_T = TypeVar("_T")


def _move(source: dict[str, _T], target: dict[str, _T], key: str) -> None:
    if key in source:
        target[key] = source.pop(key)


#: Agents whose news one transaction holds at most: bounds how long SQLite's write lock is held
#: (other writers wait for it within the busy timeout); a bigger backlog takes several.
MAX_AGENTS_PER_WRITE = 500

_AGENTS: Table = Agent.__table__  # type: ignore[assignment]
#: One Core UPDATE run as executemany: a single statement for every agent seen in a batch.
_TOUCH = (
    update(_AGENTS)
    .where(_AGENTS.c.id == bindparam("b_agent"))
    .values(
        last_seen=bindparam("b_at", type_=_AGENTS.c.last_seen.type),
        hostname=func.coalesce(bindparam("b_hostname"), _AGENTS.c.hostname),
        os=func.coalesce(bindparam("b_os"), _AGENTS.c.os),
        version=func.coalesce(bindparam("b_version"), _AGENTS.c.version),
    )
)


class AgentWriter:
    """Write-behind of agent presence and inventories, flushed every ``interval`` seconds."""

    def __init__(
        self, db: Database, interval: float = 0.2, max_agents: int = MAX_AGENTS_PER_WRITE
    ) -> None:
        self._db = db
        self._interval = interval
        self._max_agents = max_agents
        self._batch = _Batch()
        self._wake = asyncio.Event()
        self.flushes = 0

    async def seen(
        self,
        agent_id: str,
        hostname: str | None = None,
        os: str | None = None,
        version: str | None = None,
        *,
        wait: bool = False,
    ) -> None:
        """The agent was seen (and said this about itself); waits for the commit if ``wait``."""
        news = _Seen(datetime.now(UTC), hostname, os, version)
        known = self._batch.seen.get(agent_id)
        if known is None:
            self._batch.seen[agent_id] = news
        else:
            known.merge(news)
        await self._queued(agent_id, wait)

    async def create(
        self, agent_id: str, company_id: str, branch_id: str, credential_id: str
    ) -> None:
        """Record an agent seen for the first time; returns once it is committed."""
        self._batch.created[agent_id] = NewAgent(
            company_id, branch_id, credential_id, datetime.now(UTC)
        )
        await self._queued(agent_id, True)

    async def inventory(
        self, agent_id: str, company_id: str, branch_id: str, printers: list[PrinterInfo]
    ) -> None:
        """The agent's full printer list (the latest wins); returns once it is committed."""
        at = datetime.now(UTC)
        self._batch.inventories[agent_id] = Inventory(company_id, branch_id, printers, at)
        await self._queued(agent_id, True)

    async def _queued(self, agent_id: str, wait: bool) -> None:
        self._wake.set()
        if not wait:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._batch.waiters.setdefault(agent_id, []).append(done)
        await done

    async def run(self) -> None:
        """Flush forever: wake on news, gather for ``interval``, write once."""
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what is pending, ``max_agents`` per transaction, and settle its waiters."""
        while self._batch:
            await self._write(self._batch.take(self._max_agents))

    async def _write(self, batch: _Batch) -> None:
        failed: dict[str, BaseException] = {}
        try:
            async with self._db.write_session() as s:
                failed.update(await agent_bulk.create_agents(s, batch.created))
                inventories = {a: i for a, i in batch.inventories.items() if a not in failed}
                failed.update(await agent_bulk.store_inventories(s, inventories))
                if batch.seen:
                    rows = [_touch_row(a, n) for a, n in batch.seen.items()]
                    await (await s.connection()).execute(_TOUCH, rows)
        except Exception as exc:
            log.exception("agent write batch failed", extra={"agents": len(batch.waiters)})
            _settle(batch, exc, {})
            return
        self.flushes += 1
        _settle(batch, None, failed)

    async def close(self) -> None:
        """Write what is still pending (at shutdown)."""
        with contextlib.suppress(Exception):
            await self.flush()


def _touch_row(agent_id: str, news: _Seen) -> dict[str, object]:
    return {
        "b_agent": agent_id,
        "b_at": news.at,
        "b_hostname": news.hostname,
        "b_os": news.os,
        "b_version": news.version,
    }


def _settle(batch: _Batch, error: BaseException | None, failed: dict[str, BaseException]) -> None:
    for agent_id, waiters in batch.waiters.items():
        problem = error or failed.get(agent_id)
        for waiter in waiters:
            if waiter.done():
                continue
            if problem is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(problem)

"""Cluster-wide state in Redis: where each agent is connected, each instance's counts, leases.

python-socketio keeps rooms per process and cannot say which instance holds a client, so
the hub keeps that here. Every key expires (agents: ``agent_ttl``; instances: ``stats_ttl``),
so a killed instance's agents and counts disappear by themselves. Every call is bounded by
the client's socket timeout; when Redis is down the answers are empty and the hub keeps
serving its own clients.

Redis is a cache of what each instance knows, not the truth: an instance remembers the
agents it holds and writes their entries whole again (value and expiry) on every heartbeat,
and all of them at once when Redis comes back (:meth:`ClusterState.refresh` notices a failed
call or a restarted server by its ``run_id``). A Redis restart without persistence therefore
loses presence for at most one refresh interval, not until each agent reconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("chit.hub.cluster")

TIMEOUT = 5.0
#: Delete an agent's entry only while it names this socket (a newer one elsewhere stays).
FORGET_IF_SID = """
if redis.call('HGET', KEYS[1], 'sid') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ClusterState:
    """Agent locations, instance stats and leader leases under one key prefix."""

    def __init__(
        self,
        url: str,
        prefix: str,
        instance_id: str,
        *,
        agent_ttl: int = 60,
        stats_ttl: float = 15.0,
    ) -> None:
        self.redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT, decode_responses=True
        )
        self.prefix = prefix
        self.instance_id = instance_id
        self.agent_ttl = agent_ttl
        self.stats_ttl = stats_ttl
        #: The presence entries this instance owns: written again on heartbeats and refreshes.
        self._agents: dict[str, dict[str, str]] = {}
        #: The Redis server's run_id as last seen, and whether a call failed since.
        self._server: str | None = None
        self._failed = False
        #: Entries to delete that Redis did not take (agent id -> sid), retried on refresh.
        self._unforgotten: dict[str, str] = {}
        self._forget = self.redis.register_script(FORGET_IF_SID)

    def key(self, *parts: str) -> str:
        """A Redis key under this cluster's prefix."""
        return ":".join((self.prefix, *parts))

    async def close(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()

    async def agent_online(
        self, agent_id: str, sid: str, company_id: str, branch_id: str | None
    ) -> None:
        """An agent connected to this instance."""
        self._agents[agent_id] = {
            "sid": sid,
            "instance": self.instance_id,
            "company": company_id,
            "branch": branch_id or "",
        }
        await self.quietly(self._assert_agents([agent_id]))

    async def _assert_agents(self, agent_ids: list[str]) -> None:
        """Write these agents' entries whole (fields and expiry) in one transaction."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for agent_id in agent_ids:
                key = self.key("agent", agent_id)
                pipe.delete(key)
                pipe.hset(key, mapping=dict(self._agents[agent_id]))  # type: ignore[arg-type]
                pipe.expire(key, self.agent_ttl)
            await pipe.execute()

    async def agent_seen(self, agent_id: str) -> None:
        """The agent is still here: write its entry again (it may be gone from Redis)."""
        if agent_id in self._agents:
            await self.quietly(self._assert_agents([agent_id]))

    async def agent_offline(self, agent_id: str, sid: str) -> None:
        """The agent's socket on this instance closed (a newer socket elsewhere stays)."""
        if self._agents.get(agent_id, {}).get("sid") == sid:
            del self._agents[agent_id]
        self._unforgotten[agent_id] = sid
        await self._forget_gone()

    async def _forget_gone(self) -> None:
        for agent_id, sid in list(self._unforgotten.items()):
            key = self.key("agent", agent_id)
            if await self.quietly(self._forget(keys=[key], args=[sid])) is not None:
                self._unforgotten.pop(agent_id, None)

    async def refresh(self) -> int:
        """Re-register every local agent when Redis came back; how many were written."""
        info = await self.quietly(self.redis.info("server"))
        if not isinstance(info, dict):
            return 0
        run_id = str(info.get("run_id", ""))
        changed = self._failed or run_id != self._server
        back = changed and (self._failed or self._server is not None)
        self._server, self._failed = run_id, False
        await self._forget_gone()
        if not changed or not self._agents:
            return 0
        await self.quietly(self._assert_agents(list(self._agents)))
        if back:
            log.warning(
                "redis is back; agents registered again", extra={"agents": len(self._agents)}
            )
        return len(self._agents)

    async def ping(self, timeout: float = TIMEOUT) -> bool:
        """Whether Redis answers PING within ``timeout`` seconds (for readiness)."""
        try:
            return bool(await asyncio.wait_for(self.redis.ping(), timeout))
        except (RedisError, OSError, TimeoutError):
            return False

    async def agent_location(self, agent_id: str) -> dict[str, str] | None:
        """Where an agent is connected: sid, instance, company, branch; None when nowhere."""
        found = await self.quietly(self.redis.hgetall(self.key("agent", agent_id)))
        return dict(found) if found else None

    async def publish_stats(self, stats: dict[str, Any]) -> None:
        """This instance's connection counts, valid for ``stats_ttl`` seconds."""
        key = self.key("instance", self.instance_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, json.dumps(stats), px=int(self.stats_ttl * 1000))
            pipe.sadd(self.key("instances"), self.instance_id)
            await self.quietly(pipe.execute())

    async def instances(self) -> dict[str, dict[str, Any]]:
        """The stats of every live instance (expired ones are forgotten)."""
        ids = sorted(await self.quietly(self.redis.smembers(self.key("instances"))) or [])
        if not ids:
            return {}
        values = await self.quietly(self.redis.mget([self.key("instance", i) for i in ids]))
        live = {i: json.loads(v) for i, v in zip(ids, values or [], strict=False) if v}
        gone = [i for i in ids if i not in live]
        if gone:
            await self.quietly(self.redis.srem(self.key("instances"), *gone))
        return live

    async def save_alerts(self, changes: list[tuple[str, str | None]]) -> None:
        """Record raised alerts (id -> JSON) and forget cleared ones (None), for every instance."""
        key = self.key("alerts")
        async with self.redis.pipeline(transaction=True) as pipe:
            for alert_id, value in changes:
                if value is None:
                    pipe.hdel(key, alert_id)
                else:
                    pipe.hset(key, alert_id, value)
            await self.quietly(pipe.execute())

    async def active_alerts(self) -> list[str] | None:
        """The raised alerts of the cluster (JSON), or None when Redis does not answer."""
        values = await self.quietly(self.redis.hvals(self.key("alerts")))
        return None if values is None else [str(v) for v in values]

    async def lead(self, name: str, ttl: float) -> bool:
        """Hold (or renew) the lease ``name``; True while this instance is the leader."""
        key, px = self.key("leader", name), int(ttl * 1000)
        if await self.quietly(self.redis.set(key, self.instance_id, nx=True, px=px)):
            return True
        if await self.quietly(self.redis.get(key)) == self.instance_id:
            await self.quietly(self.redis.pexpire(key, px))
            return True
        return False

    async def quietly(self, awaitable: Any) -> Any:
        """The call's answer, or None when Redis fails (then the next refresh rewrites all)."""
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            self._failed = True
            log.warning("redis call failed", extra={"error": str(exc)})
            return None

"""Cluster-wide state in Redis: where each agent is connected, each instance's counts, leases.

python-socketio keeps rooms per process and cannot say which instance holds a client, so
the hub keeps that here. Every key expires (agents: ``agent_ttl``; instances: ``stats_ttl``),
so a killed instance's agents and counts disappear by themselves. Every call is bounded by
the client's socket timeout; when Redis is down the answers are empty and the hub keeps
serving its own clients.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("chit.hub.cluster")

TIMEOUT = 5.0


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

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def close(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()

    async def agent_online(
        self, agent_id: str, sid: str, company_id: str, branch_id: str | None
    ) -> None:
        """An agent connected to this instance."""
        key = self._key("agent", agent_id)
        fields = {
            "sid": sid,
            "instance": self.instance_id,
            "company": company_id,
            "branch": branch_id or "",
        }
        await self._quietly(self._set_hash(key, fields))

    async def _set_hash(self, key: str, fields: dict[str, str]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=dict(fields))  # type: ignore[arg-type]
            pipe.expire(key, self.agent_ttl)
            await pipe.execute()

    async def agent_seen(self, agent_id: str) -> None:
        """The agent is still here (keeps its entry alive)."""
        await self._quietly(self.redis.expire(self._key("agent", agent_id), self.agent_ttl))

    async def agent_offline(self, agent_id: str, sid: str) -> None:
        """The agent's socket on this instance closed (a newer socket elsewhere stays)."""
        key = self._key("agent", agent_id)
        current = await self._quietly(self.redis.hget(key, "sid"))
        if current == sid:
            await self._quietly(self.redis.delete(key))

    async def agent_location(self, agent_id: str) -> dict[str, str] | None:
        """Where an agent is connected: sid, instance, company, branch; None when nowhere."""
        found = await self._quietly(self.redis.hgetall(self._key("agent", agent_id)))
        return dict(found) if found else None

    async def publish_stats(self, stats: dict[str, Any]) -> None:
        """This instance's connection counts, valid for ``stats_ttl`` seconds."""
        key = self._key("instance", self.instance_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, json.dumps(stats), px=int(self.stats_ttl * 1000))
            pipe.sadd(self._key("instances"), self.instance_id)
            await self._quietly(pipe.execute())

    async def instances(self) -> dict[str, dict[str, Any]]:
        """The stats of every live instance (expired ones are forgotten)."""
        ids = sorted(await self._quietly(self.redis.smembers(self._key("instances"))) or [])
        if not ids:
            return {}
        values = await self._quietly(self.redis.mget([self._key("instance", i) for i in ids]))
        live = {i: json.loads(v) for i, v in zip(ids, values or [], strict=False) if v}
        gone = [i for i in ids if i not in live]
        if gone:
            await self._quietly(self.redis.srem(self._key("instances"), *gone))
        return live

    async def lead(self, name: str, ttl: float) -> bool:
        """Hold (or renew) the lease ``name``; True while this instance is the leader."""
        key, px = self._key("leader", name), int(ttl * 1000)
        if await self._quietly(self.redis.set(key, self.instance_id, nx=True, px=px)):
            return True
        if await self._quietly(self.redis.get(key)) == self.instance_id:
            await self._quietly(self.redis.pexpire(key, px))
            return True
        return False

    async def _quietly(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            log.warning("redis call failed", extra={"error": str(exc)})
            return None

"""The cluster's reconnect log in Redis: drops and reconnects per client identity.

Every instance writes the drops of its clients and pairs its connects with them here, so a
client that drops from one instance and reconnects to another counts once, and the leader
that evaluates the reconnect-rate alert counts every instance's clients (the rules are in
``hub.services.reconnects``).

Keys, all expiring: ``drops:{identity}`` and ``reconnects:{identity}`` are sorted sets of
times (unique members), ``reconnecting`` indexes the identities with recent reconnects (a
JSON ``[identity, company]`` member scored by its latest reconnect). Pairing a connect with
a drop is one MULTI (trim the old drops, pop the oldest), so two instances never pair one
drop twice. When Redis fails, a connect is not a reconnect and the counts are empty.
"""

from __future__ import annotations

import json
import uuid

from hub.cluster.presence import ClusterState

#: Identities the alert looks at, at most (the busiest storms are the newest reconnects).
MAX_IDENTITIES = 10_000
PER_IDENTITY = 1000


class RedisReconnects:
    """A ``ReconnectLog`` shared by every instance through Redis."""

    def __init__(self, state: ClusterState, gap: float, window: float) -> None:
        self.state = state
        self.gap = gap
        self.window = window

    async def dropped(self, identity: str, now: float) -> None:
        """Remember the drop for the identity's next connect, on any instance."""
        key = self.state.key("drops", identity)
        async with self.state.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {uuid.uuid4().hex: now})
            pipe.zremrangebyrank(key, 0, -PER_IDENTITY - 1)
            pipe.expire(key, int(self.gap) + 1)
            await self.state.quietly(pipe.execute())

    async def connected(self, identity: str, company: str | None, now: float) -> bool:
        """Pair the connect with the oldest drop within the gap; True when one was found."""
        drops = self.state.key("drops", identity)
        async with self.state.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(drops, "-inf", f"({now - self.gap}")
            pipe.zpopmin(drops, 1)
            answer = await self.state.quietly(pipe.execute())
        if not answer or not answer[1]:
            return False
        await self._reconnected(identity, company, now)
        return True

    async def _reconnected(self, identity: str, company: str | None, now: float) -> None:
        key = self.state.key("reconnects", identity)
        index = self.state.key("reconnecting")
        async with self.state.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {uuid.uuid4().hex: now})
            pipe.zremrangebyrank(key, 0, -PER_IDENTITY - 1)
            pipe.expire(key, int(self.window) + 1)
            pipe.zadd(index, {json.dumps([identity, company]): now})
            pipe.expire(index, int(self.window) + 1)
            await self.state.quietly(pipe.execute())

    async def rates(self, now: float) -> dict[str, tuple[int, str | None]]:
        """Reconnects per identity in the last window, every instance's clients included."""
        index, since = self.state.key("reconnecting"), now - self.window
        async with self.state.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(index, "-inf", f"({since}")
            pipe.zrevrange(index, 0, MAX_IDENTITIES - 1)
            answer = await self.state.quietly(pipe.execute())
        members = [json.loads(m) for m in (answer[1] if answer else [])]
        if not members:
            return {}
        async with self.state.redis.pipeline(transaction=False) as pipe:
            for identity, _ in members:
                pipe.zcount(self.state.key("reconnects", identity), since, "+inf")
            counts = await self.state.quietly(pipe.execute()) or []
        return {
            identity: (int(n), company)
            for (identity, company), n in zip(members, counts, strict=False)
            if n
        }

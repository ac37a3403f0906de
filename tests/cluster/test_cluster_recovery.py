"""After Redis loses its data or drops its subscribers, the cluster is whole again by itself.

A Redis restart without persistence forgets every presence entry: heartbeats write them again
and each instance re-registers its agents when it sees Redis back. ``CLIENT KILL TYPE pubsub``
drops every subscriber: each instance resubscribes once and leaves no orphan behind.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import redis

from agent.simulators.network import SimulatedNetworkPrinter
from shared.tokens import Role
from tests.cluster.support import Cluster, HubProc, OwnRedis, harness_for
from tests.e2e.support import eventually, fast_settings, manual, running_agent
from tests.support import HubHarness

NS = "/printing-ws"


async def _agent_online(hubs: Cluster, hub: HubProc, printer_id: str) -> bool:
    """Whether ``hub`` lists the printer with its agent online (wherever the agent is)."""
    _, body = await hubs.request(hub, "GET", "/api/v1/printers", hubs.token(Role.MANAGER, "acme"))
    return any(p["printerId"] == printer_id and p["agentOnline"] for p in body["printers"])


async def _until(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Poll ``check`` until it is true, for at most ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def test_agents_found_again_after_a_redis_restart(
    own_redis: OwnRedis, tmp_path: Path
) -> None:
    hubs = Cluster(own_redis.url, tmp_path, 2)
    await hubs.start()
    try:
        async with SimulatedNetworkPrinter() as sim:
            token = hubs.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-r")
            settings = fast_settings(
                hub_url=hubs.hubs[0].url, manual_printers=(manual(sim),), agent_id="agent-r"
            )
            async with running_agent(settings, token, spool_path=tmp_path / "spool.db") as agent:
                await _until(lambda: _agent_online(hubs, hubs.hubs[1], sim.printer_id), 15)
                assert agent.link is not None
                socket = agent.link._client
                own_redis.stop()  # no persistence: every presence entry is gone with it
                await asyncio.sleep(0.5)
                own_redis.start()
                # Heartbeats come every second here: within a few, not after a reconnect.
                await _until(lambda: _agent_online(hubs, hubs.hubs[1], sim.printer_id), 5)
                assert agent.link._client is socket  # the agent never had to reconnect

                async def printed() -> bool:
                    status, body = await hubs.request(
                        hubs.hubs[1],
                        "POST",
                        f"/api/v1/printers/{sim.printer_id}/test",
                        hubs.token(Role.MANAGER, "acme"),
                    )
                    return status == 200 and body["result"]["success"] is True

                await _until(printed, 20)
                admin = hubs.token(Role.OPERATOR, None)

                async def both_instances() -> bool:
                    _, body = await hubs.request(hubs.hubs[1], "GET", "/api/v1/connections", admin)
                    return len(body["instances"]) == 2

                await _until(both_instances, 10)  # instance records are back too
    finally:
        hubs.stop()


async def test_heartbeat_writes_presence_again(redis_url: str, tmp_path: Path) -> None:
    prefix = f"chit-beat-{os.getpid()}"
    hub = await HubHarness.start(tmp_path / "a", redis_url=redis_url, cluster_prefix=prefix)
    try:
        agent = await hub.connect(hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-b"), [NS])
        hello = {"agentId": "agent-b", "hostname": "pc", "os": "linux", "version": "1"}
        assert (await agent.call(NS, "agent:hello", hello))["ok"]
        client = redis.Redis.from_url(redis_url, socket_timeout=2, decode_responses=True)
        key = f"{prefix}:agent:agent-b"
        assert client.hget(key, "instance") == hub.ctx.instance_id
        client.delete(key)  # as a Redis restart would
        beat = {"agentId": "agent-b", "sentAt": datetime.now(UTC).isoformat()}
        assert (await agent.call(NS, "agent:heartbeat", beat))["ok"]
        assert client.hget(key, "instance") == hub.ctx.instance_id
        assert 0 < client.ttl(key) <= 60
        await agent.close()
        await eventually(lambda: not client.exists(key), 5)
    finally:
        await hub.stop()


def _subscribers(client: redis.Redis, channel: str) -> int:
    [(_, count)] = client.pubsub_numsub(channel)
    return int(count)


async def test_dropped_subscribers_leave_no_orphans(own_redis: OwnRedis, tmp_path: Path) -> None:
    hubs = Cluster(own_redis.url, tmp_path, 2)
    await hubs.start()
    client = redis.Redis.from_url(own_redis.url, socket_timeout=2)
    channel = f"{hubs.prefix}:socketio"
    try:
        await eventually(lambda: _subscribers(client, channel) == 2, 10)
        for _ in range(4):
            assert client.client_kill_filter(_type="pubsub") >= 2
            await eventually(lambda: _subscribers(client, channel) >= 2, 10)
            await asyncio.sleep(1.5)  # long enough for a lingering subscription to come back
        for _ in range(10):  # one subscription per instance, and it stays so
            assert _subscribers(client, channel) == 2
            await asyncio.sleep(0.2)
        watcher = await harness_for(hubs.hubs[1]).connect(
            hubs.token(Role.STAFF, "acme"), ["/orders"]
        )
        order = {"correlationId": "corr-orphans-1", "orderId": "o1", "status": "new"}
        status, _ = await harness_for(hubs.hubs[0]).publish("newOrder", order)
        assert status == 202
        await watcher.wait_for("/orders", "newOrder")
        await asyncio.sleep(0.5)
        assert len(watcher.events("/orders", "newOrder")) == 1
        await watcher.close()
    finally:
        client.close()
        hubs.stop()

"""Three hub processes behind one Redis behave as one hub."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.simulators.network import SimulatedNetworkPrinter
from shared.tokens import Role
from tests.cluster.support import Cluster, OwnRedis, harness_for, wait_healthy
from tests.e2e.support import eventually, fast_settings, manual, running_agent
from tests.support import Recorder, settle

NS = "/printing-ws"
ORDER = {"correlationId": "corr-cluster-1", "orderId": "o1", "status": "new"}


async def _client(cluster: Cluster, index: int, token: str, namespaces: list[str]) -> Recorder:
    return await harness_for(cluster.hubs[index]).connect(token, namespaces)


async def test_broadcast_reaches_clients_on_every_instance(cluster: Cluster) -> None:
    acme = [
        await _client(cluster, i, cluster.token(Role.STAFF, "acme"), ["/orders"]) for i in range(3)
    ]
    other = await _client(cluster, 1, cluster.token(Role.STAFF, "bistro"), ["/orders"])
    status, _ = await harness_for(cluster.hubs[0]).publish("newOrder", ORDER)
    assert status == 202
    for client in acme:
        await client.wait_for("/orders", "newOrder")
    await settle(0.3)
    assert other.events("/orders") == []
    for client in [*acme, other]:
        await client.close()


async def test_printer_test_and_job_across_instances(cluster: Cluster, tmp_path: Path) -> None:
    async with SimulatedNetworkPrinter() as sim:
        watcher = await _client(cluster, 2, cluster.token(Role.MANAGER, "acme"), [NS])
        token = cluster.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-c")
        settings = fast_settings(
            hub_url=cluster.hubs[1].url, manual_printers=(manual(sim),), agent_id="agent-c"
        )
        async with running_agent(settings, token, spool_path=tmp_path / "spool.db"):
            manager = cluster.token(Role.MANAGER, "acme")

            async def listed() -> bool:
                # The agent is on instance 1; instance 0 lists it (cluster-wide registry).
                _, body = await cluster.request(cluster.hubs[0], "GET", "/api/v1/printers", manager)
                return any(
                    p["printerId"] == sim.printer_id and p["agentOnline"] for p in body["printers"]
                )

            async with asyncio.timeout(15):
                while not await listed():
                    await asyncio.sleep(0.1)
            status, body = await cluster.request(
                cluster.hubs[0],
                "POST",
                f"/api/v1/printers/{sim.printer_id}/test?correlationId=corr-cluster-test",
                manager,
            )
            assert status == 200, body
            assert body["result"]["success"] is True, body["result"].get("error")
            assert sim.count_jobs_containing("corr-cluster-test") == 1
            [broadcast] = await watcher.wait_for(NS, "printer:test:result")
            assert broadcast["correlationId"] == "corr-cluster-test"
            raw = "G0BDTFVTVEVSLUpPQgodVgA="  # ESC @ "CLUSTER-JOB" LF GS V 0
            status, job = await cluster.request(
                cluster.hubs[2],
                "POST",
                "/api/v1/jobs",
                manager,
                {"printerId": sim.printer_id, "raw": raw},
            )
            assert status == 201, job
            await eventually(lambda: sim.count_jobs_containing("CLUSTER-JOB") == 1, 15)
        await watcher.close()


async def test_connection_counts_are_cluster_wide(cluster: Cluster) -> None:
    clients = [
        await _client(cluster, i % 3, cluster.token(Role.STAFF, "acme"), ["/orders"])
        for i in range(6)
    ]
    admin = cluster.token(Role.OPERATOR, None)

    async def total(index: int) -> int:
        _, body = await cluster.request(cluster.hubs[index], "GET", "/api/v1/connections", admin)
        return int(body["total"])

    async with asyncio.timeout(10):
        while [await total(i) for i in range(3)] != [6, 6, 6]:
            await asyncio.sleep(0.2)
    _, body = await cluster.request(cluster.hubs[0], "GET", "/api/v1/connections", admin)
    assert sorted(body["instances"].values()) == [2, 2, 2]
    for client in clients:
        await client.close()


async def test_instance_imbalance_alert(cluster: Cluster) -> None:
    clients = [
        await _client(cluster, 0, cluster.token(Role.STAFF, "acme"), ["/orders"]) for _ in range(4)
    ]
    admin = cluster.token(Role.OPERATOR, None)

    async def kinds(index: int) -> set[str]:
        _, body = await cluster.request(cluster.hubs[index], "GET", "/api/v1/alerts", admin)
        return {a["kind"] for a in body["active"]}

    async with asyncio.timeout(15):
        while not all(["instance_imbalance" in await kinds(i) for i in range(3)]):
            await asyncio.sleep(0.2)
    for client in clients[:3]:
        await client.close()
    more = [
        await _client(cluster, i, cluster.token(Role.STAFF, "acme"), ["/orders"]) for i in (1, 2)
    ]
    async with asyncio.timeout(15):
        while any(["instance_imbalance" in await kinds(i) for i in range(3)]):
            await asyncio.sleep(0.2)
    for client in [clients[3], *more]:
        await client.close()


async def test_killed_instance_fails_pending_tests_and_agents_move(
    cluster: Cluster, tmp_path: Path
) -> None:
    async with SimulatedNetworkPrinter() as sim:
        token = cluster.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-k")
        urls = ",".join(h.url for h in (cluster.hubs[1], cluster.hubs[2]))
        settings = fast_settings(hub_url=urls, manual_printers=(manual(sim),), agent_id="agent-k")
        manager = cluster.token(Role.MANAGER, "acme")
        silent = await _client(
            cluster, 1, cluster.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-silent"), [NS]
        )
        inventory = {
            "agentId": "agent-silent",
            "printers": [
                {
                    "printerId": "net:127.0.0.9:9100",
                    "name": "Silent",
                    "connection": "network",
                    "source": "manual",
                }
            ],
        }
        assert (await silent.call(NS, "agent:inventory", inventory))["ok"]
        pending = asyncio.ensure_future(
            cluster.request(
                cluster.hubs[0], "POST", "/api/v1/printers/net:127.0.0.9:9100/test", manager
            )
        )
        async with running_agent(settings, token, spool_path=tmp_path / "spool.db") as agent:
            await eventually(lambda: agent.link is not None and agent.link.connected, 15)
            await asyncio.sleep(0.5)
            cluster.hubs[1].kill()
            status, body = await pending
            assert status == 200
            assert body["result"]["error"]["code"] in ("instance_lost", "agent_disconnected")
            await eventually(
                lambda: (
                    agent.link is not None
                    and agent.link.connected
                    and agent.link.url == cluster.hubs[2].url
                ),
                20,
            )
            await asyncio.sleep(1.0)
            status, body = await cluster.request(
                cluster.hubs[0], "POST", f"/api/v1/printers/{sim.printer_id}/test", manager
            )
            assert body["result"]["success"] is True, body["result"].get("error")


async def test_redis_restart_resumes_cross_instance_delivery(
    own_redis: OwnRedis, tmp_path: Path
) -> None:
    hubs = Cluster(own_redis.url, tmp_path, 2)
    await hubs.start()
    try:
        a = await _client(hubs, 0, hubs.token(Role.STAFF, "acme"), ["/orders"])
        b = await _client(hubs, 1, hubs.token(Role.STAFF, "acme"), ["/orders"])
        own_redis.stop()
        await asyncio.sleep(0.5)
        status, body = await harness_for(hubs.hubs[0]).publish("newOrder", ORDER)
        # Durable in the instance's outbox; clients get it from the stream, once Redis is back.
        assert (status, body["queued"], body["offset"]) == (202, True, None)
        own_redis.start()
        for hub in hubs.hubs:
            await wait_healthy(hub.url)
        for client in (a, b):
            [late] = await client.wait_for("/orders", "newOrder", timeout=15)
            assert late["correlationId"] == ORDER["correlationId"] and late["_offset"]["seq"] == 1
        order = {**ORDER, "correlationId": "corr-after-restart"}

        async def delivered() -> bool:
            await harness_for(hubs.hubs[0]).publish("newOrder", order)
            await asyncio.sleep(0.3)
            return any(
                e["correlationId"] == "corr-after-restart" for e in b.events("/orders", "newOrder")
            )

        async with asyncio.timeout(15):
            while not await delivered():
                await asyncio.sleep(0.2)
        await a.close()
        await b.close()
    finally:
        hubs.stop()


async def test_agent_offline_alert_is_cluster_wide(redis_url: str, tmp_path: Path) -> None:
    hubs = Cluster(redis_url, tmp_path, 3, CHIT_HUB_ALERT_AGENT_OFFLINE_SECONDS="2")
    await hubs.start()
    try:
        agent = await _client(
            hubs, 2, hubs.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-gone"), [NS]
        )
        hello = {"agentId": "agent-gone", "hostname": "pc", "os": "linux", "version": "1"}
        assert (await agent.call(NS, "agent:hello", hello))["ok"]
        await agent.close()
        manager = hubs.token(Role.MANAGER, "acme")

        async def subjects(index: int) -> set[str]:
            _, body = await hubs.request(hubs.hubs[index], "GET", "/api/v1/alerts", manager)
            return {a["subject"] for a in body["active"] if a["kind"] == "agent_offline"}

        async with asyncio.timeout(20):
            while not all(["agent-gone" in await subjects(i) for i in range(3)]):
                await asyncio.sleep(0.3)
        back = await _client(
            hubs, 0, hubs.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-gone"), [NS]
        )
        async with asyncio.timeout(20):
            while any(["agent-gone" in await subjects(i) for i in range(3)]):
                await asyncio.sleep(0.3)
        await back.close()
    finally:
        hubs.stop()

"""A rolling restart of a three-instance cluster loses no event and no print job.

The set-up of docs/deployment.md: three hub processes on one Redis and one database
(PostgreSQL when CHIT_TEST_DATABASE_URL is set, else a shared SQLite file), the shipped nginx
in front over TLS. Web clients (python-socketio, websocket and long-polling, each from its own
address) connect through nginx and reconnect with the offset of the last event they saw;
agents (the real agent core, with simulated printers) connect to the instances directly and
move to the next one in their ``hub_url`` list. While events are published and print jobs
submitted through nginx, each instance in turn is stopped with SIGTERM and started again.
Every client must end with every event exactly once and in order, and every job must print
exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from agent.simulators.network import SimulatedNetworkPrinter
from shared.streams import STATUS_EVENT
from shared.tokens import Role
from tests import pg
from tests.cluster.nginx import Proxy, nginx_installed, running_nginx
from tests.cluster.support import Cluster
from tests.e2e.support import fast_settings, manual, running_agent
from tests.e2e.test_jobs_durability import _raw

pytestmark = [
    pytest.mark.skipif(not nginx_installed(), reason="nginx is not installed"),
    pytest.mark.timeout(300),
]
ORDERS = "/orders"


class WebClient:
    """A web client through nginx that resumes from the last offset it saw, as streams.js does."""

    def __init__(self, proxy: Proxy, source: str, token: str, transport: str) -> None:
        self.proxy, self.source, self.token, self.transport = proxy, source, token, transport
        self.offset: dict[str, Any] | None = None
        self.seqs: list[int] = []
        self.statuses: list[dict[str, Any]] = []
        self.connects = 0
        self.http = proxy.session(source, timeout=60)
        self.client = socketio.AsyncClient(
            reconnection=True,
            reconnection_delay=0.2,
            reconnection_delay_max=1,
            http_session=self.http,
        )
        self.client.on("newOrder", self._event, namespace=ORDERS)
        self.client.on(STATUS_EVENT, self._status, namespace=ORDERS)
        self.client.on("connect", self._connected, namespace=ORDERS)

    def _auth(self) -> dict[str, Any]:
        """Sent on every (re)connect: python-socketio calls it again each time."""
        return {"token": self.token, **({"since": self.offset} if self.offset else {})}

    def _connected(self) -> None:
        self.connects += 1

    def _event(self, payload: dict[str, Any]) -> None:
        self.seqs.append(payload["_offset"]["seq"])
        self.offset = payload["_offset"]

    def _status(self, status: dict[str, Any]) -> None:
        self.statuses.append(status)
        if self.offset is None:  # the first connect: start at the stream's head
            self.offset = status["offset"]

    async def start(self) -> None:
        await self.client.connect(
            self.proxy.url,
            namespaces=[ORDERS],
            transports=[self.transport],
            auth=self._auth,
            wait_timeout=10,
        )
        async with asyncio.timeout(10):
            while not self.statuses:
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.client.disconnect()
        await self.http.close()


@contextlib.asynccontextmanager
async def _database() -> AsyncIterator[str | None]:
    if pg.POSTGRES_URL is None:
        yield None  # the instances share the SQLite file in the cluster's data directory
        return
    async with pg.fresh_database("chit_rolling") as url:
        yield url


async def _post(
    proxy: Proxy, path: str, token: str, body: Any, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """POST through nginx until it is answered 2xx (the instance behind may be restarting)."""
    hdrs = {"Authorization": f"Bearer {token}", **(headers or {})}
    async with proxy.session(timeout=10) as http, asyncio.timeout(60):
        while True:
            try:
                async with http.post(proxy.url + path, json=body, headers=hdrs) as resp:
                    if resp.status < 300:
                        return dict(await resp.json())
                    assert resp.status in (502, 503, 504), (resp.status, await resp.text())
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)


async def _publish_until(stop: asyncio.Event, proxy: Proxy, service: str) -> list[int]:
    """Publish newOrder events until ``stop``; the stream seq of each, from its answer."""
    seqs: list[int] = []
    for i in itertools.count(1):
        if stop.is_set():
            return seqs
        body = {
            "namespace": ORDERS,
            "event": "newOrder",
            "companyId": "acme",
            "eventId": f"evt-roll-{i}",  # a retried publish is recognised, never doubled
            "payload": {"correlationId": f"corr-roll-{i}", "orderId": f"o{i}", "status": "new"},
        }
        answer = await _post(proxy, "/api/v1/events", service, body)
        seqs.append(answer["offset"]["seq"])
        await asyncio.sleep(0.05)
    raise AssertionError("unreachable")


async def _submit_until(
    stop: asyncio.Event, proxy: Proxy, manager: str, printers: list[str]
) -> dict[str, str]:
    """Submit print jobs (alternating printers) until ``stop``: marker -> job id."""
    jobs: dict[str, str] = {}
    for i in itertools.count(1):
        if stop.is_set():
            return jobs
        marker = f"ROLL-{i:04d}"
        body = {"printerId": printers[i % len(printers)], "raw": _raw(marker)}
        job = await _post(proxy, "/api/v1/jobs", manager, body, {"Idempotency-Key": marker})
        jobs[marker] = str(job["jobId"])
        await asyncio.sleep(0.3)
    raise AssertionError("unreachable")


async def _job_states(cluster: Cluster, jobs: dict[str, str]) -> dict[str, str]:
    token = cluster.token(Role.MANAGER, "acme")
    states = {}
    for marker, job_id in jobs.items():
        _, body = await cluster.request(cluster.hubs[0], "GET", f"/api/v1/jobs/{job_id}", token)
        states[marker] = body["state"]
    return states


async def _printers_online(cluster: Cluster, printer_ids: set[str]) -> bool:
    token = cluster.token(Role.MANAGER, "acme")
    _, body = await cluster.request(cluster.hubs[0], "GET", "/api/v1/printers", token)
    online = {p["printerId"] for p in body["printers"] if p["agentOnline"]}
    return printer_ids <= online


async def _until(check: Any, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.2)


async def _watch_agents(agents: list[Any], seen: list[set[str]]) -> None:
    """Which instance URL each agent is on, sampled until cancelled."""
    while True:
        for agent, urls in zip(agents, seen, strict=True):
            if agent.link is not None and agent.link.state.value == "connected":
                urls.add(agent.link.url)
        await asyncio.sleep(0.1)


async def test_a_rolling_restart_loses_no_event_and_no_job(redis_url: str, tmp_path: Path) -> None:
    async with (
        _database() as database_url,
        SimulatedNetworkPrinter(name="Grill") as grill,
        SimulatedNetworkPrinter(name="Bar") as bar,
    ):
        cluster = Cluster(
            redis_url,
            tmp_path,
            3,
            database_url,
            CHIT_HUB_TRUSTED_PROXIES="127.0.0.1",
            CHIT_HUB_JOB_REDELIVERY_INTERVAL="1",
        )
        try:
            await cluster.start()
            async with running_nginx(cluster.hubs, tmp_path) as proxy:
                await _roll(cluster, proxy, [grill, bar], tmp_path)
        finally:
            cluster.stop()


async def _roll(
    cluster: Cluster, proxy: Proxy, sims: list[SimulatedNetworkPrinter], tmp_path: Path
) -> None:
    urls = [hub.url for hub in cluster.hubs]
    staff = cluster.token(Role.STAFF, "acme")
    clients = [
        WebClient(proxy, f"127.0.0.{20 + i}", staff, ("websocket", "polling")[i % 2])
        for i in range(6)
    ]
    async with contextlib.AsyncExitStack() as stack:
        agents = []
        for n, sim in enumerate(sims):
            agent_id = f"agent-roll-{n}"
            settings = fast_settings(
                agent_id=agent_id,
                hub_url=",".join(urls[n:] + urls[:n]),  # each starts on its own instance
                manual_printers=(manual(sim),),
            )
            token = cluster.token(Role.DESKTOP_APP, "acme", "b1", sub=agent_id)
            agents.append(
                await stack.enter_async_context(
                    running_agent(settings, token, spool_path=tmp_path / f"{agent_id}.db")
                )
            )
        # A polling client's disconnect waits out its pending long-poll (up to 25 s): together.
        stack.push_async_callback(lambda: asyncio.gather(*(c.close() for c in clients)))
        for client in clients:
            await client.start()
        printer_ids = [sim.printer_id for sim in sims]
        await _until(lambda: _printers_online(cluster, set(printer_ids)), 30)

        agent_urls: list[set[str]] = [set() for _ in agents]
        watcher = asyncio.create_task(_watch_agents(agents, agent_urls))
        stop = asyncio.Event()
        service, manager = cluster.token(Role.SERVICE, None), cluster.token(Role.MANAGER, "acme")
        publishing = asyncio.create_task(_publish_until(stop, proxy, service))
        submitting = asyncio.create_task(_submit_until(stop, proxy, manager, printer_ids))
        try:
            await asyncio.sleep(1)
            for hub in cluster.hubs:  # one instance at a time, as a deploy does
                assert await hub.terminate() == 0  # SIGTERM: a clean stop
                await asyncio.sleep(0.5)
                await cluster.start(hub)
                await asyncio.sleep(2)  # clients settle before the next one goes
            stop.set()
            published, jobs = await publishing, await submitting
        finally:
            stop.set()
            watcher.cancel()

        assert len(published) > 50 and len(jobs) > 10
        async with asyncio.timeout(60):
            while any(len(c.seqs) < len(published) for c in clients):
                await asyncio.sleep(0.1)
        await asyncio.sleep(1)  # a duplicate would arrive now
        for client in clients:  # every event, once, in order, whatever instance it moved to
            assert client.seqs == published, client.source
            assert client.connects >= 2, client.source  # its instance went away under it
            assert all(s["recovered"] for s in client.statuses[1:]), client.statuses

        async def all_printed() -> bool:
            return set((await _job_states(cluster, jobs)).values()) == {"printed"}

        await _until(all_printed, 60)
        await asyncio.sleep(1.5)  # a second print would land now
        for marker in jobs:
            printed = sum(sim.count_jobs_containing(marker + "\n") for sim in sims)
            assert printed == 1, marker
        assert all(len(seen) >= 2 for seen in agent_urls), agent_urls  # agents moved too

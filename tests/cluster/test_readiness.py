"""Liveness (``/healthz``) stays 200 while the instance serves; readiness (``/readyz``) says why
it cannot do everything: Redis or the database unreachable, or deaf to the cluster channel."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from shared.tokens import Role
from tests.cluster.support import OwnRedis
from tests.pg import fresh_database
from tests.support import HubHarness, free_port

POSTGRES_URL = os.environ.get("CHIT_TEST_DATABASE_URL")


async def test_a_lone_hub_is_alive_and_ready(hub: HubHarness) -> None:
    status, body = await hub.get("/healthz")
    assert (status, body["status"]) == (200, "ok")
    status, body = await hub.get("/readyz")
    assert status == 200
    assert body == {
        "status": "ready",
        "instance": hub.ctx.instance_id,
        "checks": {"database": "ok"},
        "reasons": [],
    }


async def test_redis_outage_leaves_the_instance_alive_and_unready(
    own_redis: OwnRedis, tmp_path: Path
) -> None:
    hub = await HubHarness.start(tmp_path / "a", redis_url=own_redis.url, cluster_prefix="ready")
    try:
        bus = hub.ctx.cluster.bus  # type: ignore[union-attr]
        bus.ping_interval, bus.deaf_after = 0.1, 0.6
        client = await hub.connect(hub.token(Role.STAFF, "acme"), ["/orders"])
        # Ready once its pings are heard (the first comes one default interval after start).
        async with asyncio.timeout(5):
            while (await hub.get("/readyz"))[0] != 200:
                await asyncio.sleep(0.1)
        status, body = await hub.get("/readyz")
        assert (status, body["checks"]) == (
            200,
            {"database": "ok", "redis": "ok", "clusterChannel": "ok"},
        )
        own_redis.stop()
        await asyncio.sleep(1.0)  # longer than deaf_after: the instance is deaf by now
        status, body = await hub.get("/healthz")
        assert (status, body["status"], body["connections"]) == (200, "ok", 1)
        status, body = await hub.get("/readyz")
        assert (status, body["status"]) == (503, "unready")
        assert {r["code"] for r in body["reasons"]} == {"redis_unreachable", "cluster_deaf"}
        assert body["checks"]["database"] == "ok"
        assert all(r["message"] for r in body["reasons"])
        status, body = await hub.publish(
            "newOrder", {"correlationId": "corr-ready-1", "orderId": "o1", "status": "new"}
        )
        # Still alive: it takes events (into its outbox) and keeps its clients' sockets.
        assert (status, body["queued"]) == (202, True)
        assert client.client.connected
        own_redis.start()
        await client.wait_for("/orders", "newOrder", timeout=15)  # from the stream, late

        async def ready() -> bool:
            return (await hub.get("/readyz"))[0] == 200

        async with asyncio.timeout(15):
            while not await ready():
                await asyncio.sleep(0.2)
    finally:
        await hub.stop()


class Blackout:
    """A loopback TCP proxy to a real server that can be cut off and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Accept and forward connections."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Stop accepting and drop every forwarded connection."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await asyncio.wait_for(self._server.wait_closed(), 5)
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*self.upstream), 5)
        self._writers.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await source.read(65536):
                sink.write(data)
                await asyncio.wait_for(sink.drain(), 10)
        sink.close()
        self._writers.discard(sink)


@pytest.fixture
async def postgres_blackout() -> AsyncIterator[tuple[Blackout, str]]:
    """A proxy to the test PostgreSQL, and the database URL that goes through it."""
    if not POSTGRES_URL:
        pytest.skip("CHIT_TEST_DATABASE_URL is not set")
    async with fresh_database("chit_ready") as own:  # never the shared database's public schema
        url = make_url(own)
        proxy = Blackout(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        try:
            yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        finally:
            if proxy._server is not None:
                await proxy.cut()


async def test_database_outage_leaves_the_instance_alive_and_unready(
    postgres_blackout: tuple[Blackout, str], tmp_path: Path
) -> None:
    proxy, url = postgres_blackout
    hub = await HubHarness.start(tmp_path / "a", database_url=url)
    try:
        assert (await hub.get("/readyz"))[0] == 200
        await proxy.cut()
        status, body = await hub.get("/readyz")
        assert (status, body["checks"]) == (503, {"database": "database_unreachable"})
        [reason] = body["reasons"]
        assert reason["code"] == "database_unreachable"
        assert "postgres" not in reason["message"]  # no URL or credentials in the answer
        assert (await hub.get("/healthz"))[0] == 200
        await proxy.start()

        async def ready() -> bool:
            return (await hub.get("/readyz"))[0] == 200

        async with asyncio.timeout(15):
            while not await ready():
                await asyncio.sleep(0.2)
    finally:
        await hub.stop()

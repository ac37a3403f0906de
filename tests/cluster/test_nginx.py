"""The shipped nginx configuration in front of three hub instances, with a real nginx.

What the file promises, each checked through Debian's nginx: clients are spread over the
instances by their full address and each sticks to one; a trusted load balancer's
X-Forwarded-For decides the client address and anyone else's is ignored; connections to the
hubs are kept alive and reused; TLS carries both Socket.IO transports; plain HTTP redirects.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import socketio

from shared.tokens import Role
from tests.cluster.nginx import TRUSTED_LB, Proxy, nginx_installed, running_nginx
from tests.cluster.support import Cluster, harness_for

pytestmark = pytest.mark.skipif(
    not nginx_installed(), reason="nginx is not installed (scripts/setup-system.sh)"
)
ORDER = {"correlationId": "corr-nginx-1", "orderId": "o1", "status": "new"}
#: Enough distinct clients that all three instances get some (ketama shares are near 1/3:
#: the chance that one instance gets none of 40 is about 3 * (2/3) ** 40, 1e-7).
CLIENTS = 40


@pytest.fixture
async def cluster(redis_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Three instances that trust nginx (127.0.0.1) to name the client in X-Forwarded-For."""
    hubs = Cluster(redis_url, tmp_path, 3, CHIT_HUB_TRUSTED_PROXIES="127.0.0.1")
    try:
        await hubs.start()
        yield hubs
    finally:
        hubs.stop()


@pytest.fixture
async def proxied(cluster: Cluster, tmp_path: Path) -> AsyncIterator[Proxy]:
    async with running_nginx(cluster.hubs, tmp_path) as proxy:
        yield proxy


async def _instance(proxy: Proxy, source: str = "127.0.0.1", forwarded: str | None = None) -> str:
    """The instance that answers /healthz for a client at ``source`` (through nginx)."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    async with (
        proxy.session(source) as http,
        http.get(proxy.url + "/healthz", headers=headers) as resp,
    ):
        assert resp.status == 200
        return str((await resp.json())["instance"])


async def _sticky_instance(
    proxy: Proxy, source: str = "127.0.0.1", forwarded: str | None = None
) -> str:
    """The instance a client reaches, asked three times: always the same one."""
    seen = {await _instance(proxy, source, forwarded) for _ in range(3)}
    assert len(seen) == 1, f"{source} ({forwarded}) moved between instances: {seen}"
    return seen.pop()


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_clients_over_tls_receive_events(
    cluster: Cluster, proxied: Proxy, transport: str
) -> None:
    async with proxied.session() as http:
        client = socketio.AsyncClient(reconnection=False, http_session=http)
        got: list[dict[str, str]] = []
        client.on("newOrder", got.append, namespace="/orders")
        await client.connect(
            proxied.url,
            namespaces=["/orders"],
            transports=[transport],
            auth={"token": cluster.token(Role.STAFF, "acme")},
            wait_timeout=10,
        )
        try:
            await asyncio.sleep(2)  # a long-polling client does several requests: all must stick
            assert client.connected
            for hub in cluster.hubs:  # published on any instance, it arrives
                status, _ = await harness_for(hub).publish("newOrder", ORDER)
                assert status == 202
            async with asyncio.timeout(10):
                while len(got) < len(cluster.hubs):
                    await asyncio.sleep(0.05)
            assert client.transport() == transport
        finally:
            await client.disconnect()


async def test_plain_http_redirects_to_https_keeping_the_method(proxied: Proxy) -> None:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.post(proxied.http_url + "/api/v1/events?x=1", allow_redirects=False) as resp,
    ):
        assert resp.status == 308
        assert resp.headers["Location"] == "https://127.0.0.1/api/v1/events?x=1"


async def test_clients_of_one_subnet_spread_over_every_instance(
    cluster: Cluster, proxied: Proxy
) -> None:
    # All of 127.0.0.0/24: ip_hash (the first three octets) sent every one to one instance.
    sources = [f"127.0.0.{10 + i}" for i in range(CLIENTS)]
    landed = Counter([await _sticky_instance(proxied, source) for source in sources])
    assert set(landed) == {hub.instance_id for hub in cluster.hubs}, landed


async def test_forwarded_for_counts_only_from_the_trusted_load_balancer(
    cluster: Cluster, proxied: Proxy
) -> None:
    clients = [f"198.51.100.{10 + i}" for i in range(CLIENTS)]
    trusted = Counter([await _sticky_instance(proxied, TRUSTED_LB, c) for c in clients])
    assert set(trusted) == {hub.instance_id for hub in cluster.hubs}, trusted
    # The same headers from anyone else are ignored: the peer's own address decides.
    untrusted = Counter([await _sticky_instance(proxied, "127.0.0.3", c) for c in clients])
    assert list(untrusted) == [await _instance(proxied, "127.0.0.3")], untrusted


async def _hub_peers(port: int) -> set[str]:
    """The peers (address:port) of the established connections to a hub's port."""
    proc = await asyncio.create_subprocess_exec(
        "ss",
        "-Htn",
        "state",
        "established",
        f"( sport = :{port} )",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 10)
    return {line.split()[3] for line in out.decode().splitlines() if line.strip()}


async def test_connections_to_the_hubs_are_kept_alive_and_reused(
    cluster: Cluster, proxied: Proxy
) -> None:
    instance = await _instance(proxied)
    [hub] = [h for h in cluster.hubs if h.instance_id == instance]
    peers: list[set[str]] = []
    async with proxied.session() as http:
        for _ in range(30):
            async with http.get(proxied.url + "/healthz") as resp:
                assert (await resp.json())["instance"] == instance
            peers.append(await _hub_peers(hub.port))
    # Every request found nginx's connection still open afterwards, and it was the same one
    # (nginx closing after each request would show 30 different ports, or none open).
    assert all(peers), peers
    assert len(set().union(*peers)) == 1, peers

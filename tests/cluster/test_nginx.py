"""The shipped nginx configuration in front of three hub instances, with a real nginx."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import socketio

from shared.tokens import Role
from tests.cluster.support import ROOT, Cluster, free_port, harness_for, wait_healthy

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONF = ROOT / "deploy" / "nginx" / "chit.conf"
pytestmark = pytest.mark.skipif(
    not Path(NGINX).exists(), reason="nginx is not installed (scripts/setup-system.sh)"
)
ORDER = {"correlationId": "corr-nginx-1", "orderId": "o1", "status": "new"}


def _config(cluster: Cluster, port: int, prefix: Path) -> str:
    """The shipped file, pointed at this cluster, inside a minimal main configuration."""
    site = CONF.read_text()
    servers = "\n".join(f"    server 127.0.0.1:{hub.port};" for hub in cluster.hubs)
    site = re.sub(r"(    server 127\.0\.0\.1:\d+;\n)+", servers + "\n", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    temp = " ".join(
        f"{name}_temp_path {prefix}/{name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"worker_processes 1;\nerror_log {prefix}/error.log warn;\npid {prefix}/nginx.pid;\n"
        f"user root;\nevents {{ worker_connections 256; }}\n"
        f"http {{ access_log off; {temp}\n{site}\n}}\n"
    )


@pytest.fixture
async def proxied(cluster: Cluster, tmp_path: Path) -> AsyncIterator[str]:
    port, prefix = free_port(), tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "nginx.conf").write_text(_config(cluster, port, prefix))
    proc = await asyncio.create_subprocess_exec(
        NGINX,
        "-p",
        str(prefix),
        "-c",
        str(prefix / "nginx.conf"),
        "-g",
        "daemon off;",
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url, timeout=15)
        yield url
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_clients_through_nginx_receive_events(
    cluster: Cluster, proxied: str, transport: str
) -> None:
    client = socketio.AsyncClient(reconnection=False)
    got: list[dict[str, str]] = []
    client.on("newOrder", got.append, namespace="/orders")
    await client.connect(
        proxied,
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

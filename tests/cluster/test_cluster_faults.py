"""Deaf instances are detected, oversized cluster messages refused, --workers share a port."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from shared.tokens import Role
from tests.cluster.support import ROOT, free_port, wait_healthy
from tests.support import SECRET, HubHarness, settle


async def test_deaf_instance_is_reported(redis_url: str, tmp_path: Path) -> None:
    hub = await HubHarness.start(
        tmp_path / "a", redis_url=redis_url, cluster_prefix=f"chit-deaf-{os.getpid()}"
    )
    try:
        bus = hub.ctx.cluster.bus  # type: ignore[union-attr]
        bus.ping_interval, bus.deaf_after = 0.1, 0.6
        # Ready once its pings are heard (the first comes one default interval after start).
        async with asyncio.timeout(5):
            while (await hub.get("/readyz"))[0] != 200:
                await asyncio.sleep(0.1)
        status, body = await hub.get("/readyz")
        assert (status, body["status"], body["checks"]["clusterChannel"]) == (200, "ready", "ok")
        await bus.pubsub.unsubscribe(bus.channel)  # still connected, no longer subscribed
        await asyncio.sleep(1.0)
        status, body = await hub.get("/readyz")
        assert (status, body["status"]) == (503, "unready")
        assert [r["code"] for r in body["reasons"]] == ["cluster_deaf"]
        status, body = await hub.get("/healthz")  # alive all the same: it serves its clients
        assert (status, body["status"], body["cluster"]["deaf"]) == (200, "ok", True)
    finally:
        await hub.stop()


async def test_oversized_cluster_message_is_refused(redis_url: str, tmp_path: Path) -> None:
    hub = await HubHarness.start(
        tmp_path / "a",
        redis_url=redis_url,
        cluster_prefix=f"chit-size-{os.getpid()}",
        cluster_max_message_bytes=4096,
    )
    try:
        client = await hub.connect(hub.token(Role.STAFF, "acme"), ["/orders"])
        status, body = await hub.publish(
            "newOrder",
            {"correlationId": "corr-size-1", "orderId": "o1", "status": "new", "notes": "x" * 8000},
        )
        assert (status, body["code"]) == (413, "message_too_large")
        await settle(0.5)
        assert client.events("/orders") == []
        bus = hub.ctx.cluster.bus  # type: ignore[union-attr]
        assert bus.refused_messages == 1
        status, _ = await hub.publish(
            "newOrder", {"correlationId": "corr-size-2", "orderId": "o2", "status": "new"}
        )
        await client.wait_for("/orders", "newOrder")
    finally:
        await hub.stop()


async def test_workers_share_one_port(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CHIT_HUB_DATA_DIR": str(tmp_path),
        "CHIT_HUB_JWT_SECRET": SECRET,
        "CHIT_HUB_CLUSTER_PREFIX": f"chit-workers-{os.getpid()}",
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - a supervisor, waited for in a thread below
        [
            sys.executable,
            "-m",
            "hub.cli",
            "--port",
            str(port),
            "--workers",
            "2",
            "--redis-url",
            redis_url,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url)
        seen: set[str] = set()
        async with asyncio.timeout(20):
            while len(seen) < 2:
                async with aiohttp.ClientSession() as http, http.get(url + "/healthz") as resp:
                    seen.add((await resp.json())["instance"])
        assert all(i.endswith(("-1", "-2")) for i in seen)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 20) == 0


def test_workers_need_redis(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "--workers", "2", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("CHIT_HUB_")},
    )
    assert result.returncode == 2
    assert "--redis-url" in result.stderr

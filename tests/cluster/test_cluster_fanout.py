"""hub.fanout in cluster mode: events emitted on one instance reach a client of another
through Redis, in order, over websocket and polling (ChitRedisManager delivers through
FanoutManager)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.hub.test_fanout import COUNT, _interleave, _python_client
from tests.support import HubHarness


@contextlib.asynccontextmanager
async def two_instances(tmp_path: Path, redis_url: str) -> AsyncIterator[list[HubHarness]]:
    prefix = f"fanout-{os.urandom(4).hex()}"
    hubs: list[HubHarness] = []
    try:
        for name in ("a", "b"):
            hubs.append(
                await HubHarness.start(
                    tmp_path / name,
                    redis_url=redis_url,
                    cluster_prefix=prefix,
                    instance_id=f"hub-{name}",
                )
            )
        yield hubs
    finally:
        for hub in hubs:
            await hub.stop()


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]], ids=lambda t: t[0])
async def test_order_holds_across_instances(
    redis_url: str, tmp_path: Path, transports: list[str]
) -> None:
    async with two_instances(tmp_path, redis_url) as (hub_a, hub_b):
        client, got = await _python_client(hub_b, transports)
        try:
            sid = client.get_sid("/orders")
            assert sid is not None
            await asyncio.sleep(0.5)  # both instances subscribed
            await _interleave(hub_a, sid)  # emitted on A, the client is on B
            async with asyncio.timeout(10):
                while len(got) < COUNT:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)
            assert got == [f"o{i}" for i in range(COUNT)]
        finally:
            await client.disconnect()

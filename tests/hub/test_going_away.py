"""A hub that stops tells its websocket clients to go, and they come back to the next one."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import socketio

from tests.support import HubHarness


async def test_a_stopping_hub_sends_clients_away_and_they_reconnect(tmp_path: Path) -> None:
    first = await HubHarness.start(tmp_path / "one")
    port = int(first.url.rsplit(":", 1)[1])
    token = first.token(company="acme")
    await first.provision_pending()
    client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.1)
    connects: list[float] = []
    gone: list[str] = []
    client.on("connect", lambda: connects.append(time.monotonic()), namespace="/orders")
    client.on("disconnect", lambda reason=None: gone.append(str(reason)), namespace="/orders")
    await client.connect(
        first.url, namespaces=["/orders"], auth={"token": token}, transports=["websocket"]
    )
    try:
        started = time.monotonic()
        await first.running.stop()
        stopped = time.monotonic() - started
        assert stopped < 2.0, f"the hub took {stopped:.1f} s to stop with a client connected"
        assert gone, "the client was not told the hub went away"
        second = await HubHarness.start(tmp_path / "two", port=port)
        try:
            async with asyncio.timeout(10):
                while len(connects) < 2:
                    await asyncio.sleep(0.05)
            assert client.connected
        finally:
            await client.disconnect()
            await second.stop()
    finally:
        if client.connected:
            await client.disconnect()

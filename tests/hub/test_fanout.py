"""hub.fanout over real sockets: order, transports, compression, the Redis manager.

The official JavaScript client (npm socket.io-client) and the python-socketio client each
receive broadcasts and direct emits interleaved, over websocket, polling, and polling
upgraded to websocket; every client must see them in the order they were emitted.
(A client that never reads is cut off: tests/hub/test_limits.py.)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from socketio.async_pubsub_manager import AsyncPubSubManager

from hub.fanout import FanoutManager, LeanSocket
from shared.tokens import Role
from tests.hub.rawsock import RawWebSocket, address, connect, send
from tests.support import HubHarness

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "js" / "ordered_events.mjs"
TRANSPORTS = [["websocket"], ["polling"], ["polling", "websocket"]]
COUNT = 60

needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "socket.io-client").exists(),
    reason="needs node and `npm ci` (scripts/test.sh runs it)",
)


@contextlib.asynccontextmanager
async def hub_with(tmp_path: Path, **settings: Any) -> AsyncIterator[HubHarness]:
    harness = await HubHarness.start(tmp_path / "hub-data", **settings)
    try:
        yield harness
    finally:
        await harness.stop()


def _order(i: int, notes: str = "") -> dict[str, Any]:
    return {"orderId": f"o{i}", "status": "new", "notes": notes}


async def _interleave(hub: HubHarness, sid: str, count: int = COUNT, notes: str = "") -> None:
    """Broadcasts to the company room and emits to one client, alternating, in one burst."""
    sio = hub.ctx.sio
    for i in range(count):
        if i % 3 == 1:
            await sio.emit("newOrder", _order(i, notes), to=sid, namespace="/orders")
        else:
            await sio.emit("newOrder", _order(i, notes), room="company:acme", namespace="/orders")
        if i % 10 == 9:
            await asyncio.sleep(0)  # some in one loop tick, some across ticks


async def _python_client(
    hub: HubHarness, transports: list[str]
) -> tuple[socketio.AsyncClient, list[str]]:
    client = socketio.AsyncClient(reconnection=False)
    got: list[str] = []
    client.on("newOrder", lambda payload: got.append(payload["orderId"]), namespace="/orders")
    await client.connect(
        hub.url,
        namespaces=["/orders"],
        auth={"token": hub.token(Role.MANAGER, "acme")},
        transports=transports,
        wait_timeout=5,
    )
    if "websocket" in transports:
        async with asyncio.timeout(5):
            while client.transport() != "websocket":
                await asyncio.sleep(0.02)
    return client, got


@pytest.mark.parametrize("transports", TRANSPORTS, ids=lambda t: "+".join(t))
async def test_python_client_gets_broadcasts_and_direct_emits_in_order(
    hub: HubHarness, transports: list[str]
) -> None:
    client, got = await _python_client(hub, transports)
    try:
        sid = client.get_sid("/orders")
        assert sid is not None
        await _interleave(hub, sid)
        async with asyncio.timeout(10):
            while len(got) < COUNT:
                await asyncio.sleep(0.02)
        assert got == [f"o{i}" for i in range(COUNT)]
        assert client.transport() == transports[-1]
    finally:
        await client.disconnect()


async def _node_client(hub: HubHarness, transports: list[str]) -> tuple[Any, str, str]:
    token = hub.token(Role.MANAGER, "acme")
    proc = await asyncio.create_subprocess_exec(
        "node", str(SCRIPT), hub.url, "/orders", token, str(COUNT), ",".join(transports),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode().split()
    assert line[0] == "connected", line
    return proc, line[1], line[2]


@needs_node
@pytest.mark.parametrize("transports", TRANSPORTS, ids=lambda t: "+".join(t))
async def test_js_client_gets_broadcasts_and_direct_emits_in_order(
    hub: HubHarness, transports: list[str]
) -> None:
    proc, sid, transport = await _node_client(hub, transports)
    assert transport == transports[-1]
    await _interleave(hub, sid)
    stdout, _ = await asyncio.wait_for(proc.communicate(), 15)
    out = json.loads(stdout.decode().strip().splitlines()[-1])
    assert out["orders"] == [f"o{i}" for i in range(COUNT)]
    assert out["transport"] == transports[-1]
    assert proc.returncode == 0


@needs_node
async def test_js_client_inflates_compressed_messages_when_enabled(tmp_path: Path) -> None:
    async with hub_with(tmp_path, websocket_compression=True) as hub:
        proc, sid, _ = await _node_client(hub, ["websocket"])
        sio = hub.ctx.sio
        for i in range(COUNT):  # small ones under the threshold, large ones over it
            notes = "x" * (4000 if i % 2 else 10)
            await sio.emit("newOrder", _order(i, notes), to=sid, namespace="/orders")
            await sio.emit("newOrder", _order(i, notes), room="nobody", namespace="/orders")
        stdout, _ = await asyncio.wait_for(proc.communicate(), 15)
        out = json.loads(stdout.decode().strip().splitlines()[-1])
        assert out["orders"] == [f"o{i}" for i in range(COUNT)]
        assert out["notes"] == [4000 if i % 2 else 10 for i in range(COUNT)]


async def test_python_client_inflates_compressed_broadcasts(tmp_path: Path) -> None:
    async with hub_with(tmp_path, websocket_compression=True) as hub:
        client, got = await _python_client(hub, ["websocket"])
        try:
            await _interleave(hub, client.get_sid("/orders") or "", notes="y" * 5000)
            async with asyncio.timeout(10):
                while len(got) < COUNT:
                    await asyncio.sleep(0.02)
            assert got == [f"o{i}" for i in range(COUNT)]
        finally:
            await client.disconnect()


# --- compression on the wire -------------------------------------------------------------------


async def _frame(ws: RawWebSocket, timeout: float = 5.0) -> tuple[int, bytes]:
    """The next frame's first byte and payload, read by hand."""
    await ws._need(2, timeout)
    length, offset = ws.buffer[1] & 0x7F, 2
    if length == 126:
        await ws._need(4, timeout)
        (length,) = struct.unpack("!H", ws.buffer[2:4])
        offset = 4
    elif length == 127:
        await ws._need(10, timeout)
        (length,) = struct.unpack("!Q", ws.buffer[2:10])
        offset = 10
    await ws._need(offset + length, timeout)
    first, payload = ws.buffer[0], ws.buffer[offset : offset + length]
    ws.buffer = ws.buffer[offset + length :]
    return first, payload


async def _deflate_client(hub: HubHarness) -> tuple[RawWebSocket, bytes]:
    offer = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}
    ws = RawWebSocket(await connect(hub.url))
    head = await _upgrade(ws, hub, offer)
    answer = await ws.connect_namespace("/orders", hub.token(Role.MANAGER, "acme"))
    assert answer.startswith("40/orders,"), answer
    return ws, head


async def _upgrade(ws: RawWebSocket, hub: HubHarness, headers: dict[str, str]) -> bytes:
    host, port = address(hub.url)
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    await send(
        ws.sock,
        (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        ).encode(),
    )
    status, head = await ws.read_head()
    assert status == 101
    first, opened = await _frame(ws)
    assert opened.startswith(b"0{") and not first & 0x40
    return head


async def test_no_compression_by_default_even_when_offered(hub: HubHarness) -> None:
    ws, head = await _deflate_client(hub)
    try:
        assert b"permessage-deflate" not in head.lower()
        await hub.ctx.sio.emit("newOrder", _order(1, "z" * 5000), room="company:acme",
                               namespace="/orders")  # fmt: skip
        first, payload = await _frame(ws)
        assert not first & 0x40, "RSV1 set: the frame is compressed"
        assert payload.startswith(b'42/orders,["newOrder"')
    finally:
        ws.close()


async def test_compression_threshold_sends_small_messages_plain(tmp_path: Path) -> None:
    async with hub_with(
        tmp_path, websocket_compression=True, websocket_compression_threshold=1000
    ) as hub:
        ws, head = await _deflate_client(hub)
        try:
            assert b"permessage-deflate" in head.lower()
            inflater = zlib.decompressobj(-15)  # context takeover: one inflater for all
            for notes in ("a" * 10, "b" * 3000, "c" * 20, "d" * 3000):
                await hub.ctx.sio.emit("newOrder", _order(1, notes), room="company:acme",
                                       namespace="/orders")  # fmt: skip
                first, payload = await _frame(ws)
                if len(notes) < 1000:
                    assert not first & 0x40, "a message under the threshold is not compressed"
                    text = payload
                else:
                    assert first & 0x40, "a message over the threshold is compressed"
                    assert len(payload) < 200
                    text = inflater.decompress(payload + b"\x00\x00\xff\xff")
                assert json.loads(text[len(b"42/orders,") :])[1]["notes"] == notes
        finally:
            ws.close()


# --- cluster mode -----------------------------------------------------------------------------


def test_the_redis_manager_delivers_through_the_fanout_manager() -> None:
    from hub.cluster.manager import ChitRedisManager

    order = ChitRedisManager.__mro__
    assert order.index(AsyncPubSubManager) < order.index(FanoutManager)
    assert order.index(FanoutManager) < order.index(socketio.AsyncManager)


# --- pings ------------------------------------------------------------------------------------


async def test_pings_flow_from_a_timer_and_a_silent_client_is_closed(hub: HubHarness) -> None:
    eio = hub.ctx.sio.eio
    eio.ping_interval, eio.ping_timeout = 0.4, 0.6
    ws = await RawWebSocket.open(hub.url)
    try:
        answer = await ws.connect_namespace("/orders", hub.token(Role.MANAGER, "acme"))
        assert answer.startswith("40/orders,"), answer
        [session] = eio.sockets.values()
        assert isinstance(session, LeanSocket)
        for _ in range(3):  # each PING answered, the next one comes
            while (text := await ws.read_text(timeout=3)) != "2":
                assert text.startswith("42/orders,"), text  # stream:status and the like
            await ws.send_text("3")
        assert await ws.read_text(timeout=3) == "2"  # not answered this time
        async with asyncio.timeout(10):
            while eio.sockets:
                await asyncio.sleep(0.05)
    finally:
        ws.close()

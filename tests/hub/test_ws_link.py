"""hub.ws_link: a websocket served on the transport itself, spoken to by hand over loopback.

What the hub must still do once aiohttp no longer holds the connection: answer pings and
closes, refuse protocol errors with the right close code, read bytes sent right behind the
upgrade request, close the websocket when the session ends, end the session when the
websocket goes, and hold no task for an idle connection.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import socketio

from hub import ws_link
from hub.ws_frames import unmask
from hub.ws_link import WebSocketLink, accept_key
from shared.tokens import Role
from tests.hub.rawsock import RawWebSocket, address, connect, is_closed, send
from tests.support import HubHarness


@asynccontextmanager
async def running_hub(tmp_path: Path) -> AsyncIterator[HubHarness]:
    harness = await HubHarness.start(tmp_path / "hub-data")
    try:
        yield harness
    finally:
        await harness.stop()


def masked(first: int, payload: bytes) -> bytes:
    """One client frame (short payloads only)."""
    mask = os.urandom(4)
    return struct.pack("!BB", first, 0x80 | len(payload)) + mask + unmask(payload, mask)


async def read_frame(ws: RawWebSocket, timeout: float = 5.0) -> tuple[int, bytes]:
    """The next frame from the hub: (first header byte, payload); payloads under 126 bytes."""
    await ws._need(2, timeout)
    size = ws.buffer[1] & 0x7F
    await ws._need(2 + size, timeout)
    first, payload = ws.buffer[0], ws.buffer[2 : 2 + size]
    ws.buffer = ws.buffer[2 + size :]
    return first, payload


async def connected(hub: HubHarness) -> RawWebSocket:
    # One full-suite run saw the 20th of 21 sequential connects answered only after 5 s (the
    # request reached the hub's parser late); not understood yet: a generous bound here, as
    # this module is about what a link does once connected.
    ws = await RawWebSocket.open(hub.url, timeout=30)
    answer = await ws.connect_namespace("/orders", hub.token(Role.MANAGER, "acme"))
    assert answer.startswith("40/orders,"), answer
    return ws


def test_the_accept_key_is_rfc_6455s_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


async def test_a_ping_is_answered_with_its_payload(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        ws = await connected(hub)
        await send(ws.sock, masked(0x89, b"are you there"))
        assert await read_frame(ws) == (0x8A, b"are you there")
        ws.close()


async def test_a_client_close_is_echoed_and_ends_the_session(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        ws = await connected(hub)
        assert len(hub.ctx.connections) == 1
        await send(ws.sock, masked(0x88, struct.pack("!H", 1000) + b"done"))
        assert await read_frame(ws) == (0x88, struct.pack("!H", 1000))
        assert await is_closed(ws.sock, timeout=5)
        async with asyncio.timeout(5):
            while hub.ctx.connections or hub.ctx.sio.eio.sockets:
                await asyncio.sleep(0.02)


async def test_a_protocol_error_closes_with_1002(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        ws = await connected(hub)
        await send(ws.sock, b"\x81\x02hi")  # not masked
        first, body = await read_frame(ws)
        assert (first, body[:2]) == (0x88, struct.pack("!H", 1002))
        assert body[2:] == b"a client frame must be masked"
        assert await is_closed(ws.sock, timeout=5)


async def test_frames_sent_with_the_upgrade_request_are_read(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        sock = await connect(hub.url)
        host, port = address(hub.url)
        key = base64.b64encode(os.urandom(16)).decode()
        upgrade = (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        token = hub.token(Role.MANAGER, "acme")
        connect_packet = f'40/orders,{{"token":"{token}"}}'.encode()
        frame = struct.pack("!BBH", 0x81, 0x80 | 126, len(connect_packet))
        mask = os.urandom(4)
        await send(sock, upgrade + frame + mask + unmask(connect_packet, mask))
        ws = RawWebSocket(sock)
        status, head = await ws.read_head()
        assert status == 101
        # RFC 6455 section 1.3's own example pins accept_key; here the header carries it.
        assert b"Sec-WebSocket-Accept: " + accept_key(key).encode() in head
        assert (await ws.read_text()).startswith("0")  # OPEN
        assert (await ws.read_text()).startswith("40/orders,")
        ws.close()


async def test_a_session_the_hub_ends_closes_its_websocket(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        ws = await connected(hub)
        [eio_sid] = list(hub.ctx.sio.eio.sockets)
        await hub.ctx.sio.eio.disconnect(eio_sid)
        assert await ws.read_text() == "1"  # engine.io's CLOSE packet first
        assert (await read_frame(ws))[0] == 0x88
        assert await is_closed(ws.sock, timeout=5)


async def test_idle_websockets_hold_no_task(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        warm = await connected(hub)
        await asyncio.sleep(0.2)
        before = len(asyncio.all_tasks())
        clients = [await connected(hub) for _ in range(20)]
        await asyncio.sleep(0.5)
        grown = len(asyncio.all_tasks()) - before
        assert grown < 5, f"{grown} more tasks for 20 idle websockets"
        for ws in [warm, *clients]:
            ws.close()


async def test_a_polling_session_upgrades_onto_a_link(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        client = socketio.AsyncClient(reconnection=False)
        got: asyncio.Queue[Any] = asyncio.Queue()
        client.on("newOrder", got.put_nowait, namespace="/orders")
        token = hub.token(Role.MANAGER, "acme")
        await client.connect(hub.url, namespaces=["/orders"], auth={"token": token})
        try:
            async with asyncio.timeout(5):
                while client.transport() != "websocket" or not hub.ctx.sio.eio.websockets:
                    await asyncio.sleep(0.02)
            [link] = hub.ctx.sio.eio.websockets.values()
            assert isinstance(link, WebSocketLink)
            order = {"orderId": "o-1", "status": "new"}
            await hub.ctx.sio.emit("newOrder", order, room="company:acme", namespace="/orders")
            assert await asyncio.wait_for(got.get(), 5) == order
        finally:
            await client.disconnect()
        async with asyncio.timeout(5):
            while hub.ctx.sio.eio.websockets or hub.ctx.connections:
                await asyncio.sleep(0.02)


async def test_a_closing_websocket_whose_client_does_not_read_is_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws_link, "CLOSE_TIMEOUT", 0.5)
    harness = await HubHarness.start(tmp_path / "hub-data", max_send_buffer_bytes=64 << 20)
    try:
        ws = await RawWebSocket.open(harness.url, rcvbuf=4096)
        answer = await ws.connect_namespace("/orders", harness.token(Role.MANAGER, "acme"))
        assert answer.startswith("40/orders,")
        order = {"orderId": "o1", "status": "new", "notes": "x" * 32_000}
        for _ in range(512):  # 16 MB the client never reads: more than the kernel buffers
            await harness.ctx.sio.emit("newOrder", order, room="company:acme", namespace="/orders")
        await asyncio.sleep(0.2)
        [eio_sid] = list(harness.ctx.sio.eio.sockets)
        await harness.ctx.sio.eio.disconnect(eio_sid)
        async with asyncio.timeout(5):  # cut after CLOSE_TIMEOUT, not held open by the client
            while harness.ctx.sio.eio.websockets:
                await asyncio.sleep(0.05)
        ws.close()
    finally:
        await harness.stop()

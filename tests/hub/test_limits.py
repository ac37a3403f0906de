"""Connection limits over raw loopback sockets: slow headers and bodies, connection caps,
Socket.IO sessions that never authenticate, and clients that never read."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shared.tokens import Role
from tests.hub.rawsock import (
    RawWebSocket,
    connect,
    is_closed,
    parse_response,
    read_until_closed,
    recv,
    send,
)
from tests.support import HubHarness


@contextlib.asynccontextmanager
async def hub_with(tmp_path: Path, **settings: Any) -> AsyncIterator[HubHarness]:
    harness = await HubHarness.start(tmp_path / "hub-data", **settings)
    try:
        yield harness
    finally:
        await harness.stop()


async def _trickle(sock: Any, every: float, first: bytes = b"GET /healthz HTTP/1.1\r\n") -> None:
    """Send a request line, then one header byte every ``every`` seconds, never finishing."""
    await send(sock, first)
    with contextlib.suppress(OSError):
        while True:
            await asyncio.sleep(every)
            await send(sock, b"X")


async def _get(sock: Any, path: str = "/healthz") -> tuple[int, dict[str, str], Any]:
    """One keep-alive GET on a raw socket, read up to the end of its body."""
    await send(sock, f"GET {path} HTTP/1.1\r\nHost: hub\r\n\r\n".encode())
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += await recv(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    length = int(parse_response(head + b"\r\n\r\n")[1]["content-length"])
    while len(body) < length:
        body += await recv(sock)
    return parse_response(head + b"\r\n\r\n" + body)


# --- request headers and bodies ---------------------------------------------------------------


async def test_slowloris_headers_are_cut_off(tmp_path: Path) -> None:
    async with hub_with(tmp_path, header_timeout=2.0) as hub:
        sock = await connect(hub.url)
        started = time.monotonic()
        trickle = asyncio.create_task(_trickle(sock, every=0.4))
        try:
            answer = await read_until_closed(sock, timeout=6)
        finally:
            trickle.cancel()
        elapsed = time.monotonic() - started
        assert 1.8 < elapsed < 4.0, elapsed
        status, _, body = parse_response(answer)
        assert (status, body["code"]) == (408, "request_timeout")


async def test_slow_second_request_on_a_kept_alive_connection(tmp_path: Path) -> None:
    async with hub_with(tmp_path, header_timeout=2.0) as hub:
        sock = await connect(hub.url)
        status, _, _ = await _get(sock)
        assert status == 200
        started = time.monotonic()
        trickle = asyncio.create_task(_trickle(sock, every=0.4))
        try:
            assert await is_closed(sock, timeout=6)
        finally:
            trickle.cancel()
        assert time.monotonic() - started < 4.0


async def test_headers_sent_slowly_but_in_time_are_served(tmp_path: Path) -> None:
    async with hub_with(tmp_path, header_timeout=3.0) as hub:
        sock = await connect(hub.url)
        for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: hub\r\n", b"\r\n"):
            await send(sock, part)
            await asyncio.sleep(0.5)
        status, _, body = parse_response(await recv(sock))
        assert (status, body["status"]) == (200, "ok")
        await asyncio.sleep(3.5)
        status, _, _ = await _get(sock)
        assert status == 200, "an idle kept-alive connection is not a slow request"


@pytest.mark.slow
async def test_default_deadline_cuts_a_byte_every_ten_seconds(tmp_path: Path) -> None:
    async with hub_with(tmp_path) as hub:
        assert hub.ctx.settings.header_timeout == 15.0
        sock = await connect(hub.url)
        started = time.monotonic()
        trickle = asyncio.create_task(_trickle(sock, every=10.0))
        try:
            answer = await read_until_closed(sock, timeout=25)
        finally:
            trickle.cancel()
        assert 10.0 < time.monotonic() - started < 17.0
        assert parse_response(answer)[0] == 408


async def test_slow_body_is_a_408(tmp_path: Path) -> None:
    async with hub_with(tmp_path, body_timeout=1.5) as hub:
        sock = await connect(hub.url)
        head = (
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: hub\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        trickle = asyncio.create_task(_trickle(sock, every=0.3, first=head.encode() + b"{"))
        started = time.monotonic()
        try:
            answer = await recv(sock, timeout=5)
        finally:
            trickle.cancel()
        assert time.monotonic() - started < 3.5
        status, _, body = parse_response(answer)
        assert (status, body["code"]) == (408, "request_timeout")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nBad Header\x00: x\r\n\r\n",
        b"GET /healthz HTTP/9.9\r\n\r\n",
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n",
    ],
)
async def test_malformed_requests_get_json_errors(hub: HubHarness, request_bytes: bytes) -> None:
    sock = await connect(hub.url)
    await send(sock, request_bytes)
    status, headers, body = parse_response(await read_until_closed(sock, timeout=5))
    assert 400 <= status < 500
    assert headers["content-type"].startswith("application/json")
    assert set(body) == {"code", "message"}
    status, _ = await hub.get("/healthz")
    assert status == 200


# --- connections per address ------------------------------------------------------------------


async def test_connections_per_address_are_capped(tmp_path: Path) -> None:
    async with hub_with(tmp_path, max_connections_per_address=3, header_timeout=20) as hub:
        held = [await connect(hub.url) for _ in range(3)]
        extra = await connect(hub.url)
        status, headers, body = parse_response(await read_until_closed(extra, timeout=5))
        assert (status, body["code"]) == (429, "too_many_connections")
        assert headers["retry-after"]
        other = await connect(hub.url, source="127.0.0.2")
        assert (await _get(other))[0] == 200, "another address has its own allowance"
        held.pop().close()
        await asyncio.sleep(0.2)
        again = await connect(hub.url)
        assert (await _get(again))[0] == 200, "a closed connection frees its slot"
        for sock in (*held, other, again):
            sock.close()


async def test_behind_a_trusted_proxy_the_forwarded_address_is_capped(tmp_path: Path) -> None:
    settings = {"max_connections_per_address": 2, "trusted_proxies": ("127.0.0.1",)}
    async with hub_with(tmp_path, **settings) as hub:
        proxy_idle = [await connect(hub.url) for _ in range(3)]
        alice = {"X-Forwarded-For": "203.0.113.7"}
        held = [await RawWebSocket.open(hub.url, headers=alice) for _ in range(2)]
        assert [ws.status for ws in held] == [101, 101]
        third = await RawWebSocket.open(hub.url, headers=alice)
        assert third.status == 429
        bob = await RawWebSocket.open(hub.url, headers={"X-Forwarded-For": "203.0.113.8"})
        assert bob.status == 101, "each forwarded client has its own allowance"
        for ws in (*held, third, bob):
            ws.close()
        for sock in proxy_idle:
            sock.close()


# --- Socket.IO handshake ----------------------------------------------------------------------


async def test_websocket_that_never_connects_a_namespace_is_closed(tmp_path: Path) -> None:
    async with hub_with(tmp_path, handshake_timeout=1.5) as hub:
        silent = await RawWebSocket.open(hub.url)
        refused = await RawWebSocket.open(hub.url)
        answer = await refused.connect_namespace("/orders", "not-a-token")
        assert answer.startswith("44/orders,"), answer
        authed = await RawWebSocket.open(hub.url)
        answer = await authed.connect_namespace("/orders", hub.token(Role.MANAGER, "acme"))
        assert answer.startswith("40/orders,"), answer
        started = time.monotonic()
        assert await is_closed(silent.sock, timeout=5)
        assert await is_closed(refused.sock, timeout=5)
        assert time.monotonic() - started < 3.0
        assert len(hub.ctx.sio.eio.sockets) == 1, "only the authenticated session is left"
        assert not await is_closed(authed.sock, timeout=1.0)
        assert len(hub.ctx.connections) == 1


async def test_polling_session_that_never_connects_a_namespace_is_closed(tmp_path: Path) -> None:
    async with (
        hub_with(tmp_path, handshake_timeout=1.0) as hub,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
    ):
        async with http.get(hub.url + "/socket.io/?EIO=4&transport=polling") as resp:
            assert resp.status == 200
            opened = await resp.text()
        assert opened.startswith("0")
        assert len(hub.ctx.sio.eio.sockets) == 1
        await asyncio.sleep(2.0)
        assert hub.ctx.sio.eio.sockets == {}


# --- clients that never read ------------------------------------------------------------------


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


async def test_client_that_never_reads_is_dropped_and_memory_stays_bounded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limit = 256 * 1024
    async with hub_with(tmp_path, max_send_buffer_bytes=limit) as hub:
        ws = await RawWebSocket.open(hub.url, rcvbuf=4096)
        answer = await ws.connect_namespace("/orders", hub.token(Role.MANAGER, "acme"))
        assert answer.startswith("40/orders,"), answer
        assert len(hub.ctx.connections) == 1
        payload = {"orderId": "o1", "status": "new", "notes": "x" * 32_000}
        before = _rss_mib()
        with caplog.at_level(logging.WARNING, logger="chit.hub.limits"):
            for _ in range(2_000):  # about 64 MB sent to a client that reads nothing
                await hub.ctx.sio.emit(
                    "newOrder", payload, room="company:acme", namespace="/orders"
                )
                await asyncio.sleep(0)
            async with asyncio.timeout(5):
                while len(hub.ctx.connections):
                    await asyncio.sleep(0.05)
        growth = _rss_mib() - before
        assert growth < 40, f"RSS grew by {growth:.0f} MiB"
        [record] = [r for r in caplog.records if "does not read" in r.getMessage()]
        assert record.__dict__["limit"] == limit
        assert record.__dict__["namespaces"] == ["/orders"]
        async with asyncio.timeout(5):
            while hub.ctx.sio.eio.sockets:
                await asyncio.sleep(0.05)
        assert await is_closed(ws.sock, timeout=5), "its TCP connection is cut, not left hanging"
        assert (await hub.get("/healthz"))[0] == 200


async def test_a_client_that_reads_keeps_its_connection(tmp_path: Path) -> None:
    async with hub_with(tmp_path, max_send_buffer_bytes=256 * 1024) as hub:
        reader = await hub.connect(hub.token(Role.MANAGER, "acme"), ["/orders"])
        payload = {"orderId": "o1", "status": "new", "notes": "x" * 16_000}
        for _ in range(200):
            await hub.ctx.sio.emit("newOrder", payload, room="company:acme", namespace="/orders")
            await asyncio.sleep(0.002)
        await reader.wait_for("/orders", "newOrder", count=200, timeout=10)
        assert reader.client.connected

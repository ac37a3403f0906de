"""Raw loopback sockets for the connection-limit tests: slow HTTP, bare Engine.IO websockets.

Everything goes through the event loop's socket calls (the hub runs in the same loop), and a
socket is only read when a test asks, so "a client that never reads" really never reads.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any
from urllib.parse import urlsplit


def address(url: str) -> tuple[str, int]:
    """(host, port) of a hub URL."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


async def connect(url: str, source: str | None = None, rcvbuf: int | None = None) -> socket.socket:
    """A non-blocking TCP socket connected to the hub (optionally from another loopback
    address, optionally with a small receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source is not None:
        sock.bind((source, 0))
    async with asyncio.timeout(5):
        await asyncio.get_running_loop().sock_connect(sock, address(url))
    return sock


async def send(sock: socket.socket, data: bytes) -> None:
    """Send all of ``data``."""
    async with asyncio.timeout(5):
        await asyncio.get_running_loop().sock_sendall(sock, data)


async def recv(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """Whatever arrives next (b"" once the hub closed the connection)."""
    try:
        async with asyncio.timeout(timeout):
            return await asyncio.get_running_loop().sock_recv(sock, 65536)
    except ConnectionResetError:
        return b""


async def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    """Everything the hub sends until it closes the connection (TimeoutError if it does not)."""
    received = b""
    async with asyncio.timeout(timeout):
        while chunk := await recv(sock, timeout):
            received += chunk
    return received


async def is_closed(sock: socket.socket, timeout: float) -> bool:
    """Whether the hub closes the connection within ``timeout`` seconds."""
    try:
        await read_until_closed(sock, timeout)
    except TimeoutError:
        return False
    return True


def parse_response(raw: bytes) -> tuple[int, dict[str, str], Any]:
    """Status, headers (lower-cased names) and JSON body of a raw HTTP response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, json.loads(body) if body else None


class RawWebSocket:
    """An Engine.IO v4 websocket spoken by hand: handshake, masked text frames, reads on demand."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    @classmethod
    async def open(
        cls,
        url: str,
        rcvbuf: int | None = None,
        headers: dict[str, str] | None = None,
        source: str | None = None,
        timeout: float = 5.0,
    ) -> RawWebSocket:
        """Upgrade a fresh connection to an Engine.IO websocket and read the OPEN packet."""
        sock = await connect(url, source=source, rcvbuf=rcvbuf)
        ws = cls(sock)
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        host, port = address(url)
        request = (
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
        await send(sock, request.encode())
        status, _ = await ws.read_head(timeout)
        if status == 101:
            opened = await ws.read_text()
            assert opened.startswith("0"), opened
        ws.status = status
        return ws

    status = 0

    async def read_head(self, timeout: float = 5.0) -> tuple[int, bytes]:
        """The status of the HTTP answer and its raw head."""
        while b"\r\n\r\n" not in self.buffer:
            chunk = await recv(self.sock, timeout)
            assert chunk, "connection closed during the handshake"
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        return int(head.split()[1]), head

    async def _need(self, size: int, timeout: float) -> None:
        while len(self.buffer) < size:
            chunk = await recv(self.sock, timeout)
            if not chunk:
                raise ConnectionError("closed by the hub")
            self.buffer += chunk

    async def read_text(self, timeout: float = 5.0) -> str:
        """The next text frame's payload."""
        await self._need(2, timeout)
        length = self.buffer[1] & 0x7F
        offset = 2
        if length == 126:
            await self._need(4, timeout)
            (length,) = struct.unpack("!H", self.buffer[2:4])
            offset = 4
        elif length == 127:
            await self._need(10, timeout)
            (length,) = struct.unpack("!Q", self.buffer[2:10])
            offset = 10
        await self._need(offset + length, timeout)
        payload = self.buffer[offset : offset + length]
        self.buffer = self.buffer[offset + length :]
        return payload.decode()

    async def send_text(self, text: str) -> None:
        """Send one masked text frame."""
        payload = text.encode()
        mask = os.urandom(4)
        if len(payload) < 126:
            head = struct.pack("!BB", 0x81, 0x80 | len(payload))
        else:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        await send(self.sock, head + mask + masked)

    async def connect_namespace(self, namespace: str, token: str) -> str:
        """Send the Socket.IO CONNECT with a token; the hub's answer packet."""
        await self.send_text(f"40{namespace},{json.dumps({'token': token})}")
        return await self.read_text()

    def close(self) -> None:
        """Drop the TCP connection."""
        self.sock.close()

"""What bench/fanout.py and bench/idle_memory.py share: the servers under test and a lean client.

Servers (each a process of its own, pinned to CPU 0 with taskset), all serving namespace
``/orders`` to clients with an HS256 token in ``auth.token``, joined to ``company:bench``:

- ``chit``: the hub as shipped (``python -m hub.cli serve``); broadcasts are published
  through ``POST /api/v1/events/batch`` with a service token (so they are also appended to
  the company's stream in SQLite, as in production).
- ``chit-nostream``: the same with ``stream_enabled`` off: events are broadcast without a
  database write each, which shows the fan-out path itself.
- ``node``: Node socket.io 4.8 (bench/node/server.mjs, installed with ``npm ci`` from its
  own lock file); broadcasts through its ``POST /broadcast``.
- ``stock``: python-socketio as shipped (bench/stock_server.py) on aiohttp, same route.

The client is a bare engine.io v4 websocket over an asyncio Protocol: at 100,000 deliveries a
second python-socketio's client would measure itself, not the server. Loopback only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from shared.tokens import Role, mint

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "bench" / "node"
SECRET = "bench-secret-" + "x" * 40
COMPANY, BRANCH = "bench", "bench-1"
ROOM = f"company:{COMPANY}"
NS = "/orders"
BATCH = 100


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def ensure_node() -> str | None:
    """Install bench/node's pinned packages (npm ci) when needed; why not, if it cannot."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not installed"
    if not (NODE_DIR / "node_modules" / "socket.io").exists():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True,
            timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            return f"npm ci failed: {done.stderr.decode(errors='replace')[-300:]}"
    return None


def client_token() -> str:
    """A manager's token for company ``bench`` (every client gets the same kind)."""
    return mint(SECRET, sub="bench-manager", role=Role.MANAGER, company_id=COMPANY)


@dataclass
class Server:
    """One server under test: a pinned process, how to start it and how to broadcast."""

    kind: str
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None
    data_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _command(self) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        if self.kind == "node":
            return ["node", str(NODE_DIR / "server.mjs"), str(self.port), SECRET], env
        if self.kind == "stock":
            script = ["-m", "bench.stock_server", str(self.port), SECRET]
            return [sys.executable, *script], env
        assert self.data_dir is not None
        env.update(
            CHIT_HUB_DATA_DIR=str(self.data_dir),
            CHIT_HUB_PORT=str(self.port),
            CHIT_HUB_HOST="127.0.0.1",
            CHIT_HUB_JWT_SECRET=SECRET,
            CHIT_HUB_LOG_LEVEL="WARNING",
            CHIT_HUB_MAX_CONNECTIONS_PER_ADDRESS="100000",
            CHIT_HUB_ALERT_NAMESPACE_CONNECTIONS="1000000",
        )
        if self.kind == "chit-nostream":
            env["CHIT_HUB_STREAM_ENABLED"] = "false"
        return [sys.executable, "-m", "hub.cli", "serve"], env

    async def start(self) -> None:
        """Start the server on CPU 0 and wait until it answers /healthz."""
        if self.kind.startswith("chit"):
            self.data_dir = Path(tempfile.mkdtemp(prefix="chit-bench-"))
            await self._provision()
        command, env = self._command()
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        log = (Path(tempfile.gettempdir()) / f"bench-{self.kind}.log").open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            *pin, *command, cwd=ROOT, env=env, stdout=log, stderr=log
        )
        log.close()
        async with aiohttp.ClientSession() as http, asyncio.timeout(60):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(self.url + "/healthz") as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.05)

    async def _provision(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.cli", "branch", "add", "--data-dir", str(self.data_dir),
            "--company", COMPANY, "--branch", BRANCH, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert await proc.wait() == 0, "chit-hub branch add failed"

    async def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove its data."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    async def broadcast(self, http: aiohttp.ClientSession, count: int, start: int = 0) -> None:
        """Have the server emit ``count`` newOrder events to the bench company's room."""
        if not self.kind.startswith("chit"):
            body = {"room": ROOM, "event": "newOrder", "count": count,
                    "payload": {"orderId": f"o{start}", "status": "new"}}  # fmt: skip
            async with http.post(self.url + "/broadcast", json=body) as resp:
                assert resp.status == 202, resp.status
            return
        token = mint(SECRET, sub="bench-platform", role=Role.SERVICE)
        headers = {"Authorization": f"Bearer {token}"}
        for first in range(start, start + count, BATCH):
            events = [
                {"namespace": NS, "event": "newOrder", "companyId": COMPANY,
                 "payload": {"orderId": f"o{i}", "status": "new"}}
                for i in range(first, min(first + BATCH, start + count))
            ]  # fmt: skip
            async with http.post(
                self.url + "/api/v1/events/batch", json={"events": events}, headers=headers
            ) as resp:
                answer = await resp.json()
                assert resp.status == 200, answer
                assert all(r["status"] == 202 for r in answer["results"]), answer


class Tally:
    """Deliveries counted over every client, and when the expected total was reached."""

    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.done: asyncio.Future[float] | None = None

    def expect(self, total: int) -> asyncio.Future[float]:
        """A future set to the monotonic time at which ``total`` more deliveries arrived."""
        self.target = self.count + total
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def hit(self, n: int) -> None:
        self.count += n
        if self.done is not None and not self.done.done() and self.count >= self.target:
            self.done.set_result(time.monotonic())


_ZERO_MASK = b"\x00\x00\x00\x00"  # a client must mask its frames; a zero mask keeps them as is


def client_frame(text: str) -> bytes:
    """One masked client text frame."""
    data = text.encode()
    if len(data) < 126:
        return struct.pack("!BB", 0x81, 0x80 | len(data)) + _ZERO_MASK + data
    return struct.pack("!BBH", 0x81, 0x80 | 126, len(data)) + _ZERO_MASK + data


#: How a stream:status event starts (after ``42/orders,[``), and where it is looked for.
_STATUS = b'"stream:status"'
_STATUS_WITHIN = 16 + len(_STATUS)


class LeanClient(asyncio.Protocol):
    """An engine.io v4 websocket client that joins /orders and counts EVENT packets.

    Every event counts except the hub's ``stream:status`` (sent to each web client once its
    handover is done), so a run measures the broadcasts alone, after every handover.
    """

    def __init__(self, port: int, token: str, tally: Tally) -> None:
        self.port, self.token, self.tally = port, token, tally
        self.buffer = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self._fail(f"no upgrade: {bytes(buf[:40])!r}")
                return
            del buf[: end + 4]
            self.upgraded = True
        self._frames(buf)

    def _frames(self, buf: bytearray) -> None:
        pos, size, events = 0, len(buf), 0
        while size - pos >= 2:
            length, offset = buf[pos + 1] & 0x7F, pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length, offset = int.from_bytes(buf[pos + 2 : pos + 4]), pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, offset = int.from_bytes(buf[pos + 2 : pos + 10]), pos + 10
            if size < offset + length:
                break
            if buf[offset : offset + 2] == b"42":
                # The hub's own stream:status (one per client, after its handover) is not
                # a broadcast: counting it let the measured run start during handovers.
                events += buf.find(_STATUS, offset, offset + _STATUS_WITHIN) < 0
            elif buf[pos] & 0x0F == 1:
                self._control(bytes(buf[offset : offset + length]))
            pos = offset + length
        del buf[:pos]
        if events:
            self.tally.hit(events)

    def _control(self, message: bytes) -> None:
        assert self.transport is not None
        if message == b"2":
            self.transport.write(client_frame("3"))
        elif message.startswith(b"0{"):
            self.transport.write(client_frame(f"40{NS},{json.dumps({'token': self.token})}"))
        elif message.startswith(f"40{NS},".encode()) and not self.joined.done():
            self.joined.set_result(None)
        elif message.startswith(f"44{NS},".encode()):
            self._fail(message.decode(errors="replace"))

    def _fail(self, why: str) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(why))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def connect_clients(
    port: int, n: int, tally: Tally, parallel: int = 200, timeout: float = 120
) -> list[LeanClient]:
    """Open ``n`` clients (``parallel`` at a time), each joined to /orders."""
    loop, token = asyncio.get_running_loop(), client_token()
    clients: list[LeanClient] = []
    gate = asyncio.Semaphore(parallel)

    async def one() -> None:
        async with gate:
            make: Callable[[], LeanClient] = lambda: LeanClient(port, token, tally)  # noqa: E731
            _, client = await loop.create_connection(make, "127.0.0.1", port)
            clients.append(client)
            await asyncio.wait_for(client.joined, 30)

    async with asyncio.timeout(timeout):
        await asyncio.gather(*(one() for _ in range(n)))
    return clients


def close_all(clients: list[LeanClient]) -> None:
    """Drop every client's connection."""
    for client in clients:
        client.close()


def summary(values: list[float], digits: int = 0) -> str:
    """min / median / max of a measure."""
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    return " / ".join(f"{v:,.{digits}f}" for v in (ordered[0], median, ordered[-1]))


def pin_load_generator() -> None:
    """This process (the load) on CPU 1, with as many open files as allowed."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})


def describe(kind: str) -> str:
    """A server's name in a table."""
    names = {
        "chit": "Chit hub",
        "chit-nostream": "Chit hub, streams off",
        "node": "Node socket.io 4.8",
        "stock": "python-socketio",
    }
    return names[kind]


Json = dict[str, Any]

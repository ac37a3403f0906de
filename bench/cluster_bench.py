"""Cluster benchmark (loopback only): cross-instance event latency for 1 to 4 hub instances.

Run: .venv/bin/python -m bench.cluster_bench [--rate 50] [--seconds 10]
     [--redis-url redis://127.0.0.1:6379/11] [--instances 1,2,3,4]

For each instance count N it starts N real ``python -m hub.cli serve`` processes over one
Redis (a key prefix of its own, deleted at the end) and one SQLite database, connects one
Socket.IO client (websocket transport, staff of company "bench") to each instance on
/orders, then publishes ``newOrder`` through ``POST /api/v1/events`` on instance 0 at a
steady rate, each event carrying its send time (``sentAt``, time.time()). It prints, per N,
receive time minus ``sentAt`` at the clients on instances other than 0 (for N = 1, at the
client on the publishing instance itself: the baseline without a Redis hop) as p50/p99/max,
and how many of the expected deliveries arrived.

The clients and the publisher live in this process, so send and receive times come from
the same clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import redis.asyncio as aioredis
import socketio

from shared.tokens import Role, mint

SECRET = "bench-secret-" + "x" * 40
COMPANY = "bench"
NAMESPACE = "/orders"
ROOT = Path(__file__).resolve().parents[1]
NOTE = (
    "latency = time.time() at the client's newOrder handler minus sentAt stamped just before "
    "the POST: HTTP publish on instance 0 -> auth + catalog validation -> Redis pub/sub -> "
    "the other instance -> websocket -> python-socketio client in this process "
    "(N=1: same instance, local delivery, no Redis hop)"
)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def open_log(path: Path) -> IO[bytes]:
    """An append-mode log file for one hub process."""
    return path.open("ab")


@dataclass
class Hub:
    """One hub instance process."""

    instance_id: str
    port: int
    log_path: Path
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Receiver:
    """A Socket.IO client on one instance that records latencies of this run's events."""

    hub: Hub
    run_id: str
    client: socketio.AsyncClient = field(
        default_factory=lambda: socketio.AsyncClient(reconnection=False)
    )
    latencies: dict[int, float] = field(default_factory=dict)
    warm: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect(self, token: str) -> None:
        async def on_new_order(data: Any) -> None:
            received = time.time()
            if not isinstance(data, dict) or data.get("benchRun") != self.run_id:
                return
            seq = int(data.get("seq", -1))
            if seq < 0:
                self.warm.set()
            else:
                self.latencies.setdefault(seq, (received - float(data["sentAt"])) * 1000)

        self.client.on("newOrder", on_new_order, namespace=NAMESPACE)
        await self.client.connect(
            self.hub.url,
            namespaces=[NAMESPACE],
            auth={"token": token},
            transports=["websocket"],
            wait_timeout=10,
        )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.client.disconnect()


async def spawn(hub: Hub, env: dict[str, str]) -> None:
    """Start one ``python -m hub.cli serve`` process."""
    log = open_log(hub.log_path)
    try:
        hub.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub.cli",
            "serve",
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
    finally:
        log.close()


async def wait_healthy(http: aiohttp.ClientSession, hub: Hub, timeout: float = 30) -> None:
    """Until GET /healthz answers 200."""
    async with asyncio.timeout(timeout):
        while True:
            if hub.proc is not None and hub.proc.returncode is not None:
                raise RuntimeError(f"{hub.instance_id} exited; see {hub.log_path}")
            try:
                async with http.get(hub.url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)


async def stop(hubs: list[Hub]) -> None:
    """Terminate every hub process (kill it if it does not exit within 5 s)."""
    for hub in hubs:
        if hub.proc is not None and hub.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                hub.proc.terminate()
    for hub in hubs:
        if hub.proc is None:
            continue
        try:
            await asyncio.wait_for(hub.proc.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                hub.proc.kill()
            await asyncio.wait_for(hub.proc.wait(), 5)


async def forget_keys(redis_url: str, prefix: str) -> int:
    """Delete every Redis key under ``prefix``; how many were deleted."""
    client = aioredis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        keys = [key async for key in client.scan_iter(f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        return len(keys)
    finally:
        await client.aclose()


class Publisher:
    """Publishes this run's ``newOrder`` events on one instance with a service token."""

    def __init__(self, http: aiohttp.ClientSession, hub: Hub, run_id: str) -> None:
        self.http = http
        self.url = hub.url + "/api/v1/events"
        self.run_id = run_id
        self.headers = {
            "Authorization": "Bearer "
            + mint(SECRET, sub="bench-service", role=Role.SERVICE, company_id=COMPANY)
        }
        self.failures: list[str] = []

    async def publish(self, seq: int) -> None:
        payload = {
            "correlationId": f"{self.run_id}-{seq:07d}",
            "orderId": f"order-{seq}",
            "status": "new",
            "benchRun": self.run_id,
            "seq": seq,
            "sentAt": time.time(),
        }
        body = {
            "namespace": NAMESPACE,
            "event": "newOrder",
            "companyId": COMPANY,
            "payload": payload,
        }
        try:
            async with self.http.post(self.url, json=body, headers=self.headers) as resp:
                if resp.status != 202:
                    self.failures.append(f"seq {seq}: HTTP {resp.status} {await resp.text()}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.failures.append(f"seq {seq}: {exc!r}")


async def warm_up(publisher: Publisher, receivers: list[Receiver], timeout: float = 20) -> None:
    """Publish probes until every client has received one (every instance is subscribed)."""
    async with asyncio.timeout(timeout):
        probe = -1
        while not all(r.warm.is_set() for r in receivers):
            await publisher.publish(probe)
            probe -= 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    await asyncio.gather(*(r.warm.wait() for r in receivers))
    publisher.failures.clear()


async def steady(publisher: Publisher, rate: float, seconds: float) -> int:
    """Publish at a fixed schedule (event i at start + i/rate); the number of events sent."""
    total = max(1, round(rate * seconds))
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    start = loop.time() + 0.05
    for seq in range(total):
        delay = start + seq / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(publisher.publish(seq)))
    async with asyncio.timeout(30):
        await asyncio.gather(*tasks)
    return total


async def drain(receivers: list[Receiver], total: int, timeout: float) -> None:
    """Until every measured client has every event, or ``timeout`` passes."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while any(len(r.latencies) < total for r in receivers):
                await asyncio.sleep(0.05)


async def run_one(
    count: int, redis_url: str, prefix: str, rate: float, seconds: float, workdir: Path
) -> str:
    """Measure one cluster size; the line to print."""
    run_id = uuid.uuid4().hex[:8]
    data_dir = workdir / f"n{count}" / "data"
    data_dir.mkdir(parents=True)
    hubs = [
        Hub(f"{prefix}-n{count}-{i}", free_port(), workdir / f"n{count}" / f"hub{i}.log")
        for i in range(count)
    ]
    env_base = {
        **os.environ,
        "CHIT_HUB_DATA_DIR": str(data_dir),
        "CHIT_HUB_JWT_SECRET": SECRET,
        "CHIT_HUB_REDIS_URL": redis_url,
        "CHIT_HUB_CLUSTER_PREFIX": f"{prefix}-n{count}",
        "CHIT_HUB_LOG_LEVEL": "WARNING",
    }
    receivers: list[Receiver] = []
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=200)
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
            # The first instance creates the database; the others start once it is up.
            for i, hub in enumerate(hubs):
                env = {
                    **env_base,
                    "CHIT_HUB_PORT": str(hub.port),
                    "CHIT_HUB_INSTANCE_ID": hub.instance_id,
                }
                await spawn(hub, env)
                if i == 0:
                    await wait_healthy(http, hub)
            await asyncio.gather(*(wait_healthy(http, hub) for hub in hubs))

            staff = mint(SECRET, sub="bench-staff", role=Role.STAFF, company_id=COMPANY)
            receivers = [Receiver(hub, run_id) for hub in hubs]
            async with asyncio.timeout(30):
                for receiver in receivers:
                    await receiver.connect(staff)

            publisher = Publisher(http, hubs[0], run_id)
            await warm_up(publisher, receivers)
            total = await steady(publisher, rate, seconds)
            measured = receivers[1:] if count > 1 else receivers
            await drain(receivers, total, timeout=10)
    finally:
        for receiver in receivers:
            await receiver.close()
        await stop(hubs)

    samples = [ms for r in measured for ms in r.latencies.values()]
    expected = total * len(measured)
    local = list(receivers[0].latencies.values())
    where = "same instance (baseline)" if count == 1 else f"{count - 1} other instance(s)"
    line = f"instances {count}: events {total}, delivered {len(samples)}/{expected}"
    if samples:
        line += (
            f", p50 {percentile(samples, 50):.2f} ms, p99 {percentile(samples, 99):.2f} ms, "
            f"max {max(samples):.2f} ms"
        )
    line += f" [{where}"
    if count > 1 and local:
        line += f"; instance-0 client p50 {percentile(local, 50):.2f} ms"
    line += "]"
    if publisher.failures:
        line += f" ({len(publisher.failures)} publish failures, first: {publisher.failures[0]})"
    return line


async def main(redis_url: str, counts: list[int], rate: float, seconds: float) -> None:
    """Run every cluster size and print one line each."""
    prefix = f"chit-bench-{uuid.uuid4().hex[:8]}"
    print(
        f"cross-instance newOrder latency, {rate:g} events/s for {seconds:g} s, "
        f"Redis {redis_url}, key prefix {prefix}"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="chit-cluster-bench-") as tmp:
            for count in counts:
                try:
                    line = await run_one(count, redis_url, prefix, rate, seconds, Path(tmp))
                except Exception as exc:
                    logs = Path(tmp) / f"n{count}"
                    tails = [
                        f"--- {p.name}\n" + "\n".join(p.read_text().splitlines()[-10:])
                        for p in sorted(logs.glob("*.log"))
                    ]
                    line = f"instances {count}: FAILED {exc!r}\n" + "\n".join(tails)
                print(line, flush=True)
    finally:
        deleted = await forget_keys(redis_url, prefix)
        print(f"note: {NOTE}")
        print(f"(deleted {deleted} Redis key(s) under {prefix})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--instances", default="1,2,3,4", help="comma-separated instance counts to measure"
    )
    options = parser.parse_args()
    asyncio.run(
        main(
            options.redis_url,
            [int(n) for n in options.instances.split(",") if n.strip()],
            options.rate,
            options.seconds,
        )
    )

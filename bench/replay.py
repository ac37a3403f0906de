"""Streams benchmark (loopback only): the cost of durability, and how fast a client catches up.

Run: .venv/bin/python -m bench.replay [--events 2000] [--concurrency 16]
     [--missed 1000,10000] [--modes single,cluster] [--redis-url redis://127.0.0.1:6379/11]

For each mode (``single``: one hub on SQLite; ``cluster``: one hub instance on Redis) it starts
a real ``python -m hub.cli serve`` process with streams on and then off, connects one
Socket.IO client (websocket, staff of company "bench") on /orders, and publishes ``--events``
``newOrder`` events through ``POST /api/v1/events`` with ``--concurrency`` requests in flight:
the publish rate is events answered 202 per second of wall time, until the client has them
all, with each request's latency as p50/p99. With streams on it then measures replay: the
client notes its offset and disconnects, N events are published, and the client reconnects
with ``auth.since``; the replay time runs from the connect call until ``stream:status``
arrives, all N having arrived before it, in order (checked).

It prints a table and, last, one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from bench.cluster_bench import SECRET, Hub, forget_keys, free_port, percentile, spawn, stop
from bench.cluster_bench import wait_healthy as healthy
from shared.tokens import Role, mint

COMPANY = "bench"
NAMESPACE = "/orders"
NOTE = (
    "publish/s: 202 answers per second with the given requests in flight, until the one "
    "connected client has every event (streams on: appended to SQLite or Redis first); "
    "replay: connect with auth.since -> stream:status, every missed event received before it"
)


@dataclass
class Client:
    """One /orders client that records offsets and the stream status."""

    url: str
    token: str
    seqs: list[int] = field(default_factory=list)
    count: int = 0
    statuses: list[dict[str, Any]] = field(default_factory=list)
    sio: socketio.AsyncClient = field(
        default_factory=lambda: socketio.AsyncClient(reconnection=False)
    )

    async def connect(self, since: dict[str, Any] | None = None) -> None:
        async def on_order(data: dict[str, Any]) -> None:
            self.count += 1
            if "_offset" in data:
                self.seqs.append(int(data["_offset"]["seq"]))

        async def on_status(data: dict[str, Any]) -> None:
            self.statuses.append(data)

        await self.close()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("newOrder", on_order, namespace=NAMESPACE)
        self.sio.on("stream:status", on_status, namespace=NAMESPACE)
        auth: dict[str, Any] = {"token": self.token}
        if since is not None:
            auth["since"] = since
        await self.sio.connect(
            self.url, namespaces=[NAMESPACE], auth=auth, transports=["websocket"], wait_timeout=10
        )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.sio.disconnect()


async def publish_many(
    http: aiohttp.ClientSession, url: str, run: str, count: int, concurrency: int
) -> list[float]:
    """Publish ``count`` newOrder events, ``concurrency`` at a time; each one's latency (ms)."""
    headers = {"Authorization": "Bearer " + mint(SECRET, sub="bench-svc", role=Role.SERVICE)}
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(i: int) -> None:
        body = {
            "namespace": NAMESPACE,
            "event": "newOrder",
            "companyId": COMPANY,
            "payload": {"correlationId": f"{run}-{i:07d}", "orderId": f"o{i}", "status": "new"},
        }
        async with gate:
            started = time.perf_counter()
            async with http.post(url + "/api/v1/events", json=body, headers=headers) as resp:
                if resp.status != 202:
                    raise RuntimeError(f"HTTP {resp.status}: {await resp.text()}")
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one(i) for i in range(count)))
    return latencies


async def until(check: Any, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.005)


async def measure(
    mode: str, streams: bool, options: argparse.Namespace, workdir: Path, prefix: str
) -> dict[str, Any]:
    """One hub process: publish rate, and (streams on) replay times."""
    hub = Hub(f"{prefix}-{mode}-{int(streams)}", free_port(), workdir / f"{mode}-{streams}.log")
    data = workdir / f"{mode}-{streams}"
    env = {
        **os.environ,
        "CHIT_HUB_DATA_DIR": str(data),
        "CHIT_HUB_JWT_SECRET": SECRET,
        "CHIT_HUB_PORT": str(hub.port),
        "CHIT_HUB_INSTANCE_ID": hub.instance_id,
        "CHIT_HUB_LOG_LEVEL": "WARNING",
        "CHIT_HUB_STREAM_ENABLED": "true" if streams else "false",
        "CHIT_HUB_STREAM_MAX_EVENTS": str(max(options.missed) * 2 + options.events),
    }
    if mode == "cluster":
        env |= {"CHIT_HUB_REDIS_URL": options.redis_url, "CHIT_HUB_CLUSTER_PREFIX": prefix}
    result: dict[str, Any] = {"mode": mode, "streams": streams}
    token = mint(SECRET, sub="bench-staff", role=Role.STAFF, company_id=COMPANY)
    client = Client(hub.url, token)
    connector = aiohttp.TCPConnector(limit=options.concurrency * 2)
    try:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30), connector=connector
        ) as http:
            await spawn(hub, env)
            await healthy(http, hub)
            await client.connect()
            await publish_many(http, hub.url, "warm", 50, options.concurrency)
            await until(lambda: client.count >= 50, 30)
            started = time.perf_counter()
            run = uuid.uuid4().hex[:8]
            latencies = await publish_many(http, hub.url, run, options.events, options.concurrency)
            await until(lambda: client.count >= 50 + options.events, 60)
            elapsed = time.perf_counter() - started
            result |= {
                "events": options.events,
                "publish_per_s": round(options.events / elapsed),
                "p50_ms": round(percentile(latencies, 50), 2),
                "p99_ms": round(percentile(latencies, 99), 2),
            }
            if streams:
                result["replay"] = [
                    await replay(http, client, hub.url, missed, options.concurrency)
                    for missed in options.missed
                ]
    finally:
        await client.close()
        await stop([hub])
    return result


async def replay(
    http: aiohttp.ClientSession, client: Client, url: str, missed: int, concurrency: int
) -> dict[str, Any]:
    """Disconnect, publish ``missed`` events, reconnect with since; the time to catch up."""
    client.statuses = []
    await client.connect()
    await until(lambda: bool(client.statuses), 10)
    since = client.statuses[-1]["offset"]
    await client.close()
    await publish_many(http, url, f"missed-{missed}", missed, concurrency)
    client.seqs, client.statuses = [], []
    started = time.perf_counter()
    await client.connect(since)
    await until(lambda: bool(client.statuses), 120)
    elapsed = time.perf_counter() - started
    status = client.statuses[0]
    expected = list(range(since["seq"] + 1, since["seq"] + missed + 1))
    exact = status["recovered"] and status["replayed"] == missed and client.seqs == expected
    await client.close()
    return {
        "missed": missed,
        "replay_ms": round(elapsed * 1000, 1),
        "events_per_s": round(missed / elapsed),
        "exact": exact,
    }


def table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"{'mode':<8} {'streams':<8} {'publish/s':>10} {'p50 ms':>8} {'p99 ms':>8}",
        *(
            f"{r['mode']:<8} {'on' if r['streams'] else 'off':<8} {r['publish_per_s']:>10} "
            f"{r['p50_ms']:>8} {r['p99_ms']:>8}"
            for r in results
        ),
        "",
        f"{'mode':<8} {'missed':>8} {'replay ms':>10} {'events/s':>10} {'exact':>6}",
    ]
    for r in results:
        for x in r.get("replay", []):
            lines.append(
                f"{r['mode']:<8} {x['missed']:>8} {x['replay_ms']:>10} "
                f"{x['events_per_s']:>10} {'yes' if x['exact'] else 'NO':>6}"
            )
    return lines


async def main(options: argparse.Namespace) -> int:
    """Every mode with streams on and off; the table and the JSON line."""
    prefix = f"chit-replay-bench-{uuid.uuid4().hex[:8]}"
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="chit-replay-bench-") as tmp:
            for mode in options.modes:
                for streams in (False, True):
                    try:
                        results.append(await measure(mode, streams, options, Path(tmp), prefix))
                    except Exception as exc:
                        log = Path(tmp) / f"{mode}-{streams}.log"
                        tail = "\n".join(log.read_text().splitlines()[-10:]) if log.exists() else ""
                        print(f"{mode} streams={streams}: FAILED {exc!r}\n{tail}", file=sys.stderr)
                        return 1
    finally:
        if "cluster" in options.modes:
            await forget_keys(options.redis_url, prefix)
    print(f"streams benchmark: {options.events} events, {options.concurrency} in flight")
    print("\n".join(table(results)))
    print(f"note: {NOTE}")
    print(json.dumps({"bench": "replay", "results": results}, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--missed", type=lambda v: [int(n) for n in v.split(",")], default=[1000, 10000]
    )
    parser.add_argument("--modes", type=lambda v: v.split(","), default=["single", "cluster"])
    raise SystemExit(asyncio.run(main(parser.parse_args())))

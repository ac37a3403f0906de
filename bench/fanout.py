"""Broadcast fan-out (loopback only): Chit against Node socket.io 4.8 and stock python-socketio.

Run: .venv/bin/python -m bench.fanout [--scenarios 1000x100,100x1000] [--rounds 3]
     [--servers chit,chit-nostream,node,stock]

For each scenario NxK: N lean websocket clients (bench/sockets.py) join /orders in one room,
then the server broadcasts K newOrder events to that room (Chit: through its batch publish
route, 100 events a request, so they are also appended to the company's stream; Node and
python-socketio: a loop of ``emit`` behind a POST). Measured from the request until the last
of the NxK deliveries arrived: deliveries per second of wall time, and deliveries per second
of the server's own CPU time (utime + stime from /proc), with each ratio to Node. The server
is pinned to CPU 0, this process (the load) to CPU 1; a fresh server process per run; rounds
interleave the servers; min / median / max. A table, then one JSON line.

On two cores the load generator can be the limit of the wall-clock rate (it parses every
frame in Python); deliveries per server-CPU-second is the server's own cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from typing import Any

import aiohttp

from bench.sockets import (
    Server,
    Tally,
    close_all,
    connect_clients,
    cpu_seconds,
    describe,
    ensure_node,
    pin_load_generator,
    summary,
)


async def one_run(kind: str, n: int, k: int) -> dict[str, float]:
    """One server process, N clients, K broadcasts: the rates of that run."""
    server, tally = Server(kind), Tally()
    await server.start()
    clients = []
    try:
        clients = await connect_clients(server.port, n, tally)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            warm = tally.expect(n)
            await server.broadcast(http, 1)
            await asyncio.wait_for(warm, 30)
            await asyncio.sleep(0.5)
            done = tally.expect(n * k)
            cpu0, started = cpu_seconds(server.pid), time.monotonic()
            await server.broadcast(http, k, start=1)
            finished = await asyncio.wait_for(done, 300)
            cpu = cpu_seconds(server.pid) - cpu0
    finally:
        close_all(clients)
        await server.stop()
    wall = finished - started
    return {"seconds": wall, "cpu": cpu, "rate": n * k / wall, "per_cpu": n * k / max(cpu, 1e-3)}


def scenario_of(text: str) -> tuple[int, int]:
    n, k = text.lower().split("x")
    return int(n), int(k)


def table(results: dict[tuple[str, int, int], list[dict[str, float]]]) -> list[str]:
    lines = [
        "| N x K | server | deliveries/s (min / median / max) | deliveries per server-CPU-s "
        "| wall ratio to Node | CPU ratio to Node |",
        "|---|---|---|---|---|---|",
    ]
    for (kind, n, k), runs in results.items():
        node = results.get(("node", n, k))
        ratio = cpu_ratio = "—"
        if node:
            base = statistics.median(r["rate"] for r in node)
            base_cpu = statistics.median(r["per_cpu"] for r in node)
            ratio = f"{statistics.median(r['rate'] for r in runs) / base:.2f}x"
            cpu_ratio = f"{statistics.median(r['per_cpu'] for r in runs) / base_cpu:.2f}x"
        lines.append(
            f"| {n:,} x {k:,} | {describe(kind)} | {summary([r['rate'] for r in runs])} "
            f"| {summary([r['per_cpu'] for r in runs])} | {ratio} | {cpu_ratio} |"
        )
    return lines


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="1000x100,100x1000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="chit,chit-nostream,node,stock")
    args = parser.parse_args(argv)
    pin_load_generator()
    kinds = args.servers.split(",")
    if "node" in kinds and (why := ensure_node()):
        print(f"skip node: {why}", file=sys.stderr)
        kinds.remove("node")
    scenarios = [scenario_of(s) for s in args.scenarios.split(",")]
    results: dict[tuple[str, int, int], list[dict[str, float]]] = {}
    for round_no in range(args.rounds):
        for n, k in scenarios:
            for kind in kinds:
                outcome = await one_run(kind, n, k)
                results.setdefault((kind, n, k), []).append(outcome)
                shown = {key: round(v, 3) for key, v in outcome.items()}
                print(f"  round {round_no + 1} {kind} {n}x{k}: {json.dumps(shown)}", flush=True)
    print("\n".join(table(results)))
    line: dict[str, Any] = {
        "bench": "fanout",
        "cpus": os.cpu_count(),
        "load": os.getloadavg()[0],
        "results": [
            {
                "server": kind, "n": n, "k": k,
                "rate": [round(r["rate"]) for r in runs],
                "per_cpu": [round(r["per_cpu"]) for r in runs],
                "seconds": [round(r["seconds"], 3) for r in runs],
            }
            for (kind, n, k), runs in results.items()
        ],
    }  # fmt: skip
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

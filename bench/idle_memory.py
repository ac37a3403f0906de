"""Server memory per idle authenticated websocket connection (loopback only): Chit and Node.

Run: .venv/bin/python -m bench.idle_memory [--counts 1000,5000,10000] [--rounds 3]
     [--servers chit,node]

For each count N: a fresh server process (pinned to CPU 0), one client connected and joined
to warm it up, its RSS read from /proc; then N lean websocket clients (bench/sockets.py, on
CPU 1) connect, authenticate with a token on /orders and join their company's room; after
they settle the RSS is read again: (after - before) / N is the figure. The clients answer
pings, so they stay connected and idle. ``ulimit -n`` is raised to the hard limit here (the
servers inherit it). Rounds interleave the servers; min / median / max. A table, then one
JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from bench.sockets import (
    Server,
    Tally,
    close_all,
    connect_clients,
    describe,
    ensure_node,
    pin_load_generator,
    rss_bytes,
    summary,
)


async def one_run(kind: str, n: int, settle: float = 3.0) -> float:
    """Bytes of server RSS per idle connection for ``n`` connections."""
    server, tally = Server(kind), Tally()
    await server.start()
    clients = []
    try:
        clients = await connect_clients(server.port, 1, tally)
        await asyncio.sleep(settle)
        before = rss_bytes(server.pid)
        clients += await connect_clients(server.port, n, tally)
        await asyncio.sleep(settle)
        after = rss_bytes(server.pid)
    finally:
        close_all(clients)
        await server.stop()
    return (after - before) / n


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="1000,5000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="chit,node")
    args = parser.parse_args(argv)
    pin_load_generator()
    kinds = args.servers.split(",")
    if "node" in kinds and (why := ensure_node()):
        print(f"skip node: {why}", file=sys.stderr)
        kinds.remove("node")
    counts = [int(c) for c in args.counts.split(",")]
    results: dict[tuple[str, int], list[float]] = {}
    for round_no in range(args.rounds):
        for n in counts:
            for kind in kinds:
                per = await one_run(kind, n)
                results.setdefault((kind, n), []).append(per)
                print(f"  round {round_no + 1} {kind} N={n}: {per / 1024:.1f} KB", flush=True)
    print("| connections | server | KB per idle connection (min / median / max) |")
    print("|---|---|---|")
    for (kind, n), values in results.items():
        print(f"| {n:,} | {describe(kind)} | {summary([v / 1024 for v in values], 1)} |")
    line: dict[str, Any] = {
        "bench": "idle_memory",
        "cpus": os.cpu_count(),
        "load": os.getloadavg()[0],
        "results": [
            {"server": kind, "n": n, "bytes_per_connection": [round(v) for v in values]}
            for (kind, n), values in results.items()
        ],
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""Reconnect storm (loopback only): N agents re-register after the hub is SIGKILLed and restarted.

Run: .venv/bin/python -m bench.storm [--agents 1000,5000] [--db sqlite,postgresql]
     [--rounds 3] [--database-url postgresql://postgres@127.0.0.1:5432/test]

For each database and each N: a real ``python -m hub.cli serve`` process pinned to CPU 0
(``taskset``), this process (the N simulated agents) pinned to CPU 1. Each agent holds its own
device token and speaks the agent's protocol on /printing-ws: connect, ``agent:hello``,
``agent:inventory`` with one printer, each repeated until acked (the agent's own rule, with the
same full-jitter backoff and ``retryAfter`` handling as agent/link.py and agent/registration.py),
then heartbeats. All N register once (cold), the hub is SIGKILLed and started again on the same
database, and the bench measures how long until every agent is registered again (both acks
received), from the restart and from the moment the hub answered /healthz, plus the hub's own
CPU seconds for the storm (from /proc) and how many connects it deferred with ``busy``.

The agents are lean engine.io websocket clients (aiohttp), not python-socketio clients: at
5,000 agents python-socketio's client costs more CPU on the load core than the hub spends on
the server core, and the figure would measure the load generator. The wire is the same. Each
round is one process start; rounds are interleaved over the databases; min/median/max.

PostgreSQL runs in a fresh database of its own (created and dropped here) on the server given by
--database-url (CI: 127.0.0.1:5432); without one it is skipped, saying why.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy.engine import make_url

from agent.registration import RETRYABLE
from shared.printers import Connection, DiscoverySource, PrinterInfo
from shared.tokens import Role, mint

SECRET = "bench-secret-" + "x" * 40
COMPANY, BRANCH = "storm", "storm-1"
NS = "/printing-ws"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def jitter(attempt: int, base: float = 1.0, cap: float = 30.0) -> float:
    """agent/link.py's full-jitter backoff."""
    return random.uniform(base / 2, max(base / 2, min(cap, base * 2 ** min(attempt, 16))))


@dataclass
class SimAgent:
    """One agent: its token, its socket and whether the hub acked hello and inventory."""

    index: int
    token: str
    registered: asyncio.Event = field(default_factory=asyncio.Event)
    deferred: int = 0
    retries: int = 0

    @property
    def agent_id(self) -> str:
        return f"storm-{self.index:05d}"

    async def run(self, http: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> None:
        """Stay connected and registered until ``stop``; reconnect with backoff when dropped."""
        attempt = 0
        while not stop.is_set():
            up = await self._session(http, url, stop)
            attempt = 0 if up else attempt + 1
            if not stop.is_set():
                await asyncio.sleep(jitter(attempt))

    async def _session(self, http: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> bool:
        self.registered.clear()
        try:
            async with http.ws_connect(url, heartbeat=None, timeout=10) as ws:
                return await self._speak(ws, stop)
        except (aiohttp.ClientError, OSError, TimeoutError):
            return False

    async def _speak(self, ws: aiohttp.ClientWebSocketResponse, stop: asyncio.Event) -> bool:
        if not (await ws.receive_str(timeout=10)).startswith("0"):
            return False
        await ws.send_str(f"40{NS}," + json.dumps({"token": self.token}))
        answer = await self._next(ws, (f"40{NS},", f"44{NS},"))
        if answer.startswith(f"44{NS},"):
            wait = json.loads(answer[len(f"44{NS},") :]).get("data", {}).get("retryAfter")
            self.deferred += 1
            await asyncio.sleep(float(wait or 1.0) * random.uniform(1.0, 1.5))
            return False
        for ack_id, (event, payload) in enumerate(self._steps()):
            if not await self._until_acked(ws, ack_id, event, payload, stop):
                return True
        self.registered.set()
        with contextlib.suppress(aiohttp.ClientError):
            while not stop.is_set() and not ws.closed:
                with contextlib.suppress(TimeoutError):
                    await self._next(ws, ("\x00",), timeout=1.0)  # pings answered inside
        return True

    def _steps(self) -> list[tuple[str, dict[str, Any]]]:
        printer = PrinterInfo(
            printer_id=f"net:127.0.0.2:{1024 + self.index % 60000}",
            name="Kitchen",
            connection=Connection.NETWORK,
            source=DiscoverySource.MANUAL,
            host="127.0.0.2",
            port=1024 + self.index % 60000,
        ).to_wire()
        hello = {"agentId": self.agent_id, "hostname": f"till-{self.index}", "os": "Linux",
                 "version": "bench"}  # fmt: skip
        inventory = {"agentId": self.agent_id, "printers": [printer]}
        return [("agent:hello", hello), ("agent:inventory", inventory)]

    async def _until_acked(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        ack_id: int,
        event: str,
        payload: dict[str, Any],
        stop: asyncio.Event,
    ) -> bool:
        attempt = 0
        while not stop.is_set() and not ws.closed:
            await ws.send_str(f"42{NS},{ack_id}" + json.dumps([event, payload]))
            try:
                text = await self._next(ws, (f"43{NS},{ack_id}",), timeout=10)
            except TimeoutError:
                ack: Any = None
            else:
                ack = json.loads(text[len(f"43{NS},{ack_id}") :])[0]
            if isinstance(ack, dict) and ack.get("ok") is True:
                return True
            code = (ack or {}).get("error", {}).get("code") if isinstance(ack, dict) else None
            if ack is not None and code not in RETRYABLE:
                raise RuntimeError(f"{event} refused for good: {ack}")
            self.retries += 1
            attempt += 1
            await asyncio.sleep(jitter(attempt, 0.5, 15.0))
        return False

    async def _next(
        self, ws: aiohttp.ClientWebSocketResponse, prefixes: tuple[str, ...], timeout: float = 15
    ) -> str:
        async with asyncio.timeout(timeout):
            while True:
                msg = await ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise aiohttp.ClientError(f"socket closed ({msg.type})")
                text = str(msg.data)
                if text == "2":
                    await ws.send_str("3")
                    continue
                if text.startswith(prefixes):
                    return text


@dataclass
class HubProcess:
    """The hub under test, pinned to CPU 0."""

    data_dir: Path
    port: int
    database_url: str | None
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "CHIT_HUB_DATA_DIR": str(self.data_dir),
            "CHIT_HUB_PORT": str(self.port),
            "CHIT_HUB_JWT_SECRET": SECRET,
            "CHIT_HUB_LOG_LEVEL": "WARNING",
            "CHIT_HUB_MAX_CONNECTIONS_PER_ADDRESS": "100000",
        }
        if self.database_url:
            env["CHIT_HUB_DATABASE_URL"] = self.database_url
        return env

    async def start(self) -> float:
        """Spawn the hub; returns the seconds until /healthz answered."""
        started = time.monotonic()
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        log = (self.data_dir.parent / "hub.log").open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            *pin, sys.executable, "-m", "hub.cli", "serve", cwd=ROOT, env=self._env(),
            stdout=log, stderr=log,
        )  # fmt: skip
        log.close()
        async with aiohttp.ClientSession() as http, asyncio.timeout(60):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(self.url + "/healthz") as resp:
                        if resp.status == 200:
                            return time.monotonic() - started
                await asyncio.sleep(0.05)

    async def provision(self) -> None:
        flags = ["--data-dir", str(self.data_dir)]
        if self.database_url:
            flags += ["--database-url", self.database_url]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "hub.cli", "branch", "add", *flags, "--company", COMPANY,
            "--branch", BRANCH, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert await proc.wait() == 0, "chit-hub branch add failed"

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()


async def one_round(
    n: int, database_url: str | None, hub_log: Path | None = None
) -> dict[str, float]:
    """Register n agents, SIGKILL and restart the hub, time the re-registration."""
    with tempfile.TemporaryDirectory(prefix="chit-storm-") as tmp:
        try:
            return await _storm(n, database_url, Path(tmp))
        finally:
            if hub_log is not None and (Path(tmp) / "hub.log").exists():
                with hub_log.open("ab") as out:
                    out.write((Path(tmp) / "hub.log").read_bytes())


async def _storm(n: int, database_url: str | None, tmp: Path) -> dict[str, float]:
    hub = HubProcess(tmp / "data", free_port(), database_url)
    await hub.start()
    await hub.provision()
    agents = [
        SimAgent(i, mint(SECRET, sub=f"storm-{i:05d}", role=Role.DESKTOP_APP,
                         company_id=COMPANY, branch_id=BRANCH, ttl_seconds=7200))
        for i in range(n)
    ]  # fmt: skip
    stop = asyncio.Event()
    ws_url = hub.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = [asyncio.create_task(a.run(http, ws_url, stop)) for a in agents]
        try:
            cold = await _all_registered(agents, 300)
            await hub.kill()
            killed = time.monotonic()
            healthy_after = await hub.start()
            assert hub.proc is not None
            cpu_before = cpu_seconds(hub.proc.pid)
            healthy = killed + healthy_after
            await _all_registered(agents, 300)
            done = time.monotonic()
            cpu = cpu_seconds(hub.proc.pid) - cpu_before
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await hub.kill()
    return {
        "cold_s": cold,
        "from_restart_s": done - killed,
        "from_healthy_s": done - healthy,
        "hub_cpu_s": cpu,
        "deferred": float(sum(a.deferred for a in agents)),
        "retries": float(sum(a.retries for a in agents)),
    }


async def _all_registered(agents: list[SimAgent], timeout: float) -> float:
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        await asyncio.gather(*(a.registered.wait() for a in agents))
    return time.monotonic() - started


@contextlib.asynccontextmanager
async def fresh_postgres(url: str) -> Any:
    """A database of the bench's own on the server of ``url``; dropped afterwards."""
    name = f"chit_storm_{uuid.uuid4().hex[:8]}"
    admin = make_url(url).set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=10)
    await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def summary(values: list[float]) -> str:
    return f"{min(values):7.2f} {statistics.median(values):7.2f} {max(values):7.2f}"


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", default="1000,5000")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("CHIT_BENCH_DATABASE_URL"))
    parser.add_argument("--hub-log", type=Path, help="append the hubs' logs to this file")
    args = parser.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if shutil.which("taskset"):
        os.sched_setaffinity(0, {1})
    sizes = [int(n) for n in args.agents.split(",")]
    dbs = args.db.split(",")
    if "postgresql" in dbs and not args.database_url:
        print("skip postgresql: give --database-url (or CHIT_BENCH_DATABASE_URL)", file=sys.stderr)
        dbs = [d for d in dbs if d != "postgresql"]
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for db in dbs:
            for n in sizes:
                if db == "postgresql":
                    async with fresh_postgres(args.database_url) as url:
                        outcome = await one_round(n, url, args.hub_log)
                else:
                    outcome = await one_round(n, None, args.hub_log)
                results.setdefault((db, n), []).append(outcome)
                print(f"  {db} N={n}: {json.dumps({k: round(v, 2) for k, v in outcome.items()})}",
                      file=sys.stderr)  # fmt: skip
    print("storm: agents re-registered (hello + inventory acked) after SIGKILL + restart")
    print(f"{'db':<11} {'N':>6}  {'from healthy s (min med max)':>28}  "
          f"{'from restart s':>23}  {'hub CPU s':>23}  deferred")  # fmt: skip
    for (db, n), rounds in results.items():
        print(
            f"{db:<11} {n:>6}  {summary([r['from_healthy_s'] for r in rounds]):>28}  "
            f"{summary([r['from_restart_s'] for r in rounds]):>23}  "
            f"{summary([r['hub_cpu_s'] for r in rounds]):>23}  "
            f"{int(statistics.median([r['deferred'] for r in rounds]))}"
        )
    line = {f"{db}_{n}": rounds for (db, n), rounds in results.items()}
    print(json.dumps({"bench": "storm", "results": line}))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

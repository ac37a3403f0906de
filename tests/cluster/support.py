"""Several real hub processes sharing one Redis (and one database), for cluster tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import redis

from shared.tokens import Role, mint
from tests.support import SECRET, HubHarness, free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]


def redis_reachable(url: str) -> bool:
    """Whether a Redis answers PING at ``url`` (within a second)."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


@dataclass
class OwnRedis:
    """A redis-server of our own on a free loopback port (so a test may restart it).

    Without persistence a restart loses every key; with ``persist_dir`` it keeps an
    append-only file there (fsync on every write), so a restart comes back with its data.
    """

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    persist_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        if self.persist_dir is None:
            storage = ["--appendonly", "no"]
        else:
            self.persist_dir.mkdir(parents=True, exist_ok=True)
            storage = ["--appendonly", "yes", "--appendfsync", "always"]
            storage += ["--dir", str(self.persist_dir)]
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *storage],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not redis_reachable(self.url):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class HubProc:
    """One hub instance process."""

    instance_id: str
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    async def terminate(self, timeout: float = 20) -> int:
        """Stop it as systemd or an orchestrator does (SIGTERM); its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(timeout):
            while (code := self.proc.poll()) is None:
                await asyncio.sleep(0.05)
        return code


class Cluster:
    """N hub processes over one Redis key prefix and one database (SQLite, or a PostgreSQL URL)."""

    def __init__(
        self,
        redis_url: str,
        workdir: Path,
        count: int,
        database_url: str | None = None,
        **env: str,
    ) -> None:
        self.redis_url = redis_url
        self.database_url = database_url
        self.prefix = f"chit-test-{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.env = env
        self.hubs = [HubProc(f"{self.prefix}-{i}", free_port()) for i in range(count)]
        #: Branches named by tokens minted here, written to the shared store (as an operator
        #: would with ``chit-hub branch add``) once it exists: hubs admit no other branch.
        self._to_provision: set[tuple[str, str]] = set()

    def _env(self, hub: HubProc) -> dict[str, str]:
        return {
            **os.environ,
            "CHIT_HUB_DATA_DIR": str(self.workdir / "data"),
            "CHIT_HUB_PORT": str(hub.port),
            "CHIT_HUB_JWT_SECRET": SECRET,
            "CHIT_HUB_REDIS_URL": self.redis_url,
            "CHIT_HUB_CLUSTER_PREFIX": self.prefix,
            "CHIT_HUB_INSTANCE_ID": hub.instance_id,
            "CHIT_HUB_CLUSTER_STATS_TTL": "1.5",
            "CHIT_HUB_ALERT_INTERVAL": "0.5",
            "CHIT_HUB_PRINTER_TEST_TIMEOUT": "8",
            "CHIT_HUB_LOG_LEVEL": "WARNING",
            **({"CHIT_HUB_DATABASE_URL": self.database_url} if self.database_url else {}),
            **self.env,
        }

    def _spawn(self, target: HubProc) -> None:
        log = (self.workdir / f"{target.instance_id}.log").open("ab")
        target.proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "serve"],
            cwd=ROOT,
            env=self._env(target),
            stdout=log,
            stderr=log,
        )

    async def start(self, hub: HubProc | None = None) -> None:
        """Start every hub (or one) and wait until it answers /healthz."""
        targets = [hub] if hub else self.hubs
        for target in targets:
            self._spawn(target)
        for target in targets:
            await wait_healthy(target.url)
        self._provision()

    @property
    def database(self) -> Path:
        """The SQLite file every instance shares."""
        return self.workdir / "data" / "chit-hub.db"

    def provision(self, company: str, branch: str) -> None:
        """Record that ``branch`` belongs to ``company`` (now, or once the store exists)."""
        self._to_provision.add((company, branch))
        self._provision()

    def _provision(self) -> None:
        if self.database_url is not None:
            self._provision_by_cli()
            return
        if not self.database.exists():
            return
        with sqlite3.connect(self.database, timeout=10) as db:
            now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
            for company, branch in sorted(self._to_provision):
                db.execute(
                    "INSERT OR IGNORE INTO companies (id, name, created_at) VALUES (?, ?, ?)",
                    (company, company, now),
                )
                db.execute(
                    "INSERT OR IGNORE INTO branches (id, company_id, name, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (branch, company, branch, now),
                )
        self._to_provision.clear()

    def _provision_by_cli(self) -> None:
        """``chit-hub branch add`` against the shared PostgreSQL database."""
        assert self.database_url is not None
        for company, branch in sorted(self._to_provision):
            store = ["--database-url", self.database_url, "--data-dir", str(self.workdir / "data")]
            names = ["--company", company, "--branch", branch]
            subprocess.run(
                [sys.executable, "-m", "hub.cli", "branch", "add", *store, *names],
                cwd=ROOT,
                check=True,
                capture_output=True,
                timeout=60,
            )
        self._to_provision.clear()

    def stop(self) -> None:
        """Kill every hub and forget the test's Redis keys."""
        for hub in self.hubs:
            hub.kill()
        try:
            client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
            keys = list(client.scan_iter(f"{self.prefix}:*"))
            if keys:
                client.delete(*keys)
        except (redis.RedisError, OSError):
            pass

    def token(
        self,
        role: Role = Role.MANAGER,
        company: str | None = "acme",
        branch: str | None = None,
        sub: str | None = None,
    ) -> str:
        """A token every instance accepts (its branch is provisioned in the shared store)."""
        if company is not None and branch is not None:
            self.provision(company, branch)
        return mint(
            SECRET, sub=sub or f"{role.value}-user", role=role, company_id=company, branch_id=branch
        )

    def token_unprovisioned(self, role: Role, company: str, branch: str) -> str:
        """A valid token naming a branch nobody provisioned for ``company``: an attacker's."""
        return mint(SECRET, sub=f"{company}-user", role=role, company_id=company, branch_id=branch)

    async def request(
        self, hub: HubProc, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        """One HTTP request to one instance."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.request(method, hub.url + path, json=body, headers=headers) as resp,
        ):
            return resp.status, await resp.json()


def harness_for(hub: HubProc) -> HubHarness:
    """A HubHarness-like helper bound to a remote instance (for connect/post/get)."""
    harness = HubHarness.__new__(HubHarness)
    harness.url = hub.url
    harness._clients = []
    return harness

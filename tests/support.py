"""Test helpers: start a hub, mint tokens, connect Socket.IO clients that record events."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from hub.runner import RunningHub, start_hub
from hub.settings import Settings
from hub.store import TenantConflict, tenants
from shared.namespaces import Namespace
from shared.streams import STATUS_EVENT
from shared.tokens import Role, mint

SECRET = "test-secret-" + "x" * 40
#: The branches of the test world, provisioned in every test hub's store at start (as an
#: operator would with ``chit-hub branch add``). A hub admits no branch that is not provisioned.
TEST_BRANCHES = (("acme", "b1"), ("acme", "b2"), ("bistro", "b9"), ("globex", "g1"))
ALL_NAMESPACES = [str(ns) for ns in Namespace]


@dataclass
class Recorder:
    """A Socket.IO client that records every event it receives, per namespace.

    ``stream:status`` (the stream's answer after connect) is kept apart, in ``statuses``, so
    ``received`` holds what was published to the client.
    """

    client: socketio.AsyncClient
    received: dict[str, list[tuple[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))

    def events(self, namespace: str, name: str | None = None) -> list[Any]:
        """Payloads received on a namespace (optionally of one event name)."""
        return [data for ev, data in self.received[namespace] if name is None or ev == name]

    async def wait_for(
        self, namespace: str, name: str, count: int = 1, timeout: float = 5.0
    ) -> list[Any]:
        """Wait until ``count`` events of ``name`` arrived on ``namespace``."""
        async with asyncio.timeout(timeout):
            while len(self.events(namespace, name)) < count:
                await asyncio.sleep(0.01)
        return self.events(namespace, name)

    async def wait_status(self, namespace: str, count: int = 1, timeout: float = 5.0) -> Any:
        """The ``count``-th ``stream:status`` received on ``namespace`` (waiting for it)."""
        async with asyncio.timeout(timeout):
            while len(self.statuses[namespace]) < count:
                await asyncio.sleep(0.01)
        return self.statuses[namespace][count - 1]

    async def call(self, namespace: str, event: str, data: Any, timeout: float = 10) -> Any:
        """Emit with an ack and return the ack."""
        return await self.client.call(event, data, namespace=namespace, timeout=timeout)

    async def close(self) -> None:
        """Disconnect."""
        await self.client.disconnect()


class HubHarness:
    """A hub running in the test's event loop, plus helpers to talk to it."""

    def __init__(self, running: RunningHub, data_dir: Path) -> None:
        self.running = running
        self.url = running.url
        self.ctx = running.ctx
        self.data_dir = data_dir
        self._clients: list[Recorder] = []
        #: Branches named by tokens minted here, provisioned in the store before the next call
        #: (as an operator would, with ``chit-hub branch add``): the hub admits no other branch.
        self._to_provision: set[tuple[str, str]] = set()

    @classmethod
    async def start(cls, data_dir: Path, **overrides: Any) -> HubHarness:
        """Start a hub on 127.0.0.1 with an ephemeral port."""
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "data_dir": data_dir,
            "jwt_secret": SECRET,
            "printer_test_timeout": 3.0,
        }
        settings = Settings(**{**options, **overrides})
        harness = cls(await start_hub(settings), data_dir)
        for company, branch in TEST_BRANCHES:
            with contextlib.suppress(TenantConflict):
                await harness.provision(company, branch)
        return harness

    async def stop(self) -> None:
        """Disconnect test clients and stop the hub."""
        for recorder in self._clients:
            if recorder.client.connected:
                await recorder.client.disconnect()
        await self.running.stop()

    def token(
        self,
        role: Role | str = Role.MANAGER,
        company: str | None = "acme",
        branch: str | None = None,
        sub: str | None = None,
        **kw: Any,
    ) -> str:
        """A token signed with the hub's secret."""
        role = Role(role)
        if company is not None and branch is not None and kw.pop("provision", True):
            self._to_provision.add((company, branch))
        return mint(
            SECRET,
            sub=sub or f"{role.value}-user",
            role=role,
            company_id=company,
            branch_id=branch,
            **kw,
        )

    async def connect(
        self,
        token: str,
        namespaces: list[str] | None = None,
        since: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Recorder:
        """A connected client that records every event on the given namespaces.

        ``since`` (a stream offset) is sent as ``auth.since``, as a reconnecting client does.
        """
        await self.provision_pending()
        namespaces = namespaces or ALL_NAMESPACES
        client = socketio.AsyncClient(reconnection=False)
        recorder = Recorder(client)
        for ns in namespaces:

            def record(event: str, *args: Any, _ns: str = ns) -> None:
                if event == STATUS_EVENT:
                    recorder.statuses[_ns].append(args[0] if args else None)
                    return
                recorder.received[_ns].append((event, args[0] if args else None))

            client.on("*", record, namespace=ns)
        await client.connect(
            self.url,
            namespaces=namespaces,
            auth={"token": token} if since is None else {"token": token, "since": since},
            transports=["websocket"],
            wait_timeout=5,
            **kwargs,
        )
        self._clients.append(recorder)
        return recorder

    async def provision(self, company: str, branch: str, name: str | None = None) -> None:
        """Record in the hub's store that ``branch`` belongs to ``company``."""
        async with self.ctx.db.session() as s:
            await tenants.ensure_branch(s, branch, company, name)

    async def provision_pending(self) -> None:
        """Provision every branch named by a token minted so far (in-process hubs only)."""
        pending = getattr(self, "_to_provision", set())
        if not pending or getattr(self, "ctx", None) is None:
            return
        for company, branch in sorted(pending):
            with contextlib.suppress(TenantConflict):  # a test naming another's branch on purpose
                await self.provision(company, branch)
        pending.clear()

    async def post(
        self,
        path: str,
        body: Any = None,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """POST JSON (or raw bytes) and return (status, parsed body)."""
        await self.provision_pending()
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            if raw is not None:
                hdrs.setdefault("Content-Type", "application/json")
                resp = await http.post(self.url + path, data=raw, headers=hdrs)
            else:
                resp = await http.post(self.url + path, json=body, headers=hdrs)
            async with resp:
                return resp.status, await _body(resp)

    async def patch(self, path: str, body: Any, token: str | None = None) -> tuple[int, Any]:
        """PATCH JSON and return (status, parsed body)."""
        await self.provision_pending()
        hdrs = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.patch(self.url + path, json=body, headers=hdrs) as resp,
        ):
            return resp.status, await _body(resp)

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        """GET and return (status, parsed body)."""
        await self.provision_pending()
        hdrs = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.get(self.url + path, headers=hdrs) as resp,
        ):
            return resp.status, await _body(resp)

    async def publish(
        self,
        event: str,
        payload: dict[str, Any],
        company: str = "acme",
        branch: str | None = None,
        namespace: str = "/orders",
    ) -> tuple[int, Any]:
        """Publish through POST /api/v1/events with a service token."""
        body: dict[str, Any] = {
            "namespace": namespace,
            "event": event,
            "companyId": company,
            "payload": payload,
        }
        if branch is not None:
            body["branchId"] = branch
            self._to_provision.add((company, branch))
        return await self.post("/api/v1/events", body, token=self.token(Role.SERVICE, None))


async def _body(resp: aiohttp.ClientResponse) -> Any:
    if resp.content_type == "application/json":
        return await resp.json()
    return await resp.text()


async def settle(seconds: float = 0.2) -> None:
    """Give in-flight socket messages time to arrive before asserting that none did."""
    await asyncio.sleep(seconds)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for processes that must listen on a known port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_healthy(url: str, timeout: float = 30) -> None:
    """Until the hub at ``url`` answers GET /healthz (liveness: 200 while it serves)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    async with http.get(url + "/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)

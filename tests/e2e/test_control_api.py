"""The control API against a real running core: agent service + hub + simulated printer.

The service is agent.control.service.run_service (what ``chit-agent run --headless`` runs) on
the test's own socket; clients are agent.control.client and raw socket connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import logging
import os
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from agent import settings as store
from agent.control.client import ControlClient, ControlError, ServiceRefused
from agent.control.peers import Peer, PeerReader, read_peer
from agent.control.protocol import MAX_LINE
from agent.control.service import run_service
from agent.service import Agent
from agent.simulators.network import SimulatedNetworkPrinter
from tests.e2e.support import device_token, fast_settings, hub_agent, manual
from tests.support import HubHarness

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Unix sockets")

AGENT_ID = "agent-ctl"
GROUP = grp.getgrgid(os.getgid()).gr_name if os.name == "posix" else ""


def build() -> tuple[Agent, bool]:
    """Agents from the stored settings and token, reconnecting fast."""
    agent = Agent(store.load(), store.read_token)
    if agent.link is not None:
        agent.link._base, agent.link._cap = 0.2, 1.0
    return agent, store.read_token() is not None


def write(path: str, text: str) -> None:
    Path(path).write_text(text)


def exists(path: str) -> bool:
    return Path(path).exists()


def read(path: str) -> str:
    return Path(path).read_text()


def address() -> str:
    return os.environ["CHIT_AGENT_CONTROL_SOCKET"]


async def listening(task: asyncio.Task[int]) -> None:
    """Until the service accepts connections (or has ended)."""
    async with asyncio.timeout(10):
        while not task.done():
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_unix_connection(address())
                writer.close()
                return
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def service(
    peer: PeerReader = read_peer, wait: bool = True
) -> AsyncIterator[asyncio.Task[int]]:
    """run_service on the test's control socket until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_service(build, store.load(), stop, peer=peer))
    if wait:
        await listening(task)
    try:
        yield task
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await task


def configure(hub: HubHarness | None, *printers: SimulatedNetworkPrinter, paired: bool) -> None:
    store.save(
        fast_settings(
            agent_id=AGENT_ID,
            hub_url=hub.url if hub else None,
            manual_printers=tuple(manual(p) for p in printers),
            control_group=GROUP,
        )
    )
    if paired and hub is not None:
        store.write_token(device_token(hub, AGENT_ID))


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter(name="Kitchen") as printer:
        yield printer


async def raw(line: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Any]:
    """Open a raw connection, send ``line``, read one answer."""
    reader, writer = await asyncio.open_unix_connection(address(), limit=4 * MAX_LINE)
    writer.write(line)
    await writer.drain()
    answer = await asyncio.wait_for(reader.readline(), 10)
    return reader, writer, json.loads(answer) if answer else None


async def status_when(client: ControlClient, check: Callable[[dict[str, Any]], bool]) -> Any:
    async with asyncio.timeout(15):
        while not check(status := await client.call("status")):
            await asyncio.sleep(0.1)
    return status


async def test_status_printers_and_a_test_page_through_the_service(
    hub: HubHarness, sim: SimulatedNetworkPrinter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    configure(hub, sim, paired=True)
    async with service(), ControlClient(address()) as client:
        await hub.provision_pending()
        hello = await client.call("hello")
        assert hello["protocol"] == 1 and "test_print" in hello["ops"]
        status = await status_when(
            client, lambda s: (s["link"] or {}).get("state") == "connected" and s["printers"]
        )
        assert (status["agentId"], status["paired"], status["hubUrl"]) == (AGENT_ID, True, hub.url)
        assert status["pid"] == os.getpid() and "token" not in json.dumps(status["settings"])
        assert hub_agent(hub, AGENT_ID) is not None
        printers = (await client.call("printers"))["printers"]
        assert [p["printerId"] for p in printers] == [sim.printer_id]
        result = await client.call("test_print", {"printer": printers[0]["name"]})
        assert result["success"] and result["printerId"] == sim.printer_id, result
        assert sim.count_jobs_containing(result["correlationId"]) == 1
        with pytest.raises(ControlError) as unknown:
            await client.call("test_print", {"printer": "Bar"})
        assert unknown.value.code == "unknown_printer" and sim.printer_id in unknown.value.message
        assert (await client.call("scan"))["printers"] == 1
        lines = (await client.call("logs", {"lines": 500}))["lines"]
        assert any("test page printed" in line for line in lines), lines


async def test_settings_read_and_safe_writes(hub: HubHarness, sim: SimulatedNetworkPrinter) -> None:
    configure(hub, paired=True)
    async with service(), ControlClient(address()) as client:
        got = await client.call("settings.get")
        assert got["tokenSet"] is True and got["settings"]["agent_id"] == AGENT_ID
        assert device_token(hub, AGENT_ID)[:20] not in json.dumps(got)
        changed = await client.call(
            "settings.set", {"changes": {"manual_printers": [f"Kitchen={manual(sim)}"]}}
        )
        assert changed["restarted"] is True
        await status_when(client, lambda s: len(s["printers"]) == 1)
        assert store.load_stored().manual_printers == (f"Kitchen={manual(sim)}",)
        for changes, code in [
            ({"hub_url": "http://evil.example"}, "read_only_setting"),
            ({"control_group": "users"}, "read_only_setting"),
            ({"subnets": ["not-a-net"]}, "invalid_params"),
            ({"manual_printers": "10.0.0.1"}, "invalid_params"),
            ({"mdns": "yes"}, "invalid_params"),
            ({}, "invalid_params"),
        ]:
            with pytest.raises(ControlError) as refused:
                await client.call("settings.set", {"changes": changes})
            assert refused.value.code == code, changes
        assert store.load_stored().hub_url == hub.url


async def test_pairing_through_the_service(hub: HubHarness) -> None:
    configure(hub, paired=False)
    async with service(), ControlClient(address()) as client:
        assert (await client.call("status"))["paired"] is False
        with pytest.raises(ControlError) as wrong:
            await client.call("pair", {"code": "WRONG-CODE"})
        assert wrong.value.code == "pairing_failed"
        status, body = await hub.post(
            "/api/v1/pairing-codes", {"branchId": "b1"}, hub.token("manager", "acme")
        )
        assert status == 201, body
        paired = await client.call("pair", {"code": body["code"]})
        assert paired["hubUrl"] == hub.url and paired["branchId"] == "b1"
        await status_when(
            client, lambda s: s["paired"] and (s["link"] or {}).get("state") == "connected"
        )
        assert store.read_token() is not None
        assert hub_agent(hub, paired["agentId"]) is not None


async def test_a_peer_outside_the_group_is_refused(hub: HubHarness) -> None:
    configure(hub, paired=False)
    outsider = Peer(uid=4242, gids=frozenset({4242}), pid=1)
    seen: list[Peer | None] = []

    def peer(sock: Any) -> Peer | None:
        seen.append(read_peer(sock))  # the real credentials are there to read
        return outsider

    async with service(peer=peer):
        with pytest.raises(ServiceRefused) as refused:
            await ControlClient(address()).connect()
        assert "uid 4242" in str(refused.value)
        reader, writer, answer = await raw(b'{"v":1,"id":1,"op":"status"}\n')
        assert answer["error"]["code"] == "forbidden" and answer["id"] is None
        assert await asyncio.wait_for(reader.read(), 5) == b""  # and hung up
        writer.close()
    assert seen and seen[0] is not None and seen[0].uid == os.getuid()


async def test_a_peer_the_kernel_cannot_name_is_refused(hub: HubHarness) -> None:
    configure(hub, paired=False)
    async with service(peer=lambda sock: None):
        with pytest.raises(ServiceRefused):
            await ControlClient(address()).connect()


async def test_bad_requests_get_codes_and_the_server_carries_on(hub: HubHarness) -> None:
    configure(hub, paired=False)
    async with service():
        reader, writer = await asyncio.open_unix_connection(address())
        for line, code in [
            (b"hello?\n", "bad_json"),
            (b"[]\n", "bad_json"),
            (b'{"v":1,"id":1}\n', "bad_request"),
            (b'{"v":9,"id":2,"op":"status"}\n', "unsupported_version"),
            (b'{"v":1,"id":3,"op":"shutdown"}\n', "unknown_op"),
            (b'{"v":1,"id":4,"op":"test_print","params":{}}\n', "invalid_params"),
            (b'{"v":1,"id":5,"op":"logs","params":{"lines":100000}}\n', "invalid_params"),
        ]:
            writer.write(line)
            answer = json.loads(await asyncio.wait_for(reader.readline(), 5))
            assert answer["ok"] is False and answer["error"]["code"] == code, (line, answer)
        writer.write(b'\n{"v":1,"id":"last","op":"status"}\n')  # blank lines are skipped
        answer = json.loads(await asyncio.wait_for(reader.readline(), 5))
        assert answer["ok"] and answer["id"] == "last"
        writer.close()

        big = b'{"v":1,"id":1,"op":"status","params":{"x":"' + b"a" * (2 * MAX_LINE) + b'"}}\n'
        reader, writer, answer = await raw(big)
        assert answer["error"]["code"] == "too_large"
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()

        async with ControlClient(address()) as client:  # the server is still there
            assert (await client.call("status"))["agentId"] == AGENT_ID


async def test_the_socket_is_0660_in_the_group_and_a_second_core_does_not_start(
    hub: HubHarness,
) -> None:
    configure(hub, paired=False)
    async with service() as first:
        info = os.stat(address())
        assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o660
        assert info.st_gid == os.getgid()
        second = await run_service(build, store.load(), asyncio.Event())
        assert second == 1 and not first.done()
        async with ControlClient(address()) as client:
            assert (await client.call("status"))["ready"] is True
    assert not exists(address())


async def test_a_stale_socket_is_replaced_and_a_foreign_file_is_kept(hub: HubHarness) -> None:
    import socket

    configure(hub, paired=False)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(address())
    dead.close()  # a socket file nobody listens on: a core that died
    async with service(), ControlClient(address()) as client:
        assert (await client.call("status"))["ready"] is True
    write(address(), "not a socket")
    async with service(wait=False) as task:  # the core runs, without its control API
        await asyncio.sleep(0.3)
        assert not task.done()
    assert read(address()) == "not a socket"


async def test_a_group_member_pairs_but_cannot_move_the_service_to_another_hub(
    hub: HubHarness,
) -> None:
    configure(hub, paired=False)
    member = Peer(uid=4242, gids=frozenset({4242, os.getgid()}), pid=1)
    async with service(peer=lambda sock: member), ControlClient(address()) as client:
        assert (await client.call("status"))["agentId"] == AGENT_ID  # the group lets it in
        with pytest.raises(ControlError) as moved:
            await client.call("pair", {"code": "ABCD-EFGH", "hubUrl": "http://127.0.0.1:9"})
        assert moved.value.code == "forbidden" and hub.url in moved.value.message
        status, body = await hub.post(
            "/api/v1/pairing-codes", {"branchId": "b1"}, hub.token("manager", "acme")
        )
        assert status == 201, body
        paired = await client.call("pair", {"code": body["code"], "hubUrl": hub.url + "/"})
        assert paired["branchId"] == "b1"
        await status_when(client, lambda s: (s["link"] or {}).get("state") == "connected")
    assert store.load_stored().hub_url == hub.url

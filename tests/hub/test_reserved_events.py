"""Client packets that must never reach the hub's own handlers, sent raw over a websocket.

Seen from outside: ``emit("connect", forged_environ)`` re-ran authentication with the attacker's
environ, ``emit("disconnect")`` unregistered a live session that kept receiving room events, and
``42/orders,[1,2,3]`` raised TypeError inside dispatch with no ack (5,784 tracebacks from one
client in ten minutes). Each must get a refusal ack (when it asks for one) and change nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from shared.tokens import Role
from tests.support import HubHarness, settle

NS = "/orders"
ORDER = {"orderId": "o-1", "status": "new"}


class RawClient:
    """An engine.io v4 websocket speaking Socket.IO packets by hand."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.packets: list[str] = []

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def next(self, prefix: str, timeout: float = 5.0) -> str:
        """The next packet starting with ``prefix`` (answering pings meanwhile)."""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                text = str(msg.data)
                if text == "2":
                    await self.ws.send_str("3")
                    continue
                self.packets.append(text)
                if text.startswith(prefix):
                    return text

    async def ack(self, ack_id: int) -> Any:
        """The payload of ACK ``ack_id`` on the namespace."""
        text = await self.next(f"43{NS},{ack_id}")
        return json.loads(text[len(f"43{NS},{ack_id}") :])[0]


@pytest.fixture
async def raw(hub: HubHarness) -> AsyncIterator[RawClient]:
    """A raw client connected to /orders as staff of acme/b1."""
    url = hub.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
        http.ws_connect(url) as ws,
    ):
        client = RawClient(ws)
        await client.next("0{")
        token = hub.token(Role.STAFF, "acme", "b1", sub="staff-raw")
        await hub.provision_pending()
        await client.send(f"40{NS}," + json.dumps({"token": token}))
        await client.next(f"40{NS},")
        yield client


def _session(hub: HubHarness) -> Any:
    [session] = [s for s in hub.ctx.connections if s.claims.sub == "staff-raw"]
    return session


@pytest.mark.parametrize("name", ["connect", "disconnect", "connect_error", "disconnecting"])
async def test_reserved_names_are_refused_and_change_nothing(
    hub: HubHarness, raw: RawClient, name: str
) -> None:
    forged = {"REMOTE_ADDR": "10.6.6.6", "HTTP_AUTHORIZATION": "Bearer x"}
    await raw.send(f"42{NS},7" + json.dumps([name, forged, {"token": hub.token(Role.MANAGER)}]))
    ack = await raw.ack(7)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "reserved_event"
    session = _session(hub)
    assert session.role is Role.STAFF and session.remote == "127.0.0.1"
    # Still registered, still in its rooms: an order for its branch arrives.
    status, _ = await hub.publish("newOrder", ORDER, branch="b1")
    assert status == 202
    packet = await raw.next(f'42{NS},["newOrder"')
    assert json.loads(packet[len(f"42{NS},") :])[0] == "newOrder"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("[1,2,3]", "invalid_event"),
        ("[]", "invalid_event"),
        ("{}", "invalid_event"),
        ('"newOrder"', "invalid_event"),
        ('[null,{"a":1}]', "invalid_event"),
        ('[["x"],1]', "invalid_event"),
        ('["' + "x" * 200 + '",{}]', "invalid_event"),
        ('["no:such:event",{}]', "unknown_event"),
    ],
)
async def test_malformed_event_packets_get_a_refusal_ack(
    hub: HubHarness, raw: RawClient, body: str, code: str
) -> None:
    await raw.send(f"42{NS},3{body}")
    ack = await raw.ack(3)
    assert ack == {"ok": False, "error": {"code": code, "message": ack["error"]["message"]}}
    assert ack["error"]["message"]


async def test_a_flood_of_bad_packets_logs_once_per_interval(
    hub: HubHarness, raw: RawClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for n in range(200):
        await raw.send(f"42{NS},[{n},2,3]")  # no ack id: nothing is answered
    await raw.send(f"42{NS},9[1]")
    await raw.ack(9)
    await settle()
    refusals = [r for r in caplog.records if r.getMessage() == "event refused"]
    assert len(refusals) == 1
    assert not [r for r in caplog.records if r.exc_info], "no traceback for client input"
    assert hub.ctx.connections.get(_session(hub).namespace, _session(hub).sid) is not None


@pytest.mark.parametrize(
    "packet", ["42/orders,{not json", "42/orders,7[1,", "4x/orders,[]", "42/orders,"]
)
async def test_undecodable_packets_log_no_traceback_and_the_socket_stays(
    hub: HubHarness, raw: RawClient, caplog: pytest.LogCaptureFixture, packet: str
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(20):
        await raw.send(packet)
    await raw.send(f"42{NS},9[1]")
    assert (await raw.ack(9))["error"]["code"] == "invalid_event"
    assert not [r for r in caplog.records if r.exc_info], "no traceback for client input"
    assert len([r for r in caplog.records if r.getMessage() == "event refused"]) <= 2

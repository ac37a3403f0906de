"""Sockets do not outlive their tokens: a warning, then ``auth:expired`` and a disconnect.

Seen from outside: a socket still received its tenant's events 32 s and more after its token
expired. ``auth:refresh`` with a new token for the same identity keeps the socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.tokens import Role
from tests.support import HubHarness, Recorder

NS = "/orders"
ORDER = {"orderId": "o-1", "status": "new"}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubHarness]:
    """A hub with no clock-skew leeway, so the test need not wait out the default 30 s."""
    harness = await HubHarness.start(tmp_path / "hub-data", jwt_leeway_seconds=0)
    try:
        yield harness
    finally:
        await harness.stop()


async def _disconnected(recorder: Recorder, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while recorder.client.connected:
            await asyncio.sleep(0.05)


async def test_socket_is_closed_when_its_token_expires(hub: HubHarness) -> None:
    client = await hub.connect(hub.token(Role.STAFF, "acme", "b1", ttl_seconds=2), [NS])
    [warning] = await client.wait_for(NS, "auth:expiring", timeout=3)
    assert warning["expiresAt"]
    [expired] = await client.wait_for(NS, "auth:expired", timeout=4)
    assert expired["code"] == "token_expired"
    await _disconnected(client)
    assert not [s for s in hub.ctx.connections if s.claims.sub == "staff-user"]
    status, _ = await hub.publish("newOrder", ORDER, branch="b1")
    assert status == 202
    assert client.events(NS, "newOrder") == []


async def test_refresh_keeps_the_socket(hub: HubHarness) -> None:
    client = await hub.connect(hub.token(Role.STAFF, "acme", "b1", ttl_seconds=2), [NS])
    fresh = hub.token(Role.STAFF, "acme", "b1", ttl_seconds=600)
    ack = await client.call(NS, "auth:refresh", {"token": fresh})
    assert ack["ok"] is True and ack["expiresAt"]
    await asyncio.sleep(3)
    assert client.client.connected
    assert client.events(NS, "auth:expired") == []
    await hub.publish("newOrder", ORDER, branch="b1")
    await client.wait_for(NS, "newOrder")


@pytest.mark.parametrize(
    ("role", "company", "branch", "sub"),
    [
        (Role.MANAGER, "acme", "b1", None),  # another role
        (Role.STAFF, "bistro", "b9", None),  # another company
        (Role.STAFF, "acme", "b2", None),  # another branch
        (Role.STAFF, "acme", "b1", "someone-else"),  # another subject
    ],
)
async def test_refresh_must_keep_the_identity(
    hub: HubHarness, role: Role, company: str, branch: str, sub: str | None
) -> None:
    client = await hub.connect(hub.token(Role.STAFF, "acme", "b1"), [NS])
    other = hub.token(role, company, branch, sub=sub or "staff-user", ttl_seconds=600)
    ack = await client.call(NS, "auth:refresh", {"token": other})
    assert ack["ok"] is False and ack["error"]["code"] == "refresh_mismatch"
    session = next(s for s in hub.ctx.connections if s.claims.sub == "staff-user")
    assert (session.company_id, session.branch_id, session.role) == ("acme", "b1", Role.STAFF)


async def test_refresh_with_a_bad_token_is_refused(hub: HubHarness) -> None:
    client = await hub.connect(hub.token(Role.STAFF, "acme", "b1"), [NS])
    ack = await client.call(NS, "auth:refresh", {"token": "not.a.jwt"})
    assert ack["ok"] is False and ack["error"]["code"].startswith("token_")
    expired = hub.token(Role.STAFF, "acme", "b1", ttl_seconds=-120)
    ack = await client.call(NS, "auth:refresh", {"token": expired})
    assert ack["error"]["code"] == "token_expired"
    assert client.client.connected

"""Namespaces and tenants are isolated, including against crafted requests."""

from __future__ import annotations

import pytest

from shared.tokens import Role
from tests.support import ALL_NAMESPACES, HubHarness, settle

ORDER = {"correlationId": "corr-order-1", "orderId": "o1", "status": "new"}
STOCK = {"correlationId": "corr-stock-1", "itemId": "i1", "level": "out"}


async def test_one_client_on_all_three_namespaces(hub: HubHarness) -> None:
    client = await hub.connect(hub.token(Role.MANAGER, "acme"), ALL_NAMESPACES)
    assert set(client.client.namespaces) == set(ALL_NAMESPACES)
    sessions = [s for s in hub.ctx.connections if s.company_id == "acme"]
    assert sorted(str(s.namespace) for s in sessions) == sorted(ALL_NAMESPACES)


async def test_event_on_one_namespace_never_reaches_another(hub: HubHarness) -> None:
    client = await hub.connect(hub.token(Role.MANAGER, "acme"), ALL_NAMESPACES)
    status, _ = await hub.publish("newOrder", ORDER)
    assert status == 202
    await client.wait_for("/orders", "newOrder")
    status, _ = await hub.publish("stockAlert", STOCK, namespace="/availability")
    assert status == 202
    await client.wait_for("/availability", "stockAlert")
    await settle()
    assert client.events("/printing-ws") == []
    assert [e for e, _ in client.received["/orders"]] == ["newOrder"]
    assert [e for e, _ in client.received["/availability"]] == ["stockAlert"]


async def test_company_a_never_receives_company_b(hub: HubHarness) -> None:
    a = await hub.connect(hub.token(Role.MANAGER, "acme"), ALL_NAMESPACES)
    b = await hub.connect(hub.token(Role.MANAGER, "bistro"), ALL_NAMESPACES)
    await hub.publish("newOrder", ORDER, company="bistro")
    await b.wait_for("/orders", "newOrder")
    await settle()
    assert a.events("/orders") == []


async def test_branch_events_reach_branch_and_company_rooms_only(hub: HubHarness) -> None:
    company_wide = await hub.connect(hub.token(Role.MANAGER, "acme"), ["/orders"])
    branch_staff = await hub.connect(hub.token(Role.STAFF, "acme", "b1"), ["/orders"])
    other_tenant = await hub.connect(hub.token(Role.STAFF, "bistro", "b9"), ["/orders"])
    status, body = await hub.publish("newOrder", ORDER, branch="b1")
    assert status == 202 and body["rooms"] == ["company:acme", "branch:b1"]
    await company_wide.wait_for("/orders", "newOrder")
    await branch_staff.wait_for("/orders", "newOrder")
    await settle()
    assert other_tenant.events("/orders") == []
    assert len(branch_staff.events("/orders")) == 1  # one delivery despite two rooms


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("join", {"room": "company:bistro"}),
        ("enter_room", "company:bistro"),
        ("subscribe", {"companyId": "bistro"}),
        ("join_room", {"room": "branch:b9"}),
        ("newOrder", {**ORDER, "companyId": "bistro"}),
    ],
)
async def test_crafted_room_requests_change_nothing(
    hub: HubHarness, event: str, payload: object
) -> None:
    attacker = await hub.connect(hub.token(Role.MANAGER, "acme"), ALL_NAMESPACES)
    victim = await hub.connect(hub.token(Role.MANAGER, "bistro", "b9"), ALL_NAMESPACES)
    for ns in ALL_NAMESPACES:
        ack = await attacker.call(ns, event, payload)
        assert ack["ok"] is False
        assert ack["error"]["code"] in ("unknown_event", "not_accepted")
    for ns in ALL_NAMESPACES:
        sid = attacker.client.get_sid(ns)
        # Every socket is in its own sid room; the attacker must be in nothing else but acme's.
        assert set(hub.ctx.sio.rooms(sid, namespace=ns)) == {sid, "company:acme"}
    await hub.publish("newOrder", ORDER, company="bistro", branch="b9")
    await victim.wait_for("/orders", "newOrder")
    await settle()
    assert attacker.events("/orders") == []


async def test_spoofed_tenant_in_published_payload_is_refused(hub: HubHarness) -> None:
    a = await hub.connect(hub.token(Role.MANAGER, "acme"), ["/orders"])
    b = await hub.connect(hub.token(Role.MANAGER, "bistro"), ["/orders"])
    status, body = await hub.publish("newOrder", {**ORDER, "companyId": "bistro"})
    assert status == 422 and body["code"] == "tenant_mismatch"
    assert body["field"] == "payload.companyId"
    status, body = await hub.publish("newOrder", {**ORDER, "branchId": "b2"}, branch="b1")
    assert status == 422 and body["code"] == "tenant_mismatch"
    await settle()
    assert a.events("/orders") == [] and b.events("/orders") == []


async def test_publishing_to_another_companys_branch_is_refused(hub: HubHarness) -> None:
    victim = await hub.connect(hub.token(Role.STAFF, "bistro", "b9"), ["/orders"])
    status, body = await hub.publish("newOrder", ORDER, company="acme", branch="b9")
    assert status == 404 and body["code"] == "unknown_branch"
    await settle()
    assert victim.events("/orders") == []


async def test_agent_cannot_speak_for_another_agent(hub: HubHarness) -> None:
    agent = await hub.connect(
        hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-1"), ["/printing-ws"]
    )
    watcher = await hub.connect(hub.token(Role.MANAGER, "acme"), ["/printing-ws"])
    printer = {
        "printerId": "net:127.0.0.1:9100",
        "name": "P",
        "connection": "network",
        "source": "manual",
    }
    ack = await agent.call(
        "/printing-ws", "printer:discovered", {"agentId": "agent-2", "printer": printer}
    )
    assert ack["error"]["code"] == "agent_mismatch"
    await settle()
    assert watcher.events("/printing-ws", "printer:discovered") == []


async def test_agent_events_reach_only_its_own_tenant(hub: HubHarness) -> None:
    agent = await hub.connect(
        hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-1"), ["/printing-ws"]
    )
    mine = await hub.connect(hub.token(Role.MANAGER, "acme"), ["/printing-ws"])
    other = await hub.connect(hub.token(Role.MANAGER, "bistro"), ["/printing-ws"])
    printer = {
        "printerId": "net:127.0.0.1:9100",
        "name": "P",
        "connection": "network",
        "source": "manual",
    }
    ack = await agent.call(
        "/printing-ws", "printer:discovered", {"agentId": "agent-1", "printer": printer}
    )
    assert ack == {"ok": True}
    await mine.wait_for("/printing-ws", "printer:discovered")
    await settle()
    assert other.events("/printing-ws") == []

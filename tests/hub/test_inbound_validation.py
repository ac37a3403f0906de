"""Invalid inbound events get an error ack naming the field; the socket stays up."""

from __future__ import annotations

from shared.tokens import Role
from tests.support import HubHarness, settle

PRINTER = {"printerId": "usb:04b8:0e15:SN1", "name": "TM", "connection": "usb", "source": "usb"}


async def _agent(hub: HubHarness):  # type: ignore[no-untyped-def]
    return await hub.connect(
        hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-1"), ["/printing-ws"]
    )


async def test_invalid_payload_names_the_field(hub: HubHarness) -> None:
    agent = await _agent(hub)
    watcher = await hub.connect(hub.token(Role.MANAGER, "acme"), ["/printing-ws"])
    ack = await agent.call(
        "/printing-ws",
        "printer:discovered",
        {"agentId": "agent-1", "printer": {**PRINTER, "connection": "pigeon"}},
    )
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_payload"
    assert ack["error"]["field"] == "printer.connection"
    ack = await agent.call(
        "/printing-ws", "printer:discovered", {"agentId": "agent-1", "printer": PRINTER}
    )
    assert ack == {"ok": True}, "connection must stay usable after a refusal"
    await watcher.wait_for("/printing-ws", "printer:discovered")
    await settle()
    assert len(watcher.events("/printing-ws", "printer:discovered")) == 1


async def test_non_object_and_extra_arguments(hub: HubHarness) -> None:
    agent = await _agent(hub)
    ack = await agent.call("/printing-ws", "agent:heartbeat", "hello")
    assert ack["error"]["code"] == "invalid_payload"
    ack = await agent.client.call(
        "agent:heartbeat", ({"agentId": "agent-1"}, 2), namespace="/printing-ws", timeout=5
    )
    assert ack["error"]["code"] == "invalid_payload"


async def test_role_may_not_send_event(hub: HubHarness) -> None:
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), ["/printing-ws"])
    ack = await manager.call(
        "/printing-ws", "printer:discovered", {"agentId": "agent-1", "printer": PRINTER}
    )
    assert ack["error"]["code"] == "forbidden"
    agent = await _agent(hub)
    ack = await agent.call(
        "/printing-ws", "printer:test", {"correlationId": "corr-12345", "printerId": "p"}
    )
    assert ack["error"]["code"] == "forbidden"


async def test_hub_only_events_are_not_accepted(hub: HubHarness) -> None:
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), ["/printing-ws"])
    ack = await manager.call("/printing-ws", "agent:status", {"agentId": "a", "online": True})
    assert ack["error"]["code"] == "not_accepted"

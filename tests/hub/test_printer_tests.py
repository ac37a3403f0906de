"""Hub side of printer tests, with a scripted agent socket: routing, results, timeouts, tenancy."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.tokens import Role
from tests.support import HubHarness, Recorder, settle

NS = "/printing-ws"
PRINTER = {
    "printerId": "net:127.0.0.1:9100",
    "name": "Kitchen",
    "connection": "network",
    "source": "manual",
    "host": "127.0.0.1",
    "port": 9100,
}


async def _agent(
    hub: HubHarness,
    agent_id: str = "agent-1",
    company: str = "acme",
    branch: str = "b1",
    answer: bool = True,
    success: bool = True,
    printer: dict[str, Any] | None = None,
) -> Recorder:
    """An agent socket that registers PRINTER and answers printer:test like a real agent."""
    token = hub.token(Role.DESKTOP_APP, company, branch, sub=agent_id)
    agent = await hub.connect(token, [NS])
    hello = {"agentId": agent_id, "hostname": "pc-1", "os": "linux", "version": "0.1.0"}
    assert (await agent.call(NS, "agent:hello", hello))["ok"]
    inventory = {"agentId": agent_id, "printers": [printer or PRINTER]}
    assert (await agent.call(NS, "agent:inventory", inventory))["ok"]

    async def on_test(data: dict[str, Any]) -> None:
        agent.received[NS].append(("printer:test", data))
        if not answer:
            return
        result = {
            "correlationId": data["correlationId"],
            "printerId": data["printerId"],
            "agentId": agent_id,
            "success": success,
            "durationMs": 12,
            "status": {"state": "online", "online": True},
        }
        await agent.client.emit("printer:test:result", result, namespace=NS)

    agent.client.on("printer:test", on_test, namespace=NS)
    return agent


async def test_manager_test_round_trip_and_broadcast(hub: HubHarness) -> None:
    agent = await _agent(hub)
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    branch_staff = await hub.connect(hub.token(Role.STAFF, "acme", "b1"), [NS])
    stranger = await hub.connect(hub.token(Role.MANAGER, "bistro"), [NS])
    ack = await manager.call(
        NS, "printer:test", {"correlationId": "corr-test-0001", "printerId": PRINTER["printerId"]}
    )
    assert ack["ok"] is True
    assert ack["result"]["correlationId"] == "corr-test-0001"
    assert ack["result"]["success"] is True
    [sent] = agent.events(NS, "printer:test")
    assert sent["correlationId"] == "corr-test-0001"
    assert sent["requestedBy"] == "manager-user"
    await branch_staff.wait_for(NS, "printer:test:result")
    await manager.wait_for(NS, "printer:test:result")
    await settle()
    assert stranger.events(NS) == []


async def test_repeated_correlation_id_runs_once(hub: HubHarness) -> None:
    agent = await _agent(hub)
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    request = {"correlationId": "corr-test-0002", "printerId": PRINTER["printerId"]}
    first, second = await asyncio.gather(
        manager.call(NS, "printer:test", request), manager.call(NS, "printer:test", request)
    )
    third = await manager.call(NS, "printer:test", request)
    assert first["result"] == second["result"] == third["result"]
    assert len(agent.events(NS, "printer:test")) == 1


async def test_silent_agent_gives_a_timeout_result(hub: HubHarness) -> None:
    await _agent(hub, answer=False)
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    ack = await manager.call(
        NS, "printer:test", {"correlationId": "corr-test-0003", "printerId": PRINTER["printerId"]}
    )
    assert ack["result"]["success"] is False
    assert ack["result"]["error"]["code"] == "timeout"
    assert "did not answer" in ack["result"]["error"]["message"]


async def test_offline_agent_is_reported_at_once(hub: HubHarness) -> None:
    agent = await _agent(hub)
    await agent.close()
    await settle()
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    ack = await manager.call(
        NS,
        "printer:test",
        {"correlationId": "corr-test-0004", "printerId": PRINTER["printerId"]},
        timeout=2,
    )
    assert ack["result"]["error"]["code"] == "agent_offline"
    assert "offline since" in ack["result"]["error"]["message"]


async def test_other_tenants_printer_is_unknown(hub: HubHarness) -> None:
    await _agent(hub, company="bistro", branch="b9", agent_id="agent-9")
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    ack = await manager.call(
        NS, "printer:test", {"correlationId": "corr-test-0005", "printerId": PRINTER["printerId"]}
    )
    assert ack["ok"] is False
    assert ack["error"]["code"] == "unknown_printer"


async def test_branch_staff_cannot_test_another_branchs_printer(hub: HubHarness) -> None:
    await _agent(hub, branch="b2")
    staff = await hub.connect(hub.token(Role.STAFF, "acme", "b1"), [NS])
    ack = await staff.call(
        NS, "printer:test", {"correlationId": "corr-test-0006", "printerId": PRINTER["printerId"]}
    )
    assert ack["error"]["code"] == "unknown_printer"


async def test_agent_cannot_answer_another_agents_test(hub: HubHarness) -> None:
    await _agent(hub, answer=False)
    intruder = await _agent(
        hub, agent_id="agent-2", printer={**PRINTER, "printerId": "net:127.0.0.2:9100"}
    )
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    request = {"correlationId": "corr-test-0007", "printerId": PRINTER["printerId"]}
    pending = asyncio.ensure_future(manager.call(NS, "printer:test", request))
    await asyncio.sleep(0.3)
    forged = {
        "correlationId": "corr-test-0007",
        "printerId": PRINTER["printerId"],
        "agentId": "agent-2",
        "success": True,
        "durationMs": 1,
    }
    ack = await intruder.call(NS, "printer:test:result", forged)
    assert ack["error"]["code"] == "unknown_test"
    assert (await pending)["result"]["error"]["code"] == "timeout"


async def test_rest_test_endpoint_and_result_lookup(hub: HubHarness) -> None:
    await _agent(hub)
    token = hub.token(Role.MANAGER, "acme")
    status, body = await hub.post(f"/api/v1/printers/{PRINTER['printerId']}/test", {}, token=token)
    assert status == 200
    assert body["result"]["success"] is True
    correlation = body["correlationId"]
    status, result = await hub.get(f"/api/v1/tests/{correlation}", token=token)
    assert status == 200
    assert result["correlationId"] == correlation
    status, _ = await hub.get(
        f"/api/v1/tests/{correlation}", token=hub.token(Role.MANAGER, "bistro")
    )
    assert status == 404
    status, body = await hub.post("/api/v1/printers/net:10.0.0.1:9100/test", {}, token=token)
    assert (status, body["code"]) == (404, "unknown_printer")


async def test_agents_and_printers_listing_is_tenant_scoped(hub: HubHarness) -> None:
    await _agent(hub)
    status, body = await hub.get("/api/v1/agents", token=hub.token(Role.MANAGER, "acme"))
    assert status == 200
    [agent] = body["agents"]
    assert agent["agentId"] == "agent-1"
    assert agent["online"] is True
    assert agent["printers"][0]["printerId"] == PRINTER["printerId"]
    status, body = await hub.get("/api/v1/printers", token=hub.token(Role.MANAGER, "bistro"))
    assert body == {"printers": []}
    status, body = await hub.get("/api/v1/printers")
    assert status == 401


async def test_status_updates_reach_watchers(hub: HubHarness) -> None:
    agent = await _agent(hub)
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    update = {
        "agentId": "agent-1",
        "printerId": PRINTER["printerId"],
        "status": {"state": "paper_out", "online": False, "paperOut": True},
    }
    assert (await agent.call(NS, "printerStatusUpdate", update))["ok"]
    [got] = await manager.wait_for(NS, "printerStatusUpdate")
    assert got["status"]["state"] == "paper_out"
    unknown = {**update, "printerId": "net:127.0.0.9:9100"}
    assert (await agent.call(NS, "printerStatusUpdate", unknown))["error"][
        "code"
    ] == "unknown_printer"


async def test_agent_presence_is_broadcast(hub: HubHarness) -> None:
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    agent = await _agent(hub)
    [online] = await manager.wait_for(NS, "agent:status")
    assert online["online"] is True
    await agent.close()
    events = await manager.wait_for(NS, "agent:status", count=2)
    assert events[-1]["online"] is False

"""An agent's test result that comes after the hub stopped waiting is recorded and broadcast."""

from __future__ import annotations

from typing import Any

from shared.tokens import Role
from tests.hub.test_printer_tests import NS, PRINTER, _agent
from tests.support import HubHarness, settle


def _result(correlation_id: str, agent_id: str = "agent-1", success: bool = True) -> dict[str, Any]:
    return {
        "correlationId": correlation_id,
        "printerId": PRINTER["printerId"],
        "agentId": agent_id,
        "success": success,
        "durationMs": 4200,
        "status": {"state": "online", "online": True},
    }


async def test_a_result_after_the_timeout_replaces_the_hubs_verdict(hub: HubHarness) -> None:
    agent = await _agent(hub, answer=False)
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    request = {"correlationId": "corr-late-0001", "printerId": PRINTER["printerId"]}
    ack = await manager.call(NS, "printer:test", request)
    assert ack["result"]["error"]["code"] == "timeout"
    token = hub.token(Role.MANAGER, "acme")
    _, verdict = await hub.get("/api/v1/tests/corr-late-0001", token)
    assert verdict["success"] is False
    late = await agent.call(NS, "printer:test:result", _result("corr-late-0001"))
    assert late["ok"] is True
    status, body = await hub.get("/api/v1/tests/corr-late-0001", token)
    assert status == 200
    assert (body["success"], body.get("error"), body["durationMs"]) == (True, None, 4200)
    broadcasts = await manager.wait_for(NS, "printer:test:result", count=2)
    assert [b["success"] for b in broadcasts] == [False, True]
    again = await manager.call(NS, "printer:test", request)
    assert again["result"]["success"] is True  # asking again answers the real outcome
    assert (await agent.call(NS, "printer:test:result", _result("corr-late-0001")))["ok"]
    await settle()
    assert len(manager.events(NS, "printer:test:result")) == 2  # a re-send changes nothing


async def test_a_real_result_is_never_replaced(hub: HubHarness) -> None:
    agent = await _agent(hub, success=False)
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    request = {"correlationId": "corr-late-0002", "printerId": PRINTER["printerId"]}
    assert (await manager.call(NS, "printer:test", request))["result"]["success"] is False
    assert (await agent.call(NS, "printer:test:result", _result("corr-late-0002")))["ok"]
    _, body = await hub.get("/api/v1/tests/corr-late-0002", hub.token(Role.MANAGER, "acme"))
    assert body["success"] is False


async def test_only_the_tests_agent_may_answer_late(hub: HubHarness) -> None:
    await _agent(hub, answer=False)
    intruder = await _agent(
        hub, agent_id="agent-2", printer={**PRINTER, "printerId": "net:127.0.0.2:9100"}
    )
    stranger = await _agent(hub, agent_id="agent-9", company="bistro", branch="b9")
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), [NS])
    request = {"correlationId": "corr-late-0003", "printerId": PRINTER["printerId"]}
    assert (await manager.call(NS, "printer:test", request))["result"]["success"] is False
    for socket, agent_id in ((intruder, "agent-2"), (stranger, "agent-9")):
        ack = await socket.call(NS, "printer:test:result", _result("corr-late-0003", agent_id))
        assert ack["error"]["code"] == "unknown_test"
    ack = await intruder.call(NS, "printer:test:result", _result("corr-never-asked", "agent-2"))
    assert ack["error"]["code"] == "unknown_test"
    _, body = await hub.get("/api/v1/tests/corr-late-0003", hub.token(Role.MANAGER, "acme"))
    assert body["error"]["code"] == "timeout"

"""The hub as a system of record: history, results across restarts, revocation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import socketio

from shared.tokens import Role
from tests.hub.test_printer_tests import NS, PRINTER, _agent
from tests.support import HubHarness, settle


async def test_printer_detail_with_status_history(hub: HubHarness) -> None:
    agent = await _agent(hub)
    for state in ("paper_out", "online"):
        update = {
            "agentId": "agent-1",
            "printerId": PRINTER["printerId"],
            "status": {"state": state, "online": state == "online"},
        }
        assert (await agent.call(NS, "printerStatusUpdate", update))["ok"]
    token = hub.token(Role.MANAGER, "acme")
    status, body = await hub.get(f"/api/v1/printers/{PRINTER['printerId']}", token)
    assert status == 200
    assert body["agentId"] == "agent-1"
    assert body["agentOnline"] is True
    assert body["status"]["state"] == "online"
    assert [h["state"] for h in body["history"]][:2] == ["online", "paper_out"]
    status, _ = await hub.get(
        f"/api/v1/printers/{PRINTER['printerId']}", hub.token(Role.MANAGER, "bistro")
    )
    assert status == 404
    status, _ = await hub.get(
        f"/api/v1/printers/{PRINTER['printerId']}", hub.token(Role.STAFF, "acme", "b2")
    )
    assert status == 404


async def test_test_results_survive_a_hub_restart(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    hub = await HubHarness.start(data)
    try:
        await _agent(hub)
        token = hub.token(Role.MANAGER, "acme")
        status, body = await hub.post(
            f"/api/v1/printers/{PRINTER['printerId']}/test", {}, token=token
        )
        assert status == 200
        correlation = body["correlationId"]
    finally:
        await hub.stop()
    hub = await HubHarness.start(data)
    try:
        status, result = await hub.get(f"/api/v1/tests/{correlation}", token)
        assert status == 200
        assert result["success"] is True
        assert result["correlationId"] == correlation
        status, _ = await hub.get(f"/api/v1/tests/{correlation}", hub.token(Role.MANAGER, "bistro"))
        assert status == 404
    finally:
        await hub.stop()


async def _connect_error(hub: HubHarness, token: str) -> dict[str, Any]:
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace=NS)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            hub.url,
            namespaces=[NS],
            auth={"token": token},
            transports=["websocket"],
            wait_timeout=5,
        )
    await client.disconnect()
    return errors[0]["data"]  # type: ignore[no-any-return]


async def test_revoking_an_agent_disconnects_and_refuses_it(hub: HubHarness) -> None:
    agent = await _agent(hub)
    status, body = await hub.post(
        "/api/v1/agents/agent-1/revoke", {}, token=hub.token(Role.MANAGER, "bistro")
    )
    assert (status, body["code"]) == (404, "not_found")
    status, body = await hub.post(
        "/api/v1/agents/agent-1/revoke", {}, token=hub.token(Role.STAFF, "acme", "b1")
    )
    assert status == 403
    assert agent.client.connected
    status, body = await hub.post(
        "/api/v1/agents/agent-1/revoke", {}, token=hub.token(Role.MANAGER, "acme")
    )
    assert (status, body["revoked"]) == (200, True)
    await settle(0.5)
    assert not agent.client.connected
    token = hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-1")
    assert (await _connect_error(hub, token))["code"] == "agent_revoked"


async def test_desktop_tokens_need_a_branch(hub: HubHarness) -> None:
    token = hub.token(Role.DESKTOP_APP, "acme", None, sub="agent-x")
    assert (await _connect_error(hub, token))["code"] == "token_claims"

"""NUL and other control characters are refused at the contract, on every backend, with a 4xx.

On PostgreSQL a NUL that reached a query used to be a 500 (text columns cannot hold it); each
case here now answers before any query, naming the field.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from shared.tokens import Role
from tests.support import HubHarness

NUL = "\u0000"


async def _get_raw(hub: HubHarness, path: str, token: str) -> tuple[int, Any]:
    """GET a path exactly as written (percent-escapes are sent, not re-encoded)."""
    url = hub.url + path
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
        http.get(
            aiohttp.client.URL(url, encoded=True), headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


def _is_refusal(status: int, body: Any, field: str | None = None) -> None:
    assert 400 <= status < 500, (status, body)
    assert set(body) >= {"code", "message"}, body
    if field is not None:
        assert body.get("field") == field, body


async def test_login_username_with_nul(any_hub: HubHarness) -> None:
    status, body = await any_hub.post(
        "/api/v1/auth/login", {"username": f"ad{NUL}min", "password": "whatever-123"}
    )
    assert status == 422, body
    _is_refusal(status, body, "username")


async def test_login_password_with_lone_surrogate(any_hub: HubHarness) -> None:
    raw = b'{"username": "admin", "password": "a\\ud800b"}'
    status, body = await any_hub.post("/api/v1/auth/login", raw=raw)
    assert status == 422, body
    _is_refusal(status, body, "password")


async def test_branch_name_with_nul(any_hub: HubHarness) -> None:
    token = any_hub.token(Role.MANAGER, "acme")
    status, body = await any_hub.post(
        "/api/v1/branches", {"branchId": "b7", "name": f"Main{NUL}street"}, token=token
    )
    assert status == 422, body
    _is_refusal(status, body, "name")
    status, body = await any_hub.get("/api/v1/branches", token=token)
    assert status == 200
    assert "b7" not in [b["branchId"] for b in body["branches"]], "nothing was written"


@pytest.mark.parametrize("char", ["\u0000", "\u0007", "\n", "\t", "\u007f"])
async def test_single_line_name_refuses_controls(any_hub: HubHarness, char: str) -> None:
    token = any_hub.token(Role.MANAGER, "acme")
    status, body = await any_hub.post(
        "/api/v1/branches", {"branchId": "b8", "name": f"a{char}b"}, token=token
    )
    _is_refusal(status, body, "name")
    assert "control character" in body["message"]


async def test_pairing_hostname_with_nul_keeps_the_code(any_hub: HubHarness) -> None:
    manager = any_hub.token(Role.MANAGER, "acme")
    status, created = await any_hub.post("/api/v1/pairing-codes", {"branchId": "b1"}, token=manager)
    assert status == 201, created
    redeem = {"code": created["code"], "agentId": "agent-7", "hostname": f"till{NUL}"}
    status, body = await any_hub.post("/api/v1/pairing/redeem", redeem)
    assert status == 422, body
    _is_refusal(status, body, "hostname")
    status, body = await any_hub.post("/api/v1/pairing/redeem", {**redeem, "hostname": "till"})
    assert status == 200, body


async def test_pairing_code_with_nul(any_hub: HubHarness) -> None:
    body = {"code": f"AB{NUL}CD", "agentId": "agent-7"}
    status, answer = await any_hub.post("/api/v1/pairing/redeem", body)
    _is_refusal(status, answer, "code")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/jobs?state=a%00b", "state"),
        ("/api/v1/jobs?printerId=p%01", "printerId"),
        ("/api/v1/agents?branchId=b%00", "branchId"),
        ("/api/v1/printers/a%00b", "printerId"),
        ("/api/v1/tests/corr-%00-12345678", "correlationId"),
        ("/api/v1/jobs/job%00", "jobId"),
    ],
)
async def test_path_and_query_with_controls(any_hub: HubHarness, path: str, field: str) -> None:
    status, body = await _get_raw(any_hub, path, any_hub.token(Role.MANAGER, "acme"))
    _is_refusal(status, body, field)
    assert status == 422


async def test_printer_test_with_bad_path_and_query(any_hub: HubHarness) -> None:
    token = any_hub.token(Role.MANAGER, "acme")
    status, body = await any_hub.post(
        "/api/v1/printers/p1/test?correlationId=bad%00id-123", token=token
    )
    _is_refusal(status, body, "correlationId")
    status, body = await any_hub.post("/api/v1/printers/a%7Fb/test", token=token)
    _is_refusal(status, body, "printerId")


async def test_revoke_with_bad_agent_id(any_hub: HubHarness) -> None:
    token = any_hub.token(Role.MANAGER, "acme")
    status, body = await any_hub.post("/api/v1/agents/a%00b/revoke", token=token)
    _is_refusal(status, body, "agentId")


async def _agent(hub: HubHarness):  # type: ignore[no-untyped-def]
    return await hub.connect(
        hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-1"), ["/printing-ws"]
    )


async def test_agent_hello_with_nul_is_refused(any_hub: HubHarness) -> None:
    agent = await _agent(any_hub)
    hello = {"agentId": "agent-1", "hostname": f"till{NUL}", "os": "linux", "version": "1.0"}
    ack = await agent.call("/printing-ws", "agent:hello", hello)
    assert ack["ok"] is False, ack
    assert ack["error"]["field"] == "hostname"
    ack = await agent.call("/printing-ws", "agent:hello", {**hello, "hostname": "till"})
    assert ack["ok"] is True, ack


async def test_agent_inventory_with_nul_is_refused(any_hub: HubHarness) -> None:
    agent = await _agent(any_hub)
    printer = {"printerId": "usb:1", "name": f"TM{NUL}", "connection": "usb", "source": "usb"}
    ack = await agent.call(
        "/printing-ws", "agent:inventory", {"agentId": "agent-1", "printers": [printer]}
    )
    assert ack["ok"] is False, ack
    assert ack["error"]["field"] == "printers.0.name"
    printer["name"] = "TM"
    ack = await agent.call(
        "/printing-ws", "agent:inventory", {"agentId": "agent-1", "printers": [printer]}
    )
    assert ack["ok"] is True, ack

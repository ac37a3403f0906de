"""Pairing codes: who may issue them, and redeeming one for a device token."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from hub.store import audit, pairing, tenants
from shared.tokens import Role, TokenKeys, verify
from tests.support import SECRET, HubHarness

REDEEM = "/api/v1/pairing/redeem"


async def _code(hub: HubHarness, target: str = "b1", **token: Any) -> tuple[int, Any]:
    """Ask for a code for branch ``target`` with a token made from ``token`` (a manager's)."""
    options: dict[str, Any] = {"role": Role.MANAGER, "company": "acme", **token}
    return await hub.post("/api/v1/pairing-codes", {"branchId": target}, hub.token(**options))


async def test_manager_gets_a_code_and_the_agent_redeems_it(hub: HubHarness) -> None:
    status, issued = await _code(hub)
    assert status == 201, issued
    assert len(issued["code"]) == 9 and issued["code"][4] == "-"
    assert issued["branchId"] == "b1" and issued["expiresAt"]
    body = {"code": issued["code"].lower(), "agentId": "agent-7", "hostname": "till-7"}
    status, paired = await hub.post(REDEEM, body)
    assert status == 200, paired
    assert (paired["companyId"], paired["branchId"], paired["agentId"]) == ("acme", "b1", "agent-7")
    claims = verify(paired["token"], TokenKeys(SECRET))
    assert claims.role is Role.DESKTOP_APP and claims.agent_id == "agent-7"
    assert claims.exp is not None and claims.exp - (claims.iat or 0) > 9 * 365 * 86400
    client = await hub.connect(paired["token"], ["/printing-ws"])
    assert client.client.connected
    async with hub.ctx.db.session() as s:
        actions = [row.action for row in await audit.list_audit(s, "acme")]
    assert actions == ["agent.paired", "pairing_code.created"]


async def test_a_code_works_once(hub: HubHarness) -> None:
    _, issued = await _code(hub)
    first = await hub.post(REDEEM, {"code": issued["code"], "agentId": "agent-1"})
    again = await hub.post(REDEEM, {"code": issued["code"], "agentId": "agent-2"})
    assert first[0] == 200
    assert again == (
        400,
        {"code": "pairing_code_invalid", "message": "the code is wrong, used or expired"},
    )


async def test_an_expired_code_is_refused_like_a_wrong_one(hub: HubHarness) -> None:
    async with hub.ctx.db.session() as s:
        await tenants.ensure_branch(s, "b1", "acme")
        code = await pairing.create_pairing_code(
            s, "acme", "b1", "tester", ttl=timedelta(seconds=-1)
        )
    expired = await hub.post(REDEEM, {"code": code, "agentId": "agent-1"})
    wrong = await hub.post(REDEEM, {"code": "2222-2222", "agentId": "agent-1"})
    assert expired == wrong
    assert expired[0] == 400


async def test_guessing_is_rate_limited(hub: HubHarness) -> None:
    for _ in range(5):
        status, _ = await hub.post(REDEEM, {"code": "2222-2222", "agentId": "agent-1"})
        assert status == 400
    _, issued = await _code(hub)
    status, body = await hub.post(REDEEM, {"code": issued["code"], "agentId": "agent-1"})
    assert status == 429 and body["code"] == "rate_limited"


async def test_another_companys_branch_is_not_found(hub: HubHarness) -> None:
    async with hub.ctx.db.session() as s:
        await tenants.ensure_branch(s, "globex-b1", "globex")
    status, body = await _code(hub, "globex-b1")
    assert status == 404 and body["code"] == "not_found"


async def test_staff_may_not_issue_codes(hub: HubHarness) -> None:
    status, body = await _code(hub, role=Role.STAFF, branch="b1")
    assert status == 403 and body["code"] == "role_not_allowed"


async def test_branch_manager_issues_codes_for_its_own_branch_only(hub: HubHarness) -> None:
    assert (await _code(hub, "b1", branch="b1"))[0] == 201
    status, body = await _code(hub, "b2", branch="b1")
    assert status == 403 and body["code"] == "forbidden_branch"


async def test_behind_a_trusted_proxy_limits_count_clients(tmp_path: Path) -> None:
    harness = await HubHarness.start(tmp_path / "h", trusted_proxies=("127.0.0.1",))
    try:
        bad = {"code": "AAAA-AAAA", "agentId": "agent-x"}
        for n in range(5):
            status, _ = await harness.post(
                "/api/v1/pairing/redeem", bad, headers={"X-Forwarded-For": "203.0.113.7"}
            )
            assert status == 400, n
        status, _ = await harness.post(
            "/api/v1/pairing/redeem", bad, headers={"X-Forwarded-For": "203.0.113.7"}
        )
        assert status == 429
        status, _ = await harness.post(
            "/api/v1/pairing/redeem", bad, headers={"X-Forwarded-For": "203.0.113.8"}
        )
        assert status == 400  # another client behind the same proxy is not blocked
    finally:
        await harness.stop()


async def test_forwarded_header_from_untrusted_peers_is_ignored(hub: HubHarness) -> None:
    bad = {"code": "AAAA-AAAA", "agentId": "agent-x"}
    for n in range(5):
        await hub.post(
            "/api/v1/pairing/redeem", bad, headers={"X-Forwarded-For": f"198.51.100.{n}"}
        )
    status, _ = await hub.post(
        "/api/v1/pairing/redeem", bad, headers={"X-Forwarded-For": "198.51.100.99"}
    )
    assert status == 429

"""Enrolment codes for mass roll-out, tested like an attacker would use them.

Every answer here is checked against the served OpenAPI document (tests.hub.openapi_check).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from hub.store import enrollment, tenants
from hub.store.models import EnrollmentCode
from shared.tokens import Role, TokenKeys, verify
from tests.hub.test_openapi_responses import Caller, _document
from tests.support import SECRET, HubHarness

CODES = "/api/v1/enrollment-codes"
REDEEM = "/api/v1/enrollment/redeem"
REVOKE = "/api/v1/enrollment-codes/{code_id}/revoke"
REFUSED = {
    "code": "enrollment_code_invalid",
    "message": "this enrolment code cannot be used: it is wrong, used up, expired or revoked; "
    "ask your Chit manager for a new one",
}


async def _caller(hub: HubHarness) -> Caller:
    return Caller(hub, await _document(hub))


async def _issue(
    call: Caller, token: str, branch: str = "b1", uses: int = 3, ttl: int = 3600
) -> tuple[int, Any]:
    body = {"branchId": branch, "maxUses": uses, "expiresIn": ttl}
    status, answer, _ = await call("POST", CODES, token=token, json=body)
    return status, answer


async def _redeem(
    call: Caller, code: str, agent_id: str, hostname: str = "till"
) -> tuple[int, Any]:
    body = {"code": code, "agentId": agent_id, "hostname": hostname}
    status, answer, _ = await call("POST", REDEEM, json=body)
    return status, answer


async def _branches(hub: HubHarness) -> None:
    async with hub.ctx.db.session() as s:
        await tenants.ensure_branch(s, "b1", "acme")
        await tenants.ensure_branch(s, "b2", "acme")
        await tenants.ensure_branch(s, "g1", "globex")


async def test_one_code_enrols_many_tills_each_with_its_own_credential(
    any_hub: HubHarness,
) -> None:
    hub = any_hub
    await _branches(hub)
    call = await _caller(hub)
    status, issued = await _issue(call, hub.token(Role.MANAGER, "acme"), uses=3)
    assert status == 201, issued
    assert len(issued["code"]) == 19 and issued["code"].count("-") == 3
    assert (issued["state"], issued["uses"], issued["maxUses"]) == ("active", 0, 3)
    tokens = []
    for n in range(3):
        status, paired = await _redeem(call, issued["code"].lower(), f"till-{n}", f"pos-{n}")
        assert status == 200, paired
        assert (paired["companyId"], paired["branchId"], paired["agentId"]) == (
            "acme",
            "b1",
            f"till-{n}",
        )
        tokens.append(paired["token"])
    claims = [verify(t, TokenKeys(SECRET)) for t in tokens]
    assert len({c.jti for c in claims}) == 3  # one revocable credential per till
    assert all(c.role is Role.DESKTOP_APP and c.branch_id == "b1" for c in claims)
    assert await _redeem(call, issued["code"], "till-3") == (400, REFUSED)  # used up
    # Revoking one till leaves the others connected and able to connect.
    manager = hub.token(Role.MANAGER, "acme")
    status, _ = await hub.post("/api/v1/agents/till-0/revoke", {}, manager)
    assert status == 200
    assert (await hub.connect(tokens[1], ["/printing-ws"])).client.connected
    status, listed, _ = await call("GET", CODES, token=manager)
    assert [(c["codeId"], c["uses"], c["state"]) for c in listed["enrollmentCodes"]] == [
        (issued["codeId"], 3, "used_up")
    ]
    assert "code" not in listed["enrollmentCodes"][0]


async def test_codes_are_stored_hashed(hub: HubHarness) -> None:
    await _branches(hub)
    call = await _caller(hub)
    _, issued = await _issue(call, hub.token(Role.MANAGER, "acme"))
    async with hub.ctx.db.session() as s:
        row = (await s.scalars(select(EnrollmentCode))).one()
    plain = issued["code"].replace("-", "")
    assert plain not in str(vars(row)) and issued["code"] not in str(vars(row))
    assert row.code_hash == enrollment.hash_code(issued["code"])


async def test_used_up_expired_revoked_wrong_and_foreign_codes_get_one_answer(
    hub: HubHarness,
) -> None:
    await _branches(hub)
    call = await _caller(hub)
    manager = hub.token(Role.MANAGER, "acme")
    _, used = await _issue(call, manager, uses=1)
    assert (await _redeem(call, used["code"], "till-a"))[0] == 200
    _, revoked = await _issue(call, manager)
    status, after, _ = await call(
        "POST", REVOKE, REVOKE.format(code_id=revoked["codeId"]), token=manager
    )
    assert status == 200 and after["state"] == "revoked"
    async with hub.ctx.db.session() as s:
        expired, _ = await enrollment.create_code(
            s, "acme", "b1", "tester", 5, timedelta(seconds=-1)
        )
    answers = [
        await _redeem(call, used["code"], "till-b"),
        await _redeem(call, revoked["code"], "till-c"),
        await _redeem(call, expired, "till-d"),
        await _redeem(call, "2222-3333-4444-5555", "till-e"),
    ]
    assert answers == [(400, REFUSED)] * 4


async def test_another_companys_codes_are_not_there(hub: HubHarness) -> None:
    await _branches(hub)
    call = await _caller(hub)
    acme, globex = hub.token(Role.MANAGER, "acme"), hub.token(Role.MANAGER, "globex")
    _, issued = await _issue(call, acme)
    path = REVOKE.format(code_id=issued["codeId"])
    foreign = await call("POST", REVOKE, path, token=globex)
    unknown = await call(
        "POST", REVOKE, REVOKE.format(code_id="00000000-0000-0000-0000-000000000000"), token=globex
    )
    assert foreign[:2] == unknown[:2] and foreign[0] == 404
    assert (await call("GET", CODES, token=globex))[1] == {"enrollmentCodes": []}
    # globex cannot issue codes for acme's branch, nor acme for globex's.
    assert (await _issue(call, globex, branch="b1"))[0] == 404
    assert (await _issue(call, acme, branch="g1"))[0] == 404
    # The code still works for acme: globex's attempt to revoke it changed nothing.
    assert (await _redeem(call, issued["code"], "till-1"))[0] == 200


async def test_who_may_issue_and_revoke(hub: HubHarness) -> None:
    await _branches(hub)
    call = await _caller(hub)
    assert (await _issue(call, hub.token(Role.STAFF, "acme", "b1")))[0] == 403
    assert (await _issue(call, hub.token(Role.DESKTOP_APP, "acme", "b1")))[0] == 403
    status, issued = await _issue(call, hub.token(Role.SERVICE, "acme"), branch="b2")
    assert status == 201 and issued["createdBy"] == "service-user"
    assert (await _issue(call, hub.token(Role.SERVICE, None)))[0] == 403  # not company-scoped
    branch_manager = hub.token(Role.MANAGER, "acme", "b1")
    assert (await _issue(call, branch_manager, branch="b2"))[0] == 403
    # A branch manager sees and revokes its own branch's codes only.
    status, listed, _ = await call("GET", CODES, token=branch_manager)
    assert listed == {"enrollmentCodes": []}
    path = REVOKE.format(code_id=issued["codeId"])
    assert (await call("POST", REVOKE, path, token=branch_manager))[0] == 404


async def test_bad_requests_name_the_field(hub: HubHarness) -> None:
    await _branches(hub)
    call = await _caller(hub)
    manager = hub.token(Role.MANAGER, "acme")
    for body, field in (
        ({"branchId": "b1", "maxUses": 0, "expiresIn": 3600}, "maxUses"),
        ({"branchId": "b1", "maxUses": 10001, "expiresIn": 3600}, "maxUses"),
        ({"branchId": "b1", "maxUses": 5, "expiresIn": 10}, "expiresIn"),
        ({"branchId": "b1", "maxUses": 5, "expiresIn": 91 * 86400}, "expiresIn"),
        ({"branchId": "b1", "maxUses": 5}, "expiresIn"),
        ({"branchId": "b1", "maxUses": 5, "expiresIn": 60, "extra": 1}, "extra"),
    ):
        status, answer, _ = await call("POST", CODES, token=manager, json=body)
        assert (status, answer["field"]) == (422, field), body


async def test_the_last_use_cannot_be_won_twice(any_hub: HubHarness) -> None:
    hub = any_hub
    await _branches(hub)
    call = await _caller(hub)
    _, issued = await _issue(call, hub.token(Role.MANAGER, "acme"), uses=3)
    results = await asyncio.gather(
        *(hub.post(REDEEM, {"code": issued["code"], "agentId": f"race-{n}"}) for n in range(8))
    )
    assert sorted(status for status, _ in results) == [200] * 3 + [400] * 5


async def test_enrolling_never_takes_over_an_existing_agent(hub: HubHarness) -> None:
    await _branches(hub)
    call = await _caller(hub)
    pairing = await hub.post(
        "/api/v1/pairing-codes", {"branchId": "b1"}, hub.token(Role.MANAGER, "acme")
    )
    status, paired = await hub.post(
        "/api/v1/pairing/redeem", {"code": pairing[1]["code"], "agentId": "kitchen-pc"}
    )
    assert status == 200
    _, issued = await _issue(call, hub.token(Role.MANAGER, "globex"), branch="g1")
    status, enrolled = await _redeem(call, issued["code"], "kitchen-pc")
    assert status == 200 and enrolled["agentId"] != "kitchen-pc"
    assert enrolled["companyId"] == "globex"
    # The paired till's own token still works: the enrolment did not replace its credential.
    assert (await hub.connect(paired["token"], ["/printing-ws"])).client.connected


async def test_guessing_shares_the_pairing_routes_budget(hub: HubHarness) -> None:
    await _branches(hub)
    call = await _caller(hub)
    for _ in range(3):
        status, _ = await hub.post("/api/v1/pairing/redeem", {"code": "2222-2222", "agentId": "x"})
        assert status == 400
    for _ in range(2):
        assert (await _redeem(call, "2222-3333-4444-5555", "x"))[0] == 400
    _, issued = await _issue(call, hub.token(Role.MANAGER, "acme"))
    status, answer, response = await call(
        "POST", REDEEM, json={"code": issued["code"], "agentId": "x"}
    )
    assert status == 429 and answer["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1

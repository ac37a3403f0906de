"""GET /api/v1/branches: the caller's company's branches, a branch token only its own."""

from __future__ import annotations

from hub.store import tenants
from shared.tokens import Role
from tests.support import HubHarness


async def _branches(hub: HubHarness) -> None:
    async with hub.ctx.db.session() as s:
        await tenants.ensure_branch(s, "b7", "acme", "Main Street")
        await tenants.ensure_branch(s, "z1", "zeta")


async def test_company_token_sees_every_branch_of_its_company(hub: HubHarness) -> None:
    await _branches(hub)
    status, body = await hub.get("/api/v1/branches", hub.token(Role.MANAGER, "acme"))
    assert status == 200
    assert [(b["branchId"], b["name"]) for b in body["branches"]] == [
        ("b1", "b1"),
        ("b2", "b2"),
        ("b7", "Main Street"),
    ]
    assert {b["companyId"] for b in body["branches"]} == {"acme"}


async def test_branch_token_sees_only_its_branch(hub: HubHarness) -> None:
    await _branches(hub)
    _, body = await hub.get("/api/v1/branches", hub.token(Role.STAFF, "acme", "b2"))
    assert [b["branchId"] for b in body["branches"]] == ["b2"]


async def test_tokens_without_a_company_or_any_token_are_refused(hub: HubHarness) -> None:
    status, body = await hub.get("/api/v1/branches")
    assert status == 401
    assert body["code"] == "token_missing"
    status, body = await hub.get("/api/v1/branches", hub.token(Role.SERVICE, None))
    assert (status, body["code"]) == (403, "forbidden_tenant")
    status, body = await hub.get("/api/v1/branches", hub.token(Role.DESKTOP_APP, "acme", "b1"))
    assert status == 403


async def test_managers_add_branches_to_their_company(hub: HubHarness) -> None:
    await _branches(hub)
    manager = hub.token(Role.MANAGER, "acme")
    status, body = await hub.post(
        "/api/v1/branches", {"branchId": "b3", "name": "Airport"}, token=manager
    )
    assert (status, body["branchId"], body["companyId"]) == (201, "b3", "acme")
    status, body = await hub.post("/api/v1/branches", {"branchId": "b3"}, token=manager)
    assert (status, body["code"]) == (409, "branch_exists")
    status, body = await hub.post("/api/v1/branches", {"branchId": "z1"}, token=manager)
    assert (status, body["code"]) == (409, "branch_exists")  # another company's: no leak
    status, body = await hub.post("/api/v1/branches", {"branchId": "a:b"}, token=manager)
    assert (status, body["field"]) == (422, "branchId")
    status, _ = await hub.post(
        "/api/v1/branches", {"branchId": "b4"}, token=hub.token(Role.STAFF, "acme")
    )
    assert status == 403
    status, body = await hub.post(
        "/api/v1/branches", {"branchId": "b4"}, token=hub.token(Role.MANAGER, "acme", "b1")
    )
    assert (status, body["code"]) == (403, "forbidden_branch")
    _, body = await hub.get("/api/v1/branches", manager)
    assert [b["branchId"] for b in body["branches"]] == ["b1", "b2", "b3", "b7"]

"""Branches of the caller's company (a branch-scoped token sees only its own branch)."""

from __future__ import annotations

from aiohttp import web

from hub.api.auth import require_tenant
from hub.api.errors import raise_error, read_json, validated
from hub.context import ctx_of
from hub.store import audit, tenants
from hub.store.errors import TenantConflict
from shared.tokens import WEB_ROLES, Role
from shared.wire import Identifier, ShortText, WireModel

routes = web.RouteTableDef()
READERS = frozenset({*WEB_ROLES, Role.SERVICE})
CREATORS = frozenset({Role.MANAGER, Role.ADMIN})


class NewBranch(WireModel):
    """Body of ``POST /api/v1/branches``."""

    branch_id: Identifier
    name: ShortText | None = None


def branch_view(branch: tenants.BranchRow) -> dict[str, str]:
    """A branch as the API shows it."""
    return {
        "branchId": branch.id,
        "companyId": branch.company_id,
        "name": branch.name,
        "createdAt": branch.created_at.isoformat(),
    }


@routes.get("/api/v1/branches")
async def list_branches(request: web.Request) -> web.Response:
    """The caller's company's branches, by id; only its own branch for a branch token."""
    ctx = ctx_of(request)
    claims, company = require_tenant(request, READERS)
    async with ctx.db.session() as s:
        rows = await tenants.list_branches(s, company)
    if claims.branch_id is not None:
        rows = [b for b in rows if b.id == claims.branch_id]
    return web.json_response({"branches": [branch_view(b) for b in rows]})


@routes.post("/api/v1/branches")
async def create_branch(request: web.Request) -> web.Response:
    """Add a branch to the caller's company (company-wide managers and admins only)."""
    ctx = ctx_of(request)
    claims, company = require_tenant(request, CREATORS)
    if claims.branch_id is not None:
        raise_error(403, "forbidden_branch", "a branch-scoped token cannot add branches")
    body = validated(NewBranch, await read_json(request, 4096))
    async with ctx.db.session() as s:
        existing = await tenants.get_branch(s, body.branch_id)
        if existing is not None:
            raise_error(409, "branch_exists", f"branch {body.branch_id!r} already exists")
        try:
            row = await tenants.ensure_branch(s, body.branch_id, company, body.name)
        except TenantConflict:
            raise_error(409, "branch_exists", f"branch {body.branch_id!r} already exists")
        await audit.record(s, company, claims.sub, "branch.created", row.id)
    return web.json_response(branch_view(row), status=201)

"""Branches of the caller's company (a branch-scoped token sees only its own branch)."""

from __future__ import annotations

from aiohttp import web

from hub.api.auth import require_tenant
from hub.context import ctx_of
from hub.store import tenants
from shared.tokens import WEB_ROLES, Role

routes = web.RouteTableDef()
READERS = frozenset({*WEB_ROLES, Role.SERVICE})


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

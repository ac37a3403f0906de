"""Branches of the caller's company (a branch-scoped token sees only its own branch).

A branch exists only once provisioned: by an operator (``chit-hub branch add``), a company-wide
manager or admin here, or the platform's service token here (a platform-wide one names the
company in the body). The hub admits no token and no publish naming any other branch.
"""

from __future__ import annotations

from aiohttp import web

from hub.api.auth import require, require_tenant
from hub.api.errors import raise_error, read_json, validated
from hub.context import ctx_of
from hub.store import audit, tenants
from hub.store.errors import TenantConflict
from shared.tokens import WEB_ROLES, Claims, Role
from shared.wire import Identifier, ShortText, WireModel

routes = web.RouteTableDef()
READERS = frozenset({*WEB_ROLES, Role.SERVICE})
CREATORS = frozenset({Role.MANAGER, Role.ADMIN, Role.SERVICE})


class NewBranch(WireModel):
    """Body of ``POST /api/v1/branches``; ``companyId`` only for a platform-wide service token."""

    branch_id: Identifier
    name: ShortText | None = None
    company_id: Identifier | None = None


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
    """Add a branch to a company: the caller's, or the body's for a platform-wide service token."""
    ctx = ctx_of(request)
    claims = require(request, CREATORS)
    if claims.branch_id is not None:
        raise_error(403, "forbidden_branch", "a branch-scoped token cannot add branches")
    body = validated(NewBranch, await read_json(request, 4096))
    company = _company_for(claims, body)
    async with ctx.db.session() as s:
        existing = await tenants.get_branch(s, body.branch_id)
        if existing is not None:
            raise_error(409, "branch_exists", f"branch {body.branch_id!r} already exists")
        try:
            row = await tenants.ensure_branch(s, body.branch_id, company, body.name)
        except TenantConflict:
            raise_error(409, "branch_exists", f"branch {body.branch_id!r} already exists")
        await audit.record(s, company, claims.sub, "branch.created", row.id)
    ctx.directory.learn(row.id, row.company_id)
    return web.json_response(branch_view(row), status=201)


def _company_for(claims: Claims, body: NewBranch) -> str:
    """The company a new branch joins: the token's own; a platform-wide token names it."""
    if claims.company_id is None:
        if body.company_id is None:
            raise_error(422, "invalid_payload", "name the branch's company", "companyId")
        return body.company_id
    if body.company_id is not None and body.company_id != claims.company_id:
        raise_error(403, "forbidden_tenant", "you may add branches to your company only")
    return claims.company_id

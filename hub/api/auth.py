"""Bearer-token checks for REST routes."""

from __future__ import annotations

from aiohttp import web

from hub.api.errors import raise_error
from hub.auth import AuthRefused, authenticate_request
from hub.context import ctx_of
from shared.tokens import Claims, Role


def require(request: web.Request, roles: frozenset[Role]) -> Claims:
    """The caller's verified claims, or a 401/403 JSON error."""
    ctx = ctx_of(request)
    try:
        return authenticate_request(request.headers.get("Authorization"), ctx.keys, roles)
    except AuthRefused as exc:
        status = 403 if exc.code == "role_not_allowed" else 401
        raise_error(status, exc.code, exc.message)


def require_tenant(request: web.Request, roles: frozenset[Role]) -> tuple[Claims, str]:
    """Claims of a tenant-scoped caller and its company id."""
    claims = require(request, roles)
    if claims.company_id is None:
        raise_error(403, "forbidden_tenant", "this route needs a company-scoped token")
    return claims, claims.company_id

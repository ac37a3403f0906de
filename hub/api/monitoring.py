"""Connection-pool status and alerts over REST."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web

from hub.api.auth import require
from hub.context import ctx_of
from shared.tokens import Claims, Role

routes = web.RouteTableDef()
ADMINS = frozenset({Role.ADMIN, Role.OPERATOR})
WATCHERS = frozenset({Role.ADMIN, Role.MANAGER, Role.OPERATOR})


def _scoped(stats: dict[str, Any], claims: Claims) -> dict[str, Any]:
    """A company admin sees only its own company's line of the per-company counts."""
    if claims.role is Role.OPERATOR:
        return stats
    company_id = claims.company_id or ""
    by_company = Counter({company_id: stats["byCompany"].get(company_id, 0)})
    return {**stats, "byCompany": dict(by_company)}


@routes.get("/api/v1/connections")
async def connections(request: web.Request) -> web.Response:
    """Sockets of this instance: total, by namespace, role, desktop vs web, per company."""
    ctx = ctx_of(request)
    claims = require(request, ADMINS)
    stats = ctx.observer.cluster_stats()
    instances = ctx.observer.instance_counts()
    body = {**_scoped(stats, claims), "instances": instances}
    return web.json_response(body)


@routes.get("/api/v1/alerts")
async def alerts(request: web.Request) -> web.Response:
    """Raised and recent alerts: a company's own for its admins and managers; all for operators."""
    ctx = ctx_of(request)
    claims = require(request, WATCHERS)
    if claims.role is Role.OPERATOR:
        return web.json_response(ctx.observer.engine.visible_to(None))
    if claims.company_id is None:
        return web.json_response({"active": [], "recent": []})
    return web.json_response(ctx.observer.engine.visible_to(claims.company_id))

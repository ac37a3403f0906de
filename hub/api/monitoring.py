"""Connection-pool status and alerts over REST."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web

from hub.api.auth import require
from hub.context import ctx_of
from shared.tokens import Role

routes = web.RouteTableDef()
ADMINS = frozenset({Role.ADMIN})
WATCHERS = frozenset({Role.ADMIN, Role.MANAGER})


def _scoped(stats: dict[str, Any], company_id: str | None) -> dict[str, Any]:
    """A company admin sees only its own company's line of the per-company counts."""
    if company_id is None:
        return stats
    by_company = Counter({company_id: stats["byCompany"].get(company_id, 0)})
    return {**stats, "byCompany": dict(by_company)}


@routes.get("/api/v1/connections")
async def connections(request: web.Request) -> web.Response:
    """Sockets of this instance: total, by namespace, role, desktop vs web, per company."""
    ctx = ctx_of(request)
    claims = require(request, ADMINS)
    stats = ctx.observer.cluster_stats()
    instances = ctx.observer.instance_counts()
    body = {**_scoped(stats, claims.company_id), "instances": instances}
    return web.json_response(body)


@routes.get("/api/v1/alerts")
async def alerts(request: web.Request) -> web.Response:
    """Raised and recent alerts; managers see their company's, platform admins all."""
    ctx = ctx_of(request)
    claims = require(request, WATCHERS)
    if claims.role is not Role.ADMIN and claims.company_id is None:
        return web.json_response({"active": [], "recent": []})
    hub_wide = claims.role is Role.ADMIN
    return web.json_response(ctx.observer.engine.visible_to(claims.company_id, hub_wide))

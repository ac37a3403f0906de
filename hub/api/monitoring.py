"""Connection-pool status and alerts over REST."""

from __future__ import annotations

from aiohttp import web

from hub.api.auth import require
from hub.context import ctx_of
from shared.tokens import Role

routes = web.RouteTableDef()
ADMINS = frozenset({Role.ADMIN, Role.OPERATOR})
WATCHERS = frozenset({Role.ADMIN, Role.MANAGER, Role.OPERATOR})


@routes.get("/api/v1/connections")
async def connections(request: web.Request) -> web.Response:
    """The cluster's sockets: total, by namespace, role, desktop vs web, company, instance.

    An operator sees the whole hub; a company's admin sees only its own company's sockets
    (on every instance), never another tenant's counts.
    """
    ctx = ctx_of(request)
    claims = require(request, ADMINS)
    if claims.role is Role.OPERATOR:
        stats = ctx.observer.cluster_stats()
        instances = ctx.observer.instance_counts()
    else:
        assert claims.company_id is not None  # admins always carry their company
        stats = ctx.observer.cluster_stats(claims.company_id)
        instances = ctx.observer.company_instance_counts(claims.company_id)
    return web.json_response({**stats, "instances": instances})


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

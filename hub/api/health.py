"""``GET /healthz`` and ``GET /metrics``."""

from __future__ import annotations

import time

from aiohttp import web

from hub import __version__
from hub.context import ctx_of
from hub.metrics import CONTENT_TYPE_LATEST

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness: the instance answers, with its id, version and connection count."""
    ctx = ctx_of(request)
    return web.json_response(
        {
            "status": "ok",
            "instance": ctx.instance_id,
            "version": __version__,
            "uptimeSeconds": round(time.time() - ctx.started_at, 1),
            "connections": len(ctx.connections),
        }
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    ctx = ctx_of(request)
    body = ctx.observer.metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

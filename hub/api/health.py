"""``GET /healthz`` and ``GET /metrics``."""

from __future__ import annotations

import time

from aiohttp import web

from hub import __version__
from hub.context import HubContext, ctx_of
from hub.metrics import CONTENT_TYPE_LATEST

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness: the instance answers, with its id, version and connection count."""
    ctx = ctx_of(request)
    cluster = _cluster(ctx)
    deaf = bool(cluster and cluster["deaf"])
    return web.json_response(
        {
            "status": "deaf" if deaf else "ok",
            "instance": ctx.instance_id,
            "version": __version__,
            "uptimeSeconds": round(time.time() - ctx.started_at, 1),
            "connections": len(ctx.connections),
            "cluster": cluster,
        },
        status=503 if deaf else 200,
    )


def _cluster(ctx: HubContext) -> dict[str, object] | None:
    """Cluster health: whether this instance hears the cluster channel."""
    if ctx.cluster is None:
        return None
    deaf = ctx.cluster.bus.deaf
    ctx.observer.metrics.cluster_deaf.set(1 if deaf else 0)
    return {"deaf": deaf, "refusedMessages": ctx.cluster.bus.refused_messages}


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    ctx = ctx_of(request)
    body = ctx.observer.metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

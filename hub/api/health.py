"""``GET /healthz`` (liveness), ``GET /readyz`` (readiness) and ``GET /metrics``.

Liveness says the process serves: it answers 200 whenever it can answer at all, also while
Redis or the database is down, because the instance still serves its own clients then and
restarting it would not help. Readiness says the instance can do everything it should:
503 with the reasons when the database or Redis does not answer within ``CHECK_TIMEOUT``,
or when a clustered instance stopped hearing its own pings (deaf).
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from aiohttp import web
from sqlalchemy import text

from hub import __version__
from hub.context import HubContext, ctx_of
from hub.metrics import CONTENT_TYPE_LATEST
from shared.wire import ErrorInfo, ShortText, WireModel

routes = web.RouteTableDef()

#: How long a readiness check waits for the database or Redis (seconds).
CHECK_TIMEOUT = 2.0


class Readiness(WireModel):
    """The ``/readyz`` answer: each check's outcome, and why the instance is not ready."""

    status: Literal["ready", "unready"]
    instance: ShortText
    checks: dict[str, ShortText]
    reasons: list[ErrorInfo]


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
            "cluster": _cluster(ctx),
        }
    )


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Readiness: 200 when the database, Redis and the cluster channel work; else 503 and why."""
    ctx = ctx_of(request)
    checks = {"database": await _database(ctx)}
    if ctx.cluster is not None:
        checks["redis"] = await _redis(ctx)
        checks["clusterChannel"] = _deaf(ctx)
    reasons = [reason for reason in checks.values() if reason is not None]
    answer = Readiness(
        status="unready" if reasons else "ready",
        instance=ctx.instance_id,
        checks={name: "ok" if r is None else r.code for name, r in checks.items()},
        reasons=reasons,
    )
    return web.json_response(answer.to_wire(), status=503 if reasons else 200)


async def _database(ctx: HubContext) -> ErrorInfo | None:
    """None when the database answers a trivial query in time, else the reason."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT), ctx.db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver's error means the same: not ready
        return ErrorInfo(code="database_unreachable", message=_say(exc, "the database"))
    return None


async def _redis(ctx: HubContext) -> ErrorInfo | None:
    """None when Redis answers PING in time, else the reason."""
    assert ctx.cluster is not None
    if await ctx.cluster.state.ping(CHECK_TIMEOUT):
        return None
    return ErrorInfo(code="redis_unreachable", message="Redis does not answer PING in time")


def _deaf(ctx: HubContext) -> ErrorInfo | None:
    """None while the instance hears its own pings on the cluster channel, else the reason."""
    assert ctx.cluster is not None
    if not ctx.cluster.bus.deaf:
        return None
    seconds = ctx.cluster.bus.deaf_after
    return ErrorInfo(
        code="cluster_deaf",
        message=f"this instance has not heard its own cluster pings for over {seconds:g} s",
    )


def _say(exc: BaseException, what: str) -> str:
    if isinstance(exc, TimeoutError):
        return f"{what} did not answer within {CHECK_TIMEOUT:g} s"
    return f"{what} is unreachable ({type(exc).__name__})"


def _cluster(ctx: HubContext) -> dict[str, object] | None:
    """Cluster health, for information: whether this instance hears the cluster channel."""
    if ctx.cluster is None:
        return None
    return {"deaf": ctx.cluster.bus.deaf, "refusedMessages": ctx.cluster.bus.refused_messages}


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    ctx = ctx_of(request)
    body = ctx.observer.metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

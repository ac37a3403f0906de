"""Cash drawer and buzzer over REST: ``POST /api/v1/printers/{id}/drawer`` and ``/buzz``.

200 with the result when the drawer opened (the buzzer sounded); 409 with the code (and the
result) when it could not: ``printer_unreachable``, ``agent_offline``, ``timeout``,
``no_buzzer``; 404 for a printer outside the caller's scope. Every answer carries the
correlation id (``?correlationId=`` to choose it: the same id never acts twice).
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from aiohttp import web
from pydantic import Field, ValidationError

from hub.api.auth import require_tenant
from hub.api.errors import raise_error, read_json, validated
from hub.context import ctx_of
from hub.services.actions import ActionRequest
from hub.services.locator import PrintingError, Requester
from hub.services.printing import new_correlation_id
from shared.events import PrinterBuzzRequest, PrinterDrawerRequest
from shared.tokens import WEB_ROLES
from shared.wire import WireModel

routes = web.RouteTableDef()
B = TypeVar("B", bound=WireModel)


class DrawerBody(WireModel):
    """Which drawer pin, and optionally the pulse (the printer's defaults otherwise)."""

    pin: Literal[2, 5] = 2
    on_ms: Annotated[int, Field(ge=10, le=500)] | None = None
    off_ms: Annotated[int, Field(ge=100, le=1000)] | None = None


class BuzzBody(WireModel):
    """How many beeps, how long each."""

    times: Annotated[int, Field(ge=1, le=9)] = 1
    duration_ms: Annotated[int, Field(ge=100, le=2000)] = 200


async def _run(request: web.Request, action: ActionRequest) -> web.Response:
    ctx = ctx_of(request)
    claims, company = require_tenant(request, WEB_ROLES)
    who = Requester(company, claims.branch_id, claims.sub)
    try:
        result = await ctx.actions.request(who, action)
    except PrintingError as exc:
        raise_error(404 if exc.code == "unknown_printer" else 409, exc.code, exc.message)
    header = {"X-Correlation-Id": action.correlation_id}
    if result.success or result.error is None:
        body = {"correlationId": action.correlation_id, "result": result.to_wire()}
        return web.json_response(body, headers=header)
    # A refusal is the house's error body; the correlation id rides in a header.
    error = {"code": result.error.code, "message": result.error.message}
    return web.json_response(error, status=409, headers=header)


async def _body(request: web.Request, model: type[B]) -> B:
    """The optional JSON body (none: the defaults)."""
    if not request.body_exists:
        return model()
    return validated(model, await read_json(request, ctx_of(request).settings.max_body_bytes))


def _ids(request: web.Request) -> dict[str, str]:
    claims, _ = require_tenant(request, WEB_ROLES)
    return {
        "correlation_id": request.query.get("correlationId") or new_correlation_id(),
        "printer_id": request.match_info["printer_id"],
        "requested_by": claims.sub,
    }


@routes.post("/api/v1/printers/{printer_id}/drawer")
async def open_drawer(request: web.Request) -> web.Response:
    """Open the printer's cash drawer (works while the paper is out or the cover is open)."""
    ids = _ids(request)
    body = await _body(request, DrawerBody)
    try:
        action = PrinterDrawerRequest(**ids, pin=body.pin, on_ms=body.on_ms, off_ms=body.off_ms)
    except ValidationError as exc:
        raise_error(422, "invalid_payload", str(exc.errors()[0]["msg"]), "correlationId")
    return await _run(request, action)


@routes.post("/api/v1/printers/{printer_id}/buzz")
async def buzz(request: web.Request) -> web.Response:
    """Sound the printer's buzzer (printers that have one)."""
    ids = _ids(request)
    body = await _body(request, BuzzBody)
    try:
        action = PrinterBuzzRequest(**ids, times=body.times, duration_ms=body.duration_ms)
    except ValidationError as exc:
        raise_error(422, "invalid_payload", str(exc.errors()[0]["msg"]), "correlationId")
    return await _run(request, action)

"""An order's kitchen tickets over REST: its ticket log, and reprinting any of its tickets."""

from __future__ import annotations

import re

from aiohttp import web

from hub.api.auth import require_tenant
from hub.api.errors import raise_error
from hub.api.jobs import job_view
from hub.api.stations import REPRINT_STATUS
from hub.context import ctx_of
from hub.services.locator import PrintingError, Requester
from hub.store.errors import IdempotencyConflict
from shared.tokens import WEB_ROLES, Role

routes = web.RouteTableDef()
READERS = frozenset({*WEB_ROLES, Role.SERVICE})
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


def _who(request: web.Request, roles: frozenset[Role]) -> Requester:
    claims, company = require_tenant(request, roles)
    return Requester(company, claims.branch_id, claims.sub)


def _order_id(request: web.Request) -> str:
    order_id = request.match_info["order_id"]
    if not _ID.match(order_id):
        raise_error(404, "not_found", "no tickets for this order")
    return order_id


@routes.get("/api/v1/orders/{order_id}/tickets")
async def order_tickets(request: web.Request) -> web.Response:
    """Which station got which lines, when each printed (or why not), reroutes and reprints."""
    ctx = ctx_of(request)
    log = await ctx.ticket_reports.order_log(_who(request, READERS), _order_id(request))
    if log is None:
        raise_error(404, "not_found", "no tickets for this order")
    return web.json_response(log)


@routes.post("/api/v1/orders/{order_id}/tickets/{ticket_id}/reprint")
async def reprint_ticket(request: web.Request) -> web.Response:
    """Print a finished ticket of the order again, marked COPY (201; 200 for a reused key)."""
    ctx = ctx_of(request)
    who = _who(request, WEB_ROLES)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _KEY.match(key):
        raise_error(422, "invalid_header", "Idempotency-Key: 1 to 128 printable ASCII characters")
    try:
        job, created = await ctx.tickets.reprint(
            who, request.match_info["ticket_id"], key, order_id=_order_id(request)
        )
    except PrintingError as exc:
        raise_error(REPRINT_STATUS.get(exc.code, 409), exc.code, exc.message)
    except IdempotencyConflict as exc:
        raise_error(409, "idempotency_conflict", exc.message, "Idempotency-Key")
    return web.json_response(job_view(job), status=201 if created else 200)

"""A branch's kitchen stations and routing rules over REST, the routing preview, reprints.

Everything here is under ``/api/v1/branches/{branch_id}``: the branch must be the caller's
company's (a branch token: its own branch), else 404 like an unknown branch. Managers and
admins change stations and rules (audited); staff read them, see the preview, and reprint.
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from aiohttp import web
from pydantic import Field, ValidationError

from hub.api.auth import require_tenant
from hub.api.errors import raise_error, read_json, validated
from hub.api.jobs import job_view
from hub.context import ctx_of
from hub.services.locator import PrintingError, Requester
from hub.services.stations import StationError, station_view
from hub.services.tenancy import UnknownBranch
from shared.events import OrderEvent
from shared.tickets import MAX_STATIONS, RoutingRules, Station
from shared.tokens import WEB_ROLES, Role
from shared.wire import WireModel, first_error

routes = web.RouteTableDef()
READERS = frozenset({*WEB_ROLES, Role.SERVICE})
EDITORS = frozenset({Role.MANAGER, Role.ADMIN})
REPRINTERS = WEB_ROLES
#: Largest stations or preview body (bytes): fifty stations and a big sample order fit.
MAX_BODY = 512 * 1024
#: Reprint refusals: the HTTP status per service error code.
REPRINT_STATUS = {"not_found": 404, "job_not_final": 409, "unknown_printer": 409}
BASE = "/api/v1/branches/{branch_id}"


class PreviewRequest(WireModel):
    """Body of the preview: a sample order and, optionally, stations and rules not saved yet."""

    order: dict[str, Any]
    stations: Annotated[list[Station], Field(max_length=MAX_STATIONS)] | None = None
    rules: RoutingRules | None = None


async def branch_scope(request: web.Request, roles: frozenset[Role]) -> tuple[Requester, str]:
    """The caller and the path's branch, which must be in the caller's scope (else 404)."""
    claims, company = require_tenant(request, roles)
    branch_id = request.match_info["branch_id"]
    try:
        if claims.branch_id is not None and claims.branch_id != branch_id:
            raise UnknownBranch(branch_id)
        await ctx_of(request).directory.check(company, branch_id)
    except UnknownBranch as exc:
        raise_error(404, exc.code, exc.message)
    return Requester(company, claims.branch_id, claims.sub), branch_id


def _refused(exc: StationError) -> NoReturn:
    raise_error(exc.status, exc.code, exc.message, exc.field)


@routes.get(BASE + "/stations")
async def list_stations(request: web.Request) -> web.Response:
    """The branch's stations, by name."""
    _, branch = await branch_scope(request, READERS)
    rows = await ctx_of(request).stations.stations(branch)
    return web.json_response({"stations": [station_view(r) for r in rows]})


@routes.post(BASE + "/stations")
async def create_station(request: web.Request) -> web.Response:
    """Add a station (409 when its id exists); its printers must be the branch's."""
    who, branch = await branch_scope(request, EDITORS)
    station = validated(Station, await read_json(request, MAX_BODY))
    try:
        row, _ = await ctx_of(request).stations.put(who, branch, station, create_only=True)
    except StationError as exc:
        _refused(exc)
    return web.json_response(station_view(row), status=201)


@routes.put(BASE + "/stations/{station_id}")
async def put_station(request: web.Request) -> web.Response:
    """Create or replace the station of the path (200 replaced, 201 created)."""
    who, branch = await branch_scope(request, EDITORS)
    body = await read_json(request, MAX_BODY)
    station_id = request.match_info["station_id"]
    if isinstance(body, dict) and body.setdefault("stationId", station_id) != station_id:
        raise_error(422, "invalid_payload", "stationId differs from the path", "stationId")
    station = validated(Station, body)
    try:
        row, created = await ctx_of(request).stations.put(who, branch, station)
    except StationError as exc:
        _refused(exc)
    return web.json_response(station_view(row), status=201 if created else 200)


@routes.delete(BASE + "/stations/{station_id}")
async def delete_station(request: web.Request) -> web.Response:
    """Remove a station nothing routes to (409 while rules or the default name it)."""
    who, branch = await branch_scope(request, EDITORS)
    try:
        await ctx_of(request).stations.delete(who, branch, request.match_info["station_id"])
    except StationError as exc:
        _refused(exc)
    return web.json_response({"deleted": request.match_info["station_id"]})


@routes.get(BASE + "/rules")
async def get_rules(request: web.Request) -> web.Response:
    """The branch's routing rules and default station."""
    _, branch = await branch_scope(request, READERS)
    rules = await ctx_of(request).stations.rules(branch)
    return web.json_response(rules.model_dump(mode="json", by_alias=True))


@routes.put(BASE + "/rules")
async def put_rules(request: web.Request) -> web.Response:
    """Replace the rules and default station (every station they name must exist)."""
    who, branch = await branch_scope(request, EDITORS)
    rules = validated(RoutingRules, await read_json(request, MAX_BODY))
    try:
        await ctx_of(request).stations.put_rules(who, branch, rules)
    except StationError as exc:
        _refused(exc)
    return web.json_response(rules.model_dump(mode="json", by_alias=True))


def _sample(order: dict[str, Any]) -> OrderEvent:
    """A sample order: ids and version may be left out; errors name ``order.<field>``."""
    defaults = {"correlationId": "preview-order", "orderId": "preview", "orderVersion": 1}
    try:
        return OrderEvent.model_validate({**defaults, **order})
    except ValidationError as exc:
        where, message = first_error(exc)
        field = f"order.{where}" if where else "order"
        raise_error(422, "invalid_payload", f"{field}: {message}", field)


@routes.post(BASE + "/rules/preview")
async def preview(request: web.Request) -> web.Response:
    """Which station gets which line of a sample order, and each ticket; nothing is saved."""
    _, branch = await branch_scope(request, READERS)
    body = validated(PreviewRequest, await read_json(request, MAX_BODY))
    order = _sample(body.order)
    try:
        result = await ctx_of(request).stations.preview(branch, order, body.stations, body.rules)
    except StationError as exc:
        _refused(exc)
    return web.json_response({"lines": result.lines, "stations": result.stations})


@routes.post(BASE + "/stations/{station_id}/reprint-last")
async def reprint_last(request: web.Request) -> web.Response:
    """Print the station's newest ticket again, marked COPY (201 with the new job)."""
    who, branch = await branch_scope(request, REPRINTERS)
    try:
        job, _ = await ctx_of(request).tickets.reprint_last(
            who, branch, request.match_info["station_id"]
        )
    except PrintingError as exc:
        raise_error(REPRINT_STATUS.get(exc.code, 409), exc.code, exc.message)
    return web.json_response(job_view(job), status=201)


@routes.get(BASE + "/stations/latency")
async def latency(request: web.Request) -> web.Response:
    """Order-to-ticket seconds per station (``minutes``: the window, 1 to 1440, default 60)."""
    _, branch = await branch_scope(request, READERS)
    raw = request.query.get("minutes", "60")
    if not raw.isdigit() or not 1 <= int(raw) <= 1440:
        raise_error(422, "invalid_query", "minutes: a whole number from 1 to 1440", "minutes")
    return web.json_response(await ctx_of(request).ticket_reports.latency(branch, int(raw)))

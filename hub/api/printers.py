"""Agents and printers of the caller's tenant, and printer tests, over REST.

Path and query values arrive checked against their documented types (hub.api.params).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from escpos.capabilities import CAPABILITIES
from pydantic import Field, ValidationError, field_validator

from hub.api.auth import require_tenant
from hub.api.errors import raise_error, read_json, validated
from hub.context import ctx_of
from hub.services.locator import PrintingError, Requester
from hub.services.printing import new_correlation_id
from hub.services.registry import AgentRecord
from shared.events import PrinterSettings, PrinterTestRequest
from shared.printers import CONSERVATIVE_PROFILE
from shared.tokens import WEB_ROLES, Role
from shared.wire import first_error

routes = web.RouteTableDef()
READERS = frozenset({*WEB_ROLES, Role.SERVICE})
#: The update ring of an agent that has none assigned.
DEFAULT_RING = "stable"


def _requester(request: web.Request) -> Requester:
    claims, company = require_tenant(request, READERS)
    return Requester(company, claims.branch_id, claims.sub)


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None


def agent_view(agent: AgentRecord, ring: str = DEFAULT_RING) -> dict[str, Any]:
    """An agent as the API shows it (with its update ring)."""
    info = agent.info
    return {
        "agentId": agent.agent_id,
        "branchId": agent.branch_id,
        "online": agent.online,
        "hostname": info.hostname if info else None,
        "os": info.os if info else None,
        "version": info.version if info else None,
        "lastSeen": _iso(agent.last_seen),
        "offlineSince": _iso(agent.offline_since),
        "state": "online" if agent.online else "offline",
        "ring": ring,
        "printers": [p.to_wire() for p in agent.printers.values()],
    }


def _wanted(view: dict[str, Any], query: Mapping[str, str]) -> bool:
    """Whether an agent passes the fleet filters (version, state, ring), each when given."""
    return all(view[name] == query[name] for name in ("version", "state", "ring") if name in query)


@routes.get("/api/v1/agents")
async def list_agents(request: web.Request) -> web.Response:
    """Agents of the caller's company (or branch), with their printers and live status.

    The fleet page filters with ``branchId``, ``version``, ``state`` and ``ring``.
    """
    ctx = ctx_of(request)
    who = _requester(request)
    agents = await ctx.printing.locator.agents_in_scope(who, request.query.get("branchId"))
    own: dict[str, str] = {}
    default = DEFAULT_RING
    if ctx.updates is not None:
        own, default = await ctx.updates.rings(who.company_id)
    views = [agent_view(a, own.get(a.agent_id, default)) for a in agents]
    return web.json_response({"agents": [v for v in views if _wanted(v, request.query)]})


@routes.get("/api/v1/printers")
async def list_printers(request: web.Request) -> web.Response:
    """Printers of the caller's tenant, each with its agent."""
    ctx = ctx_of(request)
    who = _requester(request)
    agents = await ctx.printing.locator.agents_in_scope(who)
    stored = await ctx.printing.records.settings_in_scope(who.company_id, who.branch_id)
    rows = [
        {
            **agent.printers[pid].to_wire(),
            "agentId": agent.agent_id,
            "branchId": agent.branch_id,
            "agentOnline": agent.online,
            "settings": settings_view(stored.get((agent.agent_id, pid))),
        }
        for agent in agents
        for pid in agent.printers
    ]
    return web.json_response({"printers": rows})


@routes.get("/api/v1/printers/{printer_id}")
async def printer_detail(request: web.Request) -> web.Response:
    """A printer with its latest status and status history (404 outside the caller's scope)."""
    ctx = ctx_of(request)
    who = _requester(request)
    printer_id = request.match_info["printer_id"]
    found = await ctx.printing.records.printer_detail(who.company_id, who.branch_id, printer_id)
    if found is None:
        raise_error(404, "not_found", "no such printer")
    row, history = found
    live = {a.agent_id: a for a in await ctx.printing.locator.agents_in_scope(who)}
    agent = live.get(row.agent_id)
    body = {
        **row.info,
        "agentId": row.agent_id,
        "branchId": row.branch_id,
        "agentOnline": bool(agent and agent.online),
        "status": row.last_status,
        "lastSeen": row.last_seen.isoformat() if row.last_seen else None,
        "removedAt": row.removed_at.isoformat() if row.removed_at else None,
        "settings": settings_view(row.settings),
        "history": [
            {"state": h.state, "status": h.status, "at": h.at.isoformat()} for h in history
        ],
    }
    return web.json_response(body)


MANAGERS = frozenset({Role.MANAGER, Role.ADMIN})


class PrinterSettingsPatch(PrinterSettings):
    """``PATCH /api/v1/printers/{id}``: the settings to change (``null``: back to discovered)."""

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or not value.isprintable()):
            raise ValueError("a name is one line of printable text")
        return value.strip() if value is not None else None

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str | None) -> str | None:
        known = value in CAPABILITIES["profiles"] or value == CONSERVATIVE_PROFILE
        if value is not None and not known:
            raise ValueError(f"no capability profile {value!r} (see python-escpos' profiles)")
        return value


def settings_view(row_settings: dict[str, Any] | None) -> dict[str, Any]:
    """Stored settings as the API shows them: every field, null where none is set."""
    settings = PrinterSettings.model_validate(row_settings or {})
    return settings.model_dump(mode="json", by_alias=True)


@routes.patch("/api/v1/printers/{printer_id}")
async def configure_printer(request: web.Request) -> web.Response:
    """Rename a printer, set its profile, paper width, status channel, text mode or command set
    (managers).

    Stored, audited and sent to the printer's agent (now if it is online, else when it
    reconnects). 404 for a printer outside the caller's scope, another company's included.
    """
    ctx = ctx_of(request)
    claims, company = require_tenant(request, MANAGERS)
    who = Requester(company, claims.branch_id, claims.sub)
    body = await read_json(request, ctx.settings.max_body_bytes)
    changes = validated(PrinterSettingsPatch, body)
    if not changes.model_fields_set:
        raise_error(422, "invalid_payload", "body: name at least one setting to change")
    try:
        row, told = await ctx.printing.settings.update(
            who, request.match_info["printer_id"], changes
        )
    except PrintingError as exc:
        raise_error(404, "not_found", exc.message)
    body = {
        "printerId": row.printer_id,
        "agentId": row.agent_id,
        "branchId": row.branch_id,
        "settings": settings_view(row.settings),
        "sentToAgent": told,
    }
    return web.json_response(body)


@routes.post("/api/v1/agents/{agent_id}/revoke")
async def revoke_agent(request: web.Request) -> web.Response:
    """Revoke an agent: its socket is closed now and its credential refused from now on."""
    ctx = ctx_of(request)
    claims, company = require_tenant(request, MANAGERS)
    who = Requester(company, claims.branch_id, claims.sub)
    agent_id = request.match_info["agent_id"]
    if not await ctx.printing.revoke(who, agent_id):
        raise_error(404, "not_found", "no such agent")
    return web.json_response({"agentId": agent_id, "revoked": True})


@routes.post("/api/v1/printers/{printer_id}/test")
async def test_printer(request: web.Request) -> web.Response:
    """Run a printer test and return its result (200) or a clear error."""
    ctx = ctx_of(request)
    who = _requester(request)
    printer_id = request.match_info["printer_id"]
    correlation = request.query.get("correlationId") or new_correlation_id()
    try:
        test = PrinterTestRequest(
            correlation_id=correlation, printer_id=printer_id, requested_by=who.name
        )
    except ValidationError as exc:
        where, message = first_error(exc)
        raise_error(422, "invalid_payload", f"{where}: {message}", where)
    try:
        result = await ctx.printing.request_test(who, test)
    except PrintingError as exc:
        raise_error(404 if exc.code == "unknown_printer" else 409, exc.code, exc.message)
    return web.json_response({"correlationId": correlation, "result": result.to_wire()})


@routes.get("/api/v1/tests/{correlation_id}")
async def get_test(request: web.Request) -> web.Response:
    """A finished test's result by correlation id (404 for unknown or another tenant's)."""
    ctx = ctx_of(request)
    who = _requester(request)
    result = await ctx.printing.result_of(who.company_id, request.match_info["correlation_id"])
    if result is None:
        raise_error(404, "not_found", "no finished test with this correlation id")
    return web.json_response(result.to_wire())

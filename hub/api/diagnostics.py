"""Diagnostics over REST: a manager asks an agent for a bundle, watches it, downloads it.

Managers and admins only (a bundle holds logs and settings); a branch manager reaches its own
branch's agents only. Another company's agent or bundle answers 404, like an unknown one.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from hub.api.auth import require_tenant
from hub.api.errors import raise_error
from hub.context import ctx_of
from hub.services.diagnostics import DiagnosticsRefused, DiagnosticsService, Outcome, outcome
from hub.services.locator import Requester
from shared.tokens import Role

routes = web.RouteTableDef()
COLLECTORS = frozenset({Role.MANAGER, Role.ADMIN})


def _context(request: web.Request) -> tuple[DiagnosticsService, Requester]:
    ctx = ctx_of(request)
    claims, company = require_tenant(request, COLLECTORS)
    service = DiagnosticsService(ctx.db, ctx.publisher, ctx.printing.locator)
    return service, Requester(company, claims.branch_id, claims.sub)


def diagnostics_view(found: Outcome) -> dict[str, Any]:
    """A request as the API shows it (without its bundle)."""
    row = found.row
    return {
        "diagnosticsId": row.id,
        "agentId": row.agent_id,
        "branchId": row.branch_id,
        "state": found.state,
        "requestedBy": row.requested_by,
        "requestedAt": row.requested_at.isoformat(),
        "completedAt": row.completed_at.isoformat() if row.completed_at else None,
        "expiresAt": row.expires_at.isoformat(),
        "sizeBytes": row.size_bytes,
        "error": found.error,
    }


@routes.post("/api/v1/agents/{agent_id}/diagnostics")
async def collect(request: web.Request) -> web.Response:
    """Ask the agent for a diagnostics bundle (202: poll the answer's diagnosticsId)."""
    service, who = _context(request)
    try:
        row = await service.request(who, request.match_info["agent_id"])
    except DiagnosticsRefused as exc:
        raise_error(404 if exc.code == "not_found" else 409, exc.code, exc.message)
    return web.json_response(diagnostics_view(outcome(row)), status=202)


@routes.get("/api/v1/agents/{agent_id}/diagnostics")
async def of_agent(request: web.Request) -> web.Response:
    """The agent's recent diagnostics requests, newest first."""
    service, who = _context(request)
    try:
        found = await service.of_agent(who, request.match_info["agent_id"])
    except DiagnosticsRefused as exc:
        raise_error(404, exc.code, exc.message)
    return web.json_response({"diagnostics": [diagnostics_view(f) for f in found]})


@routes.get("/api/v1/diagnostics/{diagnostics_id}")
async def one(request: web.Request) -> web.Response:
    """One request: requested, ready (download it) or failed (with the reason)."""
    service, who = _context(request)
    found = await service.get(who, request.match_info["diagnostics_id"])
    if found is None:
        raise_error(404, "not_found", "no such diagnostics bundle (they are kept 72 hours)")
    return web.json_response(diagnostics_view(found))


@routes.get("/api/v1/diagnostics/{diagnostics_id}/bundle")
async def download(request: web.Request) -> web.Response:
    """The bundle as a JSON file download (409 while it is not ready)."""
    service, who = _context(request)
    found = await service.get(who, request.match_info["diagnostics_id"], with_bundle=True)
    if found is None:
        raise_error(404, "not_found", "no such diagnostics bundle (they are kept 72 hours)")
    if found.state != "ready" or found.row.bundle is None:
        raise_error(409, f"diagnostics_{found.state}", found.error or "the bundle is not ready yet")
    row = found.row
    body = {
        "diagnosticsId": row.id,
        "agentId": row.agent_id,
        "branchId": row.branch_id,
        "requestedAt": row.requested_at.isoformat(),
        "completedAt": row.completed_at.isoformat() if row.completed_at else None,
        "bundle": row.bundle,
    }
    name = f"chit-diagnostics-{row.agent_id}-{row.requested_at:%Y%m%dT%H%M%SZ}.json"
    return web.Response(
        text=json.dumps(body, indent=2, ensure_ascii=False),
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

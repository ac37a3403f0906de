"""Agent updates over REST, and the hub's TUF repository over plain HTTP.

- ``/agent-releases/metadata/<file>`` and ``/agent-releases/targets/<file>``: the TUF
  repository, public like any package index (every byte is checked against signed metadata
  by the agent, so serving it needs no secret; builds hold no secrets).
- Operators see builds and promote a version ring by ring; a company's managers and admins
  choose the company's default ring and an agent's own ring (their own agents only: another
  company's agent is 404), and see each agent's update steps.
"""

from __future__ import annotations

from typing import Any, NoReturn

from aiohttp import web

from hub.api.auth import require, require_tenant
from hub.api.errors import raise_error, read_json, validated
from hub.context import ctx_of
from hub.services.updates import AgentUpdates, UpdateError, UpdateService
from shared.tokens import Role
from shared.updates import Ring
from shared.wire import ShortText, WireModel

routes = web.RouteTableDef()
OPERATORS = frozenset({Role.OPERATOR})
RELEASE_READERS = frozenset({Role.OPERATOR, Role.ADMIN, Role.MANAGER})
EDITORS = frozenset({Role.MANAGER, Role.ADMIN})
READERS = frozenset({Role.MANAGER, Role.ADMIN, Role.STAFF})
MAX_BODY = 4096


class Promote(WireModel):
    """Body of a promotion: the signed version the ring runs from now on."""

    version: ShortText


class RingChoice(WireModel):
    """Body of a company's ring choice."""

    ring: Ring


class AgentRingChoice(WireModel):
    """Body of an agent's ring choice; null: follow the company's ring."""

    ring: Ring | None


def _service(request: web.Request) -> UpdateService:
    service = ctx_of(request).updates
    assert service is not None
    return service


def _refused(exc: UpdateError) -> NoReturn:
    raise_error(exc.status, exc.code, exc.message)


@routes.get("/agent-releases/{kind:metadata|targets}/{name:.+}")
async def repository_file(request: web.Request) -> web.StreamResponse:
    """A TUF metadata file or build (404 for anything else)."""
    path = _service(request).repository.file(request.match_info["kind"], request.match_info["name"])
    if path is None:
        raise_error(404, "not_found", "no such file in the agent release repository")
    media = "application/json" if path.suffix == ".json" else "application/octet-stream"
    return web.FileResponse(path, headers={"Content-Type": media, "Cache-Control": "no-cache"})


@routes.get("/api/v1/agent-releases")
async def releases(request: web.Request) -> web.Response:
    """Signed builds and the version each ring runs."""
    require(request, RELEASE_READERS)
    service = _service(request)
    builds = [
        {
            "name": b.name,
            "platform": b.platform,
            "version": b.version,
            "length": b.length,
            "sha256": b.sha256,
        }
        for b in service.builds()
    ]
    rings = [
        {
            "ring": p.ring,
            "version": p.version,
            "promotedBy": p.promoted_by,
            "promotedAt": p.promoted_at.isoformat(),
        }
        for ring in Ring
        if (p := (await service.promotions()).get(str(ring))) is not None
    ]
    return web.json_response({"builds": builds, "rings": rings})


@routes.put("/api/v1/agent-releases/rings/{ring}")
async def promote(request: web.Request) -> web.Response:
    """Promote a signed version to a ring (operators); the ring's connected agents are told."""
    claims = require(request, OPERATORS)
    body = validated(Promote, await read_json(request, MAX_BODY))
    try:
        p = await _service(request).promote(
            Ring(request.match_info["ring"]), body.version, claims.sub
        )
    except UpdateError as exc:
        _refused(exc)
    return web.json_response(
        {
            "ring": p.ring,
            "version": p.version,
            "promotedBy": p.promoted_by,
            "promotedAt": p.promoted_at.isoformat(),
        }
    )


@routes.get("/api/v1/update-ring")
async def company_ring(request: web.Request) -> web.Response:
    """The caller's company's default ring."""
    _, company = require_tenant(request, READERS)
    return web.json_response({"ring": str(await _service(request).company_ring(company))})


@routes.put("/api/v1/update-ring")
async def set_company_ring(request: web.Request) -> web.Response:
    """Set the company's default ring (managers, admins)."""
    claims, company = require_tenant(request, EDITORS)
    body = validated(RingChoice, await read_json(request, MAX_BODY))
    await _service(request).set_company_ring(company, body.ring, claims.sub)
    return web.json_response({"ring": str(body.ring)})


@routes.put("/api/v1/agents/{agent_id}/update-ring")
async def set_agent_ring(request: web.Request) -> web.Response:
    """Give an agent its own ring, or null to follow the company's (managers, admins)."""
    claims, company = require_tenant(request, EDITORS)
    body = validated(AgentRingChoice, await read_json(request, MAX_BODY))
    agent_id = request.match_info["agent_id"]
    service = _service(request)
    try:
        await service.set_agent_ring(company, agent_id, body.ring, claims.sub)
        view = await service.agent_updates(company, agent_id)
    except UpdateError as exc:
        _refused(exc)
    return web.json_response(updates_view(view))


@routes.get("/api/v1/agents/{agent_id}/updates")
async def agent_updates(request: web.Request) -> web.Response:
    """An agent's ring, the version it should run, and the latest steps it reported."""
    _, company = require_tenant(request, READERS)
    try:
        view = await _service(request).agent_updates(company, request.match_info["agent_id"])
    except UpdateError as exc:
        _refused(exc)
    return web.json_response(updates_view(view))


def updates_view(view: AgentUpdates) -> dict[str, Any]:
    """The wire form of an agent's updates."""
    return {
        "agentId": view.agent_id,
        "ring": str(view.ring),
        "ringSource": view.ring_source,
        "targetVersion": view.target_version,
        "version": view.version,
        "steps": [
            {
                "step": s.step,
                "version": s.version,
                "fromVersion": s.from_version,
                "detail": s.detail,
                "at": s.at.isoformat(),
            }
            for s in view.steps
        ],
    }

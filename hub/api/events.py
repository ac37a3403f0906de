"""``POST /api/v1/events``: the platform's backend publishes catalog events to tenant rooms."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from hub.api.auth import require
from hub.api.errors import raise_error, read_json, validated
from hub.context import ctx_of
from hub.services.tenancy import UnknownBranch
from shared.events import EventSpec, PayloadError, lookup, parse
from shared.publish import TENANT_FIELDS, PublishRequest
from shared.tokens import Claims, Role

routes = web.RouteTableDef()


def _envelope(body: Any) -> PublishRequest:
    if not isinstance(body, dict):
        raise_error(422, "invalid_payload", "body must be a JSON object")
    return validated(PublishRequest, body, "invalid_envelope")


def _spec(envelope: PublishRequest) -> EventSpec:
    try:
        spec = lookup(envelope.namespace, envelope.event)
    except PayloadError as exc:
        raise_error(422, exc.code, exc.message, "event")
    if not spec.publishable:
        raise_error(
            422, "not_publishable", f"{spec.name} cannot be published by the platform", "event"
        )
    return spec


def _check_scope(claims: Claims, envelope: PublishRequest) -> None:
    """A company- or branch-scoped service token publishes inside its own scope only."""
    if claims.company_id is not None and claims.company_id != envelope.company_id:
        raise_error(
            403,
            "forbidden_tenant",
            "this service token may not publish to that company",
            "companyId",
        )
    if claims.branch_id is not None and claims.branch_id != envelope.branch_id:
        raise_error(
            403,
            "forbidden_branch",
            "this service token may publish to its own branch only",
            "branchId",
        )


async def _check_branch(request: web.Request, envelope: PublishRequest) -> None:
    """The envelope's branch must be provisioned and the company's (same answer otherwise)."""
    if envelope.branch_id is None:
        return
    try:
        await ctx_of(request).directory.check(envelope.company_id, envelope.branch_id)
    except UnknownBranch as exc:
        raise_error(404, exc.code, exc.message, "branchId")


def _check_tenant_fields(envelope: PublishRequest) -> None:
    for wire_name, attr in TENANT_FIELDS.items():
        value = envelope.payload.get(wire_name)
        if value is not None and value != getattr(envelope, attr):
            raise_error(
                422,
                "tenant_mismatch",
                f"payload.{wire_name} differs from the envelope's {wire_name}",
                f"payload.{wire_name}",
            )


def _with_correlation_id(spec: EventSpec, payload: dict[str, Any]) -> dict[str, Any]:
    if spec.critical and "correlationId" not in payload:
        return {**payload, "correlationId": str(uuid.uuid4())}
    return payload


@routes.post("/api/v1/events")
async def publish_event(request: web.Request) -> web.Response:
    """Validate an event against the catalog and emit it to the tenant's rooms."""
    ctx = ctx_of(request)
    claims = require(request, frozenset({Role.SERVICE}))
    envelope = _envelope(await read_json(request, ctx.settings.max_body_bytes))
    _check_scope(claims, envelope)
    spec = _spec(envelope)
    _check_tenant_fields(envelope)
    await _check_branch(request, envelope)
    size = len(json.dumps(envelope.payload, separators=(",", ":")))
    if size > ctx.settings.max_payload_bytes:
        raise_error(
            413,
            "payload_too_large",
            f"payload is {size} bytes; the limit is {ctx.settings.max_payload_bytes}",
        )
    try:
        model = parse(spec, _with_correlation_id(spec, envelope.payload))
        rooms = await ctx.publisher.to_tenant(spec, model, envelope.company_id, envelope.branch_id)
    except PayloadError as exc:
        status = 413 if exc.code == "message_too_large" else 422
        raise_error(status, exc.code, exc.message, f"payload.{exc.field}" if exc.field else None)
    body = {
        "ok": True,
        "namespace": str(spec.namespace),
        "event": spec.name,
        "rooms": rooms,
        "correlationId": getattr(model, "correlation_id", None),
    }
    body["tickets"] = await ctx.tickets.published(spec, model, envelope)  # kitchen tickets
    return web.json_response(body, status=202)

"""``POST /api/v1/events``: the platform's backend publishes catalog events to tenant rooms.

A streamed event is answered ``202`` only once it is durable (in its company's stream, or in
the instance's outbox while Redis is away: ``queued: true``, no offset yet); when neither can
take it, ``503`` with ``Retry-After``. An ``eventId`` seen before (within the retention) gets
the first answer again with ``duplicate: true``, and nothing is broadcast.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from typing import Any, NoReturn

from aiohttp import web

from hub.api.auth import require
from hub.api.errors import ApiError, json_error, raise_error, read_json, validated
from hub.context import ctx_of
from hub.limits import GuardedSocketServer
from hub.services.publisher import Outgoing, Publication
from hub.services.stream_types import StreamUnavailable
from hub.services.tenancy import UnknownBranch
from shared.events import EventSpec, PayloadError, lookup, parse
from shared.publish import TENANT_FIELDS, PublishBatch, PublishRequest
from shared.streams import OFFSET_FIELD
from shared.tokens import Claims, Role
from shared.wire import error_dict

routes = web.RouteTableDef()
#: Seconds a publisher should wait before retrying when the stream cannot take events.
RETRY_AFTER = 2


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


def _check_reserved(envelope: PublishRequest) -> None:
    if OFFSET_FIELD in envelope.payload:
        raise_error(
            422,
            "reserved_field",
            f"payload.{OFFSET_FIELD} is added by the hub and cannot be published",
            f"payload.{OFFSET_FIELD}",
        )


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


def _answer(spec: EventSpec, envelope: PublishRequest, model: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "ok": True,
        "namespace": str(spec.namespace),
        "event": spec.name,
        "correlationId": getattr(model, "correlation_id", None),
    }
    if envelope.event_id is not None:
        answer["eventId"] = envelope.event_id
    return answer


def _duplicate(published: Publication) -> bool:
    """The same eventId was published before (nothing was broadcast or routed again)."""
    return published.appended is not None and published.appended.first_answer is not None


def _answered(
    answer: dict[str, Any], published: Publication, tickets: Any = None
) -> tuple[int, dict[str, Any]]:
    appended = published.appended
    extra = {"tickets": tickets}  # what the kitchen made of it (null: not an order with lines)
    if appended is None:  # not a streamed event
        return 202, {**answer, "rooms": published.rooms, **extra}
    if appended.first_answer is not None:
        # The first answer; nothing is broadcast or routed to the kitchen again (tickets: null).
        return 202, {**appended.first_answer, "tickets": None, "duplicate": True}
    body = {**answer, "rooms": published.rooms, **extra}
    if appended.queued:
        return 202, {**body, "offset": None, "queued": True}
    assert appended.entry is not None
    return 202, {**body, "offset": appended.entry.offset.to_wire()}


def _unavailable_message(exc: StreamUnavailable) -> str:
    return f"the event could not be made durable ({exc}); nothing was broadcast, retry"


def _unavailable(exc: StreamUnavailable) -> web.Response:
    response = json_error(503, "stream_unavailable", _unavailable_message(exc))
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


@dataclass(frozen=True)
class Prepared:
    """An envelope that passed every check, ready to publish."""

    envelope: PublishRequest
    item: Outgoing


async def _prepare(request: web.Request, claims: Claims, body: Any) -> Prepared:
    """Validate one envelope against the catalog, the token's scope and the limits.

    Raises ApiError for a refused event.
    """
    ctx = ctx_of(request)
    envelope = _envelope(body)
    _check_scope(claims, envelope)
    spec = _spec(envelope)
    _check_reserved(envelope)
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
    except PayloadError as exc:
        _refuse_payload(exc)
    answer = _answer(spec, envelope, model)
    item = Outgoing(spec, model, envelope.company_id, envelope.branch_id, envelope.event_id, answer)
    return Prepared(envelope, item)


def _refuse_payload(exc: PayloadError) -> NoReturn:
    status = 413 if exc.code == "message_too_large" else 422
    raise_error(status, exc.code, exc.message, f"payload.{exc.field}" if exc.field else None)


async def _finish(
    request: web.Request, prepared: Prepared, published: Publication
) -> tuple[int, dict[str, Any]]:
    """The kitchen's part of a published event, and the event's answer."""
    tickets = None
    if not _duplicate(published):
        item = prepared.item
        tickets = await ctx_of(request).tickets.published(  # kitchen tickets
            item.spec, item.payload, prepared.envelope
        )
    assert prepared.item.answer is not None
    return _answered(prepared.item.answer, published, tickets)


async def _publish(request: web.Request, claims: Claims, body: Any) -> tuple[int, dict[str, Any]]:
    """Validate one envelope against the catalog, make it durable and broadcast it.

    Raises ApiError for a refused event and StreamUnavailable when it cannot be made durable.
    """
    prepared = await _prepare(request, claims, body)
    item = prepared.item
    try:
        published = await ctx_of(request).publisher.publish(
            item.spec, item.payload, item.company_id, item.branch_id, item.event_id, item.answer
        )
    except PayloadError as exc:
        _refuse_payload(exc)
    return await _finish(request, prepared, published)


@routes.post("/api/v1/events")
async def publish_event(request: web.Request) -> web.Response:
    """Validate an event against the catalog, make it durable and broadcast it."""
    claims = require(request, frozenset({Role.SERVICE}))
    body = await read_json(request, ctx_of(request).settings.max_body_bytes)
    try:
        status, answer = await _publish(request, claims, body)
    except StreamUnavailable as exc:
        return _unavailable(exc)
    return web.json_response(answer, status=status)


def _batch_of(body: Any) -> list[Any]:
    """The batch's envelopes, once the batch as a whole has the documented shape.

    A batch whose shape is wrong (not 1 to MAX_BATCH_EVENTS envelopes, an envelope missing a
    field) is refused whole with a 422 naming the place (``events.3.companyId``) and nothing
    is published; catalog, payload, size and tenancy checks are then made per event.
    """
    validated(PublishBatch, body, "invalid_envelope")
    events: list[Any] = body["events"]
    return events


@routes.post("/api/v1/events/batch")
async def publish_batch(request: web.Request) -> web.Response:
    """Publish each event of a burst as the single route would, in order, one answer each.

    An event that is refused (catalog, payload, tenancy, branch, size) or cannot be made
    durable is answered with its own error; the others are published all the same. The
    streamed events of a batch are made durable together, in one database transaction.
    """
    claims = require(request, frozenset({Role.SERVICE}))
    events = _batch_of(await read_json(request, ctx_of(request).settings.max_body_bytes))
    sio = ctx_of(request).sio
    with sio.coalesced() if isinstance(sio, GuardedSocketServer) else contextlib.nullcontext():
        results = await _publish_all(request, claims, events)
    return web.json_response({"results": results})


async def _publish_all(request: web.Request, claims: Claims, events: list[Any]) -> list[Any]:
    """Check every event, publish those that passed (together, in order), answer each."""
    results: list[dict[str, Any] | Prepared] = []
    for body in events:
        try:
            results.append(await _prepare(request, claims, body))
        except ApiError as exc:
            results.append(_refused(exc))
    prepared = [r for r in results if isinstance(r, Prepared)]
    published = iter(await ctx_of(request).publisher.publish_many([p.item for p in prepared]))
    answers: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, Prepared):
            answers.append(await _batch_answer(request, result, next(published)))
        else:
            answers.append(result)
    return answers


def _refused(exc: ApiError) -> dict[str, Any]:
    return {"status": exc.status, "body": error_dict(exc.code, exc.message, exc.field)}


async def _batch_answer(
    request: web.Request,
    prepared: Prepared,
    published: Publication | StreamUnavailable | PayloadError,
) -> dict[str, Any]:
    """One published event of a batch: its status and body, refusals included."""
    if isinstance(published, StreamUnavailable):
        answer = error_dict("stream_unavailable", _unavailable_message(published))
        return {"status": 503, "body": answer}
    try:
        if isinstance(published, PayloadError):
            _refuse_payload(published)
        status, body = await _finish(request, prepared, published)
    except ApiError as exc:
        return _refused(exc)
    return {"status": status, "body": body}

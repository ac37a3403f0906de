"""Print jobs over REST: submit raw ESC/POS (base64) or a receipt document, get, list, reprint."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StringConstraints, field_validator, model_validator

from hub.api.auth import require_tenant
from hub.api.errors import raise_error, read_json, validated
from hub.context import ctx_of
from hub.services.jobs import JobRequest
from hub.services.locator import PrintingError, Requester
from hub.store.errors import IdempotencyConflict
from hub.store.jobs import JobEventRow, JobRow
from shared.documents import ReceiptDocument
from shared.tokens import WEB_ROLES, Role
from shared.wire import CorrelationId, PrinterId, WireModel

routes = web.RouteTableDef()
SUBMITTERS = frozenset({*WEB_ROLES, Role.SERVICE})
#: Reprints are a person's decision at the branch: managers, staff and admins, not services.
REPRINTERS = WEB_ROLES
MAX_RAW_BYTES = 512 * 1024
IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$")]
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
#: Job ids are UUIDs; anything else is an unknown job (and never reaches the database).
_JOB_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")
#: Reprint refusals: the HTTP status per service error code.
_REPRINT_STATUS = {"not_found": 404, "job_not_final": 409, "unknown_printer": 409}


class SubmitJob(WireModel):
    """The body of ``POST /api/v1/jobs``: exactly one of ``raw`` and ``document``."""

    printer_id: PrinterId
    raw: str | None = None
    document: ReceiptDocument | None = None
    copies: Annotated[int, Field(ge=1, le=10)] = 1
    idempotency_key: IdempotencyKey | None = None
    correlation_id: CorrelationId | None = None
    expires_in_seconds: Annotated[int, Field(ge=10, le=86400)] = 3600

    @field_validator("raw")
    @classmethod
    def _strict_base64(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            data = None
        if data is None or base64.b64encode(data).decode("ascii") != value:
            raise ValueError("raw must be standard, padded base64")
        if not data:
            raise ValueError("raw must not be empty")
        if len(data) > MAX_RAW_BYTES:
            raise ValueError(f"raw is larger than {MAX_RAW_BYTES} bytes")
        return value

    @model_validator(mode="after")
    def _one_body(self) -> SubmitJob:
        if (self.raw is None) == (self.document is None):
            raise ValueError("exactly one of raw and document is required")
        return self


def _requester(request: web.Request, roles: frozenset[Role]) -> Requester:
    claims, company = require_tenant(request, roles)
    return Requester(company, claims.branch_id, claims.sub)


def job_view(job: JobRow, events: list[JobEventRow] | None = None) -> dict[str, Any]:
    """A job as the API shows it."""
    view: dict[str, Any] = {
        "jobId": job.id,
        "printerId": job.printer_id,
        "agentId": job.agent_id,
        "branchId": job.branch_id,
        "correlationId": job.correlation_id,
        "kind": job.kind,
        "copies": job.copies,
        "state": job.state,
        "attempts": job.attempts,
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "idempotencyKey": job.idempotency_key,
        "submittedBy": job.submitted_by,
        "createdAt": job.created_at.isoformat(),
        "updatedAt": job.updated_at.isoformat(),
        "expiresAt": job.expires_at.isoformat(),
        "copyOf": job.copy_of,
    }
    if events is not None:
        view["history"] = [
            {"state": e.state, "at": e.at.isoformat(), "detail": e.detail} for e in events
        ]
    return view


def _parse(body: Any, header_key: str | None) -> SubmitJob:
    if not isinstance(body, dict):
        raise_error(422, "invalid_payload", "body must be a JSON object")
    if header_key and "idempotencyKey" not in body:
        body = {**body, "idempotencyKey": header_key}
    return validated(SubmitJob, body)


@routes.post("/api/v1/jobs")
async def submit_job(request: web.Request) -> web.Response:
    """Queue a print job; 201 when created, 200 when the idempotency key already made it."""
    ctx = ctx_of(request)
    who = _requester(request, SUBMITTERS)
    body = _parse(
        await read_json(request, ctx.settings.max_body_bytes),
        request.headers.get("Idempotency-Key"),
    )
    kind, content = (
        ("raw", {"raw": body.raw})
        if body.raw is not None
        else ("document", body.document.to_wire() if body.document else {})
    )
    job_request = JobRequest(
        printer_id=body.printer_id,
        kind=kind,  # type: ignore[arg-type]
        body=content,
        copies=body.copies,
        lifetime=timedelta(seconds=body.expires_in_seconds),
        idempotency_key=body.idempotency_key,
        correlation_id=body.correlation_id,
    )
    try:
        job, created = await ctx.jobs.submit(who, job_request)
    except PrintingError as exc:
        raise_error(404, exc.code, exc.message, "printerId")
    except IdempotencyConflict as exc:
        raise_error(409, "idempotency_conflict", exc.message, "idempotencyKey")
    return web.json_response(job_view(job), status=201 if created else 200)


@routes.get("/api/v1/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    """One job with its state history (404 for unknown ids and other tenants' jobs)."""
    ctx = ctx_of(request)
    found = await ctx.jobs.get(_requester(request, SUBMITTERS), request.match_info["job_id"])
    if found is None:
        raise_error(404, "not_found", "no such print job")
    job, events = found
    view = job_view(job, events)
    view["reprints"] = await ctx.jobs.reprints(job.id)
    return web.json_response(view)


_FILTERS = {"state", "printerId", "branchId", "since", "limit", "offset"}


def _filters(query: Any) -> dict[str, Any]:
    unknown = set(query) - _FILTERS
    if unknown:
        raise_error(422, "invalid_query", f"unknown query parameters: {sorted(unknown)}")
    out: dict[str, Any] = {}
    try:
        for name in ("limit", "offset"):
            if name in query:
                out[name] = max(0, int(query[name]))
        if "since" in query:
            out["since"] = datetime.fromisoformat(query["since"])
    except ValueError as exc:
        raise_error(422, "invalid_query", str(exc))
    if "state" in query:
        out["state"] = query["state"]
    if "printerId" in query:
        out["printer_id"] = query["printerId"]
    if "branchId" in query:
        out["branch_id"] = query["branchId"]
    return out


@routes.get("/api/v1/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    """Jobs of the caller's scope, newest first, filtered by state, printer, branch, since."""
    ctx = ctx_of(request)
    who = _requester(request, SUBMITTERS)
    jobs = await ctx.jobs.list(who, **_filters(request.query))
    return web.json_response({"jobs": [job_view(j) for j in jobs]})


def _reprint_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise_error(422, "invalid_header", "Idempotency-Key: 1 to 128 printable ASCII characters")
    return key


@routes.post("/api/v1/jobs/{job_id}/reprint")
async def reprint_job(request: web.Request) -> web.Response:
    """Print a finished job again as a marked copy; 201 with the new job (200 for a reused key)."""
    ctx = ctx_of(request)
    who = _requester(request, REPRINTERS)
    key = _reprint_key(request)
    job_id = request.match_info["job_id"]
    if not _JOB_ID.match(job_id):
        raise_error(404, "not_found", "no such print job")
    try:
        job, created = await ctx.jobs.reprint(who, job_id, key)
    except PrintingError as exc:
        raise_error(_REPRINT_STATUS.get(exc.code, 409), exc.code, exc.message)
    except IdempotencyConflict as exc:
        raise_error(409, "idempotency_conflict", exc.message, "Idempotency-Key")
    return web.json_response(job_view(job), status=201 if created else 200)

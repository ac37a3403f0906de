"""The REST API's OpenAPI 3.1 document, served at ``GET /api/v1/openapi.json``.

Request bodies come from the same pydantic models the routes validate with; a test checks
that every route the app serves is described here and nothing else is, so the document
cannot drift from the code. docs/openapi.json is rendered from this module too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from hub import __version__
from hub.api.branches import NewBranch
from hub.api.health import Readiness
from hub.api.jobs import SubmitJob
from hub.api.pairing import CodeRequest, RedeemRequest
from hub.store import passwords
from shared.events import PrinterTestResult
from shared.printers import PrinterInfo
from shared.publish import PublishRequest
from shared.wire import ErrorInfo

routes = web.RouteTableDef()
REF = "#/components/schemas/{model}"

LOGIN_SCHEMA = {
    "type": "object",
    "required": ["username", "password"],
    "additionalProperties": False,
    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
}


PASSWORD_SCHEMA = {
    "type": "object",
    "required": ["currentPassword", "newPassword"],
    "properties": {
        "currentPassword": {"type": "string"},
        "newPassword": {
            "type": "string",
            "minLength": passwords.MIN_LENGTH,
            "maxLength": passwords.MAX_LENGTH,
        },
    },
}


@dataclass(frozen=True)
class Operation:
    """One route: what it does, who may call it, what it takes and answers."""

    method: str
    path: str
    summary: str
    roles: str
    body: type[BaseModel] | dict[str, Any] | None = None
    query: tuple[str, ...] = ()
    ok: int = 200
    response: str | None = None
    errors: tuple[int, ...] = (401, 403)
    #: The schema of the error answers (``/readyz`` answers 503 with its own body).
    failure: str = "ErrorInfo"
    public: bool = False
    tags: tuple[str, ...] = field(default=())


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get",
        "/healthz",
        "Liveness, instance id and connection count",
        "anyone",
        public=True,
        errors=(),
        tags=("operations",),
    ),
    Operation(
        "get",
        "/readyz",
        "Readiness: database, Redis and cluster channel (503 with reasons)",
        "anyone",
        public=True,
        response="Readiness",
        errors=(503,),
        failure="Readiness",
        tags=("operations",),
    ),
    Operation(
        "get",
        "/metrics",
        "Prometheus metrics (text format)",
        "anyone",
        public=True,
        errors=(),
        tags=("operations",),
    ),
    Operation(
        "get",
        "/api/v1/openapi.json",
        "This document",
        "anyone",
        public=True,
        errors=(),
        tags=("operations",),
    ),
    Operation(
        "get",
        "/api/v1/connections",
        "Connection pool: totals by namespace, role, kind, company and instance",
        "admin",
        tags=("operations",),
    ),
    Operation(
        "get",
        "/api/v1/alerts",
        "Raised and recently cleared alerts (managers: their company's)",
        "admin, manager",
        tags=("operations",),
    ),
    Operation(
        "post",
        "/api/v1/events",
        "Publish a catalog event to a tenant's rooms",
        "service",
        PublishRequest,
        ok=202,
        errors=(400, 401, 403, 409, 413, 415, 422),
        tags=("events",),
    ),
    Operation(
        "post",
        "/api/v1/auth/login",
        "Sign in; returns a short-lived token",
        "anyone",
        LOGIN_SCHEMA,
        public=True,
        errors=(400, 401, 422, 429),
        tags=("accounts",),
    ),
    Operation("get", "/api/v1/me", "The caller's verified claims", "any token", tags=("accounts",)),
    Operation(
        "post",
        "/api/v1/me/password",
        "Change the caller's own password (current password required)",
        "any hub account",
        PASSWORD_SCHEMA,
        errors=(401, 403, 404, 422, 429),
        tags=("accounts",),
    ),
    Operation(
        "get",
        "/api/v1/branches",
        "Branches of the caller's company (a branch token: its own branch)",
        "manager, staff, admin, service",
        tags=("branches",),
    ),
    Operation(
        "post",
        "/api/v1/branches",
        "Add a branch to the caller's company",
        "manager, admin (company-wide)",
        NewBranch,
        ok=201,
        errors=(401, 403, 409, 422),
        tags=("branches",),
    ),
    Operation(
        "post",
        "/api/v1/pairing-codes",
        "Create a one-time pairing code for a branch",
        "manager, admin",
        CodeRequest,
        ok=201,
        errors=(401, 403, 404, 422),
        tags=("agents",),
    ),
    Operation(
        "post",
        "/api/v1/pairing/redeem",
        "Exchange a pairing code for a device token",
        "anyone (rate-limited)",
        RedeemRequest,
        public=True,
        errors=(400, 422, 429),
        tags=("agents",),
    ),
    Operation(
        "get",
        "/api/v1/agents",
        "Agents of the caller's company or branch, live",
        "manager, staff, admin, service",
        query=("branchId",),
        tags=("agents",),
    ),
    Operation(
        "post",
        "/api/v1/agents/{agent_id}/revoke",
        "Revoke an agent: disconnected now, refused from now on",
        "manager, admin",
        errors=(401, 403, 404),
        tags=("agents",),
    ),
    Operation(
        "get",
        "/api/v1/printers",
        "Printers of the caller's scope with live status",
        "manager, staff, admin, service",
        tags=("printers",),
    ),
    Operation(
        "get",
        "/api/v1/printers/{printer_id}",
        "A printer with its status history",
        "manager, staff, admin, service",
        errors=(401, 403, 404),
        tags=("printers",),
    ),
    Operation(
        "post",
        "/api/v1/printers/{printer_id}/test",
        "Print a test page and wait for the result",
        "manager, staff, admin, service",
        query=("correlationId",),
        response="PrinterTestResult",
        errors=(401, 403, 404, 409, 422),
        tags=("printers",),
    ),
    Operation(
        "get",
        "/api/v1/tests/{correlation_id}",
        "A finished printer test",
        "manager, staff, admin, service",
        response="PrinterTestResult",
        errors=(401, 403, 404),
        tags=("printers",),
    ),
    Operation(
        "get",
        "/api/v1/tests",
        "Recent printer tests of the caller's company or branch, newest first",
        "manager, staff, admin, service",
        query=("branchId", "limit"),
        errors=(401, 403, 422),
        tags=("printers",),
    ),
    Operation(
        "post",
        "/api/v1/jobs",
        "Submit a print job (raw ESC/POS or a receipt document)",
        "manager, staff, admin, service",
        SubmitJob,
        ok=201,
        errors=(400, 401, 403, 404, 409, 413, 415, 422),
        tags=("jobs",),
    ),
    Operation(
        "get",
        "/api/v1/jobs",
        "Print jobs of the caller's scope, newest first",
        "manager, staff, admin, service",
        query=("state", "printerId", "branchId", "since", "limit", "offset"),
        errors=(401, 403, 422),
        tags=("jobs",),
    ),
    Operation(
        "get",
        "/api/v1/jobs/{job_id}",
        "A print job with its state history",
        "manager, staff, admin, service",
        errors=(401, 403, 404),
        tags=("jobs",),
    ),
)


def _schemas() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        SubmitJob,
        NewBranch,
        CodeRequest,
        RedeemRequest,
        PublishRequest,
        ErrorInfo,
        PrinterTestResult,
        PrinterInfo,
        Readiness,
    ]
    mode: JsonSchemaMode = "validation"
    _, top = models_json_schema([(m, mode) for m in models], ref_template=REF, by_alias=True)
    return dict(top.get("$defs", {}))


def _body(op: Operation) -> dict[str, Any] | None:
    if op.body is None:
        return None
    schema = op.body if isinstance(op.body, dict) else {"$ref": REF.format(model=op.body.__name__)}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = [
        {"name": part[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
        for part in op.path.split("/")
        if part.startswith("{")
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in op.query
    ]
    return params


def _responses(op: Operation) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "success"}
    if op.response:
        ok["content"] = {"application/json": {"schema": {"$ref": REF.format(model=op.response)}}}
    error = {"content": {"application/json": {"schema": {"$ref": REF.format(model=op.failure)}}}}
    responses = {str(op.ok): ok}
    responses.update({str(code): {"description": "error", **error} for code in op.errors})
    return responses


def _operation(op: Operation) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_')}".replace("{", "")
        .replace("}", "")
        .replace(".", "_"),
        "summary": op.summary,
        "description": f"Who may call: {op.roles}.",
        "tags": list(op.tags),
        "parameters": _parameters(op),
        "responses": _responses(op),
    }
    if op.public:
        spec["security"] = []
    body = _body(op)
    if body:
        spec["requestBody"] = body
    return spec


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Chit hub REST API",
            "version": __version__,
            "description": "Errors are JSON {code, message, field}. Ids of another "
            "tenant answer 404, exactly like unknown ids.",
        },
        "servers": [{"url": "http://127.0.0.1:3001"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this hub."""
    return web.json_response(openapi_document())

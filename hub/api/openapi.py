"""The REST API's OpenAPI 3.1 document, served at ``GET /api/v1/openapi.json``.

Request bodies come from the same pydantic models the routes validate with, answers from the
models of hub.api.schemas. Tests check that every route the app serves is described here and
nothing else is, and that each route's real answers (status and body) are the documented
ones, so the document cannot drift from the code. docs/openapi.json is rendered from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from hub import __version__
from hub.api import schemas
from hub.api.accounts import LoginRequest, PasswordChange
from hub.api.actions import BuzzBody, DrawerBody
from hub.api.branches import NewBranch
from hub.api.enrollment import EnrollmentCodeRequest, EnrollRequest
from hub.api.health import Readiness
from hub.api.jobs import SubmitJob
from hub.api.pairing import CodeRequest, RedeemRequest
from hub.api.printers import PrinterSettingsPatch
from hub.api.stations import PreviewRequest
from hub.api.updates import AgentRingChoice, Promote, RingChoice
from shared.events import PrinterTestResult
from shared.publish import PublishBatch, PublishRequest
from shared.tickets import RoutingRules, Station
from shared.tokens import Claims
from shared.updates import Ring
from shared.wire import CorrelationId, ErrorInfo, Identifier, Printable, PrinterId

routes = web.RouteTableDef()
REF = "#/components/schemas/{model}"

#: Any path or query value: no control characters (hub.api.params.refuse_controls).
Text = Annotated[str, Printable()]

#: Path parameters by name, typed as the routes validate them (hub.api.params).
PATH_TYPES: dict[str, Any] = {
    "printer_id": PrinterId,
    "agent_id": Identifier,
    "correlation_id": CorrelationId,
    "job_id": Text,
    "branch_id": Identifier,
    "station_id": Identifier,
    "order_id": Identifier,
    "ticket_id": Text,
    "code_id": Identifier,
    "diagnostics_id": Identifier,
    "ring": Ring,
}

#: What every answer can also be, by cause.
AUTH_ERRORS = (401, 403)
BODY_ERRORS = (400, 408, 413, 415, 422)
PARAM_ERRORS = (422,)

ERROR_TEXT = {
    400: "malformed request (body is not JSON: invalid_json)",
    401: "missing, malformed or expired token",
    403: "the token's role or tenant may not do this",
    404: "no such resource in the caller's scope (another tenant's ids answer the same)",
    405: "method not allowed (the Allow header lists the allowed ones)",
    408: "the request body did not arrive in time (request_timeout)",
    409: "conflict with the current state",
    413: "request body too large (body_too_large, payload_too_large)",
    415: "a JSON body needs Content-Type: application/json (unsupported_media_type)",
    422: "a field, path parameter or query parameter is invalid; field names it",
    429: "too many attempts or connections from this address; see Retry-After",
    503: "not durable now (no stream, no outbox: stream_unavailable); see Retry-After",
}


@dataclass(frozen=True)
class Operation:
    """One route: what it does, who may call it, what it takes and answers."""

    method: str
    path: str
    summary: str
    roles: str
    body: type[BaseModel] | None = None
    query: tuple[tuple[str, Any], ...] = ()
    ok: tuple[int, ...] = (200,)
    response: type[BaseModel] | None = None
    #: Route-specific error statuses; auth, body and parameter errors are added from the rest.
    errors: tuple[int, ...] = ()
    public: bool = False
    media: str = "application/json"
    tags: tuple[str, ...] = field(default=())
    #: Whether the body may be left out (then its defaults apply).
    body_optional: bool = False

    def error_statuses(self) -> list[int]:
        """Every error status this operation can answer."""
        found = set(self.errors)
        found.update(() if self.public else AUTH_ERRORS)
        found.update(BODY_ERRORS if self.body is not None else ())
        found.update(PARAM_ERRORS if self.query or "{" in self.path else ())
        return sorted(found)


READERS = "manager, staff, admin, service"
JOB_QUERY: tuple[tuple[str, Any], ...] = (
    ("state", Text),
    ("printerId", Text),
    ("branchId", Text),
    ("since", AwareDatetime),
    ("limit", Annotated[int, Field(ge=0)]),
    #: Bounded so the database can count that far (SQLite and PostgreSQL: 64-bit).
    ("offset", Annotated[int, Field(ge=0, le=2**31 - 1)]),
)

_STATIONS = "/api/v1/branches/{branch_id}/stations"
_RULES = "/api/v1/branches/{branch_id}/rules"
_READ = "manager, staff, admin, service"
_EDIT = "manager, admin"
_REPRINT = "manager, staff, admin"


UPDATE_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get",
        "/api/v1/agent-releases",
        "Signed agent builds (the TUF repository) and the version each ring runs",
        "operator, admin, manager",
        response=schemas.AgentReleases,
        tags=("updates",),
    ),
    Operation(
        "put",
        "/api/v1/agent-releases/rings/{ring}",
        "Promote a signed version to a ring; its connected agents are told",
        "operator",
        Promote,
        response=schemas.RingPromotion,
        errors=(404,),
        tags=("updates",),
    ),
    Operation(
        "get",
        "/api/v1/update-ring",
        "The company's default update ring",
        "manager, staff, admin",
        response=schemas.CompanyRing,
        tags=("updates",),
    ),
    Operation(
        "put",
        "/api/v1/update-ring",
        "Set the company's default update ring",
        "manager, admin",
        RingChoice,
        response=schemas.CompanyRing,
        tags=("updates",),
    ),
    Operation(
        "put",
        "/api/v1/agents/{agent_id}/update-ring",
        "Give an agent its own update ring (null: follow the company's)",
        "manager, admin",
        AgentRingChoice,
        response=schemas.AgentUpdatesView,
        errors=(404,),
        tags=("updates",),
    ),
    Operation(
        "get",
        "/api/v1/agents/{agent_id}/updates",
        "An agent's ring, target version and the update steps it reported",
        "manager, staff, admin",
        response=schemas.AgentUpdatesView,
        errors=(404,),
        tags=("updates",),
    ),
)


def _tickets(method: str, path: str, summary: str, roles: str, *codes: int, **kw: Any) -> Operation:
    """A kitchen-ticket route; auth, body and parameter errors are added like everywhere."""
    specific = tuple(code for code in codes if code in (404, 409))
    if isinstance(kw.get("ok"), int):
        kw["ok"] = (kw["ok"],)
    return Operation(method, path, summary, roles, errors=specific, tags=("tickets",), **kw)


TICKET_OPERATIONS: tuple[Operation, ...] = (
    _tickets("get", _STATIONS, "The branch's kitchen stations", _READ, 404),
    _tickets(
        "post",
        _STATIONS,
        "Add a station (its printers must be the branch's)",
        _EDIT,
        400,
        404,
        409,
        413,
        415,
        422,
        body=Station,
        ok=201,
    ),
    _tickets(
        "put",
        _STATIONS + "/{station_id}",
        "Create or replace a station",
        _EDIT,
        400,
        404,
        413,
        415,
        422,
        body=Station,
    ),
    _tickets(
        "delete",
        _STATIONS + "/{station_id}",
        "Delete a station no rule sends lines to",
        _EDIT,
        404,
        409,
    ),
    _tickets("get", _RULES, "The branch's routing rules and default station", _READ, 404),
    _tickets(
        "put",
        _RULES,
        "Replace the routing rules and default station",
        _EDIT,
        400,
        404,
        413,
        415,
        422,
        body=RoutingRules,
    ),
    _tickets(
        "post",
        _RULES + "/preview",
        "Which station gets which line of a sample order (nothing is saved)",
        _READ,
        400,
        404,
        413,
        415,
        422,
        body=PreviewRequest,
    ),
    _tickets(
        "post",
        _STATIONS + "/{station_id}/reprint-last",
        "Print the station's newest ticket again, marked COPY",
        _REPRINT,
        404,
        409,
        ok=201,
    ),
    _tickets(
        "get",
        _STATIONS + "/latency",
        "Order-to-ticket seconds per station",
        _READ,
        404,
        422,
        query=(("minutes", Annotated[int, Field(ge=1, le=1440)]),),
    ),
    _tickets(
        "get",
        "/api/v1/orders/{order_id}/tickets",
        "An order's ticket log: stations, lines, states, reroutes, reprints, notes",
        _READ,
        404,
    ),
    _tickets(
        "post",
        "/api/v1/orders/{order_id}/tickets/{ticket_id}/reprint",
        "Print a finished ticket again, marked COPY (optional Idempotency-Key header)",
        _REPRINT,
        404,
        409,
        422,
        ok=201,
    ),
)


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get",
        "/healthz",
        "Liveness: the process serves (200 even while Redis is down); instance and counts",
        "anyone",
        response=schemas.Health,
        public=True,
        tags=("operations",),
    ),
    Operation(
        "get",
        "/readyz",
        "Readiness: database, Redis and cluster channel (503 with the reasons)",
        "anyone",
        ok=(200, 503),
        response=Readiness,
        public=True,
        tags=("operations",),
    ),
    Operation(
        "get",
        "/metrics",
        "Prometheus metrics (text format)",
        "anyone",
        public=True,
        media="text/plain",
        tags=("operations",),
    ),
    Operation(
        "get",
        "/api/v1/openapi.json",
        "This document",
        "anyone",
        public=True,
        tags=("operations",),
    ),
    Operation(
        "get",
        "/api/v1/connections",
        "Connection pool: totals by namespace, role, kind, company and instance",
        "admin",
        response=schemas.ConnectionStats,
        tags=("operations",),
    ),
    Operation(
        "get",
        "/api/v1/alerts",
        "Raised and recently cleared alerts (managers: their company's)",
        "admin, manager",
        response=schemas.Alerts,
        tags=("operations",),
    ),
    Operation(
        "post",
        "/api/v1/events",
        "Publish a catalog event to a tenant's rooms",
        "service",
        PublishRequest,
        ok=(202,),
        response=schemas.Published,
        errors=(404, 409, 503),
        tags=("events",),
    ),
    Operation(
        "post",
        "/api/v1/events/batch",
        "Publish up to 100 catalog events; each is validated and answered on its own",
        "service",
        PublishBatch,
        response=schemas.PublishedBatch,
        tags=("events",),
    ),
    Operation(
        "post",
        "/api/v1/auth/login",
        "Sign in; returns a short-lived token",
        "anyone",
        LoginRequest,
        response=schemas.Session,
        public=True,
        errors=(401, 429),
        tags=("accounts",),
    ),
    Operation(
        "get",
        "/api/v1/me",
        "The caller's verified claims",
        "any token",
        response=Claims,
        tags=("accounts",),
    ),
    Operation(
        "post",
        "/api/v1/me/password",
        "Change the caller's own password (current password required)",
        "any hub account",
        PasswordChange,
        response=schemas.Done,
        errors=(404, 429),
        tags=("accounts",),
    ),
    Operation(
        "get",
        "/api/v1/branches",
        "Branches of the caller's company (a branch token: its own branch)",
        READERS,
        response=schemas.BranchList,
        tags=("branches",),
    ),
    Operation(
        "post",
        "/api/v1/branches",
        "Add a branch to the caller's company",
        "manager, admin (company-wide)",
        NewBranch,
        ok=(201,),
        response=schemas.Branch,
        errors=(409,),
        tags=("branches",),
    ),
    Operation(
        "post",
        "/api/v1/pairing-codes",
        "Create a one-time pairing code for a branch",
        "manager, admin",
        CodeRequest,
        ok=(201,),
        response=schemas.PairingCode,
        errors=(404,),
        tags=("agents",),
    ),
    Operation(
        "post",
        "/api/v1/pairing/redeem",
        "Exchange a pairing code for a device token",
        "anyone (rate-limited)",
        RedeemRequest,
        response=schemas.DeviceToken,
        public=True,
        errors=(409, 429),
        tags=("agents",),
    ),
    Operation(
        "post",
        "/api/v1/enrollment-codes",
        "Create an enrolment code a branch's tills may redeem up to maxUses times until expiry",
        "manager, admin, service",
        EnrollmentCodeRequest,
        ok=(201,),
        response=schemas.NewEnrollmentCode,
        errors=(404,),
        tags=("agents",),
    ),
    Operation(
        "get",
        "/api/v1/enrollment-codes",
        "The company's enrolment codes (never the codes themselves), newest first",
        "manager, admin, service",
        query=(("branchId", Identifier),),
        response=schemas.EnrollmentCodeList,
        tags=("agents",),
    ),
    Operation(
        "post",
        "/api/v1/enrollment-codes/{code_id}/revoke",
        "Stop a code from enrolling more tills (enrolled tills keep their credentials)",
        "manager, admin, service",
        response=schemas.EnrollmentCode,
        errors=(404,),
        tags=("agents",),
    ),
    Operation(
        "post",
        "/api/v1/enrollment/redeem",
        "Exchange an enrolment code for this till's own device token",
        "anyone (rate-limited)",
        EnrollRequest,
        response=schemas.DeviceToken,
        public=True,
        errors=(429,),
        tags=("agents",),
    ),
    Operation(
        "get",
        "/api/v1/agents",
        "Agents of the caller's company or branch, live; filter by branch, version, state, ring",
        READERS,
        query=(
            ("branchId", Identifier),
            ("version", Text),
            ("state", Literal["online", "offline"]),
            ("ring", Literal["canary", "early", "stable"]),
        ),
        response=schemas.AgentList,
        tags=("agents",),
    ),
    Operation(
        "post",
        "/api/v1/agents/{agent_id}/revoke",
        "Revoke an agent: disconnected now, refused from now on",
        "manager, admin",
        response=schemas.Revoked,
        errors=(404,),
        tags=("agents",),
    ),
    Operation(
        "post",
        "/api/v1/agents/{agent_id}/diagnostics",
        "Ask the agent for a diagnostics bundle; poll the diagnosticsId (409 agent_offline)",
        "manager, admin",
        ok=(202,),
        response=schemas.Diagnostics,
        errors=(404, 409),
        tags=("agents",),
    ),
    Operation(
        "get",
        "/api/v1/agents/{agent_id}/diagnostics",
        "The agent's diagnostics requests of the last 72 hours, newest first",
        "manager, admin",
        response=schemas.DiagnosticsList,
        errors=(404,),
        tags=("agents",),
    ),
    Operation(
        "get",
        "/api/v1/diagnostics/{diagnostics_id}",
        "One diagnostics request: requested, ready or failed (with the reason)",
        "manager, admin",
        response=schemas.Diagnostics,
        errors=(404,),
        tags=("agents",),
    ),
    Operation(
        "get",
        "/api/v1/diagnostics/{diagnostics_id}/bundle",
        "Download the redacted bundle as a JSON file (409 while not ready)",
        "manager, admin",
        response=schemas.DiagnosticsDownload,
        errors=(404, 409),
        tags=("agents",),
    ),
    Operation(
        "get",
        "/api/v1/printers",
        "Printers of the caller's scope with live status",
        READERS,
        response=schemas.PrinterList,
        tags=("printers",),
    ),
    Operation(
        "get",
        "/api/v1/printers/{printer_id}",
        "A printer with its status history",
        READERS,
        response=schemas.PrinterDetail,
        errors=(404,),
        tags=("printers",),
    ),
    Operation(
        "patch",
        "/api/v1/printers/{printer_id}",
        "Rename a printer, set its profile, paper width, status channel, text mode, command set "
        "(audited)",
        "manager, admin",
        body=PrinterSettingsPatch,
        response=schemas.PrinterConfigured,
        errors=(404,),
        tags=("printers",),
    ),
    Operation(
        "post",
        "/api/v1/printers/{printer_id}/test",
        "Print a test page and wait for the result",
        READERS,
        query=(("correlationId", CorrelationId),),
        response=schemas.PrinterTestAnswer,
        errors=(404, 409),
        tags=("printers",),
    ),
    Operation(
        "post",
        "/api/v1/printers/{printer_id}/drawer",
        "Open the printer's cash drawer (also while paper is out); 409 with the code if it cannot",
        "manager, staff, admin",
        body=DrawerBody,
        body_optional=True,
        query=(("correlationId", CorrelationId),),
        response=schemas.PrinterActionAnswer,
        errors=(404, 409),
        tags=("printers",),
    ),
    Operation(
        "post",
        "/api/v1/printers/{printer_id}/buzz",
        "Sound the printer's buzzer; 409 with the code (no_buzzer, ...) if it cannot",
        "manager, staff, admin",
        body=BuzzBody,
        body_optional=True,
        query=(("correlationId", CorrelationId),),
        response=schemas.PrinterActionAnswer,
        errors=(404, 409),
        tags=("printers",),
    ),
    Operation(
        "get",
        "/api/v1/tests/{correlation_id}",
        "A finished printer test",
        READERS,
        response=PrinterTestResult,
        errors=(404,),
        tags=("printers",),
    ),
    Operation(
        "get",
        "/api/v1/tests",
        "Recent printer tests of the caller's company or branch, newest first",
        READERS,
        query=(("branchId", Text), ("limit", Annotated[int, Field(ge=1, le=100)])),
        tags=("printers",),
    ),
    Operation(
        "post",
        "/api/v1/jobs",
        "Submit a print job (raw ESC/POS or a receipt document); 200 replays an idempotency key",
        READERS,
        SubmitJob,
        ok=(201, 200),
        response=schemas.Job,
        errors=(404, 409),
        tags=("jobs",),
    ),
    Operation(
        "get",
        "/api/v1/jobs",
        "Print jobs of the caller's scope, newest first",
        READERS,
        query=JOB_QUERY,
        response=schemas.JobList,
        tags=("jobs",),
    ),
    Operation(
        "get",
        "/api/v1/jobs/{job_id}",
        "A print job with its state history",
        READERS,
        response=schemas.JobWithHistory,
        errors=(404,),
        tags=("jobs",),
    ),
    Operation(
        "post",
        "/api/v1/jobs/{job_id}/reprint",
        "Reprint a finished job as a copy marked COPY (optional Idempotency-Key header)",
        "manager, staff, admin",
        ok=(201, 200),
        response=schemas.Job,
        errors=(404, 409),
        tags=("jobs",),
    ),
    # --- kitchen tickets: stations, rules, the ticket log (issue 15) ---
    *TICKET_OPERATIONS,
    # --- agent updates: signed builds, rings, steps (issue 13 section 6) ---
    *UPDATE_OPERATIONS,
)

REQUESTS: tuple[type[BaseModel], ...] = tuple(
    dict.fromkeys(op.body for op in OPERATIONS if op.body is not None)
)


Refs = dict[tuple[type[BaseModel], str], str]


def _components() -> tuple[dict[str, Any], Refs]:
    """Every model's schema, and the $ref of each (model, mode)."""
    responses: tuple[type[BaseModel], ...] = (*schemas.RESPONSES, Readiness, Claims, ErrorInfo)
    pairs: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((m, "validation") for m in REQUESTS),
        *((m, "serialization") for m in responses),
    ]
    keys, top = models_json_schema(pairs, ref_template=REF, by_alias=True)
    refs: Refs = {}
    for (model, mode), value in keys.items():
        assert isinstance(model, type) and issubclass(model, BaseModel)
        refs[(model, mode)] = str(value["$ref"])
    return dict(top.get("$defs", {})), refs


def _schema_of(kind: Any) -> dict[str, Any]:
    schema = TypeAdapter(kind).json_schema()
    return {k: v for k, v in schema.items() if k != "title"}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params = [
        {
            "name": part[1:-1],
            "in": "path",
            "required": True,
            "schema": _schema_of(PATH_TYPES[part[1:-1]]),
        }
        for part in op.path.split("/")
        if part.startswith("{")
    ]
    params += [
        {"name": name, "in": "query", "required": False, "schema": _schema_of(kind)}
        for name, kind in op.query
    ]
    return params


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": ref}}}


def _responses(op: Operation, refs: Refs) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "success"}
    if op.response is not None:
        ok["content"] = _json(refs[(op.response, "serialization")])
    elif op.media == "text/plain":
        ok["content"] = {"text/plain": {"schema": {"type": "string"}}}
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    responses = {str(status): ok for status in op.ok}
    error = _json(refs[(ErrorInfo, "serialization")])
    for status in op.error_statuses():
        responses[str(status)] = {"description": ERROR_TEXT[status], "content": error}
    for waiting in (429, 503):
        if waiting in op.error_statuses():
            responses[str(waiting)]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}
            }
    return responses


def _operation(op: Operation, refs: Refs) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_')}".replace("{", "")
        .replace("}", "")
        .replace(".", "_")
        .replace("-", "_"),
        "summary": op.summary,
        "description": f"Who may call: {op.roles}.",
        "tags": list(op.tags),
        "parameters": _parameters(op),
        "responses": _responses(op, refs),
    }
    if op.public:
        spec["security"] = []
    if op.body is not None:
        ref = refs[(op.body, "validation")]
        spec["requestBody"] = {"required": not op.body_optional, "content": _json(ref)}
    return spec


DESCRIPTION = """\
Every error is JSON `{code, message, field}`: `code` is stable, `field` names the body field, \
path parameter or query parameter at fault. Ids of another tenant answer 404, exactly like \
unknown ids.

Answers every route can give besides the ones listed: 405 `method_not_allowed` with an \
`Allow` header for a known path and a wrong method; 404 `not_found` for an unknown path; \
429 `too_many_connections` when the caller's address holds too many connections (see \
docs/deployment.md, "Connection limits"). Text fields refuse control characters (C0 but tab \
and newline in multi-line fields, DEL) and lone surrogates.
"""


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    components, refs = _components()
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Chit hub REST API", "version": __version__, "description": DESCRIPTION},
        "servers": [{"url": "http://127.0.0.1:3001"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI document of this hub."""
    return web.json_response(openapi_document())

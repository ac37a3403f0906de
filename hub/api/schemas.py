"""What each REST route answers, as models: the OpenAPI document's response schemas.

The routes build their answers as plain dicts; these models describe those dicts field by
field (closed: an undocumented field is drift), and tests/hub/test_openapi_responses.py
validates real answers of a running hub against the served document, so the two cannot part.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from shared.diagnostics import DiagnosticsBundle
from shared.events import (
    JobState,
    MonitoringAlert,
    PrinterActionResult,
    PrinterSettings,
    PrinterTestResult,
)
from shared.printers import PrinterInfo, PrinterStatus
from shared.streams import StreamOffset


class View(BaseModel):
    """A response body: camelCase names, every listed field present (null when unknown)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ClusterHealth(View):
    """Whether this instance hears the cluster channel."""

    deaf: bool
    refused_messages: int


class Health(View):
    """``GET /healthz``."""

    status: Literal["ok"]
    instance: str
    version: str
    uptime_seconds: float
    connections: int
    cluster: ClusterHealth | None


class ConnectionStats(View):
    """``GET /api/v1/connections``: sockets by namespace, role, kind, company and instance."""

    instance: str
    total: int
    by_namespace: dict[str, int]
    by_role: dict[str, int]
    by_kind: dict[str, int]
    by_company: dict[str, int]
    instances: dict[str, int]


class Alerts(View):
    """``GET /api/v1/alerts``."""

    active: list[MonitoringAlert]
    recent: list[MonitoringAlert]


class Published(View):
    """``POST /api/v1/events``: where the event went."""

    ok: Literal[True]
    namespace: str
    event: str
    rooms: list[str]
    correlation_id: str | None
    #: The platform's idempotency id, echoed when given.
    event_id: str | None = None
    #: The event's place in the company's stream (null while it waits in the outbox).
    offset: StreamOffset | None = None
    #: True: Redis was unreachable and the event is durable in this instance's outbox.
    queued: bool | None = None
    #: True: the same eventId was published before; this is the first answer.
    duplicate: bool | None = None
    #: What the kitchen made of an order event (docs/operations.md "Kitchen tickets").
    tickets: dict[str, Any] | None = None


class BatchItem(View):
    """The answer to one event of a batch: the status and body the single route gives."""

    status: int
    #: A :class:`Published` on 202, an error (code, message, field) otherwise.
    body: dict[str, Any]


class PublishedBatch(View):
    """``POST /api/v1/events/batch``: one answer per event, in the order sent."""

    results: list[BatchItem]


class SessionUser(View):
    """The account a session token was issued for."""

    id: str
    username: str
    role: str
    company_id: str
    branch_id: str | None


class Session(View):
    """``POST /api/v1/auth/login``."""

    token: str
    expires_in: int
    user: SessionUser


class Done(View):
    """A change that has nothing else to tell."""

    ok: Literal[True]


class Branch(View):
    """A branch of the caller's company."""

    branch_id: str
    company_id: str
    name: str
    created_at: datetime


class BranchList(View):
    """``GET /api/v1/branches``."""

    branches: list[Branch]


class PairingCode(View):
    """``POST /api/v1/pairing-codes``."""

    code: str
    branch_id: str
    expires_at: datetime


class DeviceToken(View):
    """``POST /api/v1/pairing/redeem``."""

    token: str
    company_id: str
    branch_id: str
    agent_id: str


class EnrollmentCode(View):
    """An enrolment code for mass roll-out (the code itself is shown only once)."""

    code_id: str
    branch_id: str
    max_uses: int
    uses: int
    state: Literal["active", "used_up", "expired", "revoked"]
    created_by: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewEnrollmentCode(EnrollmentCode):
    """``POST /api/v1/enrollment-codes``: the code, this once, and its record."""

    code: str


class EnrollmentCodeList(View):
    """``GET /api/v1/enrollment-codes``."""

    enrollment_codes: list[EnrollmentCode]


class Agent(View):
    """An agent with its printers, live."""

    agent_id: str
    branch_id: str
    online: bool
    hostname: str | None
    os: str | None
    version: str | None
    last_seen: datetime | None
    offline_since: datetime | None
    state: Literal["online", "offline"]
    #: The update ring ("stable" until rings are assigned).
    ring: Literal["canary", "early", "stable"]
    printers: list[PrinterInfo]


class AgentList(View):
    """``GET /api/v1/agents``."""

    agents: list[Agent]


class Diagnostics(View):
    """A diagnostics request of an agent: requested, ready (downloadable) or failed."""

    diagnostics_id: str
    agent_id: str
    branch_id: str
    state: Literal["requested", "ready", "failed"]
    requested_by: str
    requested_at: datetime
    completed_at: datetime | None
    expires_at: datetime
    size_bytes: int | None
    error: str | None


class DiagnosticsList(View):
    """``GET /api/v1/agents/{agent_id}/diagnostics``."""

    diagnostics: list[Diagnostics]


class DiagnosticsDownload(View):
    """``GET /api/v1/diagnostics/{diagnostics_id}/bundle``: the bundle the agent uploaded."""

    diagnostics_id: str
    agent_id: str
    branch_id: str
    requested_at: datetime
    completed_at: datetime | None
    bundle: DiagnosticsBundle


class Revoked(View):
    """``POST /api/v1/agents/{agent_id}/revoke``."""

    agent_id: str
    revoked: Literal[True]


class PrinterRow(PrinterInfo):
    """A printer of the caller's scope, with its agent and what managers set for it."""

    agent_id: str
    branch_id: str
    agent_online: bool
    settings: PrinterSettings


class PrinterList(View):
    """``GET /api/v1/printers``."""

    printers: list[PrinterRow]


class StatusEntry(View):
    """One status a printer reported."""

    state: str
    status: dict[str, Any] | None
    at: datetime


class PrinterDetail(PrinterInfo):
    """``GET /api/v1/printers/{printer_id}``: the printer, its last status and history."""

    agent_id: str
    branch_id: str
    agent_online: bool
    status: PrinterStatus | None
    last_seen: datetime | None
    removed_at: datetime | None
    history: list[StatusEntry]
    settings: PrinterSettings


class PrinterConfigured(View):
    """``PATCH /api/v1/printers/{printer_id}``: the settings now stored."""

    printer_id: str
    agent_id: str
    branch_id: str
    settings: PrinterSettings
    #: True: the agent is online and was sent ``printer:configure`` now (else on reconnect).
    sent_to_agent: bool


class PrinterTestAnswer(View):
    """``POST /api/v1/printers/{printer_id}/test``: the correlation id and the result."""

    correlation_id: str
    result: PrinterTestResult


class PrinterActionAnswer(View):
    """``POST /api/v1/printers/{printer_id}/drawer`` and ``/buzz``: the id and the result."""

    correlation_id: str
    result: PrinterActionResult


class JobError(View):
    """Why a job failed."""

    code: str
    message: str | None


class JobEvent(View):
    """One state a job entered."""

    state: str
    at: datetime
    detail: str | None


class Job(View):
    """A print job."""

    job_id: str
    printer_id: str
    agent_id: str | None
    branch_id: str
    correlation_id: str
    kind: Literal["raw", "document"]
    copies: int
    state: JobState
    attempts: int
    error: JobError | None
    idempotency_key: str | None
    submitted_by: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    #: The job this one reprints as a copy (printed with COPY on it).
    copy_of: str | None


class JobWithHistory(Job):
    """``GET /api/v1/jobs/{job_id}``: a job, every state it entered, and its reprints."""

    history: list[JobEvent]
    reprints: list[str]


class JobList(View):
    """``GET /api/v1/jobs``."""

    jobs: list[Job]


#: Every response model, for the document's components.
RESPONSES: tuple[type[BaseModel], ...] = (
    Health,
    ConnectionStats,
    Alerts,
    Published,
    PublishedBatch,
    Session,
    Done,
    Branch,
    BranchList,
    PairingCode,
    DeviceToken,
    NewEnrollmentCode,
    EnrollmentCodeList,
    EnrollmentCode,
    AgentList,
    Diagnostics,
    DiagnosticsList,
    DiagnosticsDownload,
    Revoked,
    PrinterList,
    PrinterDetail,
    PrinterConfigured,
    PrinterTestAnswer,
    PrinterTestResult,
    PrinterActionAnswer,
    Job,
    JobWithHistory,
    JobList,
)


class AgentBuild(View):
    """A signed agent build in the hub's TUF repository."""

    name: str
    platform: str
    version: str
    length: int
    sha256: str


class RingPromotion(View):
    """The version an update ring runs."""

    ring: str
    version: str
    promoted_by: str
    promoted_at: datetime


class AgentReleases(View):
    """``GET /api/v1/agent-releases``: signed builds and what each ring runs."""

    builds: list[AgentBuild]
    rings: list[RingPromotion]


class CompanyRing(View):
    """``GET/PUT /api/v1/update-ring``: the company's default update ring."""

    ring: str


class UpdateStepView(View):
    """One step an agent reported while updating."""

    step: str
    version: str
    from_version: str | None
    detail: str | None
    at: datetime


class AgentUpdatesView(View):
    """``GET /api/v1/agents/{agent_id}/updates``: ring, target version and the latest steps."""

    agent_id: str
    ring: str
    #: ``agent`` (its own), ``company`` (the company's default) or ``default`` (stable).
    ring_source: str
    target_version: str | None
    version: str | None
    steps: list[UpdateStepView]


RESPONSES = (*RESPONSES, AgentReleases, RingPromotion, CompanyRing, AgentUpdatesView)

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
    printers: list[PrinterInfo]


class AgentList(View):
    """``GET /api/v1/agents``."""

    agents: list[Agent]


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
    Session,
    Done,
    Branch,
    BranchList,
    PairingCode,
    DeviceToken,
    AgentList,
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

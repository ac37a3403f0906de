"""The event catalog: every event of every namespace, its direction and its payload model.

One :class:`EventSpec` per (namespace, event name). ``senders`` lists the roles that may send
the event *to* the hub over a socket (empty: clients may not send it); ``to_clients`` says the
hub emits it to clients; ``publishable`` says the platform's backend may publish it through
``POST /api/v1/events``. Critical events carry a ``correlationId`` so one id follows them
through every hop and log line. docs/events.md and docs/asyncapi.yaml are rendered from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    Base64Bytes,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.diagnostics import DiagnosticsRequest, DiagnosticsUpload
from shared.documents import ReceiptDocument
from shared.namespaces import ALLOWED_ROLES, Namespace
from shared.printers import AgentInfo, CommandSetName, PrinterInfo, PrinterStatus
from shared.roles import WEB_ROLES, Role
from shared.streams import STATUS_EVENT, StreamStatus
from shared.updates import Ring, UpdateStep
from shared.wire import (
    CorrelationId,
    ErrorInfo,
    Identifier,
    LongText,
    NonNegativeInt,
    OpenWireModel,
    PrinterId,
    ShortText,
    WireModel,
    first_error,
)

AGENT_ONLY = frozenset({Role.DESKTOP_APP})
NOBODY: frozenset[Role] = frozenset()

# --- /printing-ws -----------------------------------------------------------------------------


class AgentHello(AgentInfo):
    """An agent announces itself right after every connect."""


class AgentInventory(WireModel):
    """The agent's complete printer list; the hub replaces what it knew for this agent."""

    agent_id: Identifier
    printers: Annotated[list[PrinterInfo], Field(max_length=256)]


class AgentHeartbeat(WireModel):
    """Sent on a schedule so the hub can tell a silent agent from a quiet printer."""

    agent_id: Identifier
    sent_at: datetime
    printer_count: NonNegativeInt = 0


class AgentPresence(WireModel):
    """Hub to web clients: an agent came online, went offline or was seen."""

    agent_id: Identifier
    hostname: ShortText | None = None
    branch_id: Identifier | None = None
    online: bool
    last_seen: datetime | None = None


class PrinterDiscovered(WireModel):
    """A printer the agent found (or found again); ``printer.printer_id`` is stable."""

    agent_id: Identifier
    printer: PrinterInfo


class PrinterRemoved(WireModel):
    """A printer missed three scans in a row and is gone."""

    agent_id: Identifier
    printer_id: PrinterId
    reason: ShortText = "missed three scans"


class PrinterStatusUpdate(WireModel):
    """A printer's status changed (read from the hardware)."""

    agent_id: Identifier
    printer_id: PrinterId
    status: PrinterStatus


class PrinterTestRequest(WireModel):
    """Print a test page on one printer. The same correlation id never prints twice."""

    correlation_id: CorrelationId
    printer_id: PrinterId
    requested_by: ShortText | None = None


class PrinterTestResult(WireModel):
    """The outcome of a printer test, with the request's correlation id."""

    correlation_id: CorrelationId
    printer_id: PrinterId
    agent_id: Identifier | None = None
    success: bool
    status: PrinterStatus | None = None
    error: ErrorInfo | None = None
    duration_ms: NonNegativeInt
    completed_at: datetime | None = None


class PrinterDrawerRequest(WireModel):
    """Open the cash drawer on a printer's pin 2 or 5 (pulse times: the printer's defaults).

    Works while the paper is out or the cover is open; refused when the printer does not answer.
    """

    correlation_id: CorrelationId
    printer_id: PrinterId
    pin: Literal[2, 5] = 2
    on_ms: Annotated[int, Field(ge=10, le=500)] | None = None
    off_ms: Annotated[int, Field(ge=100, le=1000)] | None = None
    requested_by: ShortText | None = None


StatusChannel = Literal["escpos", "star", "queue", "none"]


class PrinterSettings(WireModel):
    """What a manager set for a printer; None everywhere means "as discovered"."""

    name: ShortText | None = None
    #: A python-escpos capability profile name (the agent checks it knows it).
    profile: ShortText | None = None
    paper_width_mm: Literal[58, 80] | None = None
    status_channel: StatusChannel | None = None
    text_mode: Literal["auto", "text", "image"] | None = None
    #: The command set documents are built in: ``escpos``, ``star-line``, ``star-graphic``
    #: (Star's raster-only mode, the TSP100 family); None: detected by the agent.
    command_set: CommandSetName | None = None


class PrinterConfigure(PrinterSettings):
    """Hub to agent: these are the printer's settings now (replacing earlier ones).

    Sent when a manager changes them and after every agent registration, so an agent that was
    offline gets them when it reconnects. The agent keeps them across restarts.
    """

    printer_id: PrinterId
    updated_by: ShortText | None = None


class PrinterBuzzRequest(WireModel):
    """Sound the printer's buzzer ``times`` times (printers that have one)."""

    correlation_id: CorrelationId
    printer_id: PrinterId
    times: Annotated[int, Field(ge=1, le=9)] = 1
    duration_ms: Annotated[int, Field(ge=100, le=2000)] = 200
    requested_by: ShortText | None = None


class PrinterActionResult(WireModel):
    """The outcome of a drawer or buzzer request, with the request's correlation id."""

    correlation_id: CorrelationId
    printer_id: PrinterId
    action: Literal["drawer", "buzz"]
    agent_id: Identifier | None = None
    success: bool
    status: PrinterStatus | None = None
    error: ErrorInfo | None = None
    requested_by: ShortText | None = None
    duration_ms: NonNegativeInt
    completed_at: datetime | None = None


class PrintJobDispatch(WireModel):
    """Hub to agent: print this job. ``job_id`` is the agent's dedupe key."""

    job_id: Identifier
    correlation_id: CorrelationId
    printer_id: PrinterId
    raw: Base64Bytes | None = None
    document: ReceiptDocument | None = None
    copies: Annotated[int, Field(ge=1, le=10)] = 1
    expires_at: datetime | None = None
    #: Set on a reprint: the job this one copies. The agent prints "COPY" at its top.
    copy_of: Identifier | None = None

    @model_validator(mode="after")
    def _one_body(self) -> PrintJobDispatch:
        if (self.raw is None) == (self.document is None):
            raise ValueError("exactly one of raw and document is required")
        return self


JobState = Literal[
    "queued", "sent", "printing", "printed", "failed", "expired", "unconfirmed", "sent_to_printer"
]


class PrintJobUpdate(WireModel):
    """A print job changed state (agent to hub, and hub to the tenant's rooms).

    ``unconfirmed`` means the bytes may have reached the printer but nobody knows whether it
    printed (the agent stopped mid-job, or the printer reported a fault right after the write);
    ``error`` says why. Such a job is never printed again by itself: staff may reprint a copy.
    ``sent_to_printer`` is the normal end of a job on a printer that reports no status: the
    printer took every byte, and nothing can say whether it printed.
    """

    job_id: Identifier
    correlation_id: CorrelationId
    printer_id: PrinterId
    state: JobState
    error: ErrorInfo | None = None
    at: datetime | None = None


class AgentUpdateOffer(WireModel):
    """Hub to agent: the agent's ring now wants ``version``; check, download and install it."""

    ring: Ring
    version: ShortText


class AgentUpdateCheck(WireModel):
    """Agent to hub, on a schedule: which version does my ring want? (The ack answers.)"""

    agent_id: Identifier
    version: ShortText


class AgentUpdateStatus(WireModel):
    """Agent to hub: one step of an update (kept per agent, shown in the UI)."""

    agent_id: Identifier
    step: UpdateStep
    #: The version being installed (or rolled back from).
    version: ShortText
    #: The version the agent ran before this update.
    from_version: ShortText | None = None
    #: Why a build was refused or rolled back, for people.
    detail: LongText | None = None
    at: datetime


class MonitoringAlert(WireModel):
    """A hub health alert (connections, agents, reconnects, balance, kitchen tickets), raised once,
    cleared once."""

    correlation_id: CorrelationId
    alert_id: ShortText
    kind: Literal[
        "namespace_connections",
        "agent_offline",
        "reconnect_rate",
        "instance_imbalance",
        "station_printer_down",
        "ticket_late",
    ]
    state: Literal["raised", "cleared"]
    severity: Literal["info", "warning", "critical"]
    subject: ShortText
    message: LongText
    value: float
    threshold: float
    company_id: Identifier | None = None
    #: The branch an alert is about, when it is about one (kitchen stations).
    branch_id: Identifier | None = None
    raised_at: datetime
    cleared_at: datetime | None = None


# --- /orders ----------------------------------------------------------------------------------

#: Most lines one order may carry: a station's ticket (every line, each voided and added again
#: in the worst delta) must still fit one receipt document (shared.tickets).
MAX_ORDER_LINES = 200
#: Longest order notes accepted (the payload size limit applies too).
MAX_NOTES = 20_000
#: Order versions are positive and fit a 32-bit integer (the database column).
MAX_ORDER_VERSION = 2**31 - 1

#: Line ids are the platform's own (UUIDs, numbers, "l-3"...); printable, no spaces.
LineId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}$")]
ItemName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
OrderType = Literal["dine-in", "takeaway", "delivery"]
OrderVersion = Annotated[int, Field(ge=1, le=MAX_ORDER_VERSION)]


class OrderLine(OpenWireModel):
    """One line of an order as the kitchen needs it; the platform's extra fields pass through.

    ``station`` names a station outright (its id), bypassing the branch's rules; ``category``
    and ``tags`` are what the rules match. ``quantity`` is at least 1: to take a line off an
    order, publish a new version without it (it prints as VOID).
    """

    line_id: LineId
    name: ItemName
    #: The item's name in a second language, printed under the name.
    alt_name: ShortText | None = None
    quantity: Annotated[int, Field(ge=1, le=9999)]
    modifiers: Annotated[list[ShortText], Field(max_length=30)] | None = None
    notes: Annotated[str, StringConstraints(max_length=500)] | None = None
    category: ShortText | None = None
    tags: Annotated[list[ShortText], Field(max_length=20)] | None = None
    station: Identifier | None = None
    #: Unit price, printed only by stations whose layout asks for prices.
    price: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)] | None = None


class OrderEvent(OpenWireModel):
    """What every order event carries; the kitchen fields are optional, the platform's pass.

    ``lines`` is the order's whole current content (not a change): the hub works out what
    each station has to print. A payload with ``lines`` must carry ``orderVersion``, which
    grows with every change of the order; a version already handled, or older, prints nothing.
    """

    correlation_id: CorrelationId
    order_id: Identifier
    order_version: OrderVersion | None = None
    order_number: ShortText | None = None
    order_type: OrderType | None = None
    table: Annotated[str, StringConstraints(max_length=50)] | None = None
    guest_count: Annotated[int, Field(ge=0, le=1000)] | None = None
    placed_at: datetime | None = None
    #: Free text for the kitchen; only its start is printed (shared.ticket_documents).
    notes: Annotated[str, StringConstraints(max_length=MAX_NOTES)] | None = None
    lines: Annotated[list[OrderLine], Field(max_length=MAX_ORDER_LINES)] | None = None

    @field_validator("lines")
    @classmethod
    def _versioned_lines(
        cls, lines: list[OrderLine] | None, info: ValidationInfo
    ) -> list[OrderLine] | None:
        if lines is None:
            return None
        if info.data.get("order_version") is None:
            raise ValueError("orderVersion is required when lines are given")
        seen: set[str] = set()
        for line in lines:
            if line.line_id in seen:
                raise ValueError(f"line id {line.line_id!r} appears twice")
            seen.add(line.line_id)
        return lines


class NewOrder(OrderEvent):
    """A new order was created (or, with a higher ``orderVersion``, changed)."""

    status: ShortText
    created_at: datetime | None = None
    lines: Annotated[list[OrderLine], Field(min_length=1, max_length=MAX_ORDER_LINES)] | None = None


class OrderStatusUpdate(OrderEvent):
    """An order moved to another status; with ``lines`` and a new ``orderVersion``, changed."""

    status: ShortText
    previous_status: ShortText | None = None
    updated_at: datetime | None = None


class OrderCancelled(OrderEvent):
    """An order was cancelled: every station that printed lines of it gets one VOID ticket."""

    reason: LongText | None = None
    cancelled_at: datetime | None = None


class GeoPoint(WireModel):
    """A position in WGS84 degrees."""

    lat: Annotated[float, Field(ge=-90, le=90)]
    lng: Annotated[float, Field(ge=-180, le=180)]


class DriverUpdate(OpenWireModel):
    """A delivery driver was assigned to an order or moved."""

    order_id: Identifier
    driver_id: Identifier
    status: ShortText | None = None
    location: GeoPoint | None = None
    eta_minutes: NonNegativeInt | None = None


# --- /availability ----------------------------------------------------------------------------


class AvailabilityUpdate(OpenWireModel):
    """A product or modifier became available or unavailable."""

    item_id: Identifier
    item_type: Literal["product", "modifier"]
    available: bool
    quantity: NonNegativeInt | None = None


class BulkAvailabilityUpdate(WireModel):
    """Many availability changes at once."""

    correlation_id: CorrelationId
    items: Annotated[list[AvailabilityUpdate], Field(min_length=1, max_length=1000)]


class StockAlert(OpenWireModel):
    """An item runs low or out."""

    correlation_id: CorrelationId
    item_id: Identifier
    level: Literal["low", "out"]
    item_name: ShortText | None = None
    quantity: NonNegativeInt | None = None


class NewAlert(OpenWireModel):
    """A critical alert for the tenant's staff."""

    correlation_id: CorrelationId
    alert_id: Identifier
    severity: Literal["info", "warning", "critical"]
    title: ShortText
    message: LongText | None = None


# --- every namespace: the connection's own token -------------------------------------------------

#: Tokens are short strings; a cap keeps a refresh from carrying a megabyte of claims.
MAX_TOKEN_LENGTH = 8192


class AuthRefresh(WireModel):
    """Client to hub: a new token for the same subject and tenant; the socket outlives the old."""

    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)]


class AuthExpiring(WireModel):
    """Hub to one client: its token expires soon; send ``auth:refresh`` to stay connected."""

    expires_at: datetime


class AuthExpired(WireModel):
    """Hub to one client, just before it closes the socket: the token has expired."""

    code: Literal["token_expired"] = "token_expired"
    message: LongText


def _auth_specs(ns: Namespace) -> tuple[EventSpec, ...]:
    """The token-lifetime events, the same on every namespace."""
    return (
        _spec(
            ns,
            "auth:refresh",
            AuthRefresh,
            "Client replaces its connection's token (same subject, role and tenant).",
            senders=ALLOWED_ROLES[ns],
            to_clients=False,
        ),
        _spec(ns, "auth:expiring", AuthExpiring, "This connection's token expires soon."),
        _spec(
            ns,
            "auth:expired",
            AuthExpired,
            "This connection's token expired; the hub closes the socket next.",
        ),
    )


def _stream_specs(ns: Namespace) -> tuple[EventSpec, ...]:
    """The stream's answer after connect, the same on every namespace (see shared.streams)."""
    return (
        _spec(
            ns,
            STATUS_EVENT,
            StreamStatus,
            "After connect (and any replay): recovered or not, and the stream's current offset.",
        ),
    )


# --- the catalog ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSpec:
    """One event of one namespace."""

    namespace: Namespace
    name: str
    model: type[WireModel]
    summary: str
    senders: frozenset[Role] = NOBODY
    to_clients: bool = True
    publishable: bool = False
    critical: bool = False

    @property
    def from_clients(self) -> bool:
        """Whether any client may send this event to the hub."""
        return bool(self.senders)


def _spec(ns: Namespace, name: str, model: type[WireModel], summary: str, **kw: Any) -> EventSpec:
    return EventSpec(namespace=ns, name=name, model=model, summary=summary, **kw)


P, ORD, A = Namespace.PRINTING, Namespace.ORDERS, Namespace.AVAILABILITY

CATALOG: tuple[EventSpec, ...] = (
    _spec(
        P,
        "agent:hello",
        AgentHello,
        "Agent announces id, hostname, OS and version.",
        senders=AGENT_ONLY,
        to_clients=False,
    ),
    _spec(
        P,
        "agent:inventory",
        AgentInventory,
        "Agent's full printer list (after every connect).",
        senders=AGENT_ONLY,
        to_clients=False,
    ),
    _spec(
        P,
        "agent:heartbeat",
        AgentHeartbeat,
        "Agent is alive, even when printers are quiet.",
        senders=AGENT_ONLY,
        to_clients=False,
    ),
    _spec(P, "agent:status", AgentPresence, "An agent came online or went offline."),
    _spec(
        P,
        "printer:discovered",
        PrinterDiscovered,
        "A printer was found by an agent.",
        senders=AGENT_ONLY,
    ),
    _spec(
        P,
        "printer:removed",
        PrinterRemoved,
        "A printer missed three scans and is gone.",
        senders=AGENT_ONLY,
    ),
    _spec(
        P,
        "printerStatusUpdate",
        PrinterStatusUpdate,
        "A printer's hardware status changed.",
        senders=AGENT_ONLY,
    ),
    _spec(
        P,
        "printer:test",
        PrinterTestRequest,
        "Request a test page (web client to hub; hub to the owning agent).",
        senders=WEB_ROLES,
        critical=True,
    ),
    _spec(
        P,
        "printer:test:result",
        PrinterTestResult,
        "Outcome of a printer test (agent to hub; hub to branch and company rooms).",
        senders=AGENT_ONLY,
        critical=True,
    ),
    _spec(
        P,
        "printer:drawer",
        PrinterDrawerRequest,
        "Open a printer's cash drawer (web client to hub; hub to the owning agent).",
        senders=WEB_ROLES,
        critical=True,
    ),
    _spec(
        P,
        "printer:buzz",
        PrinterBuzzRequest,
        "Sound a printer's buzzer (web client to hub; hub to the owning agent).",
        senders=WEB_ROLES,
        critical=True,
    ),
    _spec(
        P,
        "printer:action:result",
        PrinterActionResult,
        "Outcome of a drawer or buzzer request (agent to hub; hub to branch and company rooms).",
        senders=AGENT_ONLY,
        critical=True,
    ),
    _spec(
        P,
        "printer:configure",
        PrinterConfigure,
        "Hub gives the owning agent a printer's settings (name, profile, paper, text mode).",
        to_clients=False,
    ),
    _spec(
        P,
        "print:job",
        PrintJobDispatch,
        "Hub hands a print job to the owning agent.",
        critical=True,
    ),
    _spec(
        P,
        "agent:diagnostics",
        DiagnosticsRequest,
        "Hub asks an agent for a diagnostics bundle (a manager clicked Collect diagnostics).",
    ),
    _spec(
        P,
        "agent:diagnostics:bundle",
        DiagnosticsUpload,
        "Agent uploads the bounded, redacted diagnostics bundle asked for.",
        senders=AGENT_ONLY,
        to_clients=False,
    ),
    _spec(
        P,
        "printJobUpdate",
        PrintJobUpdate,
        "A print job changed state.",
        senders=AGENT_ONLY,
        critical=True,
    ),
    _spec(
        P,
        "agent:update",
        AgentUpdateOffer,
        "Hub tells an agent that its update ring wants a newer version (check now).",
    ),
    _spec(
        P,
        "agent:update:check",
        AgentUpdateCheck,
        "Agent asks which version its ring wants; the ack carries ring and version.",
        senders=AGENT_ONLY,
        to_clients=False,
    ),
    _spec(
        P,
        "agent:update:status",
        AgentUpdateStatus,
        "One step of an agent's update: downloading, verified, installed, confirmed, "
        "rolled back or refused.",
        senders=AGENT_ONLY,
        to_clients=False,
    ),
    _spec(
        P,
        "newAlert",
        MonitoringAlert,
        "A hub health alert was raised or cleared (to the company's rooms, or to admins).",
        critical=True,
    ),
    _spec(ORD, "newOrder", NewOrder, "A new order was created.", publishable=True, critical=True),
    _spec(
        ORD,
        "orderStatusUpdate",
        OrderStatusUpdate,
        "An order changed status.",
        publishable=True,
        critical=True,
    ),
    _spec(
        ORD,
        "orderCancelled",
        OrderCancelled,
        "An order was cancelled.",
        publishable=True,
        critical=True,
    ),
    _spec(ORD, "driverUpdate", DriverUpdate, "Driver assignment or position.", publishable=True),
    _spec(
        A,
        "availabilityUpdate",
        AvailabilityUpdate,
        "An item's availability changed.",
        publishable=True,
    ),
    _spec(
        A,
        "bulkAvailabilityUpdate",
        BulkAvailabilityUpdate,
        "Many availability changes.",
        publishable=True,
        critical=True,
    ),
    _spec(
        A,
        "stockAlert",
        StockAlert,
        "An item runs low or out of stock.",
        publishable=True,
        critical=True,
    ),
    _spec(A, "newAlert", NewAlert, "A critical inventory alert.", publishable=True, critical=True),
    *(spec for ns in Namespace for spec in _auth_specs(ns)),
    *(spec for ns in Namespace for spec in _stream_specs(ns)),
)

_BY_KEY: dict[tuple[Namespace, str], EventSpec] = {(s.namespace, s.name): s for s in CATALOG}


class PayloadError(Exception):
    """A payload or event name that the catalog refuses; ``field`` names the first bad field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def lookup(namespace: Namespace | str, name: str) -> EventSpec:
    """The spec of an event, or PayloadError(unknown_event)."""
    try:
        return _BY_KEY[(Namespace(namespace), name)]
    except (KeyError, ValueError):
        raise PayloadError("unknown_event", f"no event {name!r} on {namespace}") from None


def events_of(namespace: Namespace) -> list[EventSpec]:
    """All events of one namespace, in catalog order."""
    return [s for s in CATALOG if s.namespace is namespace]


def parse(spec: EventSpec, payload: Any) -> WireModel:
    """Validate a payload against its event's model, or raise PayloadError naming the field."""
    if not isinstance(payload, dict):
        raise PayloadError("invalid_payload", f"{spec.name} payload must be a JSON object")
    try:
        return spec.model.model_validate(payload)
    except ValidationError as exc:
        where, message = first_error(exc)
        prefix = f"{spec.name}: {where}" if where else spec.name
        raise PayloadError("invalid_payload", f"{prefix}: {message}", where) from None

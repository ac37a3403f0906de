"""The tables, as SQLAlchemy ORM classes. Migrations create them; these classes only query them.

Ids are the platform's own strings (company, branch, agent, printer) or UUIDs we mint (users,
jobs). Every timestamp is :class:`UtcDateTime`. JSON columns hold wire dicts exactly as they
travel (camelCase), so the store never reinterprets the contract. Nothing here is deleted in
normal operation: printers and agents are marked removed or revoked instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.store.columns import UtcDateTime
from shared.jobs import JOB_STATES

ID = String(128)
PRINTER_ID = String(200)
NAME = String(200)
STATE = String(32)
CODE = String(64)

#: Autoincrementing keys: BIGINT on PostgreSQL; SQLite needs exactly INTEGER PRIMARY KEY.
AUTO_ID = BigInteger().with_variant(Integer(), "sqlite")

#: Deterministic constraint names, so later migrations can address them on both backends.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}


class Company(Base):
    """A tenant."""

    __tablename__ = "companies"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[datetime]


class Branch(Base):
    """A restaurant of a company; a branch id belongs to exactly one company forever."""

    __tablename__ = "branches"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[datetime]


class User(Base):
    """A person who signs in to the manager UI."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'manager', 'staff')", name="role"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"), index=True)
    branch_id: Mapped[str | None] = mapped_column(ID, ForeignKey("branches.id"))
    username: Mapped[str] = mapped_column(NAME, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Agent(Base):
    """A paired desktop agent; ``credential_id`` is the jti of its current device token."""

    __tablename__ = "agents"
    __table_args__ = (Index(None, "company_id", "branch_id"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"))
    branch_id: Mapped[str] = mapped_column(ID, ForeignKey("branches.id"))
    hostname: Mapped[str | None] = mapped_column(NAME)
    os: Mapped[str | None] = mapped_column(NAME)
    version: Mapped[str | None] = mapped_column(NAME)
    created_at: Mapped[datetime]
    last_seen: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    credential_id: Mapped[str] = mapped_column(ID, unique=True)


class Printer(Base):
    """A printer as one agent sees it; the same printer id on two agents is two rows."""

    __tablename__ = "printers"
    __table_args__ = (
        Index(None, "company_id", "branch_id"),
        Index(None, "company_id", "printer_id"),
    )
    agent_id: Mapped[str] = mapped_column(ID, ForeignKey("agents.id"), primary_key=True)
    printer_id: Mapped[str] = mapped_column(PRINTER_ID, primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"))
    branch_id: Mapped[str] = mapped_column(ID, ForeignKey("branches.id"))
    name: Mapped[str] = mapped_column(NAME)
    connection: Mapped[str] = mapped_column(String(16))
    info: Mapped[dict[str, Any]]
    last_state: Mapped[str | None] = mapped_column(STATE)
    last_status: Mapped[dict[str, Any] | None]
    last_seen: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    #: What a manager set (the PrinterSettings wire dict); None: nothing.
    settings: Mapped[dict[str, Any] | None]


class PrinterStatusHistory(Base):
    """Every status the hub learned for a printer, oldest first by ``id``."""

    __tablename__ = "printer_status_history"
    __table_args__ = (
        ForeignKeyConstraint(
            ["agent_id", "printer_id"], ["printers.agent_id", "printers.printer_id"]
        ),
        Index(None, "company_id", "printer_id", "id"),
    )
    id: Mapped[int] = mapped_column(AUTO_ID, primary_key=True, autoincrement=True)
    company_id: Mapped[str] = mapped_column(ID)
    agent_id: Mapped[str] = mapped_column(ID)
    printer_id: Mapped[str] = mapped_column(PRINTER_ID)
    state: Mapped[str] = mapped_column(STATE)
    status: Mapped[dict[str, Any]]
    at: Mapped[datetime]


class TestResult(Base):
    """A printer test: the request, then its result (``success`` is NULL while pending)."""

    __tablename__ = "test_results"
    __test__ = False  # not a pytest class
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"), primary_key=True)
    correlation_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    printer_id: Mapped[str] = mapped_column(PRINTER_ID)
    agent_id: Mapped[str | None] = mapped_column(ID)
    success: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[dict[str, Any] | None]
    error_code: Mapped[str | None] = mapped_column(CODE)
    error_message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    requested_by: Mapped[str | None] = mapped_column(NAME)
    requested_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


#: The lifecycle's states (shared.jobs), as the database checks them.
JOB_STATE_CHECK = "state IN ({})".format(", ".join(f"'{state}'" for state in JOB_STATES))


class PrintJob(Base):
    """A print job; ``state`` only moves along shared.jobs.TRANSITIONS."""

    __tablename__ = "print_jobs"
    __table_args__ = (
        UniqueConstraint("company_id", "idempotency_key"),
        CheckConstraint("kind IN ('raw', 'document')", name="kind"),
        CheckConstraint(JOB_STATE_CHECK, name="state"),
        CheckConstraint("copies >= 1", name="copies"),
        Index(None, "company_id", "created_at"),
        Index(None, "agent_id", "state"),
        Index(None, "company_id", "printer_id", "state"),
        Index(None, "state", "expires_at"),
        Index(None, "copy_of"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"))
    branch_id: Mapped[str] = mapped_column(ID, ForeignKey("branches.id"))
    printer_id: Mapped[str] = mapped_column(PRINTER_ID)
    agent_id: Mapped[str | None] = mapped_column(ID, ForeignKey("agents.id"))
    correlation_id: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]]
    copies: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(STATE)
    error_code: Mapped[str | None] = mapped_column(CODE)
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    submitted_by: Mapped[str | None] = mapped_column(NAME)
    #: A reprint names the job it copies (printed with "COPY" at the top).
    copy_of: Mapped[str | None] = mapped_column(String(36), ForeignKey("print_jobs.id"))


class PrintJobEvent(Base):
    """One state a job entered, in order."""

    __tablename__ = "print_job_events"
    id: Mapped[int] = mapped_column(AUTO_ID, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("print_jobs.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(STATE)
    at: Mapped[datetime]
    detail: Mapped[str | None] = mapped_column(Text)


class PairingCode(Base):
    """A one-time code a manager hands to a new agent; only its SHA-256 is kept."""

    __tablename__ = "pairing_codes"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"))
    branch_id: Mapped[str] = mapped_column(ID, ForeignKey("branches.id"))
    created_by: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    agent_id: Mapped[str | None] = mapped_column(ID)


class AuditEntry(Base):
    """Who did what to what, and when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "company_id", "id"),)
    id: Mapped[int] = mapped_column(AUTO_ID, primary_key=True, autoincrement=True)
    company_id: Mapped[str | None] = mapped_column(ID)
    actor: Mapped[str] = mapped_column(NAME)
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(NAME)
    detail: Mapped[dict[str, Any] | None]
    at: Mapped[datetime]


class StreamHead(Base):
    """Where a company's event stream is (single instance): its epoch and its last seq."""

    __tablename__ = "stream_heads"
    company_id: Mapped[str] = mapped_column(ID, primary_key=True)
    epoch: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class StreamEvent(Base):
    """One streamed event of a company, in order (kept for the retention, then trimmed)."""

    __tablename__ = "stream_events"
    __table_args__ = (Index(None, "created_at"),)
    company_id: Mapped[str] = mapped_column(ID, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    namespace: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(64))
    branch_id: Mapped[str | None] = mapped_column(ID)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class StreamEventId(Base):
    """A publisher's eventId and the answer it got, so a retry gets the same answer."""

    __tablename__ = "stream_event_ids"
    __table_args__ = (Index(None, "created_at"),)
    company_id: Mapped[str] = mapped_column(ID, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    answer: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


# --- kitchen tickets (issue 15) ------------------------------------------------------------------


class KitchenStation(Base):
    """A station of a branch (Grill, Bar...): where its tickets print, and how they look."""

    __tablename__ = "stations"
    __table_args__ = (Index(None, "company_id", "branch_id"),)
    branch_id: Mapped[str] = mapped_column(ID, ForeignKey("branches.id"), primary_key=True)
    station_id: Mapped[str] = mapped_column(ID, primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"))
    name: Mapped[str] = mapped_column(NAME)
    primary_printer_id: Mapped[str] = mapped_column(PRINTER_ID)
    backup_printer_id: Mapped[str | None] = mapped_column(PRINTER_ID)
    layout: Mapped[dict[str, Any]]
    #: The station that gets the lines no rule matches (at most one per branch).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StationRule(Base):
    """One routing rule of a branch, in order: a category, a tag or every line -> stations."""

    __tablename__ = "station_rules"
    __table_args__ = (CheckConstraint("match IN ('category', 'tag', 'all')", name="match"),)
    branch_id: Mapped[str] = mapped_column(ID, ForeignKey("branches.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"))
    match: Mapped[str] = mapped_column(String(16))
    value: Mapped[str | None] = mapped_column(NAME)
    #: Station ids (a JSON list): every one gets the matching lines.
    station_ids: Mapped[list[str]] = mapped_column(JSON)


class KitchenOrder(Base):
    """An order as the kitchen knows it: the last version handled, what each station has."""

    __tablename__ = "kitchen_orders"
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"), primary_key=True)
    order_id: Mapped[str] = mapped_column(ID, primary_key=True)
    branch_id: Mapped[str] = mapped_column(ID, ForeignKey("branches.id"))
    #: The highest orderVersion handled (0 before the first).
    version: Mapped[int] = mapped_column(Integer)
    header: Mapped[dict[str, Any]]
    #: {station id: {line id: TicketItem wire dict}}: what each station was sent.
    sent: Mapped[dict[str, Any]]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderTicket(Base):
    """A station's ticket for one order version: its print job, its lines, where it went."""

    __tablename__ = "order_tickets"
    __table_args__ = (
        CheckConstraint("kind IN ('order', 'update', 'void', 'copy')", name="kind"),
        Index(None, "company_id", "order_id"),
        Index(None, "branch_id", "station_id", "published_at"),
    )
    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("print_jobs.id"), primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"))
    branch_id: Mapped[str] = mapped_column(ID, ForeignKey("branches.id"))
    order_id: Mapped[str] = mapped_column(ID)
    order_version: Mapped[int | None] = mapped_column(Integer)
    station_id: Mapped[str] = mapped_column(ID)
    station_name: Mapped[str] = mapped_column(NAME)
    kind: Mapped[str] = mapped_column(String(16))
    lines: Mapped[list[Any]] = mapped_column(JSON)
    #: The ticket as built for the station, before any "REROUTED" mark.
    document: Mapped[dict[str, Any]]
    #: The station's primary printer when the ticket was made.
    printer_id: Mapped[str] = mapped_column(PRINTER_ID)
    rerouted_from: Mapped[str | None] = mapped_column(PRINTER_ID)
    copy_of: Mapped[str | None] = mapped_column(String(36))
    #: When the order event arrived (order-to-ticket time is measured from here).
    published_at: Mapped[datetime]


class OrderTicketNote(Base):
    """Something the ticket log says about an order that is not a ticket (why nothing printed)."""

    __tablename__ = "order_ticket_notes"
    __table_args__ = (Index(None, "company_id", "order_id", "id"),)
    id: Mapped[int] = mapped_column(AUTO_ID, primary_key=True, autoincrement=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"))
    order_id: Mapped[str] = mapped_column(ID)
    order_version: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(CODE)
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


# --- roll-out and support (issue 13) -------------------------------------------------------------


class EnrollmentCode(Base):
    """A code many agents of one branch may redeem (mass roll-out); only its SHA-256 is kept."""

    __tablename__ = "enrollment_codes"
    __table_args__ = (
        CheckConstraint("max_uses >= 1", name="max_uses"),
        Index(None, "company_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"))
    branch_id: Mapped[str] = mapped_column(ID, ForeignKey("branches.id"))
    created_by: Mapped[str] = mapped_column(NAME)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class AgentDiagnostics(Base):
    """A diagnostics bundle asked of an agent: requested, then ready (or failed), then expired."""

    __tablename__ = "agent_diagnostics"
    __table_args__ = (
        CheckConstraint("state IN ('requested', 'ready', 'failed')", name="state"),
        Index(None, "company_id", "agent_id", "requested_at"),
        Index(None, "expires_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"))
    agent_id: Mapped[str] = mapped_column(ID, ForeignKey("agents.id"))
    branch_id: Mapped[str] = mapped_column(ID)
    state: Mapped[str] = mapped_column(STATE)
    requested_by: Mapped[str] = mapped_column(NAME)
    requested_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    bundle: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)


class RingVersion(Base):
    """The agent version an operator promoted to an update ring (hub-wide)."""

    __tablename__ = "update_ring_versions"
    ring: Mapped[str] = mapped_column(STATE, primary_key=True)
    version: Mapped[str] = mapped_column(NAME)
    promoted_by: Mapped[str] = mapped_column(NAME)
    promoted_at: Mapped[datetime]


class CompanyRing(Base):
    """A company's default update ring (``stable`` when it has no row)."""

    __tablename__ = "company_update_rings"
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"), primary_key=True)
    ring: Mapped[str] = mapped_column(STATE)


class AgentRing(Base):
    """One agent's own update ring, over its company's default."""

    __tablename__ = "agent_update_rings"
    agent_id: Mapped[str] = mapped_column(ID, ForeignKey("agents.id"), primary_key=True)
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"), index=True)
    ring: Mapped[str] = mapped_column(STATE)


class AgentUpdateEvent(Base):
    """One step of an agent's update, as the agent reported it."""

    __tablename__ = "agent_update_events"
    __table_args__ = (Index(None, "agent_id", "id"),)
    id: Mapped[int] = mapped_column(AUTO_ID, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ID, ForeignKey("agents.id"))
    company_id: Mapped[str] = mapped_column(ID, ForeignKey("companies.id"))
    step: Mapped[str] = mapped_column(STATE)
    version: Mapped[str] = mapped_column(NAME)
    from_version: Mapped[str | None] = mapped_column(NAME)
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]

"""Print jobs and their event trail; every state change goes through shared.jobs.transition.

Concurrency: a state change reads the job (``SELECT ... FOR UPDATE`` on PostgreSQL, so a
second writer waits), checks the transition table, then writes with a compare-and-set
(``UPDATE ... WHERE state = <the state we checked>``). On SQLite, where there is no row lock,
the compare-and-set is what makes two racing updates safe: the loser matches no row, reads the
winner's state and gets the table's verdict on *that*. Either way exactly one of two
``sent -> printed`` updates succeeds and the other raises IllegalTransition.

Idempotency: a job created with an idempotency key that the company already used returns the
existing job (``created`` is False), unless the request differs (IdempotencyConflict).

Redelivery reads pending jobs in pages by the key ``(created_at, id)``: a page never skips
or repeats a job, however many there are and whatever states change between pages.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.store._sql import clamp, insert_ignore
from hub.store.columns import as_utc, utcnow
from hub.store.errors import ConcurrentUpdate, IdempotencyConflict, NotFound
from hub.store.models import PrintJob, PrintJobEvent
from shared.documents import ReceiptDocument
from shared.events import JobState
from shared.jobs import JOB_STATES, can_transition, is_terminal, reason, transition
from shared.wire import ErrorInfo

JobKind = Literal["raw", "document"]
#: The wire contract's limit (PrintJobDispatch.copies).
MAX_COPIES = 10
#: States an agent may still be asked to (re)print, oldest job first.
PENDING_STATES: Final = ("queued", "sent", "printing")
#: States the clock may end, per the transition table.
EXPIRABLE_STATES: Final = tuple(s for s in JOB_STATES if can_transition(s, "expired"))
#: Jobs per redelivery page.
PAGE_SIZE: Final = 100
#: Compare-and-set rounds before giving up on a job that keeps changing.
_CAS_ROUNDS = 3
EXPIRED_ERROR = ErrorInfo(code="job_expired", message="the job was not printed before it expired")


def raw_body(data: bytes) -> dict[str, Any]:
    """The body of a raw job: the bytes, base64-encoded as on the wire."""
    return {"raw": base64.b64encode(data).decode("ascii")}


def document_body(document: ReceiptDocument) -> dict[str, Any]:
    """The body of a document job: the ReceiptDocument wire dict."""
    return document.to_wire()


@dataclass(frozen=True)
class NewJob:
    """What a caller asks to print."""

    company_id: str
    branch_id: str
    printer_id: str
    kind: JobKind
    body: Mapping[str, Any]
    expires_at: datetime
    agent_id: str | None = None
    copies: int = 1
    correlation_id: str | None = None
    idempotency_key: str | None = None
    submitted_by: str | None = None
    #: The job this one reprints (a copy).
    copy_of: str | None = None
    #: A job id the caller derived (kitchen tickets); a fresh UUID otherwise.
    job_id: str | None = None

    def __post_init__(self) -> None:
        """Refuse a job the hub could never dispatch."""
        body_key = {"raw": "raw", "document": "lines"}.get(self.kind)
        if body_key is None or body_key not in self.body:
            raise ValueError(f"a {self.kind!r} job needs a body with {body_key!r}")
        if not 1 <= self.copies <= MAX_COPIES:
            raise ValueError(f"copies must be between 1 and {MAX_COPIES}")
        as_utc(self.expires_at)


@dataclass(frozen=True)
class JobRow:
    """A print job as stored."""

    id: str
    company_id: str
    branch_id: str
    printer_id: str
    agent_id: str | None
    correlation_id: str
    idempotency_key: str | None
    kind: str
    body: dict[str, Any]
    copies: int
    state: JobState
    error_code: str | None
    error_message: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    submitted_by: str | None
    copy_of: str | None = None

    @property
    def page_key(self) -> tuple[datetime, str]:
        """Where a page of pending jobs that ends with this job continues."""
        return self.created_at, self.id


@dataclass(frozen=True)
class JobEventRow:
    """One state a job entered."""

    job_id: str
    state: str
    at: datetime
    detail: str | None


def _job(row: PrintJob) -> JobRow:
    fields = {name: getattr(row, name) for name in JobRow.__dataclass_fields__}
    return JobRow(**{**fields, "body": dict(row.body)})


def _event(row: PrintJobEvent) -> JobEventRow:
    return JobEventRow(job_id=row.job_id, state=row.state, at=row.at, detail=row.detail)


def _values(job: NewJob, now: datetime) -> dict[str, Any]:
    """The new row; the body goes through JSON now so it compares equal to the stored one."""
    return {
        "id": job.job_id or str(uuid.uuid4()),
        "company_id": job.company_id,
        "branch_id": job.branch_id,
        "printer_id": job.printer_id,
        "agent_id": job.agent_id,
        "correlation_id": job.correlation_id or str(uuid.uuid4()),
        "idempotency_key": job.idempotency_key,
        "kind": job.kind,
        "body": json.loads(json.dumps(dict(job.body))),
        "copies": job.copies,
        "state": "queued",
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        "expires_at": job.expires_at,
        "submitted_by": job.submitted_by,
        "copy_of": job.copy_of,
    }


_SAME_REQUEST = ("branch_id", "printer_id", "kind", "body", "copies", "copy_of")


async def _existing(session: AsyncSession, values: Mapping[str, Any]) -> JobRow:
    """The job that already holds this idempotency key; IdempotencyConflict if it differs."""
    row = await session.scalar(
        select(PrintJob).where(
            PrintJob.company_id == values["company_id"],
            PrintJob.idempotency_key == values["idempotency_key"],
        )
    )
    if row is None:  # the key's holder vanished between the two statements: a bug, not a race
        raise ConcurrentUpdate("the job holding this idempotency key disappeared")
    if any(getattr(row, name) != values[name] for name in _SAME_REQUEST):
        raise IdempotencyConflict("this idempotency key was used for a different print job")
    return _job(row)


async def create_job(
    session: AsyncSession, job: NewJob, now: datetime | None = None
) -> tuple[JobRow, bool]:
    """Queue a job; returns (job, created). A reused idempotency key returns the first job."""
    values = _values(job, now or utcnow())
    if job.idempotency_key is None:
        session.add(PrintJob(**values))
    elif not await insert_ignore(session, PrintJob, values, ["company_id", "idempotency_key"]):
        return await _existing(session, values), False
    session.add(PrintJobEvent(job_id=values["id"], state="queued", at=values["created_at"]))
    await session.flush()
    return _job(await session.get_one(PrintJob, values["id"])), True


async def get_job(session: AsyncSession, company_id: str, job_id: str) -> JobRow | None:
    """The company's job, or None (also for another company's job)."""
    row = await session.get(PrintJob, job_id)
    return None if row is None or row.company_id != company_id else _job(row)


async def job_by_id(session: AsyncSession, job_id: str) -> JobRow | None:
    """Any company's job by id: for the hub's own housekeeping, never for a caller's request."""
    row = await session.get(PrintJob, job_id)
    return None if row is None else _job(row)


async def list_jobs(
    session: AsyncSession,
    company_id: str,
    *,
    branch_id: str | None = None,
    state: str | None = None,
    printer_id: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[JobRow]:
    """The company's jobs, newest first, filtered; at most 500 per call."""
    statement = select(PrintJob).where(PrintJob.company_id == company_id)
    filters = {"branch_id": branch_id, "state": state, "printer_id": printer_id}
    for name, value in filters.items():
        if value is not None:
            statement = statement.where(getattr(PrintJob, name) == value)
    if since is not None:
        statement = statement.where(PrintJob.created_at >= since)
    statement = statement.order_by(PrintJob.created_at.desc(), PrintJob.id.desc())
    rows = await session.scalars(statement.limit(clamp(limit)).offset(max(0, offset)))
    return [_job(row) for row in rows]


async def _read_for_update(session: AsyncSession, job_id: str, company_id: str | None) -> PrintJob:
    """The job, freshly read and (on PostgreSQL) locked until the transaction ends."""
    statement = select(PrintJob).where(PrintJob.id == job_id)
    if company_id is not None:
        statement = statement.where(PrintJob.company_id == company_id)
    statement = statement.with_for_update().execution_options(populate_existing=True)
    row = await session.scalar(statement)
    if row is None:
        raise NotFound(f"print job {job_id!r} does not exist")
    return row


def _changes(
    state: JobState, error: ErrorInfo | None, agent_id: str | None, at: datetime
) -> dict[str, Any]:
    """Column values for entering ``state``: error kept only when given or final."""
    values: dict[str, Any] = {"state": state, "updated_at": at}
    if error is not None:
        values.update(error_code=error.code, error_message=error.message)
    elif not is_terminal(state):
        values.update(error_code=None, error_message=None)
    if state == "sent":
        values["attempts"] = PrintJob.attempts + 1
    if agent_id is not None:
        values["agent_id"] = agent_id
    return values


async def _compare_and_set(
    session: AsyncSession, job_id: str, expected: str, values: Mapping[str, Any]
) -> bool:
    """Write ``values`` only if the job is still in ``expected``; True if it was."""
    result = await session.execute(
        update(PrintJob)
        .where(PrintJob.id == job_id, PrintJob.state == expected)
        .values(dict(values))
        .execution_options(synchronize_session="fetch")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_job_state(
    session: AsyncSession,
    job_id: str,
    new_state: str,
    *,
    error: ErrorInfo | None = None,
    detail: str | None = None,
    company_id: str | None = None,
    agent_id: str | None = None,
    now: datetime | None = None,
) -> JobRow:
    """Move a job to ``new_state`` and log it; IllegalTransition when the table forbids it."""
    at = now or utcnow()
    for _ in range(_CAS_ROUNDS):
        row = await _read_for_update(session, job_id, company_id)
        current = row.state
        state = transition(current, new_state)
        if await _compare_and_set(session, job_id, current, _changes(state, error, agent_id, at)):
            event_detail = detail or reason(current, state)
            session.add(PrintJobEvent(job_id=job_id, state=state, at=at, detail=event_detail))
            await session.flush()
            return _job(await _read_for_update(session, job_id, company_id))
    raise ConcurrentUpdate(f"print job {job_id!r} kept changing; try again")


async def job_events(session: AsyncSession, job_id: str) -> list[JobEventRow]:
    """Every state the job entered, oldest first."""
    statement = select(PrintJobEvent).where(PrintJobEvent.job_id == job_id)
    rows = await session.scalars(statement.order_by(PrintJobEvent.id))
    return [_event(row) for row in rows]


async def pending_jobs_for_agent(
    session: AsyncSession,
    agent_id: str,
    now: datetime | None = None,
    limit: int = PAGE_SIZE,
    *,
    after: tuple[datetime, str] | None = None,
    idle_since: datetime | None = None,
) -> list[JobRow]:
    """One page of jobs to (re)deliver to an agent: unfinished and unexpired, oldest first.

    ``after`` continues from a previous page's last :attr:`JobRow.page_key`; ``idle_since``
    keeps only jobs that have not changed since then (nothing heard of them for a while).
    """
    where = PrintJob.agent_id == agent_id
    if idle_since is not None:
        where = and_(where, PrintJob.updated_at <= idle_since)
    return await _pending(session, where, now or utcnow(), limit, after)


async def agents_with_pending(
    session: AsyncSession, agent_ids: list[str], now: datetime | None = None
) -> set[str]:
    """Which of ``agent_ids`` have an unfinished, unexpired job (one query for a whole storm)."""
    statement = (
        select(PrintJob.agent_id)
        .where(PrintJob.agent_id.in_(agent_ids), PrintJob.state.in_(PENDING_STATES))
        .where(PrintJob.expires_at > (now or utcnow()))
        .distinct()
    )
    return {agent_id for agent_id in await session.scalars(statement) if agent_id is not None}


async def pending_jobs_for_printer(
    session: AsyncSession,
    company_id: str,
    printer_id: str,
    now: datetime | None = None,
    limit: int = PAGE_SIZE,
) -> list[JobRow]:
    """Jobs waiting for one printer of the company: unfinished and unexpired, oldest first."""
    where = and_(PrintJob.company_id == company_id, PrintJob.printer_id == printer_id)
    return await _pending(session, where, now or utcnow(), limit)


def _after(key: tuple[datetime, str]) -> ColumnElement[bool]:
    """Rows after ``key`` in (created_at, id) order."""
    created_at, job_id = key
    return or_(
        PrintJob.created_at > created_at,
        and_(PrintJob.created_at == created_at, PrintJob.id > job_id),
    )


async def _pending(
    session: AsyncSession,
    where: ColumnElement[bool],
    now: datetime,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[JobRow]:
    statement = select(PrintJob).where(where, PrintJob.state.in_(PENDING_STATES))
    statement = statement.where(PrintJob.expires_at > now)
    if after is not None:
        statement = statement.where(_after(after))
    statement = statement.order_by(PrintJob.created_at, PrintJob.id).limit(clamp(limit))
    return [_job(row) for row in await session.scalars(statement)]


async def assign_job(
    session: AsyncSession,
    job_id: str,
    printer_id: str,
    agent_id: str,
    detail: str,
    body: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> JobRow | None:
    """Hand a queued job nobody holds yet to a printer and its agent, noting why in its history.

    Only a job that is still ``queued`` with no agent moves (a compare-and-set), so two
    dispatchers never hand out the same job; None when it had moved already. ``body`` replaces
    the job's body (a ticket marked for another printer).
    """
    at = now or utcnow()
    values: dict[str, Any] = {"printer_id": printer_id, "agent_id": agent_id, "updated_at": at}
    if body is not None:
        values["body"] = json.loads(json.dumps(dict(body)))
    result = await session.execute(
        update(PrintJob)
        .where(PrintJob.id == job_id, PrintJob.state == "queued", PrintJob.agent_id.is_(None))
        .values(values)
        .execution_options(synchronize_session="fetch")
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    session.add(PrintJobEvent(job_id=job_id, state="queued", at=at, detail=detail))
    await session.flush()
    return await job_by_id(session, job_id)


async def copies_of(session: AsyncSession, job_id: str) -> list[str]:
    """Ids of the reprints of a job, oldest first."""
    statement = select(PrintJob.id).where(PrintJob.copy_of == job_id)
    return list(await session.scalars(statement.order_by(PrintJob.created_at, PrintJob.id)))


async def expire_jobs(session: AsyncSession, now: datetime | None = None) -> list[str]:
    """Expire every queued or sent job past its deadline; returns their ids."""
    at = now or utcnow()
    result = await session.execute(
        update(PrintJob)
        .where(PrintJob.state.in_(EXPIRABLE_STATES), PrintJob.expires_at <= at)
        .values(_changes("expired", EXPIRED_ERROR, None, at))
        .returning(PrintJob.id)
        .execution_options(synchronize_session="fetch")
    )
    expired = sorted(result.scalars())
    detail = EXPIRED_ERROR.message
    session.add_all(PrintJobEvent(job_id=i, state="expired", at=at, detail=detail) for i in expired)
    await session.flush()
    return expired

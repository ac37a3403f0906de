"""Print jobs on the hub: stored before anything else, delivered to the owning agent, tracked.

A job is written ``queued`` first, so a hub restart never loses it. It is delivered to the
agent that drives its printer (now, or when that agent next connects, with the same job id,
which the agent's spool uses to never print twice), and every state the agent reports is
checked against the lifecycle table, stored and broadcast as ``printJobUpdate``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.metrics import HubMetrics
from hub.services.locator import PrintingError, Requester
from hub.services.printing import PrintingService
from hub.services.publisher import Publisher
from hub.services.registry import AgentRecord
from hub.store import Database
from hub.store import jobs as job_store
from hub.store.jobs import JobKind, JobRow, NewJob
from shared.events import PrintJobDispatch, PrintJobUpdate, lookup
from shared.jobs import IllegalTransition, is_terminal
from shared.namespaces import Namespace
from shared.wire import ErrorInfo

log = logging.getLogger("chit.hub.jobs")

MAX_LIFETIME = timedelta(hours=24)
DEFAULT_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class JobRequest:
    """A validated request to print."""

    printer_id: str
    kind: JobKind
    body: dict[str, Any]
    copies: int = 1
    lifetime: timedelta = DEFAULT_LIFETIME
    idempotency_key: str | None = None
    correlation_id: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def dispatch_of(job: JobRow) -> PrintJobDispatch:
    """The ``print:job`` payload for a stored job."""
    return PrintJobDispatch.model_validate(
        {
            "jobId": job.id,
            "correlationId": job.correlation_id,
            "printerId": job.printer_id,
            **({"raw": job.body["raw"]} if job.kind == "raw" else {"document": job.body}),
            "copies": job.copies,
            "expiresAt": job.expires_at.isoformat(),
        }
    )


def update_of(job: JobRow) -> PrintJobUpdate:
    """The ``printJobUpdate`` payload for a job's current state."""
    error = (
        ErrorInfo(code=job.error_code, message=job.error_message or job.error_code)
        if job.error_code
        else None
    )
    return PrintJobUpdate(
        job_id=job.id,
        correlation_id=job.correlation_id,
        printer_id=job.printer_id,
        state=job.state,
        error=error,
        at=job.updated_at,
    )


class JobService:
    """Submit, deliver, track and expire print jobs."""

    def __init__(
        self, db: Database, printing: PrintingService, publisher: Publisher, metrics: HubMetrics
    ) -> None:
        self._metrics = metrics
        self._db = db
        self._printing = printing
        self._publisher = publisher

    async def submit(self, requester: Requester, request: JobRequest) -> tuple[JobRow, bool]:
        """Store a job (idempotent by key) and deliver it if its agent is online."""
        owner = await self._printing.locator.find_owner(requester, request.printer_id)
        assert owner.branch_id is not None
        new = NewJob(
            company_id=requester.company_id,
            branch_id=owner.branch_id,
            printer_id=request.printer_id,
            kind=request.kind,
            body=request.body,
            expires_at=_now() + request.lifetime,
            agent_id=owner.agent_id,
            copies=request.copies,
            correlation_id=request.correlation_id,
            idempotency_key=request.idempotency_key,
            submitted_by=requester.name,
        )
        async with self._db.session() as s:
            job, created = await job_store.create_job(s, new)
        if created:
            log.info(
                "print job queued",
                extra={
                    "job_id": job.id,
                    "printer_id": job.printer_id,
                    "correlation_id": job.correlation_id,
                },
            )
            await self._broadcast(job)
            if owner.online:
                await self.deliver(job, owner)
        return job, created

    async def deliver_pending(self, agent: AgentRecord) -> int:
        """(Re)deliver every unfinished job of an agent that just announced itself."""
        async with self._db.session() as s:
            jobs = await job_store.pending_jobs_for_agent(s, agent.agent_id)
        for job in jobs:
            await self.deliver(job, agent)
        return len(jobs)

    async def deliver(self, job: JobRow, agent: AgentRecord) -> None:
        """Hand a job to its agent; a queued job becomes ``sent``."""
        if agent.sid is None:
            return
        if job.state == "queued":
            async with self._db.session() as s:
                job = await job_store.set_job_state(
                    s, job.id, "sent", agent_id=agent.agent_id, detail=f"to agent {agent.agent_id}"
                )
            await self._broadcast(job)
        await self._publisher.to_sid(
            lookup(Namespace.PRINTING, "print:job"), dispatch_of(job), agent.sid
        )

    async def agent_update(self, agent: AgentRecord, update: PrintJobUpdate) -> None:
        """An agent reports a job's state; only the job's own agent may."""
        async with self._db.session() as s:
            job = await job_store.get_job(s, agent.company_id, update.job_id)
            if job is None or job.agent_id != agent.agent_id:
                raise PrintingError("unknown_job", f"no job {update.job_id} for this agent")
            if job.state == update.state:
                return
            if is_terminal(job.state):
                raise PrintingError("job_final", f"job {job.id} is already {job.state}")
            try:
                job = await job_store.set_job_state(
                    s, job.id, update.state, error=update.error, agent_id=agent.agent_id
                )
            except IllegalTransition as exc:
                raise PrintingError(exc.code, exc.message) from None
        if is_terminal(job.state):
            self._metrics.print_job(job.state)
        log.info(
            "print job update",
            extra={"job_id": job.id, "state": job.state, "correlation_id": job.correlation_id},
        )
        await self._broadcast(job)

    async def get(self, requester: Requester, job_id: str) -> tuple[JobRow, list[Any]] | None:
        """A job of the requester's scope with its state history."""
        async with self._db.session() as s:
            job = await job_store.get_job(s, requester.company_id, job_id)
            if job is None or (requester.branch_id and job.branch_id != requester.branch_id):
                return None
            return job, await job_store.job_events(s, job.id)

    async def list(self, requester: Requester, **filters: Any) -> list[JobRow]:
        """Jobs of the requester's scope, newest first."""
        if requester.branch_id:
            filters["branch_id"] = requester.branch_id
        async with self._db.session() as s:
            return await job_store.list_jobs(s, requester.company_id, **filters)

    async def expire_due(self) -> int:
        """Expire queued or sent jobs past their deadline and broadcast it."""
        async with self._db.session() as s:
            expired = await job_store.expire_jobs(s)
        for job_id in expired:
            self._metrics.print_job("expired")
            async with self._db.session() as s:
                job = await job_store.job_by_id(s, job_id)
            if job is not None:
                await self._broadcast(job)
        return len(expired)

    async def run_expiry(self, every: float = 5.0) -> None:
        """Expire due jobs forever (a background task of the app)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.expire_due()
            except Exception:
                log.exception("expiring jobs failed")

    async def _broadcast(self, job: JobRow) -> None:
        spec = lookup(Namespace.PRINTING, "printJobUpdate")
        await self._publisher.to_tenant(spec, update_of(job), job.company_id, job.branch_id)

"""Print jobs on the hub: stored before anything else, delivered to the owning agent, tracked.

A job is written ``queued`` first, so a hub restart never loses it. It is delivered to the
agent that drives its printer, always with the same job id, which the agent's spool uses to
never print twice: at once when the agent is online, every pending job (page by page, until
none is left) when the agent announces its inventory, and again on a schedule while the agent
stays online and nothing was heard of a job for ``redelivery_interval`` seconds (a delivery
lost on the way, or an outcome whose report was lost: the agent answers a known job with its
outcome). A job redelivered by the schedule waits twice as long before the next time, up to
:data:`MAX_REDELIVERY_FACTOR` intervals, so a job waiting for paper is not sent every tick.

Every state the agent reports is checked against the lifecycle table, stored and broadcast as
``printJobUpdate``. A reprint is a new job with the same body, linked to the original
(``copy_of``): the agent prints "COPY" at its top.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.metrics import HubMetrics
from hub.services.batching import KeyedBatcher
from hub.services.locator import PrintingError, Requester
from hub.services.printing import PrintingService
from hub.services.publisher import Publisher
from hub.services.registry import AgentRecord
from hub.store import Database
from hub.store import audit as audit_store
from hub.store import jobs as job_store
from hub.store.jobs import PAGE_SIZE, PENDING_STATES, JobKind, JobRow, NewJob
from shared.events import PrintJobDispatch, PrintJobUpdate, lookup
from shared.jobs import IllegalTransition, is_terminal
from shared.namespaces import Namespace
from shared.wire import ErrorInfo

log = logging.getLogger("chit.hub.jobs")

MAX_LIFETIME = timedelta(hours=24)
DEFAULT_LIFETIME = timedelta(hours=1)
#: Seconds between scheduled redeliveries, by default.
REDELIVERY_INTERVAL = 10.0
#: A job redelivered again and again waits at most this many intervals between deliveries.
MAX_REDELIVERY_FACTOR = 16


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
    copy_of: str | None = None


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
            **({"copyOf": job.copy_of} if job.copy_of else {}),
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
    """Submit, deliver, track, redeliver, reprint and expire print jobs."""

    def __init__(
        self,
        db: Database,
        printing: PrintingService,
        publisher: Publisher,
        metrics: HubMetrics,
        redelivery_interval: float = REDELIVERY_INTERVAL,
    ) -> None:
        self._metrics = metrics
        self._db = db
        self._printing = printing
        self._publisher = publisher
        if redelivery_interval <= 0:
            raise ValueError("job_redelivery_interval must be a positive number of seconds")
        self.redelivery_interval = redelivery_interval
        #: job id -> (monotonic time it may be redelivered again, current wait): this
        #: instance's schedule for the agents whose sockets it holds.
        self._backoff: dict[str, tuple[float, float]] = {}
        #: Called with a job after every state an agent reports (kitchen tickets listen).
        self.listeners: list[Callable[[JobRow], Awaitable[None]]] = []
        #: "Has this agent jobs waiting?", asked by every agent after its inventory: one
        #: query per loop turn for all of them (most have none) instead of a session each.
        self._has_pending: KeyedBatcher[str, bool] = KeyedBatcher(self._agents_with_pending, False)

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
            copy_of=request.copy_of,
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

    async def reprint(
        self, requester: Requester, job_id: str, idempotency_key: str | None = None
    ) -> tuple[JobRow, bool]:
        """A new job printing a finished job's body again, marked as its copy, and audited."""
        found = await self.get(requester, job_id)
        if found is None:
            raise PrintingError("not_found", "no such print job")
        original = found[0]
        if not is_terminal(original.state):
            raise PrintingError(
                "job_not_final", f"job {original.id} is still {original.state}; wait for it"
            )
        request = JobRequest(
            printer_id=original.printer_id,
            kind=original.kind,  # type: ignore[arg-type]
            body=original.body,
            copies=original.copies,
            idempotency_key=idempotency_key,
            copy_of=original.id,
        )
        copy, created = await self.submit(requester, request)
        if created:
            async with self._db.session() as s:
                await audit_store.record(
                    s,
                    requester.company_id,
                    requester.name or "unknown",
                    "job.reprint",
                    original.id,
                    {"jobId": copy.id, "originalState": original.state},
                )
        return copy, created

    async def deliver_pending(self, agent: AgentRecord) -> int:
        """(Re)deliver every unfinished job of an agent that just announced itself."""
        if not await self._has_pending.get(agent.agent_id):
            return 0
        return await self._deliver_all(agent)

    async def _agents_with_pending(self, agent_ids: list[str]) -> dict[str, bool]:
        async with self._db.session() as s:
            waiting = await job_store.agents_with_pending(s, agent_ids)
        return dict.fromkeys(waiting, True)

    async def redeliver_idle(self) -> int:
        """Redeliver the jobs of this instance's agents that nothing was heard of lately."""
        idle_since = _now() - timedelta(seconds=self.redelivery_interval)
        seen: set[str] = set()
        delivered = 0
        for agent in self._printing.registry.all_agents():
            if agent.online and agent.instance is None:
                delivered += await self._deliver_all(agent, idle_since, seen)
        for job_id in set(self._backoff) - seen:
            del self._backoff[job_id]  # finished, expired or moving again
        return delivered

    async def run_redelivery(self) -> None:
        """Redeliver idle jobs forever (a background task of the app)."""
        while True:
            await asyncio.sleep(self.redelivery_interval)
            try:
                await self.redeliver_idle()
            except Exception:
                log.exception("redelivering jobs failed")

    async def _deliver_all(
        self,
        agent: AgentRecord,
        idle_since: datetime | None = None,
        seen: set[str] | None = None,
    ) -> int:
        """Deliver an agent's pending jobs page by page until none is left; how many were sent."""
        delivered, after = 0, None
        while agent.sid is not None:
            async with self._db.session() as s:
                page = await job_store.pending_jobs_for_agent(
                    s, agent.agent_id, after=after, idle_since=idle_since
                )
            for job in page:
                if seen is None or self._due(job.id, seen):
                    await self.deliver(job, agent)
                    delivered += 1
            if len(page) < PAGE_SIZE:
                break
            after = page[-1].page_key
        if delivered and idle_since is not None:
            log.info(
                "print jobs redelivered", extra={"agent_id": agent.agent_id, "count": delivered}
            )
        return delivered

    def _due(self, job_id: str, seen: set[str]) -> bool:
        """Whether the schedule redelivers this job now (and when it may next)."""
        seen.add(job_id)
        now = time.monotonic()
        due, wait = self._backoff.get(job_id, (now, self.redelivery_interval / 2))
        if now < due:
            return False
        wait = min(wait * 2, self.redelivery_interval * MAX_REDELIVERY_FACTOR)
        self._backoff[job_id] = (now + wait, wait)
        return True

    async def deliver(self, job: JobRow, agent: AgentRecord) -> None:
        """Hand a job to its agent; a queued job becomes ``sent``."""
        if agent.sid is None:
            return
        if job.state == "queued":
            sent = await self._mark_sent(job, agent)
            if sent is None:
                return
            job = sent
        await self._publisher.to_sid(
            lookup(Namespace.PRINTING, "print:job"), dispatch_of(job), agent.sid
        )

    async def _mark_sent(self, job: JobRow, agent: AgentRecord) -> JobRow | None:
        """Move a queued job to ``sent``; the job as it is now, None when no longer pending."""
        try:
            async with self._db.session() as s:
                job = await job_store.set_job_state(
                    s, job.id, "sent", agent_id=agent.agent_id, detail=f"to agent {agent.agent_id}"
                )
        except IllegalTransition:  # another delivery (inventory, schedule) moved it first
            async with self._db.session() as s:
                fresh = await job_store.job_by_id(s, job.id)
            return fresh if fresh is not None and fresh.state in PENDING_STATES else None
        await self._broadcast(job)
        return job

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
        await self._tell_listeners(job)

    async def _tell_listeners(self, job: JobRow) -> None:
        for listener in self.listeners:
            try:
                await listener(job)
            except Exception:
                log.exception("a job listener failed", extra={"job_id": job.id})

    async def announce(self, job: JobRow) -> None:
        """Broadcast a job's state (for jobs made elsewhere, such as kitchen tickets)."""
        await self._broadcast(job)

    async def get(self, requester: Requester, job_id: str) -> tuple[JobRow, list[Any]] | None:
        """A job of the requester's scope with its state history."""
        async with self._db.session() as s:
            job = await job_store.get_job(s, requester.company_id, job_id)
            if job is None or (requester.branch_id and job.branch_id != requester.branch_id):
                return None
            return job, await job_store.job_events(s, job.id)

    async def reprints(self, job_id: str) -> list[str]:
        """Ids of the copies made of a job (the caller checked it may see the job)."""
        async with self._db.session() as s:
            return await job_store.copies_of(s, job_id)

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
                await self._tell_listeners(job)
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

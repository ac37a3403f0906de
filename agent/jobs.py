"""Print jobs on the agent: spool first, print once per job id, report until acknowledged.

One worker per printer prints its jobs in arrival order. A job whose printer is not ready
(paper out, cover open, offline, not answering) waits and is retried with backoff until it
prints or expires; the spool keeps it across agent restarts. Outcomes are reported as
``printJobUpdate`` and re-sent after every connect until the hub acknowledges them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from agent.coordinator import PrinterCoordinator, PrintFailed
from agent.render import render_document
from agent.spool import Spool, SpooledJob
from shared.events import JobState, PrintJobDispatch, PrintJobUpdate
from shared.wire import ErrorInfo

log = logging.getLogger("chit.agent.jobs")

#: Errors that clear up by themselves or by a person at the printer: wait and retry.
RETRYABLE = {
    "paper_out",
    "cover_open",
    "printer_offline",
    "printer_not_responding",
    "printer_error",
    "timeout",
    "connection_closed",
    "transport_error",
    "unknown_printer",
    "device_busy",
    "printer_not_found",
}
#: How long a job without its own deadline keeps trying.
DEFAULT_JOB_LIFETIME = timedelta(hours=1)
RETRY_MIN, RETRY_MAX = 0.5, 10.0

Reporter = Callable[[PrintJobUpdate], Awaitable[bool]]
Finder = Callable[[str], PrinterCoordinator | None]


def job_bytes(job: PrintJobDispatch, coordinator: PrinterCoordinator) -> bytes:
    """The bytes to send for a job (raw as given, documents rendered for the printer)."""
    if job.raw is not None:
        body = job.raw
    else:
        assert job.document is not None
        body = render_document(job.document, profile=coordinator.info.profile)
    return body * job.copies


def deadline(job: PrintJobDispatch, received: datetime) -> datetime:
    """When the agent gives up on a job."""
    return job.expires_at or received + DEFAULT_JOB_LIFETIME


class JobRunner:
    """Accepts jobs from the hub, prints each exactly once, reports outcomes."""

    def __init__(self, spool: Spool, find: Finder, report: Reporter) -> None:
        self._spool = spool
        self._find = find
        self._report = report
        self._queues: dict[str, asyncio.Queue[str]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._wakeups: dict[str, asyncio.Event] = {}

    async def accept(self, job: PrintJobDispatch) -> SpooledJob:
        """Spool a job from the hub; a known id is not queued again, its outcome is re-sent."""
        is_new, stored = await self._spool.accept(job)
        if is_new:
            self._enqueue(stored)
        elif stored.done:
            await self._send(stored.job, stored.state, _error_of(stored))
        return stored

    async def resume(self) -> None:
        """After a start: queue every job without an outcome again."""
        for stored in await self._spool.open_jobs():
            self._enqueue(stored)

    async def resend_outcomes(self) -> None:
        """After a connect: report outcomes the hub has not acknowledged."""
        for stored in await self._spool.unreported():
            await self._send(stored.job, stored.state, _error_of(stored))

    def printer_changed(self, printer_id: str) -> None:
        """A printer's status changed: wake its worker so a waiting job retries now."""
        event = self._wakeups.get(printer_id)
        if event is not None:
            event.set()

    async def stop(self) -> None:
        """Stop the workers (jobs stay spooled)."""
        for task in self._workers.values():
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        self._workers.clear()

    def _enqueue(self, stored: SpooledJob) -> None:
        printer_id = stored.job.printer_id
        queue = self._queues.setdefault(printer_id, asyncio.Queue())
        queue.put_nowait(stored.job_id)
        if printer_id not in self._workers or self._workers[printer_id].done():
            self._wakeups.setdefault(printer_id, asyncio.Event())
            self._workers[printer_id] = asyncio.create_task(self._work(printer_id))

    async def _work(self, printer_id: str) -> None:
        queue = self._queues[printer_id]
        while True:
            job_id = await queue.get()
            stored = await self._spool.get(job_id)
            if stored is None or stored.done:
                continue
            try:
                await self._run(stored)
            except Exception:
                log.exception("print job crashed", extra={"job_id": job_id})

    async def _run(self, stored: SpooledJob) -> None:
        job, delay = stored.job, RETRY_MIN
        until = deadline(job, datetime.now(UTC))
        while True:
            if datetime.now(UTC) >= until:
                await self._finish(
                    job,
                    "expired",
                    ErrorInfo(
                        code="expired", message="the job could not be printed before its deadline"
                    ),
                )
                return
            error = await self._attempt(job)
            if error is None:
                await self._finish(job, "printed")
                return
            if error.code not in RETRYABLE:
                await self._finish(job, "failed", error)
                return
            log.info("print job waiting", extra={"job_id": job.job_id, "reason": error.code})
            await self._wait(job.printer_id, delay)
            delay = min(RETRY_MAX, delay * 2)

    async def _attempt(self, job: PrintJobDispatch) -> ErrorInfo | None:
        coordinator = self._find(job.printer_id)
        if coordinator is None:
            return ErrorInfo(
                code="unknown_printer", message=f"this agent has no printer {job.printer_id} (yet)"
            )
        try:
            data = job_bytes(job, coordinator)
        except Exception as exc:
            return ErrorInfo(code="render_failed", message=f"cannot build the job: {exc}"[:2000])
        try:
            await coordinator.print_bytes(data, before_write=lambda: self._printing(job))
        except PrintFailed as exc:
            return exc.error
        return None

    async def _printing(self, job: PrintJobDispatch) -> None:
        await self._spool.mark(job.job_id, "printing")
        await self._send(job, "printing", None)

    async def _finish(
        self, job: PrintJobDispatch, state: JobState, error: ErrorInfo | None = None
    ) -> None:
        await self._spool.mark(job.job_id, state, (error.code, error.message) if error else None)
        log.info(
            "print job finished",
            extra={"job_id": job.job_id, "state": state, "correlation_id": job.correlation_id},
        )
        await self._send(job, state, error)

    async def _send(self, job: PrintJobDispatch, state: str, error: ErrorInfo | None) -> None:
        update = PrintJobUpdate(
            job_id=job.job_id,
            correlation_id=job.correlation_id,
            printer_id=job.printer_id,
            state=state,
            error=error,
            at=datetime.now(UTC),
        )
        if await self._report(update) and state not in ("received", "printing"):
            await self._spool.mark_reported(job.job_id)

    async def _wait(self, printer_id: str, seconds: float) -> None:
        event = self._wakeups.setdefault(printer_id, asyncio.Event())
        event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)


def _error_of(stored: SpooledJob) -> ErrorInfo | None:
    if stored.error_code is None:
        return None
    return ErrorInfo(code=stored.error_code, message=stored.error_message or stored.error_code)

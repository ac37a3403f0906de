"""Print jobs on the agent: spool first, print once per job id, report until acknowledged.

One worker per printer prints its jobs in arrival order. A job whose printer is not ready
(paper out, cover open, offline, not answering) waits and is retried with backoff until it
prints or expires; the spool keeps it across agent restarts. Outcomes are reported as
``printJobUpdate`` and re-sent after every connect until the hub acknowledges them.

A job is retried only while nothing was sent. Once its bytes went out, it ends ``printed``
(the printer said it is fine after the write) or ``unconfirmed`` (it did not, see
agent.coordinator); a job found in ``printing`` when the agent starts (it stopped between the
write and recording the outcome) is ``unconfirmed`` too. An unconfirmed job is never printed
again by itself: staff may reprint it, as a new job marked as a copy (``copy_of``), which
prints "COPY" at its top. On a printer without a status channel a job whose bytes all went
out ends ``sent_to_printer``: sent, not known to be printed, and final like ``printed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from agent.coordinator import PrinterCoordinator, PrintFailed, PrintUnconfirmed
from agent.render import render_for
from agent.spool import Spool, SpooledJob
from shared.documents import FeedLine, ReceiptDocument, TextLine
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
#: Refusals by the hub that resending cannot change: the outcome counts as delivered.
FINAL_REFUSALS = frozenset(
    {"unknown_job", "job_final", "job_already_final", "illegal_job_transition", "unknown_test"}
)
#: The outcome of a job the agent found mid-print when it started.
INTERRUPTED = ErrorInfo(
    code="agent_interrupted",
    message=(
        "the agent stopped while this job was printing, so it may or may not have printed; "
        "check the printer and reprint it as a copy if it is missing"
    ),
)
#: What a reprint prints above the job.
COPY_BANNER: tuple[TextLine | FeedLine, ...] = (
    TextLine(text="COPY", bold=True, align="center", width=2, height=2),
    FeedLine(type="feed"),
)
#: How long a job without its own deadline keeps trying.
DEFAULT_JOB_LIFETIME = timedelta(hours=1)
RETRY_MIN, RETRY_MAX = 0.5, 10.0

Reporter = Callable[[PrintJobUpdate], Awaitable[bool]]
Finder = Callable[[str], PrinterCoordinator | None]


def job_bytes(job: PrintJobDispatch, coordinator: PrinterCoordinator) -> bytes:
    """The bytes to send for a job (raw as given, documents rendered), "COPY" atop a reprint."""
    info = coordinator.info
    if job.raw is not None:
        body = job.raw
        if job.copy_of is not None:
            banner = ReceiptDocument(lines=list(COPY_BANNER), cut=False)
            body = render_for(banner, info) + body
    else:
        assert job.document is not None
        document = job.document
        if job.copy_of is not None:
            lines = [*COPY_BANNER, *document.lines]
            document = document.model_copy(update={"lines": lines})
        body = render_for(document, info)
    return body * job.copies


def delivered(ack: object) -> bool:
    """Whether the hub's ack settles a report: accepted, or refused for good."""
    if not isinstance(ack, dict):
        return False
    error = ack.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return ack.get("ok") is True or code in FINAL_REFUSALS


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
        #: Prints between "printing" and their outcome; a graceful stop waits for them.
        self._in_print = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._draining = False
        #: Cleared while an update switches versions: no new print starts (agent.updates).
        self._released = asyncio.Event()
        self._released.set()

    async def accept(self, job: PrintJobDispatch) -> SpooledJob:
        """Spool a job from the hub; a known id is not queued again, its outcome is re-sent."""
        is_new, stored = await self._spool.accept(job)
        if is_new:
            self._enqueue(stored)
        elif stored.done:
            await self._send(stored.job, stored.state, _error_of(stored))
        return stored

    async def resume(self) -> None:
        """After a start: a job found mid-print is unconfirmed; the others are queued again."""
        for stored in await self._spool.open_jobs():
            if stored.state == "printing":
                log.warning("print job interrupted", extra={"job_id": stored.job_id})
                await self._finish(stored.job, "unconfirmed", INTERRUPTED)
            else:
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

    async def drain(self, grace: float = 10.0) -> None:
        """Start no new print, and let the ones under way finish (at most ``grace`` seconds).

        A print cut off between the write and its outcome is ``unconfirmed`` forever after, so
        a graceful stop (the service stopping, Ctrl+C) waits for it instead of cutting it off.
        """
        self._draining = True
        for event in self._wakeups.values():
            event.set()  # a job waiting for its printer stops waiting and stays spooled
        try:
            await asyncio.wait_for(self._settled.wait(), grace)
        except TimeoutError:
            log.warning("stopping with a print still under way", extra={"prints": self._in_print})

    @property
    def printing(self) -> int:
        """How many prints are under way now (between their start and their outcome)."""
        return self._in_print

    async def hold(self, timeout: float) -> bool:
        """Start no new print and wait for those under way; False (and released) on timeout.

        An update switches versions only while held, so it never cuts a print off; jobs that
        arrive meanwhile are spooled and print after :meth:`release` or in the next version.
        """
        self._released.clear()
        try:
            await asyncio.wait_for(self._settled.wait(), timeout)
        except TimeoutError:
            self.release()
            return False
        return True

    def release(self) -> None:
        """Let prints start again after :meth:`hold`."""
        self._released.set()

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
            if self._draining:
                return  # stays spooled: queued again at the next start
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
        while not self._draining:
            if datetime.now(UTC) >= until:
                await self._finish(
                    job,
                    "expired",
                    ErrorInfo(
                        code="expired", message="the job could not be printed before its deadline"
                    ),
                )
                return
            while not self._released.is_set():  # checked again: a hold may start meanwhile
                await self._released.wait()
            if self._draining:
                return
            self._in_print += 1
            self._settled.clear()
            try:
                waiting = await self._attempt_and_settle(job)
            finally:
                self._in_print -= 1
                if self._in_print == 0:
                    self._settled.set()
            if waiting is None:
                return
            log.info("print job waiting", extra={"job_id": job.job_id, "reason": waiting.code})
            await self._wait(job.printer_id, delay)
            delay = min(RETRY_MAX, delay * 2)

    async def _attempt_and_settle(self, job: PrintJobDispatch) -> ErrorInfo | None:
        """One attempt, and its outcome recorded when it settles the job (then None).

        Returns the error to wait on when the job is to be tried again.
        """
        try:
            error, confirmed = await self._attempt(job)
        except PrintUnconfirmed as unconfirmed:
            await self._finish(job, "unconfirmed", unconfirmed.error)
            return None
        if error is None:
            await self._finish(job, "printed" if confirmed else "sent_to_printer")
            return None
        if error.code not in RETRYABLE:
            await self._finish(job, "failed", error)
            return None
        return error

    async def _attempt(self, job: PrintJobDispatch) -> tuple[ErrorInfo | None, bool]:
        """The error that stopped the job (None: written), and whether a status confirmed it."""
        coordinator = self._find(job.printer_id)
        if coordinator is None:
            message = f"this agent has no printer {job.printer_id} (yet)"
            return ErrorInfo(code="unknown_printer", message=message), False
        try:
            data = job_bytes(job, coordinator)
        except Exception as exc:
            message = f"cannot build the job: {exc}"[:2000]
            return ErrorInfo(code="render_failed", message=message), False
        try:
            after = await coordinator.print_bytes(data, before_write=lambda: self._printing(job))
        except PrintUnconfirmed:
            raise
        except PrintFailed as exc:
            return exc.error, False
        return None, after.confirmed

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
        if await self._report(update) and state != "printing":
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

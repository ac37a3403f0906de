"""Printing through a CUPS queue: each write is one raw job, followed to its end.

``write(data)`` submits ``data`` as one ``application/vnd.cups-raw`` job (CUPS passes it to the
backend untouched) and waits until CUPS says the job is completed, aborted or cancelled, or
until the job timeout. Completed returns; aborted and cancelled raise a TransportError that
says so; a job still queued at the timeout is cancelled (so it cannot print later, after the
agent has reported it failed and may send it again) and raises a timeout. A job whose queue
is stopped while it waits is cancelled at once and reported as the queue being stopped.

The path is one-way: ``read`` returns nothing, and ``status`` reports the queue's own state
(:mod:`agent.transports.queue_status`). Status queries never go out as jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from agent.transports.base import clamp_timeout
from agent.transports.cups_client import CupsClient
from agent.transports.cups_server import CupsServer, find_server
from agent.transports.errors import TransportClosed, TransportError, TransportTimeout
from agent.transports.queue_status import queue_status, ready_detail
from shared.printers import PrinterState, PrinterStatus

log = logging.getLogger(__name__)

DEFAULT_JOB_TIMEOUT = 60.0
_POLL_FIRST, _POLL_MAX = 0.05, 0.5

# IPP printer-state and job-state values (RFC 8011 5.4.11, 5.3.7).
PRINTER_STOPPED = 5
JOB_PENDING = 3
JOB_CANCELLED, JOB_ABORTED, JOB_COMPLETED = 7, 8, 9
_JOB_STATES = {3: "pending", 4: "held", 5: "processing", 6: "stopped", 7: "cancelled",
               8: "aborted", 9: "completed"}  # fmt: skip

# printer-state-reasons keywords (RFC 8011 5.4.12, PWG 5100.9), worst first.
_REASONS: tuple[tuple[tuple[str, ...], PrinterState, str], ...] = (
    (("media-empty", "media-needed"), PrinterState.PAPER_OUT, "reports paper out"),
    (("cover-open", "door-open", "interlock-open"), PrinterState.COVER_OPEN, "reports cover open"),
    (("offline", "shutdown", "timed-out"), PrinterState.OFFLINE, "reports the printer offline"),
    (("media-jam", "marker-supply-empty", "other"), PrinterState.ERROR, "reports a printer error"),
    (("media-low",), PrinterState.PAPER_NEAR_END, "reports paper low"),
)


def _reasons(attrs: dict[str, Any]) -> list[str]:
    """``printer-state-reasons`` as a list of keywords."""
    value = attrs.get("printer-state-reasons") or []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _keyword(reason: str) -> str:
    """``media-empty`` from ``media-empty-error`` / ``-warning`` / ``-report``."""
    for suffix in ("-error", "-warning", "-report"):
        if reason.endswith(suffix):
            return reason[: -len(suffix)]
    return reason


def _fault(queue: str, reasons: list[str]) -> tuple[PrinterState, str] | None:
    """The worst fault among the queue's state reasons, if any."""
    words = {_keyword(r) for r in reasons}
    for keywords, state, text in _REASONS:
        if words.intersection(keywords):
            return state, f"the print queue {queue!r} {text} ({', '.join(reasons)})"
    return None


def cups_status(queue: str, attrs: dict[str, Any]) -> PrinterStatus:
    """What a CUPS queue's attributes say about printing on it."""
    message = str(attrs.get("printer-state-message") or "").strip()
    said = f" ({message})" if message else ""
    if int(attrs.get("printer-state") or 0) == PRINTER_STOPPED:
        return queue_status(
            PrinterState.OFFLINE,
            f"the print queue {queue!r} is stopped{said}: resume it with `cupsenable {queue}`",
        )
    if attrs.get("printer-is-accepting-jobs") is False:
        return queue_status(
            PrinterState.OFFLINE,
            f"the print queue {queue!r} is rejecting jobs: run `cupsaccept {queue}`",
        )
    fault = _fault(queue, _reasons(attrs))
    if fault is not None:
        return queue_status(*fault)
    doing = "printing" if int(attrs.get("printer-state") or 0) == 4 else "idle"
    return queue_status(PrinterState.QUEUE_READY, ready_detail(queue, doing))


def _job_text(job: dict[str, Any]) -> str:
    """What CUPS said about a job, for messages."""
    parts = [str(job.get(k) or "") for k in ("job-printer-state-message", "job-state-message")]
    said = "; ".join(p for p in parts if p)
    return f" ({said})" if said else ""


def _job_reasons(job: dict[str, Any]) -> set[str]:
    """``job-state-reasons`` as a set."""
    value = job.get("job-state-reasons") or []
    return {str(v) for v in (value if isinstance(value, list) else [value])}


class CupsTransport:
    """One CUPS queue as a byte pipe: writes are jobs, status is the queue's."""

    def __init__(
        self, client: CupsClient, queue: str, *, job_timeout: float = DEFAULT_JOB_TIMEOUT
    ) -> None:
        self.client = client
        self.queue = queue
        self.job_timeout = job_timeout
        self.job_name = "Chit"
        self.last_job_id: int | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        queue: str,
        *,
        server: CupsServer | None = None,
        timeout: float = 5.0,
        job_timeout: float = DEFAULT_JOB_TIMEOUT,
    ) -> CupsTransport:
        """Check that ``queue`` exists on the server (found as CUPS clients find it)."""
        client = CupsClient(server or find_server(), call_timeout=timeout)
        try:
            await client.printer(queue)
        except BaseException:
            await client.close()
            raise
        return cls(client, queue, job_timeout=job_timeout)

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        """Print ``data`` as one raw job and wait for CUPS to finish it."""
        self._check_open()
        limit = max(clamp_timeout(timeout or 0.0), self.job_timeout)
        job_id = await self.client.print_raw(self.queue, data, self.job_name)
        self.last_job_id = job_id
        log.debug("cups job submitted", extra={"queue": self.queue, "job_id": job_id})
        await self._follow(job_id, limit)

    async def read(self, size: int, timeout: float) -> bytes:
        """Nothing: a CUPS queue does not pass the printer's replies back."""
        self._check_open()
        await asyncio.sleep(clamp_timeout(timeout))
        return b""

    async def status(self, timeout: float) -> PrinterStatus:
        """The queue's own state (``source=queue``)."""
        self._check_open()
        return cups_status(self.queue, await self.client.printer(self.queue))

    async def close(self) -> None:
        """Close the HTTP session; safe twice."""
        if not self._closed:
            self._closed = True
            await self.client.close()

    def describe(self) -> str:
        """``cups://server/queue``."""
        return f"cups://{self.client.server.describe()}/{self.queue}"

    async def _follow(self, job_id: int, limit: float) -> None:
        """Poll the job until it ends; raise unless it completed."""
        loop = asyncio.get_running_loop()
        deadline, delay, state = loop.time() + limit, _POLL_FIRST, 0
        while loop.time() < deadline:
            job = await self.client.job(self.queue, job_id)
            state = int(job.get("job-state") or 0)
            if state == JOB_COMPLETED:
                return
            if state in (JOB_CANCELLED, JOB_ABORTED):
                raise self._ended(job_id, state, job)
            if state == JOB_PENDING and await self._queue_stopped(job):
                await self._cancel(job_id)
                raise TransportError(
                    f"the print queue {self.queue!r} was stopped with job {job_id} in it; "
                    f"the job was cancelled: resume the queue with `cupsenable {self.queue}`",
                    code="printer_offline",
                )
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(_POLL_MAX, delay * 2)
        await self._cancel(job_id)
        raise TransportTimeout(
            f"the print queue {self.queue!r} did not finish job {job_id} within {limit:g} s "
            f"(it was {_JOB_STATES.get(state, 'unknown')}); it was cancelled so it cannot print "
            "later",
            code="timeout",
        )

    def _ended(self, job_id: int, state: int, job: dict[str, Any]) -> TransportError:
        """The error for a job CUPS cancelled or aborted."""
        if state == JOB_CANCELLED:
            return TransportError(
                f"job {job_id} was cancelled in the print queue {self.queue!r}{_job_text(job)}",
                code="job_cancelled",
            )
        return TransportError(
            f"the print queue {self.queue!r} aborted job {job_id}{_job_text(job)}",
            code="job_aborted",
        )

    async def _queue_stopped(self, job: dict[str, Any]) -> bool:
        """Whether a pending job waits on a stopped queue (it would wait for a person)."""
        if "printer-stopped" in _job_reasons(job):
            return True
        attrs = await self.client.printer(self.queue)
        return int(attrs.get("printer-state") or 0) == PRINTER_STOPPED

    async def _cancel(self, job_id: int) -> None:
        """Cancel a job we give up on (best effort: it may have ended meanwhile)."""
        with contextlib.suppress(TransportError):
            await self.client.cancel(self.queue, job_id)

    def _check_open(self) -> None:
        """Refuse I/O on a closed transport."""
        if self._closed:
            raise TransportClosed(f"{self.describe()} is closed")

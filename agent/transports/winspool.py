"""Printing through the Windows spooler: each write is one RAW job, followed until it leaves.

``write(data)``: OpenPrinter / StartDocPrinter (level 1, datatype ``RAW``, so the driver does
not render it) / StartPagePrinter / WritePrinter until every byte is taken / EndPagePrinter /
EndDocPrinter, then GetJob until the job leaves the queue. The spooler drops a job once it
has gone to the port, so "left the queue" means sent; a job seen deleting (a person cancelled
it) or in error is reported as such; a job that waits in a paused queue is cancelled (it
would print whenever someone resumes the queue, after we reported it failed) and the pause
reported; a job still queued at the timeout is cancelled and reported as a timeout.

Status: the queue's own state (GetPrinter level 2: paused, offline, paper out, door open,
error) with ``source=queue``. On a bidirectional path (the printer has
``PRINTER_ATTRIBUTE_ENABLE_BIDI`` and its port ``PORT_TYPE_READ``, as USB ports usually do)
the agent also asks the printer: one small RAW job with ``DLE EOT 1..4``, then ``ReadPrinter``
on ``"Name, Job N"``; replies give a hardware status (``source=hardware``). A path that
fails to read three times running is treated as one-way from then on.

Every spooler call runs in a worker thread under an asyncio timeout; pywintypes errors are
translated once, in :func:`translate_spooler_error`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from agent.transports.base import clamp_timeout
from agent.transports.errors import (
    AccessDenied,
    PrinterNotFound,
    TransportClosed,
    TransportError,
    TransportTimeout,
)
from agent.transports.queue_status import queue_status, ready_detail
from agent.transports.winspool_api import SpoolerApi, spooler_api
from shared.escpos.status import STATUS_QUERY_KINDS, is_status_byte, parse_status, status_query
from shared.printers import PrinterState, PrinterStatus, StatusSource

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_JOB_TIMEOUT = 60.0
DEFAULT_CALL_TIMEOUT = 5.0
_GUARD_SLACK = 1.0
_POLL_FIRST, _POLL_MAX = 0.05, 0.5
_SILENT_READS_BEFORE_ONE_WAY = 3

# Win32 error codes (winerror.h) with a meaning of their own here.
_NOT_FOUND = {1801, 3012, 1905}  # invalid printer name, printer not found, printer deleted
_ACCESS_DENIED = 5
_BAD_DATATYPE = 1804
_CANCELLED = 63  # ERROR_PRINT_CANCELLED
_SPOOLER_DOWN = {1722, 1726}  # RPC server unavailable: the Spooler service is stopped

# Printer Status bits (PRINTER_INFO_2.Status), worst first, and what each means.
_STATUS_BITS: tuple[tuple[int, PrinterState, str], ...] = (
    (0x1, PrinterState.OFFLINE, "is paused: resume it (Printers & scanners > Open print queue)"),
    (0x4, PrinterState.OFFLINE, "is being deleted"),
    (0x10, PrinterState.PAPER_OUT, "reports paper out"),
    (0x400000, PrinterState.COVER_OPEN, "reports the door open"),
    (0x8, PrinterState.ERROR, "reports a paper jam"),
    (0x80, PrinterState.OFFLINE, "reports the printer offline"),
    (0x1000, PrinterState.OFFLINE, "reports the printer not available"),
    (0x100000 | 0x2 | 0x40, PrinterState.ERROR, "reports an error that needs a person"),
)
_WORK_OFFLINE = 0x400
_ENABLE_BIDI = 0x800
_PORT_TYPE_READ = 0x2
# Job Status bits (JOB_INFO_1.Status).
_JOB_DELETING, _JOB_ERROR, _JOB_DELETED = 0x4, 0x2, 0x100
_JOB_PRINTED, _JOB_COMPLETE = 0x80, 0x1000
_JOB_BLOCKED = 0x20 | 0x40 | 0x200 | 0x400  # offline, paper out, blocked, intervention
_GONE = 87  # ERROR_INVALID_PARAMETER: GetJob on a job no longer in the queue


def translate_spooler_error(exc: Exception, where: str, api: SpoolerApi) -> TransportError:
    """The one place a pywintypes.error becomes one of our errors."""
    if isinstance(exc, TransportError):
        return exc
    code = int(getattr(exc, "winerror", 0) or (exc.args[0] if exc.args else 0))
    said = str(getattr(exc, "strerror", "") or exc)
    if code in _NOT_FOUND:
        return PrinterNotFound(f"{where} does not exist in the Windows spooler ({said})")
    if code == _ACCESS_DENIED:
        return AccessDenied(f"Windows refused access to {where} ({said})")
    if code == _BAD_DATATYPE:
        return TransportError(
            f"{where} does not take RAW jobs ({said}): give it the Generic / Text Only driver "
            "or the printer vendor's driver with the WinPrint print processor",
            code="queue_not_raw",
        )
    if code == _CANCELLED:
        return TransportError(f"the job on {where} was cancelled ({said})", code="job_cancelled")
    if code in _SPOOLER_DOWN:
        return PrinterNotFound(f"the Windows print spooler is not running ({said})")
    return TransportError(f"Windows spooler error {code} on {where}: {said}", code="spooler_error")


def spooler_status(name: str, info: dict[str, Any]) -> PrinterStatus:
    """What a queue's PRINTER_INFO_2 says about printing on it (``source=queue``)."""
    status, attributes = int(info.get("Status") or 0), int(info.get("Attributes") or 0)
    if attributes & _WORK_OFFLINE:
        return queue_status(
            PrinterState.OFFLINE,
            f"the print queue {name!r} is set to Use Printer Offline: untick it in its queue "
            "window",
        )
    for bits, state, text in _STATUS_BITS:
        if status & bits:
            return queue_status(state, f"the print queue {name!r} {text}")
    doing = "printing" if status & 0x400 else "idle"
    return queue_status(PrinterState.QUEUE_READY, ready_detail(name, doing))


def is_bidirectional(info: dict[str, Any], ports: tuple[dict[str, Any], ...]) -> bool:
    """Bidi enabled on the printer and its port reads back."""
    if not int(info.get("Attributes") or 0) & _ENABLE_BIDI:
        return False
    port = next((p for p in ports if p.get("Name") == info.get("pPortName")), None)
    return port is not None and bool(int(port.get("PortType") or 0) & _PORT_TYPE_READ)


class WinSpoolTransport:
    """One Windows printer queue as a byte pipe: writes are RAW jobs."""

    def __init__(
        self,
        api: SpoolerApi,
        name: str,
        handle: Any,
        *,
        bidirectional: bool = False,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        job_timeout: float = DEFAULT_JOB_TIMEOUT,
    ) -> None:
        self.api = api
        self.name = name
        self.bidirectional = bidirectional
        self.call_timeout = call_timeout
        self.job_timeout = job_timeout
        self.job_name = "Chit"
        self.last_job_id: int | None = None
        self._handle = handle
        self._silent_reads = 0
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(
        cls,
        name: str,
        *,
        api: SpoolerApi | None = None,
        timeout: float = DEFAULT_CALL_TIMEOUT,
        job_timeout: float = DEFAULT_JOB_TIMEOUT,
    ) -> WinSpoolTransport:
        """Open the printer ``name``; whether its path is two-way is read from the spooler."""
        spooler = api or spooler_api()
        if spooler is None:
            raise TransportError("there is no Windows print spooler here", code="bad_printer")
        w = spooler.win32print

        def open_blocking() -> tuple[Any, bool]:
            handle = w.OpenPrinter(name)
            info = w.GetPrinter(handle, 2)
            return handle, is_bidirectional(info, tuple(w.EnumPorts(None, 2)))

        handle, bidi = await _in_thread(spooler, open_blocking, timeout, f"printer {name!r}")
        return cls(
            spooler, name, handle, bidirectional=bidi, call_timeout=timeout, job_timeout=job_timeout
        )

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        """Print ``data`` as one RAW job and wait until it leaves the queue."""
        limit = max(clamp_timeout(timeout or 0.0), self.job_timeout)
        job_id = await self._call(lambda: self._submit(data, self.job_name))
        self.last_job_id = job_id
        await self._follow(job_id, limit)

    async def read(self, size: int, timeout: float) -> bytes:
        """Nothing: replies are read only inside :meth:`status` (they need a job handle)."""
        self._check_open()
        await asyncio.sleep(clamp_timeout(timeout))
        return b""

    async def status(self, timeout: float) -> PrinterStatus:
        """The queue's state; on a two-way path with no queue fault, the printer's own."""
        info = await self._call(lambda: self.api.win32print.GetPrinter(self._handle, 2))
        queue = spooler_status(self.name, info)
        if queue.state is not PrinterState.QUEUE_READY or not self.bidirectional:
            return queue
        hardware = await self._hardware_status(timeout)
        return hardware or queue

    async def close(self) -> None:
        """Close the printer handle; safe twice."""
        if self._closed:
            return
        self._closed = True
        try:
            await _in_thread(
                self.api, lambda: self.api.win32print.ClosePrinter(self._handle), 1.0, self.where
            )
        except TransportError:
            log.debug("closing the printer handle failed", extra={"printer": self.name})

    def describe(self) -> str:
        """``winspool://name``."""
        return f"winspool://{self.name}" + (" (bidirectional)" if self.bidirectional else "")

    @property
    def where(self) -> str:
        """The queue, for messages."""
        return f"print queue {self.name!r}"

    def _submit(self, data: bytes, document: str) -> int:
        """One RAW document (blocking); its job id."""
        w, handle = self.api.win32print, self._handle
        job_id = int(w.StartDocPrinter(handle, 1, (document, None, "RAW")))
        try:
            w.StartPagePrinter(handle)
            view = memoryview(data)
            while view:
                written = int(w.WritePrinter(handle, bytes(view)))
                if written <= 0:
                    raise TransportError(f"{self.where} took no data", code="spooler_error")
                view = view[written:]
            w.EndPagePrinter(handle)
        except BaseException:
            w.AbortPrinter(handle)
            raise
        w.EndDocPrinter(handle)
        return job_id

    def _job_status(self, job_id: int) -> int | None:
        """The job's Status bits, or None once it has left the queue (blocking)."""
        try:
            return int(self.api.win32print.GetJob(self._handle, job_id, 1)["Status"])
        except self.api.error as exc:
            if int(getattr(exc, "winerror", 0) or 0) == _GONE:
                return None
            raise

    async def _follow(self, job_id: int, limit: float) -> None:
        """Poll the job until it leaves the queue; raise unless it was sent."""
        loop = asyncio.get_running_loop()
        deadline, delay, status = loop.time() + limit, _POLL_FIRST, 0
        while loop.time() < deadline:
            current = await self._call(lambda: self._job_status(job_id))
            if current is None or current & (_JOB_PRINTED | _JOB_COMPLETE):
                if status & (_JOB_DELETING | _JOB_DELETED) and not status & _JOB_PRINTED:
                    raise self._cancelled(job_id)
                return
            status = current
            if status & (_JOB_DELETING | _JOB_DELETED):
                raise self._cancelled(job_id)
            if status & _JOB_ERROR:
                await self._cancel(job_id)
                raise TransportError(f"{self.where} failed job {job_id}", code="job_aborted")
            await self._check_paused(job_id)
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(_POLL_MAX, delay * 2)
        await self._cancel(job_id)
        raise TransportTimeout(
            f"{self.where} did not send job {job_id} within {limit:g} s; it was cancelled so it "
            "cannot print later",
            code="timeout",
        )

    async def _check_paused(self, job_id: int) -> None:
        """A job waiting in a paused or faulted queue is cancelled and the fault reported."""
        info = await self._call(lambda: self.api.win32print.GetPrinter(self._handle, 2))
        queue = spooler_status(self.name, info)
        if queue.state is PrinterState.QUEUE_READY:
            return
        await self._cancel(job_id)
        raise TransportError(
            f"{queue.detail}; job {job_id} was cancelled so it cannot print later",
            code="printer_offline",
        )

    def _cancelled(self, job_id: int) -> TransportError:
        """A job someone cancelled in the queue."""
        return TransportError(
            f"job {job_id} was cancelled in the {self.where}", code="job_cancelled"
        )

    async def _cancel(self, job_id: int) -> None:
        """Cancel a job we give up on (best effort)."""
        cancel = self.api.win32print.JOB_CONTROL_CANCEL
        try:
            await self._call(
                lambda: self.api.win32print.SetJob(self._handle, job_id, 0, None, cancel)
            )
        except TransportError:
            log.debug("cancelling job failed", extra={"printer": self.name, "job_id": job_id})

    async def _hardware_status(self, timeout: float) -> PrinterStatus | None:
        """DLE EOT 1..4 as one RAW job, read back with ReadPrinter; None when nothing came."""
        if self._silent_reads >= _SILENT_READS_BEFORE_ONE_WAY:
            return None
        query = b"".join(status_query(kind) for kind in STATUS_QUERY_KINDS)
        try:
            replies = await self._call(lambda: self._ask(query), timeout)
        except TransportError as exc:
            log.debug("ReadPrinter failed", extra={"printer": self.name, "error": exc.message})
            replies = b""
        status_bytes = [b for b in replies if is_status_byte(b)][: len(STATUS_QUERY_KINDS)]
        if not status_bytes:
            self._silent_reads += 1
            return None
        self._silent_reads = 0
        padded = [*status_bytes, *[None] * (len(STATUS_QUERY_KINDS) - len(status_bytes))]
        status = parse_status(*padded, checked_at=datetime.now(UTC))
        return status.model_copy(update={"source": StatusSource.HARDWARE})

    def _ask(self, query: bytes) -> bytes:
        """Send the query job and read the replies on its job handle (blocking)."""
        w = self.api.win32print
        job_id = self._submit(query, "Chit status")
        job_handle = w.OpenPrinter(f"{self.name}, Job {job_id}")
        try:
            return self.api.read_printer(job_handle, 64)
        finally:
            w.ClosePrinter(job_handle)

    async def _call(self, call: Callable[[], T], timeout: float | None = None) -> T:
        """One serialised, bounded spooler call on this printer."""
        async with self._lock:
            self._check_open()
            return await _in_thread(self.api, call, timeout or self.call_timeout, self.where)

    def _check_open(self) -> None:
        """Refuse I/O on a closed transport."""
        if self._closed:
            raise TransportClosed(f"{self.describe()} is closed")


async def _in_thread(api: SpoolerApi, call: Callable[[], T], timeout: float, where: str) -> T:
    """Run a blocking spooler call in a worker thread, bounded and with errors translated."""
    try:
        async with asyncio.timeout(clamp_timeout(timeout) + _GUARD_SLACK):
            return await asyncio.to_thread(call)
    except TimeoutError:
        raise TransportTimeout(f"the Windows spooler did not answer in time ({where})") from None
    except api.error as exc:
        raise translate_spooler_error(exc, where, api) from exc

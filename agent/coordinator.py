"""One coordinator per printer: owns its transport, polls its status, prints on it.

Every I/O with the printer goes through the coordinator's lock, so a status poll never
interleaves with a print. A broken transport is closed and reopened on the next use; the
status becomes UNKNOWN (never "online" without a reply) until the printer answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from agent.faults import blocking_error
from agent.transports import Transport, TransportError, TransportTimeout, query_status
from shared.printers import PrinterInfo, PrinterState, PrinterStatus
from shared.wire import ErrorInfo

log = logging.getLogger("chit.agent.printer")

Opener = Callable[[PrinterInfo, float], Awaitable[Transport]]
StatusListener = Callable[["PrinterCoordinator", PrinterStatus], Awaitable[None]]

#: Bytes per second we assume a slow printer link accepts, to bound large writes.
MIN_THROUGHPUT = 4096


class PrintFailed(Exception):
    """A print did not happen; ``error`` says why and what to do."""

    def __init__(self, error: ErrorInfo, status: PrinterStatus | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status


def unreachable(detail: str) -> PrinterStatus:
    """The status of a printer we could not talk to."""
    return PrinterStatus(
        state=PrinterState.UNKNOWN, detail=detail[:200], checked_at=datetime.now(UTC)
    )


class PrinterCoordinator:
    """Owns one printer's connection, status snapshot and print queue."""

    def __init__(
        self,
        info: PrinterInfo,
        opener: Opener,
        io_timeout: float,
        on_status: StatusListener | None = None,
    ) -> None:
        self.info = info
        self.status: PrinterStatus = info.status or unreachable("not checked yet")
        self._opener = opener
        self._timeout = io_timeout
        self._on_status = on_status
        self._transport: Transport | None = None
        self._lock = asyncio.Lock()

    @property
    def printer_id(self) -> str:
        """The printer's stable id."""
        return self.info.printer_id

    def snapshot(self) -> PrinterInfo:
        """The printer's info with its latest status."""
        return self.info.model_copy(update={"status": self.status})

    async def refresh(self) -> PrinterStatus:
        """Read the status from the hardware and notify the listener on change."""
        async with self._lock:
            status = await self._read_status()
        await self._set_status(status)
        return status

    async def print_bytes(
        self, data: bytes, before_write: Callable[[], Awaitable[None]] | None = None
    ) -> PrinterStatus:
        """Check the printer is ready, write ``data``, read the status after; or PrintFailed.

        ``before_write`` runs once the printer is known ready, right before the bytes go out
        (the spool records "printing" there).
        """
        async with self._lock:
            before = await self._read_status()
            error = blocking_error(before)
            if error is not None:
                await self._set_status(before)
                raise PrintFailed(error, before)
            if before_write is not None:
                await before_write()
            await self._write(data)
            after = await self._read_status()
        await self._set_status(after)
        return after

    async def close(self) -> None:
        """Close the transport."""
        async with self._lock:
            await self._drop_transport()

    async def _read_status(self) -> PrinterStatus:
        try:
            transport = await self._ensure_transport()
            return await query_status(transport, min(self._timeout, 1.5))
        except TransportError as exc:
            await self._drop_transport()
            return unreachable(exc.message)

    async def _write(self, data: bytes) -> None:
        timeout = self._timeout + len(data) / MIN_THROUGHPUT
        try:
            transport = await self._ensure_transport()
            await transport.write(data, timeout)
        except TransportTimeout as exc:
            await self._drop_transport()
            message = f"printer did not accept data within {timeout:.0f} s: {exc.message}"
            raise PrintFailed(ErrorInfo(code="timeout", message=message[:2000])) from None
        except TransportError as exc:
            await self._drop_transport()
            raise PrintFailed(exc.to_error_info()) from None

    async def _ensure_transport(self) -> Transport:
        if self._transport is None:
            self._transport = await self._opener(self.info, self._timeout)
        return self._transport

    async def _drop_transport(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            try:
                await asyncio.wait_for(transport.close(), self._timeout)
            except (TransportError, TimeoutError, OSError):
                log.debug("closing transport failed", extra={"printer_id": self.printer_id})

    async def _set_status(self, status: PrinterStatus) -> None:
        changed = _differs(self.status, status)
        self.status = status
        if changed and self._on_status is not None:
            await self._on_status(self, status)


def _differs(old: PrinterStatus, new: PrinterStatus) -> bool:
    """Whether a status change is worth reporting (ignores the check time)."""
    return old.model_dump(exclude={"checked_at"}) != new.model_dump(exclude={"checked_at"})


def elapsed_ms(started: float) -> int:
    """Milliseconds since a time.monotonic() reading."""
    return int((time.monotonic() - started) * 1000)

"""One coordinator per printer: owns its transport, polls its status, prints on it.

Every I/O with the printer goes through the coordinator's lock, so a status poll never
interleaves with a print. A broken transport is closed and reopened on the next use; the
status becomes UNKNOWN (never "online" without a reply) until the printer answers again.

A print has three outcomes. The status read before the write says the printer cannot print:
nothing was sent (:class:`PrintFailed`, safe to retry). The write went through and the status
read after it says the printer is fine: printed. Anything else (the write broke off, or the
printer reports paper out, cover open, an error or no reply right after): the bytes may have
printed in full, in part or not at all, and an ESC/POS printer that went offline keeps what
it received and may print it once the fault is cleared, so no status proves it did not print
(:class:`PrintUnconfirmed`, never retried by itself).

What "the status" is depends on the printer's status channel: set by hand (an override kept in
the agent's settings), known from discovery (a USB printer without a bulk-IN endpoint), or
detected at first contact (agent.transports.channels.detect_channel; a printer that takes the
questions and answers none for a few rounds has none). A printer without a status channel is
never asked anything: it prints unchecked, and its prints are "sent", never "printed".

Once per connection, on the first status read that finds the printer ready, the coordinator
asks it what it is (``GS I`` on the ``escpos`` channel, ``ESC # * LF NUL`` on ``star``;
agent.transports.identity; bounded, silence tolerated) and tells its identity listener when
the answer is new.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from agent.faults import blocking_error
from agent.transports import Transport, TransportError, TransportTimeout
from agent.transports.channels import SILENT_ROUNDS_FOR_NONE, detect_channel, query_channel
from agent.transports.identity import DEFAULT_IDENTITY_TIMEOUT, query_channel_identity
from shared.escpos.identity import PrinterIdentity
from shared.escpos.status import parse_status
from shared.printers import PrinterInfo, PrinterState, PrinterStatus, StatusChannel, StatusSource
from shared.wire import ErrorInfo

log = logging.getLogger("chit.agent.printer")

Opener = Callable[[PrinterInfo, float], Awaitable[Transport]]
StatusListener = Callable[["PrinterCoordinator", PrinterStatus], Awaitable[None]]
IdentityListener = Callable[["PrinterCoordinator", PrinterIdentity], Awaitable[None]]
#: What identifies a connection: when any of it changes, the transport is reopened.
_WHERE = ("connection", "host", "port", "vendor_id", "product_id", "serial", "usb_path", "path")

#: Bytes per second we assume a slow printer link accepts, to bound large writes.
MIN_THROUGHPUT = 4096


class PrintFailed(Exception):
    """A print did not happen; ``error`` says why and what to do."""

    def __init__(self, error: ErrorInfo, status: PrinterStatus | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status


class PrintUnconfirmed(PrintFailed):
    """The bytes went out but the printer did not say it is fine afterwards: it may have printed."""


#: Write errors whose own source settles the outcome: an OS print queue reporting that the job
#: was cancelled (by a person) or aborted is a failed job, not an unknown one.
SETTLED_BY_QUEUE = frozenset({"job_cancelled", "job_aborted"})


def unconfirmed_error(write_error: ErrorInfo | None, after: PrinterStatus) -> ErrorInfo | None:
    """Why a print that was sent is not known to have printed (None when the printer is fine)."""
    if write_error is not None:
        message = f"the write broke off ({write_error.message}); part of it may have printed"
        return ErrorInfo(code=write_error.code, message=message[:2000])
    blocked = blocking_error(after)
    if blocked is None:
        return None
    message = (
        f"{blocked.message}, reported right after the data was sent: it may not have printed, "
        "or may print once that is fixed; check the printer before reprinting"
    )
    return ErrorInfo(code=blocked.code, message=message[:2000])


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
        on_identity: IdentityListener | None = None,
        channel_override: StatusChannel | None = None,
    ) -> None:
        self._override = channel_override
        self._discovered: StatusChannel | None = info.status_channel
        self._detected: StatusChannel | None = None
        self._silent_rounds = 0
        self.info = self._with_channel(info)
        self.status: PrinterStatus = info.status or unreachable("not checked yet")
        #: What the printer last said it is (None until it answered ``GS I``).
        self.identity: PrinterIdentity | None = None
        self._opener = opener
        self._timeout = io_timeout
        self._on_status = on_status
        self._on_identity = on_identity
        self._transport: Transport | None = None
        self._asked_identity = False
        self._lock = asyncio.Lock()
        #: The raw replies of the last status round, and when (for diagnostics).
        self.status_bytes: list[int | None] | None = None
        self.status_bytes_at: datetime | None = None

    @property
    def printer_id(self) -> str:
        """The printer's stable id."""
        return self.info.printer_id

    def snapshot(self) -> PrinterInfo:
        """The printer's info with its latest status."""
        return self.info.model_copy(update={"status": self.status})

    @property
    def channel(self) -> StatusChannel | None:
        """The status channel in use: by hand, else from discovery, else detected (or None)."""
        return self._override or self._discovered or self._detected

    def set_info(self, info: PrinterInfo) -> None:
        """What a later scan learnt; the channel set by hand or detected is kept."""
        self._discovered = info.status_channel
        self.info = self._with_channel(info)

    async def set_channel(self, channel: StatusChannel | None) -> PrinterStatus:
        """Set the status channel by hand (None: detect it again), then read the status."""
        async with self._lock:
            self._override, self._detected, self._silent_rounds = channel, None, 0
            self.info = self._with_channel(self.info)
        return await self.refresh()

    def _with_channel(self, info: PrinterInfo) -> PrinterInfo:
        return info.model_copy(update={"status_channel": self.channel})

    async def update_info(self, info: PrinterInfo) -> None:
        """Take new info; the channel set by hand or detected is kept, and a new address or
        device (a DHCP change) reopens the transport."""
        moved = any(getattr(info, k) != getattr(self.info, k) for k in _WHERE)
        self._discovered = info.status_channel
        if not moved:
            self.info = self._with_channel(info)  # no I/O: a print under way is not waited for
            return
        async with self._lock:
            self.info = self._with_channel(info)
            await self._drop_transport()

    async def refresh(self) -> PrinterStatus:
        """Read the status from the hardware and notify the listener on change.

        The first ready status of a connection is followed by the identity query.
        """
        async with self._lock:
            status = await self._read_status()
            identity = await self._identify(status)
        await self._set_status(status)
        if identity is not None and self._on_identity is not None:
            await self._on_identity(self, identity)
        return status

    async def _identify(self, status: PrinterStatus) -> PrinterIdentity | None:
        """Ask who it is once per connection; the identity when it is new (lock held)."""
        transport = self._transport
        if transport is None or self._asked_identity or not status.ready:
            return None
        if status.source is not StatusSource.HARDWARE:
            return None  # an OS queue: a query would go out as a print job
        channel = self.channel
        if channel not in ("escpos", "star"):
            return None  # a write-only printer has no way to answer
        self._asked_identity = True
        timeout = min(self._timeout, DEFAULT_IDENTITY_TIMEOUT)
        try:
            identity = await query_channel_identity(transport, channel, timeout)
        except TransportError as exc:
            log.debug("identity query failed: %s", exc, extra={"printer_id": self.printer_id})
            await self._drop_transport()
            return None
        if not identity.answered or identity == self.identity:
            return None
        self.identity = identity
        return identity

    async def print_bytes(
        self, data: bytes, before_write: Callable[[], Awaitable[None]] | None = None
    ) -> PrinterStatus:
        """Check the printer is ready, write ``data``, check it is still fine after.

        PrintFailed when the printer was not ready (nothing sent), PrintUnconfirmed when the
        bytes went out but the status after the write is not fine. ``before_write`` runs once
        the printer is known ready, right before the bytes go out (the spool records
        "printing" there).
        """
        async with self._lock:
            before = await self._read_status()
            refused = blocking_error(before)
            if refused is None:
                if before_write is not None:
                    await before_write()
                broken = await self._write(data)
                after = await self._status_after_write()
        if refused is not None:
            await self._set_status(before)
            raise PrintFailed(refused, before)
        await self._set_status(after)
        if broken is not None and broken.code in SETTLED_BY_QUEUE:
            raise PrintFailed(broken, after)
        error = unconfirmed_error(broken, after)
        if error is not None:
            raise PrintUnconfirmed(error, after)
        return after

    async def command(self, build: Callable[[PrinterStatus], bytes]) -> PrinterStatus:
        """Send a short command (drawer, buzzer) built for the status the printer reports.

        Paper out, cover open or offline do not stop it (the command picks its real-time form);
        only a printer that does not answer refuses it (PrintFailed, printer_unreachable).
        """
        async with self._lock:
            status = await self._read_status()
            broken: ErrorInfo | None = None
            if status.state is not PrinterState.UNKNOWN:
                broken = await self._write(build(status))
        await self._set_status(status)
        if status.state is PrinterState.UNKNOWN:
            detail = f" ({status.detail})" if status.detail else ""
            message = f"the printer does not answer{detail}: check power and cable"
            raise PrintFailed(ErrorInfo(code="printer_unreachable", message=message), status)
        if broken is not None:
            raise PrintFailed(broken, status)
        return status

    async def close(self) -> None:
        """Close the transport."""
        async with self._lock:
            await self._drop_transport()

    async def _read_status(self) -> PrinterStatus:
        timeout = min(self._timeout, 1.5)
        try:
            transport = await self._ensure_transport()
            channel = self.channel or await self._detect(transport, timeout)
            if channel is None:
                return parse_status(None, checked_at=datetime.now(UTC))
            return await query_channel(transport, channel, timeout, keep=self._keep_bytes)
        except TransportError as exc:
            self._silent_rounds = 0  # "silent" counts rounds in a row that took every question
            await self._drop_transport()
            return unreachable(exc.message)

    async def _detect(self, transport: Transport, timeout: float) -> StatusChannel | None:
        """One detection round; ``none`` once the printer stayed silent a few rounds."""
        found = await detect_channel(transport, timeout)
        if found is None:
            self._silent_rounds += 1
            if self._silent_rounds < SILENT_ROUNDS_FOR_NONE:
                return None
            found = "none"
        log.info("printer status channel", extra={"printer_id": self.printer_id, "channel": found})
        self._detected = found
        self.info = self._with_channel(self.info)
        return found

    def _keep_bytes(self, replies: list[int | None]) -> None:
        self.status_bytes, self.status_bytes_at = list(replies), datetime.now(UTC)

    async def _status_after_write(self) -> PrinterStatus:
        """The status after a write; asked twice when silent (a busy printer may answer late)."""
        after = await self._read_status()
        if after.state is PrinterState.UNKNOWN:
            after = await self._read_status()
        return after

    async def _write(self, data: bytes) -> ErrorInfo | None:
        """Send ``data``; the error when the write broke off (then part of it may be out)."""
        timeout = self._timeout + len(data) / MIN_THROUGHPUT
        try:
            transport = await self._ensure_transport()
            await transport.write(data, timeout)
        except TransportTimeout as exc:
            await self._drop_transport()
            message = f"printer did not accept data within {timeout:.0f} s: {exc.message}"
            return ErrorInfo(code="timeout", message=message[:2000])
        except TransportError as exc:
            await self._drop_transport()
            return exc.to_error_info()
        return None

    async def _ensure_transport(self) -> Transport:
        if self._transport is None:
            self._transport = await self._opener(self.info, self._timeout)
            self._asked_identity = False
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

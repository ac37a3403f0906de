"""The printer transport interface: a byte pipe to one printer, every call bounded in time.

Read semantics (the one choice that matters): ``read(size, timeout)`` returns 1..``size`` bytes
as soon as any are available, and ``b""`` when nothing arrived within ``timeout`` seconds. A
silent printer is normal (it may not answer a status query), so silence is a value, not an
exception. A link that is gone raises :class:`~agent.transports.errors.TransportClosed` or
another :class:`~agent.transports.errors.TransportError`. Timeouts are clamped to at least one
millisecond: zero never means "wait forever" (as it does for libusb).

``write`` raises :class:`~agent.transports.errors.TransportTimeout` when the printer stops
accepting data for longer than the write timeout (per chunk, so a long job on a slow printer is
fine as long as it keeps moving). Transports are not safe for concurrent reads: the printer's
coordinator serialises its calls.

Timeouts are parameters rather than ``asyncio.timeout`` blocks around the calls: they travel
down into libusb calls running in worker threads, which cancelling the awaiting task would
not stop, and a read timeout is an answer ("silence") rather than a failure.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from shared.printers import PrinterStatus

#: The smallest timeout any transport passes down, in seconds.
MIN_TIMEOUT = 0.001


@runtime_checkable
class Transport(Protocol):
    """A byte pipe to one printer."""

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        """Send ``data``; ``timeout`` (seconds) bounds each chunk, default per transport."""
        ...

    async def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes, or ``b""`` when nothing arrived within ``timeout`` seconds."""
        ...

    async def close(self) -> None:
        """Release the printer; safe to call twice."""
        ...

    def describe(self) -> str:
        """A short human description for logs, e.g. ``tcp://10.0.0.5:9100``."""
        ...


@runtime_checkable
class StatusReporter(Protocol):
    """A transport that knows the printer's status itself (an OS queue), without DLE EOT.

    Queue transports implement it: their writes are print jobs, so a status query must not
    go out as one. :func:`agent.transports.status.query_status` asks them instead.
    """

    async def status(self, timeout: float) -> PrinterStatus:
        """The status this path can give (``source`` says whose word it is)."""
        ...


def clamp_timeout(timeout: float) -> float:
    """A timeout of at least :data:`MIN_TIMEOUT` seconds."""
    return max(MIN_TIMEOUT, timeout)


def chunks(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into pieces of at most ``size`` bytes (none for empty data)."""
    return [data[i : i + size] for i in range(0, len(data), size)]

"""Asking a printer for its status over any transport: the I/O shell around the sans-IO parser.

Queries go one at a time (``DLE EOT 1``, read one byte, ``DLE EOT 2``, ...) so each reply is
tied to its question. The first unanswered query ends the round: a reply that arrives late
would otherwise be taken for the answer to the next question. Bytes already waiting before a
round (late replies from an earlier round, unsolicited ASB packets) are thrown away first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from agent.transports.base import StatusReporter, Transport
from shared.escpos.status import (
    STATUS_QUERY_KINDS,
    StatusKind,
    is_status_byte,
    parse_status,
    status_query,
)
from shared.printers import PrinterStatus

#: How long a printer gets to answer one query. Real printers answer in a few milliseconds.
DEFAULT_REPLY_TIMEOUT = 0.5
#: How long a peer must stay silent after connecting to pass for a printer.
DEFAULT_QUIET_TIME = 0.05
# Reads used to empty the input before a round: bounded so a chatty peer cannot keep us here.
_DISCARD_READS = 8
_DISCARD_TIMEOUT = 0.005


def _utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


async def discard_input(transport: Transport) -> int:
    """Drop bytes already waiting on the transport; the number dropped."""
    dropped = 0
    for _ in range(_DISCARD_READS):
        data = await transport.read(256, _DISCARD_TIMEOUT)
        if not data:
            break
        dropped += len(data)
    return dropped


async def read_status_byte(transport: Transport, timeout: float) -> int | None:
    """The next valid status byte within ``timeout`` seconds, skipping bytes that are not."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (remaining := deadline - loop.time()) > 0:
        data = await transport.read(1, remaining)
        if not data:
            return None
        if is_status_byte(data[0]):
            return data[0]
    return None


async def ask(transport: Transport, kind: StatusKind, timeout: float) -> int | None:
    """Send one ``DLE EOT n`` and wait for its reply byte."""
    await transport.write(status_query(kind), timeout)
    return await read_status_byte(transport, timeout)


async def query_status(
    transport: Transport,
    timeout: float = DEFAULT_REPLY_TIMEOUT,
    *,
    clock: Callable[[], datetime] = _utcnow,
    keep: Callable[[list[int | None]], None] | None = None,
) -> PrinterStatus:
    """Ask ``DLE EOT 1..4`` and parse the replies; UNKNOWN when the printer stays silent.

    ``timeout`` bounds each reply, so a round takes at most four timeouts (one when the
    printer does not answer at all). TransportError propagates: the link itself is broken.
    A transport that reports status itself (an OS print queue) is asked instead.
    ``keep`` is handed the four raw replies (diagnostics show them).
    """
    if isinstance(transport, StatusReporter):
        return await transport.status(timeout)
    await discard_input(transport)
    replies: list[int | None] = []
    for kind in STATUS_QUERY_KINDS:
        reply = await ask(transport, kind, timeout)
        replies.append(reply)
        if reply is None:
            break
    replies += [None] * (len(STATUS_QUERY_KINDS) - len(replies))
    if keep is not None:
        keep(replies)  # the raw bytes, for diagnostics
    return parse_status(*replies, checked_at=clock())


async def probe_escpos(
    transport: Transport,
    timeout: float = DEFAULT_REPLY_TIMEOUT,
    quiet_time: float = DEFAULT_QUIET_TIME,
) -> int | None:
    """The ``DLE EOT 1`` reply if the peer speaks ESC/POS, else None.

    Stricter than :func:`query_status`, for telling printers from other services on port
    9100: a printer stays silent for ``quiet_time`` after the connect (it never speaks
    first), and answers one query with exactly one byte, then stays silent again.
    """
    if await transport.read(256, quiet_time):
        return None
    await transport.write(status_query(StatusKind.PRINTER), timeout)
    reply = await transport.read(16, timeout)
    if len(reply) != 1 or not is_status_byte(reply[0]):
        return None
    if await transport.read(16, quiet_time):  # more than one byte: some chatty protocol
        return None
    return reply[0]

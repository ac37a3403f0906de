"""Status per channel: what to ask a printer (ESC/POS, Star, nothing) and how to tell which.

The I/O shell around the two sans-IO parsers (shared.escpos.status for ``DLE EOT``,
shared.escpos.star for the Star ASB and ``ENQ``), chosen by the printer's status channel
(shared.printers.StatusChannel):

* ``escpos``: ``DLE EOT 1..4`` one at a time (agent.transports.status.query_status);
* ``star``: the automatic status on request (``ESC ACK SOH``), and ``ENQ`` only when no ASB
  came back (Star's caution: ENQ is not used while ASB is on);
* ``none``: nothing is asked; the status says the printer does not report status;
* ``queue``: the OS print queue's own word (a StatusReporter transport).

:func:`detect_channel` asks one round of questions at first contact. A link with no way back
(a USB printer without a bulk-IN endpoint) is ``none`` at once; a printer that takes the
questions and answers none is only silent this round, and the caller calls it ``none`` after
a few silent rounds (agent.coordinator).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from agent.transports.base import StatusReporter, Transport
from agent.transports.status import (
    DEFAULT_QUIET_TIME,
    DEFAULT_REPLY_TIMEOUT,
    ask,
    discard_input,
    query_status,
)
from shared.escpos.star import (
    ASB_REQUEST,
    ENQ_QUERY,
    AsbFramer,
    enable_asb,
    is_enq_reply,
    parse_asb,
    parse_enq,
)
from shared.escpos.status import StatusKind, parse_status
from shared.printers import PrinterStatus, StatusChannel, no_status

#: Silent rounds (every question taken, none answered) before a printer counts as ``none``.
SILENT_ROUNDS_FOR_NONE = 3


def _utcnow() -> datetime:
    return datetime.now(UTC)


def can_read(transport: Transport) -> bool:
    """Whether the transport has a way back from the printer (a USB printer may have none)."""
    return bool(getattr(transport, "can_read", True))


Keep = Callable[[list[int | None]], None]


async def query_channel(
    transport: Transport,
    channel: StatusChannel,
    timeout: float = DEFAULT_REPLY_TIMEOUT,
    *,
    clock: Callable[[], datetime] = _utcnow,
    keep: Keep | None = None,
) -> PrinterStatus:
    """The status the printer's ``channel`` can give. TransportError propagates.

    ``keep`` is handed the raw reply bytes (the four DLE EOT replies, the ASB packet or the
    ENQ byte) for diagnostics.
    """
    if isinstance(transport, StatusReporter):
        return await transport.status(timeout)
    if channel == "none":
        return no_status(clock())
    if channel == "star":
        return await query_star(transport, timeout, clock=clock, keep=keep)
    return await query_status(transport, timeout, clock=clock, keep=keep)


async def read_asb(transport: Transport, timeout: float) -> bytes | None:
    """The next whole ASB packet within ``timeout`` seconds (noise before it skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    framer = AsbFramer()
    while (remaining := deadline - loop.time()) > 0:
        data = await transport.read(64, remaining)
        if not data:
            return None
        if packets := framer.feed(data):
            return packets[-1]
    return None


async def read_enq_reply(transport: Transport, timeout: float) -> int | None:
    """The first byte that can be an ENQ reply (bit 4 clear) within ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (remaining := deadline - loop.time()) > 0:
        data = await transport.read(1, remaining)
        if not data:
            return None
        if is_enq_reply(data[0]):
            return data[0]
    return None


async def query_star(
    transport: Transport,
    timeout: float = DEFAULT_REPLY_TIMEOUT,
    *,
    clock: Callable[[], datetime] = _utcnow,
    keep: Keep | None = None,
) -> PrinterStatus:
    """A Star printer's status: its ASB on request, else its ENQ reply, else UNKNOWN."""
    kept = keep or (lambda replies: None)
    await discard_input(transport)
    await transport.write(ASB_REQUEST, timeout)
    packet = await read_asb(transport, timeout)
    if packet is not None:
        kept(list(packet))
        return parse_asb(packet, checked_at=clock())
    await discard_input(transport)
    await transport.write(ENQ_QUERY, timeout)
    reply = await read_enq_reply(transport, timeout)
    kept([reply])
    if reply is not None:
        return parse_enq(reply, checked_at=clock())
    return parse_status(None, checked_at=clock())


async def detect_channel(
    transport: Transport, timeout: float = DEFAULT_REPLY_TIMEOUT
) -> StatusChannel | None:
    """How this printer reports status, as far as one round of questions tells; None if silent.

    An OS queue is ``queue``; a link with no way back is ``none`` at once; a valid ``DLE EOT
    1`` reply is ``escpos``; an ASB or an ENQ reply is ``star`` (ASB is then switched on with
    ``ESC RS a 1``, so status changes arrive by themselves). TransportError propagates: a
    printer that does not take writes is unreachable, not silent.
    """
    if isinstance(transport, StatusReporter):
        return "queue"
    if not can_read(transport):
        return "none"
    await discard_input(transport)
    if await ask(transport, StatusKind.PRINTER, timeout) is not None:
        return "escpos"
    status = await query_star(transport, timeout)
    if status.online is None:
        return None
    await transport.write(enable_asb(), timeout)
    return "star"


async def probe_star(
    transport: Transport,
    timeout: float = DEFAULT_REPLY_TIMEOUT,
    quiet_time: float = DEFAULT_QUIET_TIME,
) -> bytes | None:
    """The ASB if the peer is a Star printer, else None: strict, for telling printers from
    other services on port 9100 (like probe_escpos). It answers ``ESC ACK SOH`` with one whole
    ASB, then stays silent."""
    await discard_input(transport)
    await transport.write(ASB_REQUEST, timeout)
    packet = await read_asb(transport, timeout)
    if packet is None or await transport.read(64, quiet_time):
        return None
    return packet

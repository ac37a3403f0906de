"""Asking a printer what it is over any transport: the I/O shell around the parsers.

An ESC/POS printer is asked ``GS I`` (shared.escpos.identity), a Star-mode one ``ESC # * LF
NUL`` (shared.escpos.star_identity: one question, the model and firmware version in its
reply); :func:`query_channel_identity` picks by the status channel, and asks a printer with
no way back (``none``) or an OS queue nothing.

Queries go one at a time, each answered before the next is sent (Epson: "transmit next data
after receiving the corresponding ID"), and the first unanswered query ends the round: a
reply that arrives late would otherwise be taken for the answer to the next question. A
printer that does not know ``GS I`` (or is offline, so does not process commands) costs one
reply timeout and gives an empty identity. Queue transports are never asked: their writes
are print jobs.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, TypeVar

from agent.transports.base import StatusReporter, Transport
from agent.transports.status import discard_input
from shared.escpos.identity import (
    IDENTITY_QUERY_KINDS,
    IdentityParser,
    IdKind,
    PrinterIdentity,
    identity_query,
)
from shared.escpos.star_identity import VERSION_REQUEST, StarVersionParser, star_identity
from shared.printers import StatusChannel

#: How long a printer gets to answer one ``GS I n``: real printers answer in milliseconds; the
#: margin is for a busy PC (a printer that never answers costs this once per connection).
DEFAULT_IDENTITY_TIMEOUT = 1.0


class _ReplyParser(Protocol):
    done: bool

    def feed(self, data: bytes) -> bytes: ...


P = TypeVar("P", bound=_ReplyParser)


async def _ask(transport: Transport, request: bytes, parser: P, timeout: float) -> P:
    """Send ``request`` and feed the reply to ``parser`` until it is done or ``timeout`` ends."""
    await transport.write(request, timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not parser.done and (remaining := deadline - loop.time()) > 0:
        data = await transport.read(96, remaining)
        if not data:
            break
        parser.feed(data)
    return parser


async def ask_identity(transport: Transport, kind: IdKind, timeout: float) -> IdentityParser:
    """Send one ``GS I n`` and read its reply within ``timeout`` seconds.

    The parser says whether the printer answered (``done``) and what (``value``: None for an
    empty ``_ NUL``, "cannot tell").
    """
    return await _ask(transport, identity_query(kind), IdentityParser(kind), timeout)


async def query_identity(
    transport: Transport,
    timeout: float = DEFAULT_IDENTITY_TIMEOUT,
    kinds: tuple[IdKind, ...] = IDENTITY_QUERY_KINDS,
) -> PrinterIdentity:
    """What the printer says it is; an empty identity when it does not answer.

    ``timeout`` bounds each reply, so the round takes at most ``len(kinds)`` timeouts (one
    when the printer stays silent). TransportError propagates: the link itself is broken.
    """
    identity = PrinterIdentity()
    if isinstance(transport, StatusReporter):
        return identity
    await discard_input(transport)
    for kind in kinds:
        reply = await ask_identity(transport, kind, timeout)
        if not reply.done:
            break
        identity = identity.with_answer(kind, reply.value)
    return identity


async def ask_star_version(transport: Transport, timeout: float) -> StarVersionParser:
    """Send ``ESC # * LF NUL`` and read its reply within ``timeout`` seconds (ASB packets that
    arrive meanwhile are skipped by the parser)."""
    return await _ask(transport, VERSION_REQUEST, StarVersionParser(), timeout)


async def query_star_identity(
    transport: Transport, timeout: float = DEFAULT_IDENTITY_TIMEOUT
) -> PrinterIdentity:
    """What a Star-mode printer says it is (model, firmware, "Star Micronics"); an empty
    identity when it does not answer within ``timeout``. TransportError propagates."""
    if isinstance(transport, StatusReporter):
        return PrinterIdentity()
    await discard_input(transport)
    reply = await ask_star_version(transport, timeout)
    return star_identity(reply.value)


async def query_channel_identity(
    transport: Transport, channel: StatusChannel | None, timeout: float = DEFAULT_IDENTITY_TIMEOUT
) -> PrinterIdentity:
    """The identity question of the printer's status channel: ``GS I`` for ``escpos``, ``ESC #
    * LF NUL`` for ``star``, nothing (an empty identity) for ``none``, ``queue`` or unknown."""
    if channel == "escpos":
        return await query_identity(transport, timeout)
    if channel == "star":
        return await query_star_identity(transport, timeout)
    return PrinterIdentity()

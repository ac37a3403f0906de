"""A websocket served on the asyncio transport itself once the handshake is done.

Why (issue 14, memory per idle connection): served by aiohttp, every websocket keeps its
HTTP request alive for as long as it is open: the request handler's task and the chain of
coroutine frames under it (aiohttp's request loop, the middlewares, engineio's request
handler, the read loop), the ``web.Request`` with its headers and URL, the
``WebSocketResponse`` with its reader, queue and writer, and the HTTP parser. Measured with
``bench.idle_memory`` that was about 11 KB of the 29 KB an idle connection cost. Here the
handshake is answered, the transport is handed to a :class:`WebSocketLink` (an
``asyncio.Protocol`` with slots), aiohttp is told the connection is gone, and the request
handler returns. An idle connection then holds no task at all: a message that arrives is
parsed in ``data_received`` (hub.ws_frames) and handed to the engineio session by a task
that lives only while there are messages to hand over, in order.

aiohttp internals used (pyproject.toml pins aiohttp below 4): the request's ``protocol``
(``RequestHandler``) and its ``_message_tail`` (bytes the client sent after the upgrade
request), and ``RequestHandler.connection_lost`` to release the connection. Compression
(permessage-deflate) is not negotiated here: with it on, hub.fanout serves the websocket
through aiohttp as before.

What the engineio session sees is what engineio's own websocket handler gives it: the probe
exchange of an upgrading polling session, then every message through ``receive``; the
websocket is closed when the session closes (a ping timeout, a server disconnect), and the
session is closed with ``transport close`` when the websocket goes.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import logging
from typing import Any, Protocol

from aiohttp import web
from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet

from hub.ws_frames import (
    CLOSE,
    NORMAL,
    PING,
    PONG,
    ClientFrames,
    FrameError,
    close_frame,
    close_reason,
)

log = logging.getLogger("chit.hub.ws_link")

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_PONG_HEAD = 0x8A
#: Messages waiting for the session before the link stops reading the socket, and resumes.
INBOX_HIGH, INBOX_LOW = 64, 16
#: Seconds a closing websocket may take to write its last frames before it is cut.
CLOSE_TIMEOUT = 5.0


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def upgrade_refusal(request: web.Request) -> str | None:
    """Why ``request`` is not a websocket upgrade this module can take, or None."""
    headers = request.headers
    if request.method != "GET" or headers.get("Upgrade", "").lower() != "websocket":
        return "not a websocket upgrade"
    if "upgrade" not in headers.get("Connection", "").lower():
        return "the Connection header does not ask for an upgrade"
    if headers.get("Sec-WebSocket-Version") != "13":
        return "only websocket version 13 is spoken"
    try:
        key = base64.b64decode(headers.get("Sec-WebSocket-Key", ""), validate=True)
    except ValueError:
        key = b""
    if len(key) != 16:
        return "Sec-WebSocket-Key is not 16 bytes in base64"
    return None


class Switched(web.StreamResponse):
    """What the request handler returns once the link owns the transport: writes nothing.

    aiohttp finishes every request by preparing its response and writing its end; this
    connection left aiohttp before that, so both are no-ops (the access log still gets 101).
    """

    def __init__(self, link: WebSocketLink | None) -> None:
        super().__init__(status=101)
        self.force_close()
        #: The connection now serving the websocket (a middleware holding a slot for the
        #: request hands it to ``link.hold``).
        self.link = link

    async def prepare(self, request: web.BaseRequest) -> None:
        """The 101 went out with the handshake."""
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        """Nothing follows a 101 on this connection but websocket frames."""
        return None


class LinkHandler(Protocol):
    """What a :class:`WebSocketLink` hands its messages to (hub.fanout's FrameWebSocket)."""

    async def on_message(self, data: str | bytes) -> bool:
        """One text or binary message; False closes the websocket."""
        ...

    async def on_end(self) -> None:
        """The connection has ended, every message before the end was handed over."""
        ...


class Releasable(Protocol):
    """A counter of slots per address (hub.limits' AddressCounter)."""

    def release(self, address: str) -> None:
        """Give back one of ``address``'s slots."""
        ...


class WebSocketLink(asyncio.Protocol):
    """One websocket client's connection after the handshake.

    Its :class:`LinkHandler` gets each text or binary message in order (awaited one at a
    time) and, once, the end of the connection, whatever ended it, after the last message.
    Until :meth:`serve` the messages wait for :meth:`next_message` instead (the probe
    exchange of an upgrade). Idle, a link is this object, its parser and its transport:
    the message queue and the task handing messages over exist only while messages wait.
    """

    __slots__ = (
        "_ended",
        "_frames",
        "_handler",
        "_held",
        "_inbox",
        "_reader",
        "_waiter",
        "transport",
    )

    def __init__(self, transport: asyncio.Transport, max_message: int) -> None:
        self.transport = transport
        self._frames = ClientFrames(max_message)
        self._inbox: collections.deque[str | bytes | None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._handler: LinkHandler | None = None
        self._held: tuple[tuple[Releasable, str], ...] = ()

    def hold(self, counter: Releasable, address: str) -> None:
        """Keep one of ``address``'s slots in ``counter`` until the connection is gone."""
        if self._ended:
            counter.release(address)
            return
        self._held += ((counter, address),)

    # --- asyncio.Protocol -------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Parse frames; answer pings and closes here, queue messages for the session."""
        if self._ended:
            return
        try:
            messages = self._frames.feed(data)
            for opcode, payload in messages:
                if opcode == PING:
                    body = payload if isinstance(payload, bytes) else payload.encode()
                    self.transport.write(bytes((_PONG_HEAD, len(body))) + body)
                elif opcode == CLOSE:
                    code, _ = close_reason(payload if isinstance(payload, bytes) else b"")
                    self.close(code)
                    return
                elif opcode != PONG:
                    self._queue(payload)
        except FrameError as exc:
            log.info("websocket closed: protocol error", extra={"code": exc.code, "why": exc})
            self.close(exc.code, exc.reason)
            return
        inbox = self._inbox
        if inbox:
            self._wake()
            if len(inbox) > INBOX_HIGH and self.transport.is_reading():
                self.transport.pause_reading()

    def eof_received(self) -> bool:
        """The client half-closed: let the transport close (connection_lost follows)."""
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        """The connection is gone: hand over what arrived, then end the session."""
        if self._ended:
            return
        self._ended = True
        held, self._held = self._held, ()
        for counter, address in held:
            counter.release(address)
        self._queue(None)
        self._wake()

    def pause_writing(self) -> None:
        """Output past the transport's high-water mark: hub.fanout's sink caps it instead."""

    def resume_writing(self) -> None:
        """See pause_writing."""

    # --- the session's side -----------------------------------------------------------------

    def serve(self, handler: LinkHandler) -> None:
        """From now on every message (and the end) goes to ``handler``."""
        self._handler = handler
        self._wake()

    async def next_message(self, timeout: float) -> str | bytes | None:
        """The next message before :meth:`serve`; None when the link ended or timed out."""
        if not self._inbox:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, timeout)
            except TimeoutError:
                return None
            finally:
                self._waiter = None
        inbox = self._inbox
        if not inbox:
            return None
        item = inbox[0]
        if item is not None:  # the end stays queued for serve()
            inbox.popleft()
        return item

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Send a close frame after what is buffered, then close the transport.

        A transport closes once its buffer is written; a client that does not read would
        keep it (and the buffer) open for as long as it keeps its TCP window shut, so the
        connection is cut after CLOSE_TIMEOUT seconds if it has not ended by then.
        """
        transport = self.transport
        if not transport.is_closing():
            transport.write(close_frame(code, reason))
            transport.close()
            if not self._ended:
                asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self._cut)

    def _cut(self) -> None:
        if not self._ended:
            log.info("websocket cut: the client did not take its last frames in time")
            self.transport.abort()

    @property
    def ended(self) -> bool:
        """Whether the connection has gone."""
        return self._ended

    def _queue(self, item: str | bytes | None) -> None:
        if self._inbox is None:
            self._inbox = collections.deque()
        self._inbox.append(item)

    def _wake(self) -> None:
        if self._handler is None:
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        if self._reader is None and self._inbox:
            self._reader = asyncio.get_running_loop().create_task(self._hand_over(self._handler))

    async def _hand_over(self, handler: LinkHandler) -> None:
        """Give queued messages to the session in order; the task ends when none are left."""
        try:
            while inbox := self._inbox:
                item = inbox.popleft()
                if item is None:
                    await handler.on_end()
                    return
                transport = self.transport
                low = len(inbox) < INBOX_LOW
                if low and not transport.is_closing() and not transport.is_reading():
                    transport.resume_reading()
                if not inbox:
                    self._inbox = None  # an idle link keeps no queue
                if not await handler.on_message(item):
                    self.close()
        finally:
            self._reader = None
            if self._inbox:  # arrived while on_end or a handler was running
                self._wake()


async def take_over(
    request: web.Request, environ: dict[str, Any], max_message: int
) -> WebSocketLink | None:
    """Answer the handshake and take the transport from aiohttp; None if it is not there."""
    handler = request.protocol
    transport = request.transport
    if transport is None or handler is None:
        return None
    transport.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: "
        + accept_key(request.headers["Sec-WebSocket-Key"]).encode()
        + b"\r\n\r\n"
    )
    link = WebSocketLink(transport, max_message)
    hand_over = getattr(handler, "hand_over", None)  # hub.limits: the per-address slot
    if hand_over is not None:
        hand_over(link)
    tail: bytes = getattr(handler, "_message_tail", b"")
    handler._message_tail = b""
    transport.set_protocol(link)
    handler.transport = None  # so aiohttp's handler closes nothing on its way out
    handler.connection_lost(None)
    if not transport.is_reading():
        transport.resume_reading()
    keep_only_what_sessions_need(environ)
    if tail:
        link.data_received(tail)
    return link


#: Where a session's environ keeps the client's address (hub.limits puts it there).
REMOTE_KEY = "chit.remote"
#: What a session's environ keeps once its requests are over: what namespace connects read
#: (hub.auth, hub.gateways) and the client's address.
SESSION_ENVIRON_KEYS = ("HTTP_AUTHORIZATION", "REMOTE_ADDR", REMOTE_KEY)


def keep_only_what_sessions_need(environ: dict[str, Any]) -> None:
    """Shrink a session's environ (kept for the session's life) to SESSION_ENVIRON_KEYS.

    engineio's environ holds every request header and the aiohttp request itself (with its
    connection's objects): about 1.4 KB per idle connection for things nobody reads again.
    """
    kept = {key: environ[key] for key in SESSION_ENVIRON_KEYS if key in environ}
    environ.clear()
    environ.update(kept)


async def hand_to_session(session: Any, data: str | bytes) -> bool:
    """One message to an engineio session; False when the session is closed."""
    try:
        await session.receive(eio_packet.Packet(encoded_packet=data))
    except eio_exceptions.SocketIsClosedError:
        return False
    except (eio_exceptions.UnknownPacketError, ValueError, KeyError, IndexError):
        return True  # engineio ignores packets it cannot use
    except Exception:
        log.exception("engine.io receive failed", extra={"eioSid": session.sid})
    return True

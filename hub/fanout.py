"""Broadcasts encoded once and written once per client per loop tick.

Theory of operation. engineio (4.15) hands every outgoing packet of a session to an
``asyncio.Queue`` drained by one writer task per websocket, and python-socketio (5.18)
broadcasts by creating one task per recipient; aiohttp then builds (and by default
compresses) a websocket frame per message per client. Profiled (issue 14): task creation
~19 %, the event loop ~18 %, zlib ~18 %, one ``transport.write`` per message per client
~15 %. Here instead:

- :class:`FrameWebSocket` is engineio's aiohttp websocket driver (the ``websocket`` entry of
  the server's ``_async`` table, the seam engineio gives each async framework). It serves
  the upgrade handshake and the reading side, and gives the session a :class:`FrameSink`
  in place of the writer task: the session's queue (hub.limits ``MeteredQueue``) hands
  every packet to the sink, in order, as final frame bytes.
- A sink collects frames until the end of the loop tick (a batch publish may hold them up
  to 20 ms); :class:`Outbox` then writes each dirty sink's frames with one
  ``transport.write``. Whatever the kernel does not take stays
  in the transport's buffer: past ``send_buffer_bytes`` the session is reported to
  ``on_overflow`` (hub.limits logs the reason and drops the client).
- :class:`FanoutManager` (python-socketio's ``AsyncManager``, the documented
  ``client_manager`` extension point) encodes a broadcast once, frames it once, and appends
  the same bytes to every websocket recipient's sink synchronously; polling sessions (and
  sessions still upgrading) get the packet through engineio's queue as before. Because
  direct emits, pings and broadcasts all reach a sink synchronously and in call order, a
  client receives them in the order they were emitted.

Compression (permessage-deflate, RFC 7692) is off by default: a zlib compressor per
connection costs ~90 KB. When enabled, messages under ``compression_threshold`` bytes are
sent uncompressed (as Node's ``perMessageDeflate.threshold``), and a connection gets its
compressor only with its first message over it.

Once the handshake is done, a websocket is served by hub.ws_link on the transport itself (no
task, request or reader per idle connection); with compression on, aiohttp serves it.

Private engineio attributes used (pyproject.toml pins the versions, tests/hub/test_fanout.py
runs the JavaScript and Python clients over every transport): the socket's ``connected``,
``upgrading``, ``upgraded``, ``queue``, ``receive`` and ``close``, and the ``sockets`` table;
:class:`LeanSocket` overrides the session's ``schedule_ping``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import socketio
from aiohttp import WSMsgType, web
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket
from socketio import packet as sio_packet

from hub.ws_link import Switched, WebSocketLink, hand_to_session, take_over, upgrade_refusal

log = logging.getLogger("chit.hub.fanout")

_HEAD1 = struct.Struct("!BB").pack
_HEAD2 = struct.Struct("!BBH").pack
_HEAD3 = struct.Struct("!BBQ").pack
_FIN_TEXT, _FIN_BINARY, _RSV1 = 0x81, 0x82, 0x40
_DEFLATE_TAIL = b"\x00\x00\xff\xff"


def frame(payload: bytes, first: int) -> bytes:
    """One unmasked (server-to-client) websocket frame, RFC 6455 section 5.2."""
    size = len(payload)
    if size < 126:
        return _HEAD1(first, size) + payload
    if size < 65536:
        return _HEAD2(first, 126, size) + payload
    return _HEAD3(first, 127, size) + payload


def payload_of(pkt: Any) -> tuple[bytes, int]:
    """An engineio packet's websocket payload and first header byte (text or binary)."""
    encoded = pkt.encode()
    if isinstance(encoded, bytes):
        return encoded, _FIN_BINARY
    return encoded.encode(), _FIN_TEXT


class Outbox:
    """The sinks of one server that have frames waiting, written at the end of the tick.

    While :meth:`held` (a burst being published, each event awaiting its own database
    write), frames wait up to ``linger`` seconds instead, so a client gets the burst in a
    few writes rather than one per event; leaving the last hold writes at once.
    """

    __slots__ = ("_dirty", "_handle", "_holds", "linger")

    def __init__(self, linger: float = 0.02) -> None:
        self._dirty: list[FrameSink] = []
        self._handle: asyncio.Handle | None = None
        self._holds = 0
        self.linger = linger

    def mark(self, sink: FrameSink) -> None:
        """Write ``sink`` soon (it has just got its first frame)."""
        self._dirty.append(sink)
        if self._handle is None:
            loop = asyncio.get_running_loop()
            if self._holds:
                self._handle = loop.call_later(self.linger, self.flush)
            else:
                self._handle = loop.call_soon(self.flush)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Coalesce frames for up to ``linger`` seconds while the block runs."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds and self._dirty:
                self.flush()

    def flush(self) -> None:
        """Write every waiting sink once."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        dirty, self._dirty = self._dirty, []
        for sink in dirty:
            sink.flush()


class FrameSink:
    """The output of one websocket session: frames of this tick, then the transport."""

    __slots__ = (
        "_deflater",
        "_notakeover",
        "_wbits",
        "closed",
        "frames",
        "options",
        "sid",
        "transport",
    )

    def __init__(
        self, options: FanoutOptions, sid: str, transport: asyncio.Transport, ws: Any
    ) -> None:
        self.options, self.sid, self.transport = options, sid, transport
        self.frames: list[bytes] = []
        self.closed = False
        self._wbits: int = int(ws.compress or 0) if options.compression and ws else 0
        extensions = ws.headers.get("Sec-WebSocket-Extensions", "") if self._wbits else ""
        self._notakeover = "server_no_context_takeover" in extensions
        self._deflater: Any = None

    def push(self, data: bytes) -> None:
        """Queue one frame for the end of the tick."""
        if self.closed:
            return
        if not self.frames:
            self.options.outbox.mark(self)
        self.frames.append(data)

    def push_packet(self, pkt: Any, shared: bytes | None = None) -> None:
        """Queue an engineio packet; ``shared`` is its uncompressed frame, when prepared."""
        if self._wbits:
            payload, first = payload_of(pkt)
            if len(payload) >= self.options.compression_threshold:
                self.push(self._deflated(payload, first))
                return
            self.push(shared or frame(payload, first))
            return
        if shared is None:
            shared = frame(*payload_of(pkt))
        self.push(shared)

    def _deflated(self, payload: bytes, first: int) -> bytes:
        deflater = self._deflater or zlib.compressobj(1, zlib.DEFLATED, -self._wbits)
        data = deflater.compress(payload) + deflater.flush(zlib.Z_SYNC_FLUSH)
        if data.endswith(_DEFLATE_TAIL):
            data = data[:-4]
        self._deflater = None if self._notakeover else deflater
        return frame(data, first | _RSV1)

    def flush(self) -> None:
        """Write this tick's frames in one call; report a client that does not read."""
        frames, self.frames = self.frames, []
        if self.closed or not frames or self.transport.is_closing():
            return
        self.transport.write(frames[0] if len(frames) == 1 else b"".join(frames))
        buffered = self.transport.get_write_buffer_size()
        limit = self.options.send_buffer_bytes
        if limit and buffered > limit:
            self.closed = True
            self.options.on_overflow(self.sid, buffered)

    def close(self) -> None:
        """Send nothing more (the session ended or is being dropped)."""
        self.closed = True
        self.frames = []


class FanoutOptions:
    """What every sink of one engineio server shares (set by hub.limits from settings)."""

    def __init__(self) -> None:
        self.outbox = Outbox()
        self.compression = False
        self.compression_threshold = 1024
        self.send_buffer_bytes = 0
        self.on_overflow: Callable[[str, int], None] = lambda sid, size: None


class FrameWebSocket:
    """engineio's websocket driver for aiohttp, writing through a :class:`FrameSink`.

    engineio builds one per upgrade with the session's ``_websocket_handler`` (bound to the
    session) and calls it with the request's environ; this serves the session instead of
    that handler, remembering its request in ``server.websockets`` so a dropped client's
    TCP connection can be aborted.
    """

    __slots__ = ("link", "server", "session", "sink")

    def __init__(self, handler: Any, server: Any) -> None:
        self.session = handler.__self__
        self.server = server
        self.link: WebSocketLink | None = None
        self.sink: FrameSink | None = None

    async def __call__(self, environ: dict[str, Any]) -> web.StreamResponse:
        """Accept the websocket and serve the session until it closes (or hand it on)."""
        request: web.Request = environ["aiohttp.request"]
        options: FanoutOptions = self.server.fanout
        if options.compression or upgrade_refusal(request) is not None:
            return await self._through_aiohttp(request, options)
        link = await take_over(request, environ, self.server.max_http_buffer_size)
        if link is not None:
            await self._link(link, options)
        return Switched(link)

    async def _link(self, link: WebSocketLink, options: FanoutOptions) -> None:
        """Serve the session on a hub.ws_link connection; returns once it is handed over."""
        session, sid = self.session, self.session.sid
        sink = FrameSink(options, sid, link.transport, None)
        self.server.websockets[sid] = link
        timeout = self.server.ping_interval + self.server.ping_timeout
        if session.connected and not await self._probe(link, sink, timeout):
            self.server.forget_websocket(sid, link)
            link.close()
            return
        session.connected = session.upgraded = True
        session.queue.attach(sink)
        session.link = link
        self.link, self.sink = link, sink
        link.serve(self)

    async def on_message(self, data: str | bytes) -> bool:
        """A message from the linked websocket (hub.ws_link's LinkHandler)."""
        return await hand_to_session(self.session, data)

    async def on_end(self) -> None:
        """The linked websocket has gone: close the session, as engineio's handler does."""
        session, sid, link, sink = self.session, self.session.sid, self.link, self.sink
        assert link is not None and sink is not None
        session.queue.detach()
        sink.flush()
        sink.close()
        link.close()
        try:
            await session.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        finally:
            self.server.forget_websocket(sid, link)
            if session.closed and self.server.sockets.get(sid) is session:
                del self.server.sockets[sid]  # as engineio does when its handler returns

    async def _probe(self, link: WebSocketLink, sink: FrameSink, timeout: float) -> bool:
        """The probe exchange of a polling session moving to this websocket."""
        session = self.session
        session.upgrading = True  # engineio answers further polls with a NOOP meanwhile
        try:
            if await link.next_message(timeout) != "2probe":
                return False
            sink.transport.write(frame(b"3probe", _FIN_TEXT))
            await session.queue.put(eio_packet.Packet(eio_packet.NOOP))  # ends the poll
            return await link.next_message(timeout) == "5"
        finally:
            session.upgrading = False

    async def _through_aiohttp(
        self, request: web.Request, options: FanoutOptions
    ) -> web.WebSocketResponse:
        """aiohttp serves the websocket (compression on, or an upgrade it should refuse)."""
        ws = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=options.compression
        )
        await ws.prepare(request)
        sid = self.session.sid
        self.server.websockets[sid] = request
        try:
            await self._serve(ws, request, options)
        finally:
            self.server.forget_websocket(sid, request)
        return ws

    async def _serve(
        self, ws: web.WebSocketResponse, request: web.Request, options: FanoutOptions
    ) -> None:
        session, timeout = self.session, self.server.ping_interval + self.server.ping_timeout
        transport = request.transport
        if transport is None:
            return
        sink = FrameSink(options, session.sid, transport, ws)
        if session.connected and not await self._upgrade(ws, sink, timeout):
            return
        session.connected = session.upgraded = True
        session.queue.attach(sink)
        try:
            await self._read(ws, timeout)
        finally:
            session.queue.detach()
            sink.flush()
            sink.close()
            await ws.close()
            await session.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def _upgrade(self, ws: web.WebSocketResponse, sink: FrameSink, timeout: float) -> bool:
        """The probe exchange of a polling session moving to this websocket."""
        session = self.session
        session.upgrading = True  # engineio answers further polls with a NOOP meanwhile
        try:
            if await self._text(ws, timeout) != "2probe":
                return False
            transport = sink.transport
            transport.write(frame(b"3probe", _FIN_TEXT))
            await session.queue.put(eio_packet.Packet(eio_packet.NOOP))  # ends the poll
            return await self._text(ws, timeout) == "5"
        finally:
            session.upgrading = False

    @staticmethod
    async def _text(ws: web.WebSocketResponse, timeout: float) -> str | None:
        try:
            msg = await ws.receive(timeout)
        except (TimeoutError, OSError):
            return None
        return msg.data if msg.type is WSMsgType.TEXT else None

    async def _read(self, ws: web.WebSocketResponse, timeout: float) -> None:
        """Hand each message to the session until the client goes or falls silent."""
        session, limit = self.session, self.server.max_http_buffer_size
        while True:
            try:
                msg = await ws.receive(timeout)
            except (TimeoutError, OSError):
                return
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY) or len(msg.data) > limit:
                return
            if not await hand_to_session(session, msg.data):
                return


class LeanSocket(AsyncSocket):  # type: ignore[misc]
    """engineio's session with its next ping as a timer, not a task sleeping per connection.

    engineio starts a background task per session that sleeps ``ping_interval`` and sends
    a PING (about 2.5 KB per idle connection, with its frame and future); a timer handle
    does the same. hub.limits gives each new session this class before engineio schedules
    the first ping. Ping timeouts are still enforced by engineio's service task.
    """

    last_ping: float | None
    #: The hub.ws_link connection serving this session, once it has one.
    link: WebSocketLink | None = None

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        """Close the session and, as engineio's own websocket handler does, its websocket.

        The session's last frames (engine.io's CLOSE packet, unless aborted) go out first.
        """
        await super().close(wait=wait, abort=abort, reason=reason)
        link = self.link
        if link is not None and not link.ended:
            sink = getattr(self.queue, "sink", None)
            if sink is not None:
                sink.flush()
            link.close()

    def schedule_ping(self) -> None:
        """Send the next PING in ``ping_interval`` (once the last one was answered)."""
        if self.last_ping:
            self.last_ping = None
            loop = asyncio.get_running_loop()
            loop.call_later(self.server.ping_interval, self._ping_due)

    def _ping_due(self) -> None:
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            self.queue.put_nowait(eio_packet.Packet(eio_packet.PING))


def _as_args(data: Any) -> list[Any]:
    """python-socketio's rule: a tuple is several arguments, None none, anything else one."""
    if isinstance(data, tuple):
        return list(data)
    return [] if data is None else [data]


class FanoutManager(socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's client manager with broadcasts framed once for every recipient.

    Listed after a pub/sub manager among a class's bases (hub.cluster's Redis manager), it
    also serves the broadcasts that arrive from other instances, since the pub/sub manager
    delivers locally through ``super().emit``.
    """

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Deliver to the local participants of ``room`` (or the whole namespace)."""
        if callback is not None:  # an ack id per recipient: the library's own path
            await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to
            )
            return
        namespace = namespace or "/"
        if namespace not in self.rooms:
            return
        pkt = self.server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=[event, *_as_args(data)]
        )
        encoded = pkt.encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        packets = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        recipients = [
            eio_sid
            for sid, eio_sid in self.get_participants(namespace, to or room)
            if sid not in skip
        ]
        await self._deliver(recipients, packets)

    async def _deliver(self, recipients: Iterable[str], packets: list[Any]) -> None:
        sockets = self.server.eio.sockets
        frames = [frame(*payload_of(p)) for p in packets]
        slow: list[str] = []
        for eio_sid in recipients:
            session = sockets.get(eio_sid)
            sink = getattr(getattr(session, "queue", None), "sink", None)
            if sink is None:
                slow.append(eio_sid)
                continue
            for pkt, data in zip(packets, frames, strict=True):
                sink.push_packet(pkt, data)
        for eio_sid in slow:  # polling or still upgrading: engineio's queue, in order
            for pkt in packets:
                await self.server._send_eio_packet(eio_sid, pkt)

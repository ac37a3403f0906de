"""Connection limits aiohttp and engineio do not enforce, as small adapters around both.

Why adapters. A client that opens a connection costs the hub a file descriptor and some
memory until the connection closes, and neither library bounds that on its own:

- aiohttp's server sets no deadline for a request's headers (its keep-alive timer closes
  idle connections between requests, and only recent versions arm it before the first one),
  so a client sending one header byte every few seconds holds a connection forever; and it
  answers malformed requests in plain text.
- engineio keeps a session whose client never connects a Socket.IO namespace for as long as
  it answers pings, and queues output for each client in an unbounded queue: a client that
  stops reading makes the hub buffer everything sent to it.

With the common limit of 1,024 open files, about 1,000 such connections stop a hub from
accepting anyone. So this module adds, each at the one seam the library leaves:

- :class:`GuardedHandler` (an aiohttp ``RequestHandler``, built by :class:`GuardedFactory`
  for the listening socket instead of aiohttp's own factory): a header deadline armed when a
  connection opens or a new request starts arriving, a cap on open connections per peer
  address, and JSON answers for malformed requests. Precedents for the deadline: nginx
  ``client_header_timeout`` 60 s, Apache ``mod_reqtimeout`` 20-40 s, Go's
  ``ReadHeaderTimeout`` is commonly set to 10-20 s.
- :func:`forwarded_limit`: behind a trusted proxy every connection comes from the proxy, so
  there the cap counts the requests (websockets included) of each forwarded client address.
- :class:`GuardedSocketServer` (python-socketio's server, with engineio's through the
  ``_engineio_server_class`` hook): closes a session that has not connected a namespace
  within the handshake timeout, and drops a client whose queued output passes the send
  buffer limit, logging why.

Adapters reach a few library internals (named where used); tests/hub/test_limits.py drives
each one over real sockets, so a library upgrade that moves a seam fails there first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import engineio
import socketio
from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_protocol import RequestHandler
from engineio.async_socket import AsyncSocket

from hub.api.errors import Handler, client_address, json_error
from hub.fanout import FanoutOptions, FrameSink, FrameWebSocket, LeanSocket
from hub.lean_queue import LeanQueue
from hub.settings import Settings
from hub.ws_link import REMOTE_KEY, Switched, WebSocketLink, keep_only_what_sessions_need
from shared.wire import error_dict

log = logging.getLogger("chit.hub.limits")

#: Seconds a connection may stay idle between requests (aiohttp's run_app default).
KEEPALIVE_TIMEOUT = 75.0


@dataclass(frozen=True)
class Limits:
    """The limits of one hub instance, from its settings."""

    header_timeout: float = 15.0
    handshake_timeout: float = 10.0
    per_address: int = 256
    send_buffer_bytes: int = 1024 * 1024
    trusted_proxies: tuple[str, ...] = ()
    compression: bool = False
    compression_threshold: int = 1024

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits a hub started with ``settings`` enforces."""
        return cls(
            header_timeout=settings.header_timeout,
            handshake_timeout=settings.handshake_timeout,
            per_address=settings.max_connections_per_address,
            send_buffer_bytes=settings.max_send_buffer_bytes,
            trusted_proxies=settings.trusted_proxies,
            compression=settings.websocket_compression,
            compression_threshold=settings.websocket_compression_threshold,
        )


class Throttle:
    """Lets a repeated log line through once per interval and key, counting the rest."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self.suppressed: Counter[str] = Counter()

    def allow(self, key: str) -> bool:
        """Whether to log for ``key`` now."""
        now = time.monotonic()
        if now - self._last.get(key, -self.interval) < self.interval:
            self.suppressed[key] += 1
            return False
        if len(self._last) > 10_000:
            self._last.clear()
        self._last[key] = now
        return True


class AddressCounter:
    """Open connections per client address, refusing past a cap."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.counts: Counter[str] = Counter()

    def acquire(self, address: str) -> bool:
        """Count one more connection of ``address``, unless it already holds ``cap``."""
        if self.counts[address] >= self.cap:
            return False
        self.counts[address] += 1
        return True

    def release(self, address: str) -> None:
        """Forget one connection of ``address``."""
        self.counts[address] -= 1
        if self.counts[address] <= 0:
            del self.counts[address]


def canned_response(status: int, code: str, message: str, **headers: str) -> bytes:
    """A whole HTTP/1.1 error answer with a JSON body, for when there is no request object."""
    body = json.dumps(error_dict(code, message)).encode()
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Gate:
    """What every connection of one listening socket shares: limits, counts, log throttle."""

    limits: Limits
    peers: AddressCounter = field(init=False)
    forwarded: AddressCounter = field(init=False)
    throttle: Throttle = field(default_factory=Throttle)

    def __post_init__(self) -> None:
        self.peers = AddressCounter(self.limits.per_address)
        self.forwarded = AddressCounter(self.limits.per_address)

    def refused(self, address: str, reason: str, **extra: Any) -> None:
        """Log a refusal, once a minute per address and reason."""
        key = f"{reason}|{address}"
        if self.throttle.allow(key):
            fields = {"remote": address, "reason": reason, **extra}
            fields["suppressed"] = self.throttle.suppressed.pop(key, 0)
            log.warning("connection refused", extra=fields)


TOO_MANY = "too many connections from your address"


class GuardedHandler(RequestHandler):
    """aiohttp's per-connection protocol, with a header deadline and a per-address cap.

    Internals used: ``_request_count`` (requests whose headers were parsed) tells when the
    headers of a request are complete; ``_waiter`` (set while the handler waits for the
    next request) tells when a new request starts arriving on a kept-alive connection.
    """

    __slots__ = ("_address", "_admitted", "_gate", "_header_timer", "_refused")

    def __init__(self, manager: web.Server, gate: Gate, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._gate = gate
        self._address = "unknown"
        self._admitted = False
        self._refused = False
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Admit the connection if its address is under the cap, and start the deadline."""
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if peer else "unknown"
        trusted = self._address in self._gate.limits.trusted_proxies
        if not trusted and not self._gate.peers.acquire(self._address):
            self._refused = True
            self._gate.refused(self._address, "too_many_connections")
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(canned_response(429, "too_many_connections", TOO_MANY, Retry_After="5"))
            transport.close()
            return
        self._admitted = not trusted
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Stop the deadline once a request's headers are in; restart it for the next one."""
        parsed = self._request_count
        super().data_received(data)
        if self._request_count != parsed:
            self._disarm()
        elif self._header_timer is None and self._waiting_for_request():
            self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        """Release the address's slot (refused connections never reached aiohttp)."""
        self._disarm()
        if self._admitted:
            self._admitted = False
            self._gate.peers.release(self._address)
        if not self._refused:
            super().connection_lost(exc)

    def hand_over(self, link: WebSocketLink) -> None:
        """The connection leaves aiohttp for ``link`` (hub.ws_link), with its address's slot.

        aiohttp is told the connection is gone, so this handler's ``connection_lost`` no
        longer releases the slot: the link does when it closes.
        """
        self._disarm()
        if self._admitted:
            self._admitted = False
            link.hold(self._gate.peers, self._address)

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A request aiohttp could not parse or serve: our JSON error, never a traceback."""
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error")
        if status >= 500:
            log.error("request failed", exc_info=exc, extra={"remote": self._address})
            response = json_error(status, "internal_error", "the hub failed this request")
        else:
            self._gate.refused(self._address, "bad_request", status=status)
            response = json_error(status, "bad_request", message or "malformed HTTP request")
        response.force_close()
        return response

    def _waiting_for_request(self) -> bool:
        waiter = getattr(self, "_waiter", None)
        return waiter is not None and not waiter.done()

    def _arm(self) -> None:
        timeout = self._gate.limits.header_timeout
        self._header_timer = asyncio.get_running_loop().call_later(timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        timeout = self._gate.limits.header_timeout
        self._gate.refused(self._address, "header_timeout", seconds=timeout)
        if self.transport is not None:
            message = f"request headers did not arrive within {timeout:g} s"
            self.transport.write(canned_response(408, "request_timeout", message))
        self.force_close()


class GuardedFactory:
    """The listening socket's protocol factory: a :class:`GuardedHandler` per connection."""

    def __init__(self, server: web.Server, gate: Gate) -> None:
        self.server, self.gate = server, gate

    def __call__(self) -> GuardedHandler:
        """One protocol instance for one accepted connection."""
        return GuardedHandler(
            self.server,
            self.gate,
            loop=asyncio.get_running_loop(),
            keepalive_timeout=KEEPALIVE_TIMEOUT,
        )


def forwarded_limit(gate: Gate) -> Middleware:
    """Middleware: cap concurrent requests per forwarded client behind a trusted proxy."""

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (request.remote or "") not in gate.limits.trusted_proxies:
            return await handler(request)
        address = client_address(request, gate.limits.trusted_proxies)
        if not gate.forwarded.acquire(address):
            gate.refused(address, "too_many_connections", via=request.remote)
            refusal = json_error(429, "too_many_connections", TOO_MANY)
            refusal.headers["Retry-After"] = "5"
            return refusal
        response: web.StreamResponse | None = None
        try:
            response = await handler(request)
            return response
        finally:
            link = response.link if isinstance(response, Switched) else None
            if link is not None:
                link.hold(gate.forwarded, address)  # the websocket keeps the slot until closed
            else:
                gate.forwarded.release(address)

    return limit


# --- Socket.IO --------------------------------------------------------------------------------


def _packet_size(pkt: Any) -> int:
    """Bytes a queued engineio packet will take on the wire (JSON is ASCII: chars = bytes)."""
    data = getattr(pkt, "data", None)
    if isinstance(data, str | bytes):
        return len(data) + 1
    return 16


#: Packets in one polling answer: python-engineio's client (Payload.max_decode_packets)
#: aborts the session on a payload of more than 16.
POLL_PACKETS = 16


class MeteredQueue(LeanQueue):
    """An engineio session's output queue that knows its size in bytes and refuses overflow.

    While the session's websocket is served by hub.fanout, the queue is attached to its
    :class:`~hub.fanout.FrameSink` and hands every packet straight to it, in order. A
    :class:`~hub.lean_queue.LeanQueue`, not an ``asyncio.Queue``: idle, it holds no buffers.
    """

    __slots__ = ("_taken", "bytes", "overflowed", "server", "sink")

    def __init__(self, server: MeteredEngineServer) -> None:
        super().__init__()
        self.server = server
        self.bytes = 0
        self.overflowed = False
        self.sink: FrameSink | None = None
        self._taken = 0

    async def get(self) -> Any:
        """Wait for the next packet: the start of one poll's worth (see get_nowait)."""
        self._taken = 0
        return await super().get()

    def attach(self, sink: FrameSink) -> None:
        """Send through ``sink`` from now on, starting with what is queued already."""
        while not self.empty():
            item = self._take()
            self.task_done()
            if item is not None:
                sink.push_packet(item)
        self.sink = sink

    def detach(self) -> None:
        """The websocket has ended: queue again (engineio drains or drops it)."""
        self.sink = None

    def put_nowait(self, item: Any) -> None:
        """Queue ``item``, or drop it and report the overflow once (``None`` always passes)."""
        if self.sink is not None:
            if item is None:
                self.sink.close()  # the session is being dropped
            else:
                self.sink.push_packet(item)
            return
        if item is not None:
            if self.overflowed:
                return
            size = _packet_size(item)
            limit = self.server.send_buffer_bytes
            if limit and self.bytes + size > limit:
                self.overflowed = True
                self.server.overflowed(self, self.bytes + size)
                return
            self.bytes += size
        super().put_nowait(item)

    def get_nowait(self) -> Any:
        """Take the next packet, at most POLL_PACKETS per wait (engineio's poll drains the
        queue into one HTTP answer, and python-engineio's client refuses more than 16)."""
        if self._taken >= POLL_PACKETS:
            raise asyncio.QueueEmpty
        self._taken += 1
        return self._take()

    def _take(self) -> Any:
        item = super().get_nowait()
        if item is not None:
            self.bytes = max(0, self.bytes - _packet_size(item))
        return item

    def discard(self) -> None:
        """Drop everything queued (the client is being disconnected) and free its memory."""
        if self.sink is not None:
            self.sink.close()
        while not self.empty():
            super().get_nowait()
            self.task_done()
        self.bytes = 0


class MeteredEngineServer(engineio.AsyncServer):  # type: ignore[misc]
    """engineio's server with byte-counted output queues and hub.fanout's websockets."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        drivers: dict[str, Any] = dict(vars(self)["_async"])
        self._async = {**drivers, "websocket": FrameWebSocket}
        self.fanout = FanoutOptions()
        #: Open websockets by session: hub.ws_link's links, or aiohttp's requests (with
        #: compression on); both have the ``transport`` a drop or a stop cuts.
        self.websockets: dict[str, WebSocketLink | web.Request] = {}
        self._websocket_gone = asyncio.Event()
        self.on_overflow: Callable[[str, int], None] = lambda sid, size: None

    @property
    def send_buffer_bytes(self) -> int:
        """Bytes of output one client may have waiting (queued or in its transport)."""
        return self.fanout.send_buffer_bytes

    @send_buffer_bytes.setter
    def send_buffer_bytes(self, value: int) -> None:
        self.fanout.send_buffer_bytes = value

    def create_queue(self, *args: Any, **kwargs: Any) -> MeteredQueue:
        """Each session's output queue (engineio calls this once per session)."""
        return MeteredQueue(self)

    def overflowed(self, queue: MeteredQueue, size: int) -> None:
        """A session's queue passed the limit: find the session and report it."""
        for sid, sock in list(self.sockets.items()):
            if sock.queue is queue:
                self.on_overflow(sid, size)
                return

    async def drop(self, sid: str, reason: str) -> None:
        """Close a session now: free its queue, tell the application, cut its TCP link."""
        sock = self.sockets.get(sid)
        if sock is None:
            return
        if isinstance(sock.queue, MeteredQueue):
            sock.queue.discard()
        await sock.close(wait=False, abort=True, reason=reason)
        sock.queue.put_nowait(None)  # ends a waiting poll or websocket writer
        self.sockets.pop(sid, None)  # engineio itself forgets closed sessions only lazily
        request = self.websockets.get(sid)
        if request is not None and request.transport is not None:
            request.transport.abort()

    def going_away(self) -> int:
        """The hub is stopping: end every websocket with close code 1001 ("going away").

        Without this a stopping hub held each client until aiohttp's shutdown timeout and
        then cut it (10 s with clients connected). A websocket close without engine.io's own
        close packet is what every client library treats as a lost transport, so browsers,
        socket.io-client and agents reconnect at once (to another instance behind the load
        balancer); an engine.io close packet would make python-socketio clients stay away.
        The session's server-side handlers run as the read loop ends. Returns how many.
        """
        closed = 0
        for request in list(self.websockets.values()):
            transport = request.transport
            if transport is not None and not transport.is_closing():
                transport.write(_CLOSE_GOING_AWAY)
                transport.close()  # after the buffered output, the close frame last
                closed += 1
        return closed

    async def websockets_ended(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until every websocket's session has been closed.

        A hub.ws_link websocket is served outside aiohttp's request handlers, so aiohttp's
        shutdown does not wait for its session's disconnect handlers: the hub does, here.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.websockets:
                    self._websocket_gone.clear()
                    await self._websocket_gone.wait()

    def forget_websocket(self, sid: str, holder: WebSocketLink | web.Request) -> None:
        """``holder``'s websocket has ended (its session has been closed)."""
        if self.websockets.get(sid) is holder:
            del self.websockets[sid]
            self._websocket_gone.set()


#: A websocket close frame from the server (unmasked, FIN): status 1001, "going away".
_CLOSE_GOING_AWAY = bytes((0x88, 2)) + (1001).to_bytes(2, "big")


class GuardedSocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server with a connect-handshake deadline and a send buffer cap."""

    def __init__(self, limits: Limits, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limits = limits
        self.eio.send_buffer_bytes = limits.send_buffer_bytes
        self.eio.fanout.compression = limits.compression
        self.eio.fanout.compression_threshold = limits.compression_threshold
        self.eio.on_overflow = self.eio.fanout.on_overflow = self._overflowed
        #: Sessions that have not connected a namespace yet, and their deadlines (loop
        #: time), oldest first; one timer sweeps them (a timer per session stayed in the
        #: loop's heap, cancelled, until its deadline: ~160 bytes per connection).
        self._handshakes: dict[str, float] = {}
        self._handshake_sweep: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.throttle = Throttle()

    def coalesced(self) -> contextlib.AbstractContextManager[None]:
        """While in this block, websocket frames wait a few ms to be written together."""
        return self.eio.fanout.outbox.held()  # type: ignore[no-any-return]

    def _engineio_server_class(self) -> type[MeteredEngineServer]:
        return MeteredEngineServer

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        """Start the handshake deadline of a new engineio session (and make it lean)."""
        session = self.eio.sockets.get(eio_sid)
        if session is not None and type(session) is AsyncSocket:
            session.__class__ = LeanSocket  # before engineio schedules its first ping
        request = environ.get("aiohttp.request")
        if request is not None:
            environ[REMOTE_KEY] = client_address(request, self.limits.trusted_proxies)
        result = await super()._handle_eio_connect(eio_sid, environ)
        loop = asyncio.get_running_loop()
        timeout = self.limits.handshake_timeout
        self._handshakes[eio_sid] = loop.time() + timeout
        if self._handshake_sweep is None:
            self._handshake_sweep = loop.call_later(timeout, self._sweep_handshakes)
        return result

    async def _handle_connect(self, eio_sid: str, namespace: str, data: Any) -> None:
        """A namespace connect; by then the session's first request is over (a websocket's
        environ was shrunk by hub.ws_link already, a polling session's is here)."""
        await super()._handle_connect(eio_sid, namespace, data)
        if self.manager.sid_from_eio_sid(eio_sid, namespace or "/"):
            self._handshakes.pop(eio_sid, None)  # the deadline is met
        environ = self.environ.get(eio_sid)
        if environ is not None and "aiohttp.request" in environ:
            keep_only_what_sessions_need(environ)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        """Forget the deadline of a session that ended."""
        self._handshakes.pop(eio_sid, None)
        await super()._handle_eio_disconnect(eio_sid, reason)

    def namespaces_of(self, eio_sid: str) -> list[str]:
        """The namespaces a session has connected (and passed authentication on)."""
        names = {"/", *self.namespace_handlers}
        return [ns for ns in names if self.manager.sid_from_eio_sid(eio_sid, ns)]

    def _sweep_handshakes(self) -> None:
        """Close the sessions past their deadline; come back for the next one."""
        self._handshake_sweep = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._handshakes:
            eio_sid, deadline = next(iter(self._handshakes.items()))
            if deadline > now:
                self._handshake_sweep = loop.call_at(deadline, self._sweep_handshakes)
                return
            del self._handshakes[eio_sid]
            self._handshake_due(eio_sid)

    def _handshake_due(self, eio_sid: str) -> None:
        if eio_sid not in self.eio.sockets or self.namespaces_of(eio_sid):
            return
        address = self._remote(eio_sid)
        if self.throttle.allow(f"handshake|{address}"):
            extra = {"remote": address, "seconds": self.limits.handshake_timeout}
            log.warning("socket closed: no namespace connected in time", extra=extra)
        self._spawn(self.eio.drop(eio_sid, "handshake_timeout"))

    def _overflowed(self, eio_sid: str, size: int) -> None:
        extra = {
            "remote": self._remote(eio_sid),
            "eioSid": eio_sid,
            "namespaces": self.namespaces_of(eio_sid),
            "queuedBytes": size,
            "limit": self.limits.send_buffer_bytes,
        }
        log.warning("socket closed: client does not read its messages", extra=extra)
        self._spawn(self.eio.drop(eio_sid, "send_buffer_full"))

    def _remote(self, eio_sid: str) -> str:
        return str(self.environ.get(eio_sid, {}).get(REMOTE_KEY, "unknown"))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

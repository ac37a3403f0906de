"""The agent's connection to the hub: python-socketio AsyncClient on /printing-ws.

The link owns its reconnect loop instead of python-socketio's (which jitters by half a second
at most): exponential backoff from 1 s to 30 s with full jitter, so a hub restart does not
bring every agent back in the same second. After every successful connect the link is
``registering`` while ``on_connected`` runs (the agent announces itself and sends its full
inventory, each until acked); it is ``connected`` once that returns True. A refused connect
(bad or revoked token) is reported and retried slowly; a hub that is saturated refuses with
``busy`` and a ``retryAfter``, which the link honours (jittered) before its next attempt.
Only the hub's own refusal is logged as "hub refused the connection"; a hub that does not
answer at all (down, wrong address, a proxy's 502) is one warning per outage.
Nothing here raises into the agent, so a hub restart never crashes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

import socketio

from shared.namespaces import Namespace
from shared.wire import WireModel

log = logging.getLogger("chit.agent.link")

NAMESPACE = str(Namespace.PRINTING)
EventHandler = Callable[[Any], Awaitable[None]]


class LinkState(StrEnum):
    """Where the link is."""

    CONNECTING = "connecting"
    #: The socket is up; hello and inventory are not acknowledged yet.
    REGISTERING = "registering"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    REFUSED = "refused"
    STOPPED = "stopped"


def backoff_delay(attempt: int, base: float = 1.0, cap: float = 30.0) -> float:
    """Full-jitter exponential backoff: uniform in [base/2, min(cap, base * 2**attempt)]."""
    ceiling = min(cap, base * (2 ** min(attempt, 16)))
    return random.uniform(base / 2, max(base / 2, ceiling))


class HubLink:
    """Keeps one authenticated Socket.IO connection to the hub alive."""

    def __init__(
        self,
        url: str,
        token: Callable[[], str | None],
        on_connected: Callable[[], Awaitable[bool | None]],
        *,
        connect_timeout: float = 10.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
    ) -> None:
        #: A comma-separated list names fallback hubs (cluster instances without a proxy):
        #: the link moves to the next one whenever a connection fails or is lost.
        self.urls = [u.strip() for u in url.split(",") if u.strip()]
        self.url = self.urls[0]
        self._token = token
        self._on_connected = on_connected
        self._connect_timeout = connect_timeout
        self._base, self._cap = backoff_base, backoff_cap
        self._handlers: dict[str, EventHandler] = {}
        self._listeners: list[Callable[[LinkState, str | None], None]] = []
        self._stop = asyncio.Event()
        self._client: socketio.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.state = LinkState.DISCONNECTED
        self.detail: str | None = None
        #: Seconds the hub asked us to wait before connecting again (a ``busy`` refusal).
        self._hub_wait: float | None = None
        #: When the current run of failed connects began (None while the hub answers).
        self._down_since: float | None = None

    def on(self, event: str, handler: EventHandler) -> None:
        """Handle a hub-to-agent event (the handler runs as its own task)."""
        self._handlers[event] = handler

    def listen(self, listener: Callable[[LinkState, str | None], None]) -> None:
        """Be told about every state change (the tray shows it)."""
        self._listeners.append(listener)

    @property
    def connected(self) -> bool:
        """Whether the socket is up now (registered or still registering)."""
        return self.state in (LinkState.REGISTERING, LinkState.CONNECTED)

    @property
    def registered(self) -> bool:
        """Whether the hub acknowledged this connection's hello and inventory."""
        return self.state is LinkState.CONNECTED

    @property
    def stopping(self) -> asyncio.Event:
        """Set once :meth:`stop` was called."""
        return self._stop

    async def run(self) -> None:
        """Connect, stay connected, reconnect with backoff, until :meth:`stop`."""
        attempt = 0
        while not self._stop.is_set():
            lost = await self._session()
            if self._stop.is_set():
                break
            attempt = 0 if lost else attempt + 1
            delay = backoff_delay(attempt, self._base, self._cap)
            if self._hub_wait is not None:
                delay = max(delay, self._hub_wait * random.uniform(1.0, 1.5))
                self._hub_wait = None
            await self._sleep(delay)
        self._set_state(LinkState.STOPPED)

    async def stop(self) -> None:
        """Disconnect and end :meth:`run`."""
        self._stop.set()
        client = self._client
        if client is not None and client.connected:
            await client.disconnect()
        for task in list(self._tasks):
            task.cancel()

    async def emit(self, event: str, payload: WireModel, timeout: float = 10.0) -> Any:
        """Send an event and return the hub's ack, or None when not connected or no answer."""
        client = self._client
        if client is None or not self.connected:
            return None
        try:
            ack = await client.call(event, payload.to_wire(), namespace=NAMESPACE, timeout=timeout)
        except (
            socketio.exceptions.TimeoutError,
            socketio.exceptions.BadNamespaceError,
            socketio.exceptions.DisconnectedError,
        ) as exc:
            log.warning("emit failed", extra={"event": event, "error": repr(exc)})
            return None
        if isinstance(ack, dict) and ack.get("ok") is False:
            log.warning("hub refused event", extra={"event": event, "error": ack.get("error")})
        return ack

    async def _session(self) -> bool:
        """One connection's lifetime; True when it was up (and then lost)."""
        token = self._token()
        if not token:
            self._set_state(LinkState.REFUSED, "not paired: no device token")
            return False
        client = self._new_client()
        self._set_state(LinkState.CONNECTING)
        try:
            await client.connect(
                self.url,
                auth={"token": token},
                namespaces=[NAMESPACE],
                transports=["websocket"],
                wait_timeout=self._connect_timeout,
            )
        except (socketio.exceptions.ConnectionError, ValueError, OSError) as exc:
            if self.state is not LinkState.REFUSED:
                self._unreachable(exc)
            await _quietly_disconnect(client)
            self._next_url()
            return False
        self._client = client
        self._down_since = None
        self._set_state(LinkState.REGISTERING)
        self._spawn(self._announce())
        await client.wait()
        self._client = None
        if not self._stop.is_set():
            self._set_state(LinkState.DISCONNECTED, "connection lost")
            self._next_url()
        return True

    def _unreachable(self, exc: BaseException) -> None:
        """The hub did not answer (down, wrong address, no network): a warning, not a refusal.

        Only the first failed attempt in a row is a warning; the retries after it are debug
        lines, so a hub that is down for an hour does not fill the log.
        """
        reason = str(exc) or type(exc).__name__
        fields = {"hub": self.url, "error": reason}
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("hub unreachable: is it down? retrying with backoff", extra=fields)
        else:
            down = round(time.monotonic() - self._down_since)
            log.debug("hub still unreachable", extra={**fields, "down_seconds": down})
        self._set_state(LinkState.DISCONNECTED, f"cannot reach hub: {reason}")

    def _next_url(self) -> None:
        """Rotate to the next configured hub."""
        index = self.urls.index(self.url) if self.url in self.urls else -1
        self.url = self.urls[(index + 1) % len(self.urls)]

    def _new_client(self) -> socketio.AsyncClient:
        client = socketio.AsyncClient(
            reconnection=False, handle_sigint=False, request_timeout=self._connect_timeout
        )
        client.on("connect_error", self._connect_error, namespace=NAMESPACE)
        for event, handler in self._handlers.items():
            client.on(event, self._runner(handler), namespace=NAMESPACE)
        return client

    def _runner(self, handler: EventHandler) -> Callable[[Any], Awaitable[None]]:
        async def guarded(data: Any) -> None:
            try:
                await handler(data)
            except Exception:
                log.exception("handling a hub event failed")

        async def run(data: Any = None) -> None:
            self._spawn(guarded(data))

        return run

    async def _connect_error(self, data: Any) -> None:
        if not isinstance(data, dict):
            # python-socketio reports a failed transport (nothing listening, a proxy's 502)
            # here too, as a bare string; only the hub's CONNECT_ERROR packet is a dict.
            return
        reason = data.get("data") if isinstance(data, dict) else None
        if not isinstance(reason, dict):
            reason = data if isinstance(data, dict) else None
        detail = reason.get("message") if isinstance(reason, dict) else str(data)
        wait = reason.get("retryAfter") if isinstance(reason, dict) else None
        if isinstance(reason, dict) and reason.get("code") == "busy":
            self._hub_wait = float(wait) if isinstance(wait, int | float) else self._base
            self._set_state(LinkState.DISCONNECTED, f"hub busy; retrying in about {wait} s")
            log.warning("hub busy; deferring the connect", extra={"retry_after": wait})
            return
        self._set_state(LinkState.REFUSED, str(detail))
        code = reason.get("code") if isinstance(reason, dict) else None
        log.error(
            "hub refused the connection", extra={"hub": self.url, "code": code, "detail": detail}
        )

    async def _announce(self) -> None:
        try:
            registered = await self._on_connected()
        except Exception:
            log.exception("announcing to the hub failed")
            return
        if registered is not False and self.state is LinkState.REGISTERING:
            self._set_state(LinkState.CONNECTED)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    def _set_state(self, state: LinkState, detail: str | None = None) -> None:
        changed = (state, detail) != (self.state, self.detail)
        self.state, self.detail = state, detail
        if changed:
            log.info("hub link", extra={"state": str(state), "detail": detail, "hub": self.url})
            for listener in self._listeners:
                listener(state, detail)


async def _quietly_disconnect(client: socketio.AsyncClient) -> None:
    with contextlib.suppress(TimeoutError, OSError):
        await asyncio.wait_for(client.disconnect(), 5)

"""``ChitRedisManager``: python-socketio's AsyncRedisManager, hardened.

- Messages larger than ``max_message_bytes`` are refused before they reach Redis (a huge
  message can make Redis drop every subscriber; see python-socketio issue 1581).
- Events always reach this instance's own clients (python-socketio delivers locally before
  publishing), so an instance keeps serving them while Redis is down.
- The listener resubscribes with a backoff capped at a few seconds (not 60), so delivery
  resumes soon after a Redis restart. It closes the old subscription first, and the
  publishing client is made once (its pool reconnects by itself), so a dropped subscriber
  (a Redis restart, ``CLIENT KILL TYPE pubsub``) leaves exactly one subscription per
  instance, never an orphan that still receives every message.
- Every few seconds the instance publishes a ping to itself on the Socket.IO channel; if it
  stops hearing its own pings it is deaf (connected but not subscribed) and says so in
  :attr:`deaf`, the logs, /readyz and a metric.
- ``bus_publish``/``on_bus`` carry hub-internal messages (test results, lost instances) on
  the same subscription, so they share its health.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio

from hub.fanout import FanoutManager
from shared.events import PayloadError

log = logging.getLogger("chit.hub.cluster")

BUS_PREFIX = "chit:"
PING = "chit:ping"
BusHandler = Callable[[dict[str, Any]], Awaitable[None]]


class MessageTooLarge(PayloadError):
    """An event too large for the cluster channel: refused for everyone."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            "message_too_large", f"the event is {size} bytes; the cluster limit is {limit}"
        )


class ChitRedisManager(socketio.AsyncRedisManager, FanoutManager):  # type: ignore[misc]
    """The Redis client manager of a clustered hub instance.

    FanoutManager comes after the pub/sub manager in the method order, so the local part of
    every broadcast (this instance's own and those heard from Redis) takes hub.fanout's path.
    """

    connected: bool

    def __init__(
        self,
        url: str,
        channel: str,
        *,
        max_message_bytes: int = 1024 * 1024,
        ping_interval: float = 2.0,
        deaf_after: float = 10.0,
        retry_cap: float = 2.0,
    ) -> None:
        super().__init__(
            url=url,
            channel=channel,
            logger=log,
            redis_options={
                "socket_connect_timeout": 5,
                "socket_timeout": None,
                "health_check_interval": 10,
            },
        )
        self.max_message_bytes = max_message_bytes
        self.ping_interval = ping_interval
        self.deaf_after = deaf_after
        self.retry_cap = retry_cap
        self.last_heard = time.monotonic()
        self.refused_messages = 0
        self._bus: dict[str, BusHandler] = {}
        self._pinger: asyncio.Task[None] | None = None

    @property
    def deaf(self) -> bool:
        """True when this instance has not heard its own pings for ``deaf_after`` seconds."""
        return time.monotonic() - self.last_heard > self.deaf_after

    def initialize(self) -> None:
        """Start the listener (base class) and the self-ping."""
        super().initialize()
        self._pinger = asyncio.ensure_future(self._ping_forever())

    async def stop_pinger(self) -> None:
        """Stop the self-ping at shutdown, waiting a bounded time for it to end.

        Left to the event loop's own teardown, a ping caught in a publish while Redis was
        away could keep the loop from closing.
        """
        pinger = getattr(self, "_pinger", None)
        if pinger is None or pinger.done():
            return
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
            await asyncio.wait_for(asyncio.shield(pinger), 2)

    def on_bus(self, kind: str, handler: BusHandler) -> None:
        """Handle hub-internal messages of one kind (from every instance, this one included)."""
        self._bus[BUS_PREFIX + kind] = handler

    async def bus_publish(self, kind: str, payload: dict[str, Any]) -> bool:
        """Send a hub-internal message to every instance."""
        return await self._publish(
            {"method": BUS_PREFIX + kind, "host_id": self.host_id, "payload": payload}
        )

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
    ) -> Any:
        """Emit to this instance's clients and, through Redis, to every other instance.

        python-socketio delivers to local clients before publishing, so an instance keeps
        serving its own clients while Redis is down. A message over the size cap is refused
        before anyone gets it (MessageTooLarge), so delivery never differs by instance.
        """
        if not kwargs.get("ignore_queue"):
            size = len(self.json.dumps(data))
            if size > self.max_message_bytes:
                self.refused_messages += 1
                log.error(
                    "message too large for the cluster channel; refused",
                    extra={"event": event, "bytes": size, "limit": self.max_message_bytes},
                )
                raise MessageTooLarge(size, self.max_message_bytes)
        return await super().emit(
            event,
            data,
            namespace=namespace,
            room=room,
            skip_sid=skip_sid,
            callback=callback,
            to=to,
            **kwargs,
        )

    async def _publish(self, data: Any) -> bool:
        encoded = self.json.dumps(data)
        if len(encoded) > self.max_message_bytes:
            self.refused_messages += 1
            log.error(
                "message too large for the cluster channel; refused",
                extra={
                    "bytes": len(encoded),
                    "limit": self.max_message_bytes,
                    "method": data.get("method") if isinstance(data, dict) else None,
                },
            )
            return False
        for attempt in (1, 2):
            try:
                if self.redis is None:
                    self._redis_connect()
                await asyncio.wait_for(self.redis.publish(self.channel, encoded), 5)
                return True
            except Exception as exc:
                log.warning(
                    "cannot publish to redis", extra={"attempt": attempt, "error": str(exc)}
                )
        return False

    def _redis_connect(self) -> None:
        """The publishing client once (its pool reconnects by itself), and a new pubsub."""
        if self.redis is None:
            super()._redis_connect()
            return
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    async def _close_pubsub(self) -> None:
        """Close the current subscription (its connection too), so it cannot linger."""
        old, self.pubsub = self.pubsub, None
        if old is None:
            return
        try:
            await asyncio.wait_for(old.aclose(), 2)
        except Exception as exc:
            log.debug("closing the old subscription failed", extra={"error": str(exc)})

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:
        delay = 0.25
        while True:
            try:
                await self._close_pubsub()
                self._redis_connect()
                await asyncio.wait_for(self.pubsub.subscribe(self.channel), 5)
                log.info("subscribed to the cluster channel", extra={"channel": self.channel})
                delay = 0.25
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "cluster channel lost; resubscribing",
                    extra={"error": str(exc), "retry_in": delay},
                )
                await asyncio.sleep(delay)
                delay = min(self.retry_cap, delay * 2)

    async def _listen(self) -> AsyncIterator[Any]:
        async for raw in super()._listen():
            data = self._decode(raw)
            method = data.get("method") if data else None
            if isinstance(method, str) and method.startswith(BUS_PREFIX):
                await self._on_internal(method, data or {})
                continue
            yield raw

    def _decode(self, raw: Any) -> dict[str, Any] | None:
        try:
            data = raw if isinstance(raw, dict) else self.json.loads(raw)
        except (ValueError, TypeError):
            return None
        return data if isinstance(data, dict) else None

    async def _on_internal(self, method: str, data: dict[str, Any]) -> None:
        if method == PING:
            if data.get("host_id") == self.host_id:
                self.last_heard = time.monotonic()
            return
        handler = self._bus.get(method)
        if handler is None:
            return
        try:
            await handler(data.get("payload") or {})
        except Exception:
            log.exception("cluster bus handler failed", extra={"method": method})

    async def _ping_forever(self) -> None:
        was_deaf = False
        while True:
            await asyncio.sleep(self.ping_interval)
            await self._publish({"method": PING, "host_id": self.host_id})
            if self.deaf != was_deaf:
                was_deaf = self.deaf
                level = logging.ERROR if was_deaf else logging.INFO
                log.log(
                    level,
                    "instance deaf to the cluster channel"
                    if was_deaf
                    else "instance hears the cluster channel again",
                )

"""Backpressure at connect: a saturated hub queues connects briefly, then defers the rest.

After a hub restart every agent reconnects within seconds, and each connect needs the store
(the branch and the agent's credential). Accepting more than the store can admit only moves the
failure later, into acks that never come; refusing at once is no better: each refused agent
comes back with a new websocket, and in a storm of 5,000 the hub spent most of its CPU setting
up sockets it had just refused. So the gate admits ``limit`` connects at a time, lets up to
``queue_limit`` more wait (their sockets are already open, waiting costs nothing) for at most
``max_wait`` seconds, and only beyond that refuses with ``busy`` and a ``retryAfter`` sized to
the backlog: how long the queue ahead takes at the rate connects are being admitted, spread
with jitter so the deferred agents do not return in one wave.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.auth import AuthRefused

#: Connects admitted at once by default; each holds at most one pooled database connection.
DEFAULT_LIMIT = 256
#: Connects that may wait for a place, per place (so 32 x 256 by default): a waiting connect
#: costs only its open socket, a deferred one a whole new websocket later.
QUEUE_PER_PLACE = 32
#: Seconds a queued connect waits for a place before it is deferred.
MAX_WAIT = 10.0
#: Bounds of ``retryAfter`` in seconds.
MIN_RETRY_AFTER = 1.0
MAX_RETRY_AFTER = 30.0
_BUSY = "the hub is busy admitting other clients; retry shortly"


class AdmissionGate:
    """``limit`` connects in admission, ``queue_limit`` waiting; ``busy`` beyond that."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        queue_limit: int | None = None,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.limit = limit
        self.queue_limit = limit * QUEUE_PER_PLACE if queue_limit is None else queue_limit
        self.max_wait = max_wait
        self._places = asyncio.Semaphore(limit)
        self.in_flight = 0
        self.waiting = 0
        self.deferred = 0
        self._rate = _Rate()

    @asynccontextmanager
    async def admitting(self) -> AsyncIterator[None]:
        """Hold a place while one connect is checked; AuthRefused(busy) when none comes."""
        if self.waiting >= self.queue_limit:
            self._defer()
        self.waiting += 1
        try:
            async with asyncio.timeout(self.max_wait):
                await self._places.acquire()
        except TimeoutError:
            self._defer()
        finally:
            self.waiting -= 1
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._places.release()
            self._rate.tick()

    def retry_after(self) -> float:
        """Seconds until the backlog ahead of a new connect is likely admitted, with jitter."""
        backlog = self.waiting + self.in_flight
        # Before any admission was measured, assume a full gate's worth per ``max_wait``.
        floor = self.limit / max(self.max_wait, 0.001)
        seconds = backlog / max(self._rate.per_second(), floor, 1.0)
        base = min(MAX_RETRY_AFTER, max(MIN_RETRY_AFTER, seconds))
        return min(MAX_RETRY_AFTER, base * random.uniform(0.5, 1.5))

    def _defer(self) -> None:
        self.deferred += 1
        raise AuthRefused("busy", _BUSY, self.retry_after())


class _Rate:
    """Admissions per second, as an exponentially weighted moving average over ~2 s."""

    HALF_LIFE = 2.0

    def __init__(self) -> None:
        self._value = 0.0
        self._at = time.monotonic()

    def tick(self) -> None:
        self._decay()
        self._value += math.log(2) / self.HALF_LIFE  # so a steady rate r reads as r

    def per_second(self) -> float:
        self._decay()
        return self._value

    def _decay(self) -> None:
        now = time.monotonic()
        self._value *= 0.5 ** ((now - self._at) / self.HALF_LIFE)
        self._at = now

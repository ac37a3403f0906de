"""Backpressure at connect: a saturated hub defers new connects instead of failing them later.

After a hub restart every agent reconnects within seconds, and each connect needs the store
(the branch and the agent's credential). Accepting more sockets than the store can admit only
moves the failure later, into acks that never come. The gate counts the connects being admitted
right now; past ``limit`` it refuses the next with ``busy`` and a ``retryAfter`` that grows with
the queue, spread with jitter so the deferred agents do not return in one wave.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.auth import AuthRefused

#: Connects admitted at once by default; each holds at most one pooled database connection.
DEFAULT_LIMIT = 256
#: Seconds of ``retryAfter`` per full gate's worth of waiting connects, and the ceiling.
SECONDS_PER_GATE = 2.0
MAX_RETRY_AFTER = 30.0


class AdmissionGate:
    """Counts connects in admission; refuses with ``busy`` beyond the limit."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.in_flight = 0
        self.deferred = 0

    @asynccontextmanager
    async def admitting(self) -> AsyncIterator[None]:
        """Hold a place while one connect is checked; AuthRefused(busy) when none is free."""
        if self.in_flight >= self.limit:
            self.deferred += 1
            raise AuthRefused(
                "busy", "the hub is busy admitting other clients; retry shortly", self._wait()
            )
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    def _wait(self) -> float:
        base = SECONDS_PER_GATE * max(1.0, self.in_flight / max(self.limit, 1))
        return min(MAX_RETRY_AFTER, base * random.uniform(0.5, 1.5))

"""Sockets do not outlive their tokens: warn before expiry, close at expiry.

A token is checked once, at connect; without this a socket kept receiving its tenant's events
for as long as it stayed open. Each session gets one timer (an ``asyncio.TimerHandle``, a few
hundred bytes): ``auth:expiring`` some time before the token's ``exp``, then ``auth:expired``
and a disconnect once ``exp`` plus the clock-skew leeway has passed, the same leeway that
verification allows. ``auth:refresh`` with a new token for the same identity moves the timer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from hub.services.connections import ClientSession

log = logging.getLogger("chit.hub.expiry")

#: Seconds before expiry at which a client is told to refresh (capped at a tenth of a lifetime).
WARN_AHEAD_SECONDS = 60.0

OnExpiring = Callable[[ClientSession, datetime], Awaitable[None]]
Step = Callable[[ClientSession, float], Coroutine[Any, Any, None]]
OnExpired = Callable[[ClientSession], Awaitable[None]]


class SessionExpiry:
    """One timer per live session, keyed by (namespace, sid)."""

    def __init__(self, leeway: float, on_expiring: OnExpiring, on_expired: OnExpired) -> None:
        self._leeway = leeway
        self._on_expiring = on_expiring
        self._on_expired = on_expired
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, session: ClientSession) -> None:
        """(Re)arm the session's timer from its claims' ``exp``."""
        self.cancel(session)
        exp = session.claims.exp
        if exp is None:
            return
        now = time.time()
        lifetime = max(exp - (session.claims.iat or now), 0.0)
        warn_at = exp - min(WARN_AHEAD_SECONDS, lifetime / 10)
        if warn_at > now:
            self._arm(session, warn_at - now, self._warn, exp)
        else:
            self._arm(session, exp + self._leeway - now, self._expire, exp)

    def cancel(self, session: ClientSession) -> None:
        """Forget the session's timer (it disconnected)."""
        timer = self._timers.pop(_key(session), None)
        if timer is not None:
            timer.cancel()

    def __len__(self) -> int:
        return len(self._timers)

    def _arm(
        self,
        session: ClientSession,
        delay: float,
        step: Step,
        exp: float,
    ) -> None:
        loop = asyncio.get_running_loop()
        self._timers[_key(session)] = loop.call_later(
            max(delay, 0.0), self._run, session, step, exp
        )

    def _run(
        self,
        session: ClientSession,
        step: Step,
        exp: float,
    ) -> None:
        self._timers.pop(_key(session), None)
        task = asyncio.get_running_loop().create_task(step(session, exp))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("token expiry step failed", exc_info=task.exception())

    async def _warn(self, session: ClientSession, exp: float) -> None:
        if session.claims.exp != exp:
            return  # refreshed meanwhile; its own timer is armed
        await self._on_expiring(session, datetime.fromtimestamp(exp, UTC))
        self._arm(session, exp + self._leeway - time.time(), self._expire, exp)

    async def _expire(self, session: ClientSession, exp: float) -> None:
        if session.claims.exp != exp:
            return
        log.info("token expired; disconnecting", extra=session.log_fields())
        await self._on_expired(session)


def _key(session: ClientSession) -> tuple[str, str]:
    return (str(session.namespace), session.sid)

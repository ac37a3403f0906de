"""Registering with the hub after a connect: hello and inventory, each until the hub acks it.

A socket that is up is not yet a registered agent: after a hub restart hundreds of agents
connect at once, and a hub under load may answer ``busy`` (with a ``retryAfter``), fail with
``internal``, or not answer within the emit timeout. Before, the agent sent each once and then
believed itself registered while the hub had no record of it. Now each step is repeated, with
jittered exponential backoff (or the hub's ``retryAfter``), until the hub acknowledges it, the
hub refuses it for good, or the connection goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("chit.agent.registration")

#: Refusals worth retrying: the hub is overloaded or failed, or forgot the socket.
RETRYABLE = frozenset({"busy", "internal", "unavailable", "not_registered"})


def retry_delay(attempt: int, base: float = 0.5, cap: float = 15.0) -> float:
    """Full-jitter exponential backoff: uniform in [base/2, min(cap, base * 2**attempt)]."""
    ceiling = min(cap, base * (2 ** min(attempt, 16)))
    return random.uniform(base / 2, max(base / 2, ceiling))


def acked(ack: Any) -> bool:
    """Whether the hub accepted the event."""
    return isinstance(ack, dict) and ack.get("ok") is True


def _code(ack: Any) -> str | None:
    error = ack.get("error") if isinstance(ack, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _hub_wait(ack: Any) -> float | None:
    """The hub's own ``retryAfter`` (seconds), when it gave one."""
    error = ack.get("error") if isinstance(ack, dict) else None
    value = error.get("retryAfter") if isinstance(error, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 300:
        return float(value) * random.uniform(1.0, 1.5)  # spread the herd the hub deferred
    return None


async def until_acked(
    event: str,
    send: Callable[[], Awaitable[Any]],
    still_up: Callable[[], bool],
    stop: asyncio.Event,
) -> bool:
    """Send until acked; False when refused for good, the link dropped, or stopping."""
    attempt = 0
    while still_up() and not stop.is_set():
        ack = await send()
        if acked(ack):
            return True
        code = _code(ack)
        if ack is not None and code not in RETRYABLE:
            log.error("hub refused registration", extra={"event": event, "code": code})
            return False
        wait = _hub_wait(ack) or retry_delay(attempt)
        attempt += 1
        log.warning(
            "registration step not acknowledged; retrying",
            extra={"event": event, "code": code or "no_answer", "retry_in": round(wait, 2)},
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
    return False

"""Reconnect counting: the same client identity connecting again soon after it dropped.

A client identity is its namespace, company, role and subject (an agent's id for agents). A
connect is a *reconnect* when it finds a drop of the same identity no older than ``gap``
seconds; each drop pairs with at most one connect. So thirteen tabs of one user connect
thirteen times and reconnect zero times, and a flapping client reconnects once per drop.
``rates`` counts the reconnects of the last ``window`` seconds per identity, for the
reconnect-rate alert.

:class:`LocalReconnects` keeps this in memory for a hub on its own;
``hub.cluster.reconnects.RedisReconnects`` keeps it in Redis, so a client that drops from one
instance and comes back on another is counted once, and every instance sees the same counts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

#: A connect within this long after the same client's drop is a reconnect (seconds).
RECONNECT_GAP = 300.0
#: The reconnect-rate alert counts reconnects over this window (seconds).
RECONNECT_WINDOW = 60.0
#: At most this many remembered drops or reconnects per identity.
PER_IDENTITY = 1000

#: Reconnects in the window per identity, with the identity's company.
Rates = dict[str, tuple[int, str | None]]


class ReconnectLog(Protocol):
    """Where drops and reconnects are remembered."""

    async def dropped(self, identity: str, now: float) -> None:
        """A connection of ``identity`` closed at ``now``."""

    async def connected(self, identity: str, company: str | None, now: float) -> bool:
        """``identity`` connected at ``now``; True when it is a reconnect."""

    async def rates(self, now: float) -> Rates:
        """Reconnects in the last window per identity (identities without any left out)."""


@dataclass
class LocalReconnects:
    """The reconnect log of a single hub instance, in memory (bounded per identity)."""

    gap: float = RECONNECT_GAP
    window: float = RECONNECT_WINDOW
    _drops: dict[str, deque[float]] = field(default_factory=dict)
    _reconnects: dict[str, deque[float]] = field(default_factory=dict)
    _companies: dict[str, str | None] = field(default_factory=dict)

    async def dropped(self, identity: str, now: float) -> None:
        """Remember the drop, for the identity's next connect."""
        self._drops.setdefault(identity, deque(maxlen=PER_IDENTITY)).append(now)

    async def connected(self, identity: str, company: str | None, now: float) -> bool:
        """Pair the connect with the oldest drop still within the gap, if there is one."""
        drops = self._drops.get(identity)
        while drops and now - drops[0] > self.gap:
            drops.popleft()
        if not drops:
            self._drops.pop(identity, None)
            return False
        drops.popleft()
        self._reconnects.setdefault(identity, deque(maxlen=PER_IDENTITY)).append(now)
        self._companies[identity] = company
        return True

    async def rates(self, now: float) -> Rates:
        """Reconnects per identity in the last window; forgets the quiet ones."""
        out: Rates = {}
        for identity, times in list(self._reconnects.items()):
            while times and now - times[0] > self.window:
                times.popleft()
            if not times:
                del self._reconnects[identity]
                self._companies.pop(identity, None)
                continue
            out[identity] = (len(times), self._companies.get(identity))
        for identity, drops in list(self._drops.items()):
            if drops and now - drops[-1] > self.gap:
                del self._drops[identity]
        return out

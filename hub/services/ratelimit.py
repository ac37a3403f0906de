"""Count failures per key in a sliding window, in memory, to slow down password and code guessing.

One hub instance counts on its own; behind N instances an attacker gets N times the budget,
which is still hopeless against 40-bit pairing codes and Argon2id passwords.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

#: Keys kept at most; beyond it the stalest are dropped (memory stays bounded under a flood).
MAX_KEYS = 10_000


class FailureLimiter:
    """At most ``limit`` failures per key within ``window`` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None when it may try now."""
        if key not in self._failures:
            return None
        times = self._recent(key)
        if len(times) < self.limit:
            return None
        return max(0.0, times[0] + self.window - self._clock())

    def fail(self, key: str) -> None:
        """Record one failure of ``key``."""
        if key not in self._failures and len(self._failures) >= MAX_KEYS:
            self._failures.pop(next(iter(self._failures)))
        self._recent(key).append(self._clock())

    def reset(self, key: str) -> None:
        """Forget ``key``'s failures (after a success)."""
        self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        horizon = self._clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        return times

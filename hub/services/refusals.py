"""Log refusals of bad client input once per interval per client, not once per message.

One misbehaving client sent 5,784 malformed packets in ten minutes; logging each would let it
fill the disk and bury everything else. The first refusal of a (client, code) pair is logged at
once; repeats within the interval are counted and reported on the next line for that pair.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

#: Seconds between two log lines for the same client and code.
DEFAULT_INTERVAL = 60.0
#: Pairs remembered at most; the oldest are forgotten (a flood of new sids cannot grow memory).
MAX_KEYS = 10_000


class RefusalLog:
    """Rate-limited warnings for refused client input."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._interval = interval
        self._clock = clock
        # (client, code) -> (time of the last line, refusals since then)
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def note(self, client: str, code: str, message: str, fields: Mapping[str, object]) -> bool:
        """Count one refusal; log it when the pair was quiet for an interval. True if logged."""
        key = (client, code)
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self._interval:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        suppressed = last[1] if last is not None else 0
        self._remember(key, now)
        extra = {**fields, "code": code, "error": message, "suppressed": suppressed}
        self._log.warning("event refused", extra=extra)
        return True

    def _remember(self, key: tuple[str, str], now: float) -> None:
        self._seen.pop(key, None)
        self._seen[key] = (now, 0)
        while len(self._seen) > MAX_KEYS:
            self._seen.pop(next(iter(self._seen)))

"""The last log lines kept in memory, for the control API's ``logs`` operation.

The service logs to the journal and its log file, which a desktop user cannot read; the tray
and ``chit-agent logs`` ask the service for its recent lines instead. Bounded: 500 lines of at
most 1000 characters each.
"""

from __future__ import annotations

import logging
from collections import deque

from agent import logs

MAX_LINES = 500
MAX_CHARS = 1000


class RecentLogs(logging.Handler):
    """A logging handler that keeps the last :data:`MAX_LINES` formatted lines."""

    def __init__(self, capacity: int = MAX_LINES) -> None:
        super().__init__(logging.INFO)
        self._lines: deque[str] = deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record's formatted line (cut to :data:`MAX_CHARS`)."""
        try:
            self._lines.append(self.format(record)[:MAX_CHARS])
        except Exception:
            self.handleError(record)

    def lines(self, count: int) -> list[str]:
        """The last ``count`` lines, oldest first."""
        kept = list(self._lines)
        return kept[-count:] if count > 0 else []

    @classmethod
    def install(cls, root: logging.Logger | None = None) -> RecentLogs:
        """Add one to the root logger, formatting like the agent's own log handlers."""
        root = root or logging.getLogger()
        handler = cls()
        ours = [h for h in root.handlers if getattr(h, "_chit_handler", False) and h.formatter]
        handler.setFormatter(ours[0].formatter if ours else logging.Formatter(logs.FORMAT))
        root.addHandler(handler)
        return handler

    def uninstall(self, root: logging.Logger | None = None) -> None:
        """Remove it again (tests, restarts)."""
        (root or logging.getLogger()).removeHandler(self)

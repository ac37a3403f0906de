"""Logging for the agent: stderr plus a rotating file in the user log directory.

The log directory is platformdirs' user log dir (``CHIT_AGENT_LOG_DIR`` overrides it); the
file rotates at 1 MiB keeping 5 old files, so a till that runs for years never fills its disk.
Calling :func:`setup` again replaces the handlers it added before (tests, restarts).

A line carries the fields its caller gave with ``extra=``: plain text shows them as
``key=value`` after the message, ``--json-logs`` writes one JSON object per line. The last
:data:`RECENT_LINES` lines are also kept in memory (:data:`RECENT`) for a diagnostics bundle.
"""

from __future__ import annotations

import collections
import json
import logging
import logging.handlers
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.settings import log_dir

LOG_FILE = "chit-agent.log"
MAX_BYTES = 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Lines kept in memory for diagnostics (a bundle's log section is bounded by this).
RECENT_LINES = 500
_MARK = "_chit_handler"
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record, in the order they were given."""
    return {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }


def _value(value: Any) -> str:
    """A field's value as text: quoted when it has spaces or quotes, so a line splits back."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if text == "" or any(c in text for c in ' "=\n'):
        return json.dumps(text)
    return text


class KeyValueFormatter(logging.Formatter):
    """``FORMAT`` followed by the record's fields as ``key=value``."""

    def __init__(self, fmt: str = FORMAT) -> None:
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        """The line, its fields, then any traceback."""
        line = super().format(record)
        head, sep, tail = line.partition("\n")
        pairs = " ".join(f"{k}={_value(v)}" for k, v in fields_of(record).items())
        return f"{head} {pairs}{sep}{tail}" if pairs else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in fields_of(record).items() if k not in entry})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class RecentLines(logging.Handler):
    """The last lines logged, as JSON-ready dicts (bounded; thread-safe)."""

    def __init__(self, size: int = RECENT_LINES) -> None:
        super().__init__(logging.DEBUG)
        self._lines: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record as ts, level, logger, msg and fields (values made text)."""
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "fields": {k: _value(v) for k, v in fields_of(record).items()},
        }
        with self._guard:
            self._lines.append(entry)

    def lines(self) -> list[dict[str, Any]]:
        """A copy of the kept lines, oldest first."""
        with self._guard:
            return list(self._lines)


#: The process's recent lines (installed on the root logger by :func:`setup` and the CLI).
RECENT = RecentLines()


def formatter(json_lines: bool = False, fmt: str = FORMAT) -> logging.Formatter:
    """The formatter for a handler: JSON lines, or text with key=value fields."""
    return JsonFormatter() if json_lines else KeyValueFormatter(fmt)


def keep_recent() -> None:
    """Make sure :data:`RECENT` hears the root logger (idempotent)."""
    root = logging.getLogger()
    if RECENT not in root.handlers:
        root.addHandler(RECENT)


def setup(
    verbose: bool = False,
    directory: Path | None = None,
    console: bool = True,
    json_lines: bool = False,
) -> Path:
    """Log to the rotating file (and stderr); returns the log file's path."""
    directory = directory or log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOG_FILE
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    ]
    if console:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler.setFormatter(formatter(json_lines))
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    keep_recent()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return path

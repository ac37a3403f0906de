"""Logging for the agent: stderr plus a rotating file in the user log directory.

The log directory is platformdirs' user log dir (``CHIT_AGENT_LOG_DIR`` overrides it); the
file rotates at 1 MiB keeping 5 old files, so a till that runs for years never fills its disk.
Calling :func:`setup` again replaces the handlers it added before (tests, restarts).
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from agent.settings import log_dir

LOG_FILE = "chit-agent.log"
MAX_BYTES = 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MARK = "_chit_handler"


def setup(verbose: bool = False, directory: Path | None = None, console: bool = True) -> Path:
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
        handler.setFormatter(logging.Formatter(FORMAT))
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    return path

"""Rotating log file in the user log dir (CHIT_AGENT_LOG_DIR in tests)."""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import logs


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root")
def test_logs_go_to_a_rotating_file_in_the_log_dir(tmp_path: Path) -> None:
    path = logs.setup(console=False)
    assert path == tmp_path / "agent-logs" / logs.LOG_FILE
    logging.getLogger("chit.agent.test").info("hello from the test")
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "_chit_handler", False)]
    assert len(handlers) == 1
    handler = handlers[0]
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert handler.maxBytes == logs.MAX_BYTES and handler.backupCount == logs.BACKUPS
    handler.flush()
    assert "hello from the test" in path.read_text()


@pytest.mark.usefixtures("restore_root")
def test_setting_up_twice_does_not_duplicate_handlers(tmp_path: Path) -> None:
    logs.setup(directory=tmp_path)
    logs.setup(directory=tmp_path)
    marked = [h for h in logging.getLogger().handlers if getattr(h, "_chit_handler", False)]
    assert len(marked) == 2  # one file, one console

"""Property-based fuzzing of a live hub: shared Hypothesis settings and a log watcher.

The examples are the same on every run (``derandomize``), so CI is stable and a failure
reproduces; set ``CHIT_FUZZ_RANDOM=1`` to explore new inputs, and ``CHIT_FUZZ_EXAMPLES`` to
change how many each test tries.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("CHIT_FUZZ_EXAMPLES", "150"))

settings.register_profile(
    "chit-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not os.environ.get("CHIT_FUZZ_RANDOM"),
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
FUZZ = settings.get_profile("chit-fuzz")


class ErrorLog(logging.Handler):
    """Collects every ERROR record (a traceback in the hub's log is a failure)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def summary(self) -> list[str]:
        """One line per record: logger, message and exception type."""
        return [
            f"{r.name}: {r.getMessage()} {r.exc_info[0].__name__ if r.exc_info and r.exc_info[0] else ''}"
            for r in self.records
        ]


@pytest.fixture
def error_log() -> Iterator[ErrorLog]:
    """ERROR records logged anywhere while the test runs."""
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
